"""The dev loop's parses with real dbt on the example project (local store):
the plan's `dbt parse` uses the settings of the `dbt build` after it, so the
build's own parse is a partial-parse hit (dbt's debug log says which); a
manifest the last dev wrote is taken as it is when nothing changed since;
an edit is still parsed, planned and built."""
import json
import os
import shutil
import subprocess

import pytest

from conftest import DBTRUN, ROOT, dbtrun

VENV_BIN = ROOT / ".venv" / "bin"
pytestmark = pytest.mark.skipif(not (VENV_BIN / "dbt").exists(), reason="dbt is not installed (tools/venv.sh)")

ENV = {"PATH": f"{VENV_BIN}:{os.environ['PATH']}", "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
       "GITHUB_ACTIONS": "", "GITHUB_EVENT_PATH": "", "GITHUB_STEP_SUMMARY": "", "GITHUB_TOKEN": ""}
VARS = '{"dev_loop": 1}'


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    project = tmp_path_factory.mktemp("devloop") / "jaffle_contacts"
    shutil.copytree(ROOT / "examples" / "jaffle_contacts", project,
                    ignore=shutil.ignore_patterns("target", "logs", "*.duckdb*", ".artifacts", ".dbtrun"))
    r = dbtrun("deploy", cwd=project, env=ENV, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr
    return project


def last_invocation(project, command):
    """dbt's debug log of its last invocation of `command` (parse, build)."""
    log = (project / "logs" / "dbt.log").read_text()
    runs = [c for c in log.split("running dbt with arguments")[1:] if f"'invocation_command': 'dbt {command}" in c]
    assert runs, f"no dbt {command} in logs/dbt.log"
    return runs[-1]


def built_models(project):
    results = json.loads((project / "target" / "run_results.json").read_text())["results"]
    return {r["unique_id"].split(".")[-1] for r in results if r["unique_id"].startswith("model.")}


def edit(project, path):
    model = project / path
    model.write_text(model.read_text() + "\n-- an edit\n")


def dev(project, *args):
    # pytest names the current test in the environment: a change dbtrun takes
    # as a possible change of what dbt parses (any file may read an env_var)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_CURRENT_TEST", "NO_COLOR")}
    r = subprocess.run([DBTRUN, "dev", *args], cwd=project, env={**env, **ENV}, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr
    return r


def test_the_builds_parse_reuses_the_plans(deployed):
    edit(deployed, "models/intermediate/int_contacts__enriched.sql")
    # build ARGS that change dbt's parse (vars) go to the plan's parse too
    r = dev(deployed, "--vars", VARS)
    assert "int_contacts__enriched.sql is newer than the manifest: running dbt parse" in r.stderr
    assert "0 new, 1 modified, 0 removed" in r.stdout  # the plan, with the edit
    parse, build = last_invocation(deployed, "parse"), last_invocation(deployed, "build")
    assert "dev_loop" in parse
    assert "Partial parsing enabled" in build and "Unable to do partial parsing" not in build, build[:3000]
    assert built_models(deployed) == {"int_contacts__enriched", "fct_contacts", "fct_contacts_by_country"}


def test_an_unchanged_project_is_not_parsed_again(deployed):
    r = dev(deployed, "--vars", VARS)
    assert "running dbt parse" not in r.stderr
    # the build's manifest is the plan's: the edit is still there
    assert "0 new, 1 modified, 0 removed" in r.stdout
    # other settings: parsed again, and the build still a partial-parse hit
    r = dev(deployed, "--vars", '{"dev_loop": 2}')
    assert "parsed with other settings" in r.stderr and "running dbt parse" in r.stderr
    assert "Unable to do partial parsing" not in last_invocation(deployed, "build")


def test_an_edit_is_parsed_planned_and_built(deployed):
    edit(deployed, "models/marts/fct_contacts.sql")
    r = dev(deployed, "--vars", '{"dev_loop": 2}')
    assert "fct_contacts.sql is newer than the manifest: running dbt parse" in r.stderr
    assert "0 new, 2 modified, 0 removed" in r.stdout
    assert "fct_contacts" in built_models(deployed)
    build = last_invocation(deployed, "build")
    assert "Partial parsing enabled" in build and "Unable to do partial parsing" not in build
    # a manifest another dbt command wrote since is not taken as the plan's
    other = subprocess.run([str(VENV_BIN / "dbt"), "parse", "--vars", '{"dev_loop": 3}'], cwd=deployed,
                           env={**os.environ, **ENV}, capture_output=True, text=True, timeout=300)
    assert other.returncode == 0, other.stdout[-3000:]
    r = dev(deployed, "--vars", '{"dev_loop": 2}')
    assert "was not written by dbtrun's dbt parse or build: running dbt parse" in r.stderr
