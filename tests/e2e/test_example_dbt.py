"""The example project and its dbtrun.lua with real dbt (dbt-core + dbt-duckdb
from the venv), on the embedded default store (file://.dbtrun/store/, no
cloud): tools/quickstart.sh's loop — a production deploy, a model edit, then
`dev` builds only the edited model and its children, deferring the rest to
production."""
import json
import os
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

    model = example / "models" / "intermediate" / "int_contacts__enriched.sql"
    model.write_text(model.read_text() + "\n-- an edit\n")
    r = dbtrun("dev", cwd=example, env=ENV, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr
    assert "fetched the production manifest from file://.dbtrun/store/artifacts/" in r.stderr
    assert "dbt build --select state:modified+ --defer --state .artifacts/" in r.stderr
    assert "state:modified+ selects" in r.stdout  # the plan, before the build
    assert built_models(example) == {"int_contacts__enriched", "fct_contacts", "fct_contacts_by_country"}
    assert "rebuilt 3 model(s)" in r.stderr

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
