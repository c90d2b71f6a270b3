"""dbtrun init fits the project it runs in: the adapter from the profile dbt
would use (or --adapter, or the dependency files), a profile template for it
that renders to a valid profiles.yml, dbtrun.lua on the local store, the
.gitignore lines, workflows that install dbtrun (uv or pip) and pass
actionlint; idempotent, --force replaces. End to end: init -> deploy -> dev
on a fresh DuckDB project with no AWS at all."""
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import CI, DBTRUN

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
VERSION = (ROOT / "VERSION").read_text().strip()

# Renders a template as `dbtrun ci` would: DBTRUN_TEST_VARS (JSON) are set,
# DBTRUN_TEST_ANY=1 gives every other name the value <NAME>.
RENDER = """
local render = require("dbtrun.profile").render_profile
local json = require("dbtrun.native").json
local vars = json.decode(os.getenv("DBTRUN_TEST_VARS") or "{}")
local any = os.getenv("DBTRUN_TEST_ANY") == "1"
local path = os.getenv("DBTRUN_TEST_TEMPLATE")
io.write(render(io.open(path):read("a"), function(n)
  if vars[n] ~= nil then return vars[n] end
  return any and ("<" .. n .. ">") or nil
end, path))
"""

SEED_VARS = {"SNOWFLAKE_ACCOUNT": "acme", "SNOWFLAKE_USER": "DBT_CI", "SNOWFLAKE_ROLE": "TRANSFORMER",
             "SNOWFLAKE_WAREHOUSE": "CI_WH", "DBT_PRIVATE_KEY_PATH": "/tmp/k.pem", "DBT_CI_SCHEMA": "CI_PR_3"}

ADAPTERS = ("duckdb", "postgres", "snowflake", "bigquery", "redshift", "databricks")

OUTPUTS = {  # a developer's output per adapter, with plain values init may copy as defaults
    "duckdb": "type: duckdb\npath: shop.duckdb\nschema: dev\nthreads: 2",
    "postgres": "type: postgres\nhost: db.internal\nport: 5433\nuser: alice\npassword: hunter2\ndbname: shop\nschema: dev",
    "redshift": "type: redshift\nhost: rs.internal\nport: 5439\nuser: alice\npassword: hunter2\ndbname: shop\nschema: dev",
    "snowflake": "type: snowflake\naccount: acme\nuser: alice\npassword: hunter2\nrole: DEV\nwarehouse: WH\n"
                 "database: DEV\nschema: dev",
    "bigquery": "type: bigquery\nmethod: oauth\nproject: acme-analytics\ndataset: dev\nlocation: US",
    "databricks": "type: databricks\nhost: acme.cloud.databricks.com\nhttp_path: /sql/1.0/warehouses/abc\n"
                  "token: dapi123\ncatalog: hive\nschema: dev",
}


def clean_env(tmp_path, **extra):
    """The environment of a stranger's laptop: no AWS (IMDS off), a HOME of
    its own, no DBT_PROFILES_DIR, dbt from the repository's venv on PATH."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "DBTRUN_", "DBT_", "GITHUB_")) and k not in ("NO_COLOR",)}
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env.update(HOME=str(home), AWS_EC2_METADATA_DISABLED="true", PATH=f"{VENV_BIN}:{os.environ['PATH']}",
               AWS_CONFIG_FILE=str(home / "no-aws-config"), AWS_SHARED_CREDENTIALS_FILE=str(home / "no-aws-creds"))
    env.update(extra)
    return env


def run(args, cwd, env, timeout=60):
    return subprocess.run([DBTRUN, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def indent(text, n):
    return "\n".join(" " * n + line for line in text.splitlines())


def make_project(root, adapter=None, profile="acme_wh", where="profiles.yml", output=None):
    root.mkdir(parents=True, exist_ok=True)
    (root / "dbt_project.yml").write_text(f"name: acme\nversion: '1.0'\nprofile: '{profile}'\n")
    if adapter:
        path = root / where
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{profile}:\n  target: dev\n  outputs:\n    dev:\n{indent(output or OUTPUTS[adapter], 6)}\n")
    return root


def render(template, tmp_path, any_name=True, **vars):
    script = tmp_path / "render.lua"
    script.write_text(RENDER)
    env = dict(os.environ, DBTRUN_TEST_TEMPLATE=str(template), DBTRUN_TEST_VARS=json.dumps(vars),
               DBTRUN_TEST_ANY="1" if any_name else "0")
    p = subprocess.run([DBTRUN, "--script", str(script)], capture_output=True, text=True, timeout=30, env=env)
    assert p.returncode == 0, p.stderr
    return yaml.safe_load(p.stdout)


def snapshot(root):
    """Every file under root but dbtrun's own cache (.dbtrun/, gitignored)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.relative_to(root).parts[0] != ".dbtrun"}


# ---- the adapter and its template --------------------------------------------


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_init_writes_the_template_of_the_profiles_adapter(adapter, tmp_path):
    proj = make_project(tmp_path / "p", adapter)
    r = run(["init"], proj, clean_env(tmp_path))
    assert r.returncode == 0, r.stderr
    assert f"profile  acme_wh in profiles.yml (the project folder): target dev, type {adapter}" in r.stderr
    profile = render(proj / "ci/profiles.yml", tmp_path, DBT_CI_SCHEMA="CI_PR_7")["acme_wh"]
    assert profile["target"] == "ci"
    assert {o["type"] for o in profile["outputs"].values()} == {adapter}
    ci, prod = profile["outputs"]["ci"], profile["outputs"]["prod"]
    assert (ci.get("schema") or ci.get("dataset")) == "CI_PR_7"
    assert (prod.get("schema") or prod.get("dataset")) != "CI_PR_7"
    generated = (proj / "ci/profiles.yml").read_text() + (proj / "dbtrun.lua").read_text()
    for other in ADAPTERS:
        if other != adapter:
            assert f"type: {other}" not in generated
    assert "hunter2" not in generated and "dapi123" not in generated  # a developer's secrets are never copied
    starter = (proj / "dbtrun.lua").read_text()
    assert '\n  profile = "ci/profiles.yml",' in starter
    if adapter == "duckdb":
        assert "snowflake" not in generated.lower() and "SNOWFLAKE" not in r.stdout
    else:
        assert f'-- secrets = {{ {{ prefix = "{adapter.upper()}", id = "dbt/{adapter}-credentials" }} }}' in starter
        assert f"dbt/{adapter}-credentials" in r.stdout  # the next steps name the secret


def test_plain_fields_of_the_profile_become_the_templates_defaults(tmp_path):
    """Where the warehouse is (host, port, dbname, project, http_path) comes
    from the developer's profile; who connects and with what never does."""
    cases = {
        "postgres": ({"host": "db.internal", "port": 5433, "dbname": "shop"}, "POSTGRES_PASSWORD"),
        "redshift": ({"host": "rs.internal", "port": 5439, "dbname": "shop"}, "REDSHIFT_PASSWORD"),
        "bigquery": ({"project": "acme-analytics", "location": "US", "method": "service-account"}, None),
        "databricks": ({"host": "acme.cloud.databricks.com", "http_path": "/sql/1.0/warehouses/abc",
                        "catalog": "hive"}, "DATABRICKS_TOKEN"),
    }
    for adapter, (expected, secret) in cases.items():
        proj = make_project(tmp_path / adapter, adapter)
        assert run(["init"], proj, clean_env(tmp_path)).returncode == 0
        secrets = {secret: "s3cr3t"} if secret else {}
        ci = render(proj / "ci/profiles.yml", tmp_path, any_name=False, DBT_CI_SCHEMA="CI_PR_1",
                    POSTGRES_USER="u", REDSHIFT_USER="u", DBT_PRIVATE_KEY_PATH="/k", **secrets)["acme_wh"]["outputs"]["ci"]
        for key, value in expected.items():
            assert ci[key] == value, (adapter, key)
        if secret:
            assert "s3cr3t" in ci.values()


def test_duckdb_template_copies_the_developers_output_into_other_schemas(tmp_path):
    """Deferral on DuckDB needs production in the file dev opens: the output is
    copied (path, threads, extensions), only the schema differs."""
    out = "type: duckdb\npath: \"{{ env_var('SHOP_DB', 'shop.duckdb') }}\"\nschema: dev\nextensions:\n  - httpfs\nthreads: 2"
    proj = make_project(tmp_path / "p", "duckdb", output=out)
    assert run(["init"], proj, clean_env(tmp_path)).returncode == 0
    outputs = render(proj / "ci/profiles.yml", tmp_path, any_name=False)["acme_wh"]["outputs"]
    common = {"type": "duckdb", "path": "{{ env_var('SHOP_DB', 'shop.duckdb') }}", "extensions": ["httpfs"],
              "threads": 2}
    assert outputs["ci"] == dict(common, schema="ci")
    assert outputs["prod"] == dict(common, schema="prod")


def test_the_profile_is_found_where_dbt_looks_with_anchors_and_env_var_targets(tmp_path):
    home_profiles = """# shared settings
common: &pg
  type: postgres
  host: pg.home
acme_wh:
  target: "{{ env_var('DBT_TARGET', 'dev') }}"
  outputs:
    ci:
      type: duckdb
      path: ci.duckdb
    dev:
      <<: *pg
      dbname: "shop"   # the developer's database
"""
    proj = make_project(tmp_path / "p")
    env = clean_env(tmp_path)
    dotdbt = Path(env["HOME"]) / ".dbt"
    dotdbt.mkdir()
    (dotdbt / "profiles.yml").write_text(home_profiles)
    r = run(["init"], proj, env)
    assert r.returncode == 0, r.stderr
    assert f"in {dotdbt}/profiles.yml (~/.dbt): target dev, type postgres" in r.stderr
    ci = render(proj / "ci/profiles.yml", tmp_path, any_name=False, POSTGRES_USER="u",
                POSTGRES_PASSWORD="p")["acme_wh"]["outputs"]["ci"]
    assert (ci["type"], ci["host"], ci["port"], ci["dbname"]) == ("postgres", "pg.home", 5432, "shop")
    # DBT_PROFILES_DIR comes before the project folder and ~/.dbt, as in dbt
    elsewhere = make_project(tmp_path / "elsewhere", "bigquery", where="profiles.yml")
    proj2 = make_project(tmp_path / "p2", "snowflake")
    r = run(["init"], proj2, dict(env, DBT_PROFILES_DIR=str(elsewhere)))
    assert r.returncode == 0, r.stderr
    assert "(DBT_PROFILES_DIR): target dev, type bigquery" in r.stderr
    assert "type: bigquery" in (proj2 / "ci/profiles.yml").read_text()


def test_without_a_profile_init_says_what_it_searched_and_takes_a_hint(tmp_path):
    proj = make_project(tmp_path / "p", profile="lost_profile")
    env = clean_env(tmp_path)
    (tmp_path / "pd").mkdir()
    (tmp_path / "pd/profiles.yml").write_text("other:\n  outputs:\n    dev:\n      type: duckdb\n")
    r = run(["init"], proj, dict(env, DBT_PROFILES_DIR=str(tmp_path / "pd")))
    assert r.returncode != 0
    assert "profile 'lost_profile' (dbt_project.yml) is not in" in r.stderr
    assert f"{tmp_path}/pd/profiles.yml (no profile 'lost_profile')" in r.stderr
    assert "profiles.yml (absent)" in r.stderr and f"{env['HOME']}/.dbt/profiles.yml (absent)" in r.stderr
    assert "dbtrun init --adapter NAME (one of duckdb, postgres, snowflake, bigquery, redshift, databricks)" in r.stderr
    assert sorted(p.name for p in proj.iterdir()) == ["dbt_project.yml"]  # nothing written
    # the dependency files name one adapter: that one
    (proj / "requirements.txt").write_text("dbt-core==1.8.0\ndbt-bigquery==1.8.2\n")
    r = run(["init"], proj, env)
    assert r.returncode == 0, r.stderr
    assert "adapter  bigquery: named by requirements.txt (no profile 'lost_profile' found" in r.stderr
    assert "type: bigquery" in (proj / "ci/profiles.yml").read_text()
    # two adapters: ambiguous, say so
    proj2 = make_project(tmp_path / "p2", profile="lost_profile")
    (proj2 / "requirements.txt").write_text("dbt-postgres==1.8.0\ndbt-duckdb==1.8.0\n")
    r = run(["init"], proj2, env)
    assert r.returncode != 0 and "requirements.txt name duckdb and postgres" in r.stderr
    # --adapter decides
    r = run(["init", "--adapter", "redshift"], proj2, env)
    assert r.returncode == 0, r.stderr
    assert "type: redshift" in (proj2 / "ci/profiles.yml").read_text()


def test_a_profile_without_a_type_is_named(tmp_path):
    proj = make_project(tmp_path / "p", "duckdb", output="path: x.duckdb")
    r = run(["init"], proj, clean_env(tmp_path))
    assert r.returncode != 0
    assert "profile 'acme_wh' in profiles.yml has no type for target dev" in r.stderr
    assert run(["init", "--adapter", "duckdb"], proj, clean_env(tmp_path)).returncode == 0


def test_adapter_flag_errors_and_overrides(tmp_path):
    proj = make_project(tmp_path / "p", "duckdb")
    env = clean_env(tmp_path)
    r = run(["init", "--adapter=oracle"], proj, env)
    assert r.returncode != 0 and "--adapter oracle: no template for it (one of duckdb, postgres" in r.stderr
    r = run(["init", "--adapter"], proj, env)
    assert r.returncode != 0 and "--adapter needs a name" in r.stderr
    r = run(["init", "--bogus"], proj, env)
    assert r.returncode != 0 and "unknown flag --bogus (init [--force] [--adapter NAME])" in r.stderr
    r = run(["init", "--adapter=snowflake"], proj, env)
    assert r.returncode == 0, r.stderr
    assert "--adapter snowflake: the profile's target is duckdb; writing snowflake templates as asked" in r.stderr
    assert "type: snowflake" in (proj / "ci/profiles.yml").read_text()


def test_an_adapter_without_a_template_gets_neutral_files(tmp_path):
    proj = make_project(tmp_path / "p", "trino", output="type: trino\nhost: t.internal")
    r = run(["init"], proj, clean_env(tmp_path))
    assert r.returncode == 0, r.stderr
    assert "no profile template for adapter trino" in r.stderr
    assert not (proj / "ci/profiles.yml").exists()
    assert '  -- profile = "ci/profiles.yml",' in (proj / "dbtrun.lua").read_text()
    assert (proj / ".github/workflows/ci.yml").exists()


def test_init_needs_a_dbt_project(tmp_path):
    r = run(["init"], tmp_path, clean_env(tmp_path))
    assert r.returncode != 0 and "no dbt_project.yml in" in r.stderr
    (tmp_path / "dbt_project.yml").write_text("name: x\n")
    r = run(["init"], tmp_path, clean_env(tmp_path))
    assert r.returncode != 0 and "dbt_project.yml names no profile" in r.stderr


def test_snowflake_template_renders_to_the_seeds_profile(tmp_path):
    proj = make_project(tmp_path / "p", "snowflake", profile="dbt_transform")
    assert run(["init"], proj, clean_env(tmp_path)).returncode == 0
    outputs = render(proj / "ci/profiles.yml", tmp_path, any_name=False, **SEED_VARS)["dbt_transform"]["outputs"]
    common = {"type": "snowflake", "account": "acme", "user": "DBT_CI", "private_key_path": "/tmp/k.pem",
              "role": "TRANSFORMER", "warehouse": "CI_WH", "host": "", "port": 443, "protocol": "https"}
    assert outputs["ci"] == dict(common, database="ANALYTICS_DEV", schema="CI_PR_3", threads=4)
    assert outputs["prod"] == dict(common, database="ANALYTICS", schema="ANALYTICS", threads=8)
    starter = (proj / "dbtrun.lua").read_text()
    assert '-- private_key = "SNOWFLAKE_PRIVATE_KEY"' in starter
    macro = (proj / "macros/drop_ci_schemas.sql").read_text()
    assert "name = row[0]" not in macro and "adapter.check_schema_exists" in macro
    examples = ROOT / "examples"
    assert macro == (examples / "snowflake_contacts/macros/drop_ci_schemas.sql").read_text()
    assert macro == (examples / "jaffle_contacts/macros/drop_ci_schemas.sql").read_text()
    listing = (proj / "macros/list_ci_schemas.sql").read_text()
    assert listing == (examples / "snowflake_contacts/macros/list_ci_schemas.sql").read_text()
    assert listing == (examples / "jaffle_contacts/macros/list_ci_schemas.sql").read_text()
    assert "macro drop_schema" in (proj / "macros/drop_schema.sql").read_text()


def test_macros_go_to_the_macro_path_and_never_duplicate_a_macro(tmp_path):
    proj = make_project(tmp_path / "p", "duckdb")
    with open(proj / "dbt_project.yml", "a") as f:
        f.write('macro-paths: ["dbt_macros"]\n')
    (proj / "dbt_macros/util").mkdir(parents=True)
    (proj / "dbt_macros/util/ours.sql").write_text("{% macro drop_schema(schema_name) %}{% endmacro %}\n")
    r = run(["init"], proj, clean_env(tmp_path))
    assert r.returncode == 0, r.stderr
    assert "kept     dbt_macros/drop_schema.sql: macro drop_schema is defined elsewhere in dbt_macros/" in r.stderr
    assert not (proj / "dbt_macros/drop_schema.sql").exists()
    assert (proj / "dbt_macros/drop_ci_schemas.sql").exists() and not (proj / "macros").exists()


# ---- dbtrun.lua on the local store ---------------------------------------------


def test_starter_stays_on_the_local_store_with_aws_commented(tmp_path):
    proj = make_project(tmp_path / "p", "snowflake")
    env = clean_env(tmp_path)
    assert run(["init"], proj, env).returncode == 0
    starter = (proj / "dbtrun.lua").read_text()
    for line in starter.splitlines():
        s = line.strip()
        if any(w in s for w in ("s3://", "cloudfront", "role_arn", "region", "secrets =", "private_key =")):
            assert s.startswith("--"), line
    r = run(["--list"], proj, env)
    assert r.returncode == 0, r.stderr
    assert "deploy " in r.stdout and "init " in r.stdout
    r = run(["--dry-run", "fetch-manifest"], proj, env)
    assert r.returncode == 0, r.stderr
    assert "store get file://.dbtrun/store/artifacts/manifest.json .artifacts/manifest.json" in r.stderr


# ---- .gitignore -----------------------------------------------------------------


def test_gitignore_created_appended_never_duplicated(tmp_path):
    env = clean_env(tmp_path)
    proj = make_project(tmp_path / "new", "duckdb")
    assert run(["init"], proj, env).returncode == 0
    assert (proj / ".gitignore").read_text().splitlines()[1:] == [".artifacts/", ".dbtrun/", ".env"]
    # an existing file without a final newline, one line already there in another spelling
    proj = make_project(tmp_path / "old", "duckdb")
    (proj / ".gitignore").write_text("target/\n/.dbtrun")
    r = run(["init"], proj, env)
    assert r.returncode == 0, r.stderr
    assert "appended .gitignore (+ .artifacts/ .env)" in r.stderr
    text = (proj / ".gitignore").read_text()
    assert text.startswith("target/\n/.dbtrun\n\n# dbtrun") and text.endswith("\n.artifacts/\n.env\n")
    assert run(["init", "--force"], proj, env).returncode == 0
    assert (proj / ".gitignore").read_text() == text
    # all there: untouched
    proj = make_project(tmp_path / "all", "duckdb")
    (proj / ".gitignore").write_text(".env\n.dbtrun/\n.artifacts\n")
    r = run(["init"], proj, env)
    assert "kept     .gitignore" in r.stderr
    assert (proj / ".gitignore").read_text() == ".env\n.dbtrun/\n.artifacts\n"


# ---- idempotence and --force ------------------------------------------------------


def test_init_twice_changes_nothing_and_force_replaces(tmp_path):
    proj = make_project(tmp_path / "p", "postgres")
    env = clean_env(tmp_path)
    r = run(["init"], proj, env)
    assert r.returncode == 0, r.stderr
    first = snapshot(proj)
    expected = {"dbtrun.lua", "ci/profiles.yml", "macros/drop_schema.sql", "macros/drop_ci_schemas.sql",
                "macros/list_ci_schemas.sql", "requirements-dbtrun.txt", ".github/workflows/ci.yml",
                ".github/workflows/deploy.yml", ".github/workflows/ci-cleanup.yml", ".gitignore", "dbt_project.yml",
                "profiles.yml"}
    assert set(first) == expected
    r = run(["init"], proj, env)
    assert r.returncode == 0, r.stderr
    assert snapshot(proj) == first
    assert "wrote" not in r.stderr and "kept     ci/profiles.yml (unchanged)" in r.stderr
    assert "differ" not in r.stderr
    (proj / "dbtrun.lua").write_text("-- mine\n")
    (proj / ".github/workflows/ci.yml").write_text("name: mine\n")
    r = run(["init"], proj, env)
    assert r.returncode == 0, r.stderr
    assert "kept     dbtrun.lua (exists; --force replaces it)" in r.stderr
    assert ("kept 2 file(s) that differ from what init writes: dbtrun.lua, .github/workflows/ci.yml "
            "(dbtrun init --force replaces them)") in r.stderr
    assert (proj / "dbtrun.lua").read_text() == "-- mine\n"
    r = run(["init", "--force"], proj, env)
    assert r.returncode == 0, r.stderr
    assert snapshot(proj) == first


# ---- the workflows --------------------------------------------------------------


def actionlint():
    found = shutil.which("actionlint") or next(
        (str(p) for p in [Path.home() / "go" / "bin" / "actionlint"] if p.exists()), None)
    if not found:
        reason = "actionlint is not installed (tools/deps.sh: go install github.com/rhysd/actionlint/cmd/actionlint)"
        if CI:
            pytest.fail("CI=true: " + reason)
        pytest.skip(reason)
    return found


def steps(workflow, job):
    return {s["name"]: s for s in workflow["jobs"][job]["steps"]}


def check_common(proj):
    ci = yaml.safe_load((proj / ".github/workflows/ci.yml").read_text())
    deploy = yaml.safe_load((proj / ".github/workflows/deploy.yml").read_text())
    on_ci, on_deploy = ci[True], deploy[True]  # PyYAML reads the key `on` as True
    assert on_ci == {"pull_request": {"branches": ["main"]}}
    assert "workflow_dispatch" in on_deploy and on_deploy["push"] == {"branches": ["main"]}
    assert ci["concurrency"] == {"group": "dbt-ci-${{ github.event.pull_request.number }}", "cancel-in-progress": True}
    assert deploy["concurrency"]["cancel-in-progress"] is False
    for wf, job, last in ((ci, "dbt-ci", "dbtrun ci"), (deploy, "dbt-deploy", "dbtrun deploy")):
        assert wf["permissions"]["id-token"] == "write"
        j = wf["jobs"][job]
        assert j["timeout-minutes"] > 0
        assert j["steps"][-1]["run"] == last
        assert j["env"]["AWS_ROLE_ARN"] == "${{ vars.AWS_ROLE_ARN }}"
        for s in j["steps"]:
            assert s.get("uses") or (s.get("run") or "").strip(), s  # no step that can be empty
            assert "vars." not in (s.get("run") or "")
    assert ci["jobs"]["dbt-ci"]["env"]["GITHUB_TOKEN"] == "${{ secrets.GITHUB_TOKEN }}"
    assert "GITHUB_TOKEN" not in deploy["jobs"]["dbt-deploy"]["env"]
    return ci, deploy


def lint(proj):
    p = subprocess.run([actionlint(), ".github/workflows/ci.yml", ".github/workflows/deploy.yml",
                        ".github/workflows/ci-cleanup.yml"], cwd=proj, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr


def test_nightly_ci_cleanup_workflow(tmp_path):
    proj = make_project(tmp_path / "p", "duckdb")
    r = run(["init"], proj, clean_env(tmp_path))
    assert r.returncode == 0, r.stderr
    wf = yaml.safe_load((proj / ".github/workflows/ci-cleanup.yml").read_text())
    assert wf[True]["schedule"] == [{"cron": "17 3 * * *"}] and "workflow_dispatch" in wf[True]
    assert wf["permissions"] == {"id-token": "write", "contents": "read", "pull-requests": "read"}
    job = wf["jobs"]["dbt-ci-cleanup"]
    assert job["env"]["GITHUB_TOKEN"] == "${{ secrets.GITHUB_TOKEN }}"
    assert job["steps"][-1]["run"] == "dbtrun ci-cleanup"
    ci = yaml.safe_load((proj / ".github/workflows/ci.yml").read_text())
    assert "with" not in steps(ci, "dbt-ci")["Checkout"]  # a shallow checkout unless merge-base state asks
    assert 'config state = "merge-base" needs' in (proj / ".github/workflows/ci.yml").read_text()
    lint(proj)


def test_merge_base_state_checks_out_the_pr_head_with_full_history(tmp_path):
    proj = make_project(tmp_path / "p", "duckdb")
    (proj / "dbtrun.lua").write_text('config { state = "merge-base" }\n')
    r = run(["init", "--force"], proj, clean_env(tmp_path))
    assert r.returncode == 0, r.stderr
    ci = yaml.safe_load((proj / ".github/workflows/ci.yml").read_text())
    assert steps(ci, "dbt-ci")["Checkout"]["with"] == {"ref": "${{ github.event.pull_request.head.sha }}",
                                                         "fetch-depth": 0}
    lint(proj)


def test_pip_workflows_install_the_pinned_dbtrun(tmp_path):
    env = clean_env(tmp_path)
    # the project's own requirements.txt: dbt from it, dbtrun from requirements-dbtrun.txt
    proj = make_project(tmp_path / "p", "duckdb")
    (proj / "requirements.txt").write_text("dbt-duckdb==1.9.0\n")
    r = run(["init"], proj, env)
    assert r.returncode == 0, r.stderr
    ci, deploy = check_common(proj)
    for wf, job in ((ci, "dbt-ci"), (deploy, "dbt-deploy")):
        s = steps(wf, job)
        assert s["Set up Python"]["uses"] == "actions/setup-python@v5"
        assert s["Set up Python"]["with"] == {"python-version": "3.11", "cache": "pip",
                                             "cache-dependency-path": "requirements.txt\nrequirements-dbtrun.txt\n"}
        assert s["Install dbt and dbtrun"]["run"] == \
            "python -m pip install -r requirements.txt -r requirements-dbtrun.txt"
        assert s["dbtrun --version"]["run"] == "dbtrun --version"
    reqs = [ln for ln in (proj / "requirements-dbtrun.txt").read_text().splitlines() if not ln.startswith("#")]
    assert reqs == [f"dbtrun=={VERSION}"]
    assert f"dbtrun=={VERSION} from requirements-dbtrun.txt and dbt from requirements.txt" in r.stdout
    lint(proj)
    # no requirements.txt: the requirements file carries dbt too, pinned to the .venv's
    proj = make_project(tmp_path / "q", "postgres")
    site = proj / ".venv/lib/python3.11/site-packages"
    site.mkdir(parents=True)
    (site / "dbt_core-1.10.2.dist-info").mkdir()
    (site / "dbt_postgres-1.9.1.dist-info").mkdir()
    assert run(["init"], proj, env).returncode == 0
    reqs = [ln for ln in (proj / "requirements-dbtrun.txt").read_text().splitlines() if not ln.startswith("#")]
    assert reqs == [f"dbtrun=={VERSION}", "dbt-core==1.10.2", "dbt-postgres==1.9.1"]
    ci, _ = check_common(proj)
    assert steps(ci, "dbt-ci")["Install dbt and dbtrun"]["run"] == "python -m pip install -r requirements-dbtrun.txt"
    lint(proj)


def test_uv_workflows_sync_the_project(tmp_path):
    env = clean_env(tmp_path)
    proj = make_project(tmp_path / "p", "snowflake")
    (proj / "pyproject.toml").write_text('[project]\nname = "acme"\nversion = "0"\ndependencies = ["dbt-snowflake"]\n'
                                         '[dependency-groups]\ndev = ["dbtrun>=0.1"]\n')
    (proj / "uv.lock").write_text('version = 1\n[[package]]\nname = "dbtrun"\nversion = "0.1.0"\n')
    r = run(["init"], proj, env)
    assert r.returncode == 0, r.stderr
    assert "workflows install with uv sync" in r.stderr
    assert not (proj / "requirements-dbtrun.txt").exists()
    ci, deploy = check_common(proj)
    for wf, job in ((ci, "dbt-ci"), (deploy, "dbt-deploy")):
        s = steps(wf, job)
        assert s["Install uv"]["uses"].startswith("astral-sh/setup-uv@")
        assert s["Install uv"]["with"] == {"enable-cache": True}
        assert s["Set up Python"]["run"] == "uv python install 3.11"
        assert s["Install dbt and dbtrun (pyproject.toml)"]["run"] == "uv sync --python 3.11 --locked"
        assert s["Add the venv to PATH"]["run"] == 'echo "$GITHUB_WORKSPACE/.venv/bin" >> "$GITHUB_PATH"'
    lint(proj)
    # pyproject.toml without dbtrun: pip, and the next steps say how to switch
    proj = make_project(tmp_path / "q", "snowflake")
    (proj / "pyproject.toml").write_text('[project]\nname = "acme"\ndependencies = ["dbt-snowflake"]\n')
    r = run(["init"], proj, env)
    assert "workflows install with pip" in r.stderr and "uv add --dev dbtrun" in r.stdout


# ---- end to end: a stranger's DuckDB project, no AWS -------------------------------

ORCHARD_PROFILES = """orchard_local:
  target: dev
  outputs:
    dev:
      type: duckdb
      path: orchard.duckdb
      schema: dev
      threads: 2
"""


def make_orchard(root):
    (root / "models").mkdir(parents=True)
    (root / "dbt_project.yml").write_text("name: orchard\nversion: '1.0'\nconfig-version: 2\n"
                                          "profile: orchard_local\nmodel-paths: [models]\n")
    (root / "profiles.yml").write_text(ORCHARD_PROFILES)
    (root / "models/fruits.sql").write_text(
        "select * from (values (1, 'apple'), (2, 'pear'), (3, 'plum')) as t(id, name)\n")
    (root / "models/fruit_count.sql").write_text("select count(*) as n from {{ ref('fruits') }}\n")
    (root / "models/schema.yml").write_text(
        "version: 2\nmodels:\n  - name: fruits\n    columns:\n      - name: id\n        data_tests: [unique]\n")
    return root


@pytest.mark.skipif(not (VENV_BIN / "dbt").exists(), reason="dbt is not installed (tools/venv.sh)")
def test_init_then_deploy_and_dev_with_no_aws(tmp_path):
    proj = make_orchard(tmp_path / "orchard")
    env = clean_env(tmp_path)
    r = run(["init"], proj, env)
    assert r.returncode == 0, r.stderr
    assert "dbtrun deploy && dbtrun dev" in r.stdout
    r = run(["deploy"], proj, env, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    store = proj / ".dbtrun/store"
    assert json.loads((store / "artifacts/manifest.json").read_text())["metadata"]["project_name"] == "orchard"
    assert (store / "docs/index.html").exists()
    r = run(["dev"], proj, env, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "fetched the production manifest from file://.dbtrun/store/artifacts/" in r.stderr
    assert "does not match any enabled nodes" in r.stdout + r.stderr
    # an edit: dev builds only that model, reading fruits from production's schema
    (proj / "models/fruit_count.sql").write_text("select count(*) as n, max(id) as top from {{ ref('fruits') }}\n")
    r = run(["dev"], proj, env, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    results = json.loads((proj / "target/run_results.json").read_text())["results"]
    assert [x["unique_id"] for x in results] == ["model.orchard.fruit_count"]
    compiled = (proj / "target/compiled/orchard/models/fruit_count.sql").read_text()
    assert '"prod"."fruits"' in compiled
    assert "AWS" not in r.stderr and "169.254" not in r.stderr


def test_a_project_in_a_folder_of_the_repository_gets_workflows_at_the_root(tmp_path):
    """GitHub reads .github/workflows/ at the repository's root only: a dbt
    project in transform/ gets them there, running in transform/."""
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    proj = make_project(repo / "transform", "duckdb")
    r = run(["init"], proj, clean_env(tmp_path))
    assert r.returncode == 0, r.stderr
    assert f"repository {repo}: the workflows go to its .github/workflows/ and run in transform/" in r.stderr
    assert "wrote    ../.github/workflows/ci.yml" in r.stderr
    assert not (proj / ".github").exists()
    for name, job in (("ci.yml", "dbt-ci"), ("deploy.yml", "dbt-deploy")):
        wf = yaml.safe_load((repo / ".github/workflows" / name).read_text())
        assert wf["jobs"][job]["defaults"] == {"run": {"working-directory": "transform"}}
        assert steps(wf, job)["Set up Python"]["with"]["cache-dependency-path"] == "transform/requirements-dbtrun.txt\n"
    assert (proj / "requirements-dbtrun.txt").exists() and (proj / ".gitignore").exists()
    r = run(["init"], proj, clean_env(tmp_path))
    assert "kept     ../.github/workflows/deploy.yml (unchanged)" in r.stderr
    p = subprocess.run([actionlint(), ".github/workflows/ci.yml", ".github/workflows/deploy.yml"], cwd=repo,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr


def test_credentials_in_the_developers_profile_are_never_copied(tmp_path):
    """A DuckDB output holding a key or a token is not copied: only its path
    goes into the template (as written, so dev and prod share the file)."""
    out = ("type: duckdb\npath: \"{{ env_var('SHOP_DB', 'shop.duckdb') }}\"\nsettings:\n"
           "  s3_access_key_id: AKIAEXAMPLE\n  s3_secret_access_key: wJalrEXAMPLE\nthreads: 2")
    proj = make_project(tmp_path / "p", "duckdb", output=out)
    assert run(["init"], proj, clean_env(tmp_path)).returncode == 0
    text = (proj / "ci/profiles.yml").read_text()
    assert "EXAMPLE" not in text
    outputs = render(proj / "ci/profiles.yml", tmp_path, any_name=False)["acme_wh"]["outputs"]
    assert outputs["prod"] == {"type": "duckdb", "path": "{{ env_var('SHOP_DB', 'shop.duckdb') }}", "threads": 4,
                               "schema": "prod"}
    # MotherDuck: a token in the path is not copied either
    proj = make_project(tmp_path / "md", "duckdb", output="type: duckdb\npath: md:shop?motherduck_token=abc123")
    assert run(["init"], proj, clean_env(tmp_path)).returncode == 0
    text = (proj / "ci/profiles.yml").read_text()
    assert "abc123" not in text and 'path: "${DBT_DUCKDB_PATH:-acme.duckdb}"' in text
