"""dbt{} and plan.run{} in task files (issue 14), with the real binary and
real dbt (dbt-core + dbt-duckdb from the venv) on copies of the example
project after a production `dbtrun deploy` to the local store (one deploy per
module; each test works on its own copy, DuckDB file included). Misuse is
checked without dbt: exact message, exit status 2."""
import json
import os
import shutil

import pytest

from conftest import ROOT, dbtrun

VENV_BIN = ROOT / ".venv" / "bin"
EXAMPLE = ROOT / "examples" / "jaffle_contacts"
ENRICHED = "model.jaffle_contacts.int_contacts__enriched"
ENV = {"PATH": f"{VENV_BIN}:{os.environ['PATH']}", "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
       "GITHUB_ACTIONS": "", "GITHUB_EVENT_PATH": "", "GITHUB_STEP_SUMMARY": "", "GITHUB_TOKEN": ""}

needs_dbt = pytest.mark.skipif(not (VENV_BIN / "dbt").exists(), reason="dbt is not installed (tools/venv.sh)")

TASKS = r'''
task("changed-build", { deps = { "fetch-manifest" } }, function()
  local ls = dbt { "ls", "--quiet", "--resource-type", "model", "-s", "state:modified+", "--state", ".artifacts/" }
  local code, results = dbt { "build", "-s", "state:modified", "--state", ".artifacts/", "--defer", results = true }
  fs.write("out.json", json.encode({ ls = ls, build = code, results = results }))
end)

task("broken", {}, function()
  local code, results = dbt { "run", "-s", "broken", check = false, results = true }
  fs.write("out.json", json.encode({ code = code, results = results }))
  dbt { "run", "-s", "broken" }
  log("not reached")
end)

-- lint only the files of the models that changed themselves
task("lint-changed", { deps = { "fetch-manifest" } }, function()
  local files = {}
  for _, node in ipairs(plan.run{}.nodes) do
    if node.resource_type == "model" and node.status ~= "downstream" then
      files[#files + 1] = node.original_file_path
    end
  end
  fs.write("changed.txt", table.concat(files, "\n") .. "\n")
end)

task("plan-json", { deps = { "fetch-manifest" }, params = { "PARSE=true" } }, function(a)
  fs.write("plan.json", json.encode(plan.run { parse = a.PARSE == "true" }))
end)
'''


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    if not (VENV_BIN / "dbt").exists():
        pytest.skip("dbt is not installed (tools/venv.sh)")
    project = tmp_path_factory.mktemp("helpers") / "jaffle_contacts"
    shutil.copytree(EXAMPLE, project,
                    ignore=shutil.ignore_patterns("target", "logs", "*.duckdb*", ".artifacts", ".dbtrun"))
    r = dbtrun("deploy", cwd=project, env=ENV, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr
    with open(project / "dbtrun.lua", "a") as f:
        f.write(TASKS)
    return project


@pytest.fixture
def example(deployed, tmp_path):
    """A copy of the deployed project with int_contacts__enriched edited."""
    project = tmp_path / "p"
    shutil.copytree(deployed, project)
    model = project / "models" / "intermediate" / "int_contacts__enriched.sql"
    model.write_text(model.read_text() + "\n-- an edit\n")
    return project


@needs_dbt
def test_dbt_runs_ls_and_build_and_returns_the_results(example):
    r = dbtrun("changed-build", cwd=example, env=ENV, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr
    listed = [line for line in r.stdout.splitlines() if line.startswith("jaffle_contacts.")]
    assert sorted(listed) == ["jaffle_contacts.intermediate.int_contacts__enriched",
                              "jaffle_contacts.marts.fct_contacts", "jaffle_contacts.marts.fct_contacts_by_country"]
    assert "dbt ls --quiet --resource-type model -s state:modified+ --state .artifacts/\n" in r.stderr
    out = json.loads((example / "out.json").read_text())
    assert out["ls"] == 0 and out["build"] == 0
    results = out["results"]
    assert set(results) == {ENRICHED,
                            "test.jaffle_contacts.not_null_int_contacts__enriched_contact_id.6ae838761f",
                            "test.jaffle_contacts.not_null_int_contacts__enriched_country_name.f79facb348",
                            "test.jaffle_contacts.not_null_int_contacts__enriched_lifetime_value_usd.75e5aa1c41",
                            "test.jaffle_contacts.unique_int_contacts__enriched_contact_id.5095889ceb"}
    model = results[ENRICHED]
    assert model["status"] == "success" and model["resource_type"] == "model"
    assert "failures" not in model and model["execution_time"] > 0
    tests = [v for k, v in results.items() if k != ENRICHED]
    assert all(t["status"] == "pass" and t["failures"] == 0 and t["resource_type"] == "test" for t in tests)


@needs_dbt
def test_dbt_settings_dry_run_and_github_groups(example):
    r = dbtrun("--dry-run", "--set", "threads=2", "--set", "targets.dev=dev", "changed-build", cwd=example, env=ENV)
    assert r.returncode == 0, r.stderr
    # the builds' --target and --threads, after the subcommand; ls takes no --threads
    assert "dbt ls --target dev --quiet --resource-type model -s state:modified+ --state .artifacts/\n" in r.stderr
    assert "dbt build --target dev --threads 2 -s state:modified --state .artifacts/ --defer\n" in r.stderr
    assert not (example / "out.json").exists()

    r = dbtrun("changed-build", cwd=example, env={**ENV, "GITHUB_ACTIONS": "true"}, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr
    lines = r.stdout.splitlines()
    assert lines.count("::group::dbt ls") == 1 and lines.count("::group::dbt build") == 1
    assert lines.count("::endgroup::") == 2


@needs_dbt
def test_dbt_failure_code_and_results(example):
    (example / "models" / "broken.sql").write_text("select * from nowhere_at_all\n")
    r = dbtrun("broken", cwd=example, env=ENV, timeout=300)
    assert r.returncode == 1, r.stdout[-3000:] + r.stderr
    out = json.loads((example / "out.json").read_text())
    assert out["code"] == 1
    assert out["results"]["model.jaffle_contacts.broken"]["status"] == "error"
    assert "nowhere_at_all" in out["results"]["model.jaffle_contacts.broken"]["message"]
    assert "dbtrun.lua:" in r.stderr and ": command failed with exit code 1: dbt run -s broken" in r.stderr
    assert "not reached" not in r.stderr


@needs_dbt
def test_dbt_not_found(example):
    r = dbtrun("broken", cwd=example, env={**ENV, "PATH": "/usr/bin:/bin"})
    assert r.returncode == 127, r.stderr
    assert "dbt not found: looked for .venv/bin/dbt, venv/bin/dbt, dbt on PATH (/usr/bin:/bin)" in r.stderr


@needs_dbt
def test_plan_run_lists_the_changed_models_files(example):
    (example / "models" / "marts" / "new_model.sql").write_text("select 1 as id\n")
    r = dbtrun("lint-changed", cwd=example, env=ENV, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr
    assert "running dbt parse" in r.stderr  # target/manifest.json was older than the edit
    assert (example / "changed.txt").read_text() == \
        "models/intermediate/int_contacts__enriched.sql\nmodels/marts/new_model.sql\n"

    r = dbtrun("plan-json", "false", cwd=example, env=ENV)
    assert r.returncode == 0, r.stderr
    assert "dbt parse" not in r.stderr
    plan = json.loads((example / "plan.json").read_text())
    nodes = {n["unique_id"]: n for n in plan["nodes"]}
    assert [n["unique_id"] for n in plan["nodes"]] == sorted(nodes)
    assert nodes[ENRICHED] == {"unique_id": ENRICHED, "resource_type": "model", "name": "int_contacts__enriched",
                               "original_file_path": "models/intermediate/int_contacts__enriched.sql",
                               "status": "modified", "reasons": ["modified.body"], "selected": True}
    new = nodes["model.jaffle_contacts.new_model"]
    # as in `dbtrun plan --format json`: every selector that selects it in dbt
    assert new["status"] == "new" and new["reasons"][0] == "new" and "modified.body" in new["reasons"]
    fct = nodes["model.jaffle_contacts.fct_contacts"]
    assert fct["status"] == "downstream" and fct["reasons"] == [] and fct["selected"] is True
    assert fct["original_file_path"] == "models/marts/fct_contacts.sql"
    assert (plan["new"], plan["modified"], plan["removed"]) == (1, 1, 0)
    assert plan["selected"] == len(nodes)
    assert plan["state"] == ".artifacts/manifest.json" and plan["current"] == "target/manifest.json"


@needs_dbt
def test_plan_run_removed_node_keeps_its_production_path(example):
    (example / "models" / "marts" / "fct_contacts_by_country.sql").unlink()
    r = dbtrun("plan-json", cwd=example, env=ENV, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr
    nodes = {n["unique_id"]: n for n in json.loads((example / "plan.json").read_text())["nodes"]}
    gone = nodes["model.jaffle_contacts.fct_contacts_by_country"]
    assert gone["status"] == "removed" and gone["selected"] is False and gone["reasons"] == ["removed"]
    assert gone["original_file_path"] == "models/marts/fct_contacts_by_country.sql"


def test_plan_run_without_a_production_manifest(project):
    root = project('task("lint", {}, function()\n  plan.run {}\nend)\n')
    r = dbtrun("lint", cwd=root)
    assert r.returncode == 1
    assert r.stderr == ("error: task 'lint' failed: dbtrun.lua:2: plan.run: no production manifest at "
                        ".artifacts/manifest.json: get it with `dbtrun fetch-manifest` "
                        "(or deps = { \"fetch-manifest\" } in the task)\n")


MISUSE = [
    ('dbt "build"', 'dbt: argument 1 must be a table of words, as dbt { "build", "--select", "x" }, '
                    'got string "build"'),
    ('dbt { "build", "--select", nil, "--defer" }',
     "dbt: argument 3 is nil (a hole in the list: a nil value or a misspelled name?)"),
    ('dbt { "build", true }', "dbt: argument 2 is a boolean; pass strings"),
    ('dbt { "build", result = true }', "dbt: unknown option 'result' (check, env, results, target)"),
    ('dbt { "build", check = "no" }', "dbt: option check must be a boolean, got string"),
    ('dbt { "build", target = 3 }', "dbt: option target must be a string, got number"),
    ('dbt {}', 'dbt: no dbt command (e.g. dbt { "build" })'),
    ('plan.run "x"', 'plan.run: argument 1 (options) must be a table or nil, got string "x"'),
    ('plan.run { stat = "x" }', "plan.run: unknown option 'stat' (parse, state, target_manifest)"),
    ('plan.run { parse = "no" }', "plan.run: option parse must be a boolean, got string"),
]


@pytest.mark.parametrize("call,message", MISUSE)
def test_misuse(project, call, message):
    root = project(f'task("x", {{}}, function()\n  {call}\nend)\n')
    r = dbtrun("x", cwd=root)
    assert r.returncode == 2, r.stderr
    assert r.stderr == f"error: dbtrun.lua:2: {message}\n"


def test_list_does_not_load_the_helpers(project):
    root = project('task("x", {}, function()\n  dbt { "build" }\n  plan.run {}\nend)\n'
                   'task("y", {}, function() log(tostring(package.loaded["dbtrun.helpers"])) end)\n')
    r = dbtrun("--list", cwd=root)
    assert r.returncode == 0 and "x" in r.stdout, r.stderr
    r = dbtrun("y", cwd=root)
    assert r.returncode == 0 and r.stderr == "nil\n", r.stderr
