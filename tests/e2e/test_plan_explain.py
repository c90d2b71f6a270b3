"""`dbtrun plan --explain` and the build-time estimate with real dbt on the
example project and the local store: a deploy (which now publishes
run_results.json beside the manifest), then an edited model body, an edited
config and a schema read from an environment variable that differs between
production and the developer's shell — the evidence of each, the env_var
schema flagged as a likely false positive, and the estimate from production's
timings."""
import json
import os
import shutil

import pytest

from conftest import ROOT, dbtrun

VENV_BIN = ROOT / ".venv" / "bin"
if not (VENV_BIN / "dbt").exists() and os.environ.get("CI") != "true":
    pytest.skip("dbt is not installed (tools/venv.sh)", allow_module_level=True)

ENV = {"PATH": f"{VENV_BIN}:{os.environ['PATH']}", "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
       "GITHUB_ACTIONS": "", "GITHUB_EVENT_PATH": "", "GITHUB_STEP_SUMMARY": "", "GITHUB_TOKEN": ""}
ENV_MODEL = """{{ config(schema=env_var('DBTRUN_EXPLAIN_SCHEMA', 'reporting')) }}
select count(*) as n from {{ ref('fct_contacts') }}
"""
P = "model.jaffle_contacts."


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    """The example deployed with DBTRUN_EXPLAIN_SCHEMA=alpha, then edited:
    a body (int_contacts__enriched), a config (fct_contacts_by_country
    view -> table), and the production manifest fetched."""
    project = tmp_path_factory.mktemp("explain") / "jaffle_contacts"
    shutil.copytree(ROOT / "examples" / "jaffle_contacts", project,
                    ignore=shutil.ignore_patterns("target", "logs", "*.duckdb*", ".artifacts", ".dbtrun"))
    (project / "models" / "marts" / "contacts_env.sql").write_text(ENV_MODEL)
    r = dbtrun("deploy", cwd=project, env={**ENV, "DBTRUN_EXPLAIN_SCHEMA": "alpha"}, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr
    assert "published the build's run_results.json in file://.dbtrun/store/artifacts/" in r.stderr
    stored = json.loads((project / ".dbtrun/store/artifacts/run_results.json").read_text())
    # the build's, not the one `dbt docs generate` writes afterwards
    assert any(x["unique_id"] == P + "fct_contacts" for x in stored["results"])

    by_country = project / "models" / "marts" / "fct_contacts_by_country.sql"
    by_country.write_text(by_country.read_text().replace("materialized='view'", "materialized='table'"))
    enriched = project / "models" / "intermediate" / "int_contacts__enriched.sql"
    enriched.write_text(enriched.read_text() + "\n-- contacts with a valid email only\n")
    r = dbtrun("fetch-manifest", cwd=project, env=ENV)
    assert r.returncode == 0, r.stderr
    assert (project / ".artifacts" / "run_results.json").is_file()
    return project


def plan(project, *args, check=True):
    env = {**ENV, "DBTRUN_EXPLAIN_SCHEMA": "beta"}
    r = dbtrun("plan", *args, cwd=project, env=env, timeout=300)
    if check:
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr
    return r


def test_explain_shows_the_body_diff_the_config_and_the_env_var_schema(deployed):
    out = plan(deployed, "--explain").stdout
    why = out.split("\nWhy (--explain)\n", 1)[1]
    enriched = why.split(f"  {P}int_contacts__enriched (modified)\n", 1)[1]
    assert "      body:\n        @@ " in enriched
    assert "        +-- contacts with a valid email only\n" in enriched
    assert "relation: example.prod_intermediate.int_contacts__enriched -> " in enriched

    by_country = why.split(f"  {P}fct_contacts_by_country (modified)\n", 1)[1]
    assert by_country.startswith('      config materialized: "view" -> "table"\n')
    assert "        -{{ config(materialized='view') }}\n        +{{ config(materialized='table') }}\n" \
        in by_country

    env_node = why.split(f"  {P}contacts_env (modified)\n", 1)[1].split(f"\n  {P}", 1)[0]
    assert '      config schema: "alpha" -> "beta"\n' in env_node
    assert "      likely false positive: config schema: the node's config() sets it from env_var()\n" in env_node
    assert "state_modified_compare_more_unrendered_values" in env_node
    assert "likely false positive" not in by_country.split(f"\n  {P}", 1)[0]


def test_explain_named_nodes_and_json(deployed):
    r = plan(deployed, "--no-parse", "--explain", "fct_contacts", P + "fct_contacts_by_country", "--format", "json")
    doc = json.loads(r.stdout)
    assert set(doc["explain"]) == {P + "fct_contacts", P + "fct_contacts_by_country"}
    child = doc["explain"][P + "fct_contacts"]
    assert child["status"] == "unchanged"
    assert child["note"] == f"not modified: selected as a child of {P}int_contacts__enriched"
    changed = doc["explain"][P + "fct_contacts_by_country"]
    assert changed["configs"] == [{"key": "materialized", "old": '"view"', "new": '"table"'}]
    assert "+{{ config(materialized='table') }}" in changed["body_diff"]
    assert changed["likely_false_positives"] == []
    assert doc["estimate"]["threads"] >= 1 and doc["estimate"]["timed"] == doc["estimate"]["nodes"]

    r = plan(deployed, "--no-parse", "--explain", "no_such_model", check=False)
    assert r.returncode == 2
    assert "--explain: no node 'no_such_model' in the current or production manifest" in r.stderr


def test_markdown_has_a_collapsed_block_per_node(deployed):
    out = plan(deployed, "--no-parse", "--explain", "--format", "markdown").stdout
    assert f"<details><summary><code>{P}contacts_env</code> (modified) - likely false positive</summary>" in out
    assert f"<details><summary><code>{P}fct_contacts_by_country</code> (modified)</summary>" in out
    assert "```diff\n" in out
    assert "**Estimated build time: ~" in out


def test_estimate_from_production_timings_and_none_without_them(deployed):
    out = plan(deployed, "--no-parse").stdout
    assert "Why (--explain)" not in out  # the plain plan reads nothing more
    line = next(x for x in out.splitlines() if x.startswith("Estimated build time: ~"))
    # 4 models and 16 tests selected; every one ran in the deploy
    assert "from the last production timings of 20 of 20 nodes" in line
    assert " thread" in line and "longest chain" in line

    # the new model has no production timing once it is new: it is named
    results = deployed / ".artifacts" / "run_results.json"
    saved = results.read_text()
    doc = json.loads(saved)
    doc["results"] = [x for x in doc["results"] if x["unique_id"] != P + "int_contacts__enriched"]
    results.write_text(json.dumps(doc))
    out = plan(deployed, "--no-parse").stdout
    assert f"1 without a timing, counted as 0s: {P}int_contacts__enriched" in out

    results.unlink()
    r = plan(deployed, "--no-parse")
    assert "Estimated build time" not in r.stdout and "estimate" not in r.stderr
    results.write_text(saved)
