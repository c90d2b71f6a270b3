"""The dev loop's parses with real dbt on the example project (local store):
the plan's `dbt parse` uses the settings of the `dbt build` after it, so the
build's own parse is a partial-parse hit (dbt's debug log says which); a
manifest the last dev wrote is taken as it is when nothing changed since;
an edit is still parsed, planned and built. By default dev runs the parse and
the build in one dbt process (the tests at the end count Python processes)."""
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace

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
    # two dbt processes (config one_process off): the build's own parse is what these tests watch
    r = subprocess.run([DBTRUN, "--set", "one_process=false", "dev", *args], cwd=project, env={**env, **ENV}, capture_output=True, text=True,
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


# ---- one dbt process: the plan's parse and the build (config one_process) ----
# A sitecustomize on PYTHONPATH notes every Python process that starts, so the
# count is of processes, not of dbt invocations (one process logs two). dbt's
# own helpers (multiprocessing's) are children of a dbt process: not counted.

SITE = """import os, sys
with open(os.environ["DEV_LOOP_PROCS"], "a") as f:
    f.write("%d %d %s\\n" % (os.getpid(), os.getppid(), " ".join(sys.argv)[:60].replace("\\n", " ")))
"""


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """A deploy of its own: the tests above edit theirs."""
    project = tmp_path_factory.mktemp("pristine") / "jaffle_contacts"
    shutil.copytree(ROOT / "examples" / "jaffle_contacts", project,
                    ignore=shutil.ignore_patterns("target", "logs", "*.duckdb*", ".artifacts", ".dbtrun"))
    r = dbtrun("deploy", cwd=project, env=ENV, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr
    return project


@pytest.fixture
def work(pristine, tmp_path):
    """A copy of the deployed project for one test, and an environment that counts Python processes."""
    project = tmp_path / "jaffle_contacts"
    shutil.copytree(pristine, project)
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITE)
    procs = tmp_path / "procs.txt"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTEST_CURRENT_TEST", "NO_COLOR")}
    env.update(ENV, PYTHONPATH=str(site), DEV_LOOP_PROCS=str(procs))
    return SimpleNamespace(path=project, env=env, procs=procs)


def run_dev(w, *args, code=0):
    if w.procs.exists():
        w.procs.unlink()
    r = subprocess.run([DBTRUN, *args, "dev"], cwd=w.path, env=w.env, capture_output=True, text=True, timeout=300)
    assert r.returncode == code, r.stdout[-3000:] + r.stderr
    return r


def all_pythons(w):
    return [line.split(" ", 2) for line in (w.procs.read_text().splitlines() if w.procs.exists() else [])]


def python_processes(w):
    """The Python processes dbtrun started (not those a dbt process started)."""
    pythons = all_pythons(w)
    pids = {p[0] for p in pythons}
    return [" ".join(p) for p in pythons if p[1] not in pids]


def echoed(r):
    """The commands dbtrun echoed (stderr lines that start a dbt command)."""
    return [line for line in r.stderr.splitlines() if line.startswith("dbt ")]


def test_one_dbt_process_parses_plans_and_builds(work):
    edit(work.path, "models/marts/fct_contacts.sql")
    r = run_dev(work)
    assert len(python_processes(work)) == 1, python_processes(work)
    assert "fct_contacts.sql is newer than the manifest: running dbt parse" in r.stderr
    assert echoed(r) == ["dbt parse", "dbt build --select state:modified+ --defer --state .artifacts/"]
    assert "0 new, 1 modified, 0 removed" in r.stdout
    # the parse's log lines stay held back, as the two-process parse's capture held them
    assert r.stdout.count("Running with dbt=") == 1
    assert r.stdout.index("1 modified") < r.stdout.index("Running with dbt=")
    assert "dev: 2 steps in" in r.stderr and "built 2 nodes (1 modified, 1 downstream)" in r.stderr
    assert built_models(work.path) == {"fct_contacts", "fct_contacts_by_country"}
    # the build was the plan's parse's manifest's: no second parse in the log
    build = last_invocation(work.path, "build")
    assert "Partial parsing enabled" not in build and "Unable to do partial parsing" not in build

    # the opt-out: two processes, the same report and build
    edit(work.path, "models/marts/fct_contacts.sql")
    r2 = run_dev(work, "--set", "one_process=false")
    assert len(python_processes(work)) == 2, python_processes(work)
    assert echoed(r2) == echoed(r) and "0 new, 1 modified, 0 removed" in r2.stdout
    assert built_models(work.path) == {"fct_contacts", "fct_contacts_by_country"}


def test_one_process_folds_the_build_on_github(work, tmp_path):
    edit(work.path, "models/marts/fct_contacts.sql")
    summary = tmp_path / "summary.md"
    work.env.update(GITHUB_ACTIONS="true", GITHUB_STEP_SUMMARY=str(summary))
    r = run_dev(work)
    assert len(python_processes(work)) == 1
    out = r.stdout
    assert out.index("1 modified") < out.index("::group::dbt build") < out.index("Running with dbt=") \
        < out.index("::endgroup::") and out.count("::group::") == 1, out[-3000:]
    assert "fct_contacts" in summary.read_text()  # run_results' section of the job summary


def test_one_process_failing_model_exits_1(work):
    (work.path / "models" / "marts" / "fct_contacts_by_country.sql").write_text("select 1/0 as x from no_such_table\n")
    r = run_dev(work, code=1)
    assert len(python_processes(work)) == 1
    assert "dbtrun.lua:20: command failed with exit code 1: dbt build --select state:modified+" in r.stderr
    assert "Completed with 1 error" in r.stdout


def test_one_process_compile_error_exits_2_as_the_build_does(work):
    (work.path / "models" / "marts" / "fct_contacts_by_country.sql").write_text("select * from {{ ref('nope') }}\n")
    r = run_dev(work, code=2)
    assert len(python_processes(work)) == 1
    # the parse's output on stderr, the warning, then the build fails the same way (as with two processes)
    assert r.stderr.count("depends on a node named 'nope'") == 1 and r.stdout.count("depends on a node named 'nope'") == 1
    assert "plan: dbt parse failed with exit code 2 (building anyway)" in r.stderr
    assert "plan: plan:" not in r.stderr
    assert "command failed with exit code 2: dbt build" in r.stderr


def test_one_process_with_nothing_modified_builds_nothing(work):
    model = work.path / "models" / "marts" / "fct_contacts.sql"
    os.utime(model)  # newer than the manifest, the same text: parsed, nothing modified
    before = (work.path / "target" / "run_results.json").read_text()
    r = run_dev(work)
    assert len(python_processes(work)) == 1
    assert "running dbt parse" in r.stderr and "No changes: state:modified+ selects nothing." in r.stdout
    assert (work.path / "target" / "run_results.json").read_text() != before  # dbt build ran, selecting nothing
    assert built_models(work.path) == set()


def test_one_process_stops_before_building_on_a_lost_generic_test(work):
    (work.path / "tests" / "generic" / "unique_combination.sql").unlink()
    before = (work.path / "target" / "run_results.json").read_text()
    r = run_dev(work, code=2)
    assert len(python_processes(work)) == 1
    assert "whose macro test_unique_combination does not exist" in r.stderr
    assert echoed(r) == ["dbt parse"] and "building anyway" not in r.stderr
    assert (work.path / "target" / "run_results.json").read_text() == before


def test_one_process_sigint_mid_build_leaves_no_python(work):
    edit(work.path, "models/marts/fct_contacts.sql")
    p = subprocess.Popen([DBTRUN, "dev"], cwd=work.path, env=work.env, text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    seen = []
    for line in p.stdout:  # dbt's log: the build has started once a model starts
        seen.append(line)
        if "START sql" in line:
            p.send_signal(signal.SIGINT)
            break
    else:
        pytest.fail("the build never started: " + "".join(seen[-20:]))
    rest, err = p.communicate(timeout=120)
    assert p.returncode == 130, "".join(seen[-20:]) + rest + err
    assert "interrupted by SIGINT" in err
    assert len(python_processes(work)) == 1
    time.sleep(0.2)
    for pid, _, _ in all_pythons(work):  # the driver and dbt's helpers are gone
        stat = Path(f"/proc/{pid}/stat")
        assert not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] == "Z", pid


def test_a_shell_wrapper_dbt_keeps_two_processes(work, tmp_path):
    wrapper = tmp_path / "dbt-wrapper"
    wrapper.write_text(f'#!/bin/sh\nexec "{VENV_BIN / "dbt"}" "$@"\n')
    wrapper.chmod(0o755)
    work.env["DBTRUN_DBT"] = str(wrapper)
    edit(work.path, "models/marts/fct_contacts.sql")
    r = run_dev(work)
    assert len(python_processes(work)) == 2, python_processes(work)
    assert f"{wrapper} parse" in r.stderr and f"{wrapper} build --select state:modified+" in r.stderr
    assert "0 new, 1 modified, 0 removed" in r.stdout
    assert built_models(work.path) == {"fct_contacts", "fct_contacts_by_country"}
