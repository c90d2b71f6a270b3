"""dbtrun init writes a loadable starter dbtrun.lua, a profile template that
renders to a valid profiles.yml, the drop_schema and drop_ci_schemas macros,
and two GitHub workflows that parse as YAML (and pass actionlint when it is
installed) and run dbtrun ci / dbtrun deploy."""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import DBTRUN, dbtrun

yaml = pytest.importorskip("yaml")

FILES = ("dbtrun.lua", "ci/profiles.yml", "macros/drop_schema.sql", "macros/drop_ci_schemas.sql",
         ".github/workflows/ci.yml", ".github/workflows/deploy.yml")

RENDER = """
local profile = require("dbtrun.profile")
local vars = { SNOWFLAKE_ACCOUNT = "acme", SNOWFLAKE_USER = "DBT_CI", SNOWFLAKE_ROLE = "TRANSFORMER",
  SNOWFLAKE_WAREHOUSE = "CI_WH", DBT_PRIVATE_KEY_PATH = "/tmp/k.pem", DBT_CI_SCHEMA = "CI_PR_3" }
local path = os.getenv("DBTRUN_TEST_TEMPLATE")
io.write(profile.render_profile(io.open(path):read("a"), function(n) return vars[n] end, path))
"""


def actionlint():
    return shutil.which("actionlint") or next((str(p) for p in [Path.home() / "go" / "bin" / "actionlint"]
                                                if p.exists()), None)


def test_init_writes_starter_files_and_keeps_existing(tmp_path):
    (tmp_path / "dbt_project.yml").write_text("name: shop\nprofile: 'shop_warehouse'\n")
    r = dbtrun("init", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    for path in FILES:
        assert (tmp_path / path).exists(), path
    ci = yaml.safe_load((tmp_path / ".github/workflows/ci.yml").read_text())
    steps = ci["jobs"]["dbt-ci"]["steps"]
    assert steps[-1]["run"] == "dbtrun ci"
    assert ci["permissions"]["id-token"] == "write"
    assert ci["jobs"]["dbt-ci"]["env"]["GITHUB_TOKEN"] == "${{ secrets.GITHUB_TOKEN }}"
    deploy = yaml.safe_load((tmp_path / ".github/workflows/deploy.yml").read_text())
    assert deploy["jobs"]["dbt-deploy"]["steps"][-1]["run"] == "dbtrun deploy"
    assert "GITHUB_TOKEN" not in deploy["jobs"]["dbt-deploy"]["env"]
    assert "macro drop_schema" in (tmp_path / "macros/drop_schema.sql").read_text()
    assert "macro drop_ci_schemas(prefix" in (tmp_path / "macros/drop_ci_schemas.sql").read_text()
    # the template renders to the seed's profile, under the project's profile name
    (tmp_path / "render.lua").write_text(RENDER)
    p = subprocess.run([DBTRUN, "--script", str(tmp_path / "render.lua")], capture_output=True, text=True,
                       timeout=30, env=dict(os.environ, DBTRUN_TEST_TEMPLATE=str(tmp_path / "ci/profiles.yml")))
    assert p.returncode == 0, p.stderr
    profile = yaml.safe_load(p.stdout)["shop_warehouse"]
    assert profile["outputs"]["ci"]["schema"] == "CI_PR_3"
    assert profile["outputs"]["ci"]["private_key_path"] == "/tmp/k.pem"
    assert profile["outputs"]["prod"]["database"] == "ANALYTICS"
    # the starter task file loads, and its settings reach the built-in tasks
    r = dbtrun("--list", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "ci " in r.stdout and "deploy " in r.stdout
    r = dbtrun("--dry-run", "fetch-manifest", cwd=tmp_path, env={"GITHUB_ACTIONS": ""})
    assert r.returncode == 0, r.stderr
    assert "store get s3://your-org-dbt-artifacts/artifacts/manifest.json .artifacts/manifest.json" in r.stderr
    (tmp_path / "dbtrun.lua").write_text("-- mine\n")
    r = dbtrun("init", cwd=tmp_path)
    assert "kept     dbtrun.lua" in r.stderr
    assert (tmp_path / "dbtrun.lua").read_text() == "-- mine\n"
    assert dbtrun("init", "--force", cwd=tmp_path).returncode == 0
    assert (tmp_path / "dbtrun.lua").read_text() != "-- mine\n"
    assert dbtrun("init", "--bogus", cwd=tmp_path).returncode == 1


def test_init_workflows_pass_actionlint(tmp_path):
    tool = actionlint()
    if not tool:
        pytest.skip("actionlint is not installed (go install github.com/rhysd/actionlint/cmd/actionlint@v1.7.12)")
    assert dbtrun("init", cwd=tmp_path).returncode == 0
    p = subprocess.run([tool, ".github/workflows/ci.yml", ".github/workflows/deploy.yml"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr


def test_init_on_a_snowflake_project_writes_the_seeds_template_and_adapter_neutral_macros(tmp_path):
    """A dbt-snowflake project (the seed's): the template renders to the seed's
    two outputs, Snowflake's own endpoint unless SNOWFLAKE_HOST/PORT/PROTOCOL
    say otherwise; the clean-up macro is the adapter-neutral one, the same file
    examples/snowflake_contacts runs on the emulator (tests/e2e/test_snowflake.py)
    and examples/jaffle_contacts on DuckDB (tests/e2e/test_dbt_tasks.py)."""
    (tmp_path / "dbt_project.yml").write_text("name: dbt_transform\nprofile: dbt_transform\n")
    (tmp_path / "profiles.yml").write_text(
        "dbt_transform:\n  target: dev\n  outputs:\n    dev:\n      type: snowflake\n      account: acme\n")
    r = dbtrun("init", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    (tmp_path / "render.lua").write_text(RENDER)
    p = subprocess.run([DBTRUN, "--script", str(tmp_path / "render.lua")], capture_output=True, text=True,
                       timeout=30, env=dict(os.environ, DBTRUN_TEST_TEMPLATE=str(tmp_path / "ci/profiles.yml")))
    assert p.returncode == 0, p.stderr
    outputs = yaml.safe_load(p.stdout)["dbt_transform"]["outputs"]
    common = {"type": "snowflake", "account": "acme", "user": "DBT_CI", "private_key_path": "/tmp/k.pem",
              "role": "TRANSFORMER", "warehouse": "CI_WH", "host": "", "port": 443, "protocol": "https"}
    assert outputs["ci"] == dict(common, database="ANALYTICS_DEV", schema="CI_PR_3", threads=4)
    assert outputs["prod"] == dict(common, database="ANALYTICS", schema="ANALYTICS", threads=8)
    macro = (tmp_path / "macros/drop_ci_schemas.sql").read_text()
    assert "name = row[0]" not in macro and "adapter.check_schema_exists" in macro
    assert "adapter.dispatch('drop_schema', 'dbt')" in macro
    examples = Path(__file__).resolve().parents[2] / "examples"
    assert macro == (examples / "snowflake_contacts/macros/drop_ci_schemas.sql").read_text()
    assert macro == (examples / "jaffle_contacts/macros/drop_ci_schemas.sql").read_text()
