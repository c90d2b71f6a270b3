"""The example project's dbtrun.lua with real dbt (dbt-core + dbt-duckdb from
the venv): a production deploy, a model edit, then `dev` builds only the
edited model and its children, deferring the rest to production."""
import json
import os
import shutil
from pathlib import Path

import pytest

from conftest import ROOT, dbtrun

VENV_BIN = ROOT / ".venv" / "bin"
pytestmark = pytest.mark.skipif(not (VENV_BIN / "dbt").exists(), reason="dbt is not installed (tools/venv.sh)")


@pytest.fixture
def example(tmp_path):
    project = tmp_path / "jaffle_contacts"
    shutil.copytree(ROOT / "examples" / "jaffle_contacts", project,
                    ignore=shutil.ignore_patterns("target", "logs", "*.duckdb", ".artifacts", ".dbtrun"))
    return project


def built_nodes(project):
    results = json.loads((project / "target" / "run_results.json").read_text())
    return {r["unique_id"].split(".")[-1] for r in results["results"] if r["unique_id"].startswith("model.")}


def test_deploy_edit_dev_rebuilds_only_what_changed(example):
    env = {"PATH": f"{VENV_BIN}:{os.environ['PATH']}", "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    r = dbtrun("dev", cwd=example, env=env, timeout=300)  # no manifest yet: a full build
    assert r.returncode == 0, r.stderr
    assert "running without deferral" in r.stderr
    assert built_nodes(example) == {p.stem for p in (example / "models").rglob("*.sql")}

    r = dbtrun("deploy", cwd=example, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    assert (example / ".dbtrun" / "store" / "artifacts" / "manifest.json").exists()

    model = example / "models" / "intermediate" / "int_contacts__enriched.sql"
    model.write_text(model.read_text() + "\n-- an edit\n")
    r = dbtrun("dev", cwd=example, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "dbt build --select state:modified+ --defer --state .artifacts/" in r.stderr
    assert built_nodes(example) == {"int_contacts__enriched", "fct_contacts", "fct_contacts_by_country"}


def test_failing_dbt_gives_dbts_exit_code(example):
    env = {"PATH": f"{VENV_BIN}:{os.environ['PATH']}", "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    (example / "models" / "marts" / "fct_contacts.sql").write_text("select * from nowhere_at_all\n")
    r = dbtrun("dev-select", "fct_contacts", cwd=example, env=env, timeout=300)
    assert r.returncode == 1
    assert "command failed with exit code 1: dbt build --select fct_contacts" in r.stderr
