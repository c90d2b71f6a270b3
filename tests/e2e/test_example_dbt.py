"""The example project and its dbtrun.lua with real dbt (dbt-core + dbt-duckdb
from the venv), on the embedded default store (file://.dbtrun/store/, no
cloud): tools/quickstart.sh's loop — a production deploy, a model edit, then
`dev` builds only the edited model and its children, deferring the rest to
production."""
import json
import os
import re
import shutil

import pytest

from conftest import ROOT, dbtrun

VENV_BIN = ROOT / ".venv" / "bin"
pytestmark = pytest.mark.skipif(not (VENV_BIN / "dbt").exists(), reason="dbt is not installed (tools/venv.sh)")

ENV = {"PATH": f"{VENV_BIN}:{os.environ['PATH']}", "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
       "GITHUB_ACTIONS": "", "GITHUB_EVENT_PATH": "", "GITHUB_STEP_SUMMARY": "", "GITHUB_TOKEN": ""}


@pytest.fixture
def example(tmp_path):
    project = tmp_path / "jaffle_contacts"
    shutil.copytree(ROOT / "examples" / "jaffle_contacts", project,
                    ignore=shutil.ignore_patterns("target", "logs", "*.duckdb*", ".artifacts", ".dbtrun"))
    return project


def built_models(project):
    results = json.loads((project / "target" / "run_results.json").read_text())
    return {r["unique_id"].split(".")[-1] for r in results["results"] if r["unique_id"].startswith("model.")}


# The closing summary of a built-in task (issue 14); the time is free, the rest exact in shape.
TIME = r"\d+ steps? in (\d+\.\ds|\d+m\d\ds)"


def summary(err, task):
    lines = [line for line in err.splitlines() if re.match(re.escape(task) + r": \d+ steps? in ", line)]
    assert len(lines) == 1, err[-3000:]
    return lines[0]


def test_quickstart_loop_on_the_local_store(example):
    r = dbtrun("deploy", cwd=example, env=ENV, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr
    assert "profile: " in r.stderr and "from ci/profiles.yml" in r.stderr  # the example's template
    store = example / ".dbtrun" / "store"
    manifest = json.loads((store / "artifacts" / "manifest.json").read_text())
    assert manifest["nodes"]["model.jaffle_contacts.fct_contacts"]["schema"] == "prod"
    docs = {p.name for p in (store / "docs").iterdir()}
    assert {"index.html", "catalog.json", "manifest.json", "run_results.json"} <= docs
    assert not {"graph_summary.json", "semantic_manifest.json", "sources.json", "perf_info.json"} & docs
    assert re.fullmatch(
        r"deploy: " + TIME + r"; built 12 nodes, \d+ tests passed(, \d+ warnings?)?; published manifest.json, run_results.json(?:, history/[0-9a-f]+/)? to "
        r"file://\.dbtrun/store/artifacts/, docs \(" + str(sum(1 for p in (store / "docs").rglob("*") if p.is_file())) + r" files, "
        r"\d+ uploaded\) to file://\.dbtrun/store/docs/", summary(r.stderr, "deploy"))
    r = dbtrun("--yes", "docs", cwd=example, env=ENV, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr
    assert re.fullmatch(r"docs: " + TIME + r"; published docs \(\d+ files, \d+ uploaded\) to file://\.dbtrun/store/docs/",
                        summary(r.stderr, "docs"))

    model = example / "models" / "intermediate" / "int_contacts__enriched.sql"
    model.write_text(model.read_text() + "\n-- an edit\n")
    r = dbtrun("dev", cwd=example, env=ENV, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr
    assert "fetched the production manifest from file://.dbtrun/store/artifacts/" in r.stderr
    assert "dbt build --select state:modified+ --defer --state .artifacts/" in r.stderr
    assert "state:modified+ selects" in r.stdout  # the plan, before the build
    assert built_models(example) == {"int_contacts__enriched", "fct_contacts", "fct_contacts_by_country"}
    assert "rebuilt 3 model(s)" in r.stderr
    assert re.fullmatch(r"dev: " + TIME + r"; built 3 nodes \(1 modified, 2 downstream\), \d+ tests passed",
                        summary(r.stderr, "dev"))

    r = dbtrun("dev", cwd=example, env=ENV, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "production manifest unchanged" in r.stderr

    assert dbtrun("clean-artifacts", cwd=example, env=ENV).returncode == 0
    assert not (example / ".artifacts").exists()


def test_failing_dbt_gives_dbts_exit_code(example):
    (example / "models" / "marts" / "fct_contacts.sql").write_text("select * from nowhere_at_all\n")
    r = dbtrun("dev-select", "fct_contacts", cwd=example, env=ENV, timeout=300)
    assert r.returncode == 1
    assert "command failed with exit code 1: dbt build --select fct_contacts" in r.stderr
