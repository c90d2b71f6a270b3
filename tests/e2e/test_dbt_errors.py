"""Errors that say why (issue 13), before dbt is run: a missing dbt
executable names where dbtrun looked and how to install it; a profile dbt
would not find names the profile and each profiles.yml looked at. Exact
messages and exit codes, with the real binary (and real dbt where dbt is
found)."""
import os

import pytest

from conftest import ROOT, dbtrun

VENV_BIN = ROOT / ".venv" / "bin"
ENV = {"DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "CI": "", "GITHUB_ACTIONS": "", "GITHUB_EVENT_PATH": "",
       "GITHUB_STEP_SUMMARY": "", "GITHUB_TOKEN": "", "NO_COLOR": "1", "DBT_PROFILES_DIR": "",
       "DBT_PROFILE": "", "DBT_PROJECT_DIR": ""}
DUCKDB_PROFILE = "shop:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: shop.duckdb\n"


@pytest.fixture
def shop(tmp_path):
    """A dbt project folder (profile `shop`), an empty PATH folder and a HOME without ~/.dbt."""
    project = tmp_path / "shop"
    (project / "models").mkdir(parents=True)
    (project / "dbt_project.yml").write_text("name: shop\nversion: '1.0'\nprofile: 'shop'  # the warehouse\n")
    (project / "models" / "m.sql").write_text("select 1 as id\n")
    (tmp_path / "empty-bin").mkdir()
    (tmp_path / "home").mkdir()
    env = dict(ENV, PATH=str(tmp_path / "empty-bin"), HOME=str(tmp_path / "home"))
    return project, env


def install_hint(adapter):
    return (f"  install dbt and its adapter in the project's virtualenv: python3 -m venv .venv && "
            f".venv/bin/pip install dbt-core dbt-{adapter}\n"
            f"  or with uv: uv add dbt-core dbt-{adapter}; or set config dbt to the path of dbt\n")


def test_missing_dbt_names_where_it_looked_and_the_adapter_to_install(shop):
    project, env = shop
    (project / "profiles.yml").write_text(DUCKDB_PROFILE)
    r = dbtrun("dev-select", "m", cwd=project, env=env)
    assert r.returncode == 127, r.stderr
    assert r.stderr.endswith(
        "error: task 'dev-select' failed: dbt not found: looked for .venv/bin/dbt, venv/bin/dbt, "
        f"dbt on PATH ({env['PATH']})\n" + install_hint("duckdb")), r.stderr
    assert "dbt build" not in r.stderr


def test_missing_dbt_without_a_known_adapter(shop):
    project, env = shop
    r = dbtrun("deploy", cwd=project, env=env)
    assert r.returncode == 127, r.stderr
    assert r.stderr.endswith(
        "error: task 'deploy' failed: dbt not found: looked for .venv/bin/dbt, venv/bin/dbt, "
        f"dbt on PATH ({env['PATH']})\n" + install_hint("<adapter>")
        + "  (<adapter>: your warehouse's, e.g. duckdb, postgres, snowflake, bigquery, redshift, databricks)\n"), r.stderr


def test_configured_dbt_that_is_not_there(shop):
    project, env = shop
    (project / "profiles.yml").write_text(DUCKDB_PROFILE)
    r = dbtrun("--set", "dbt=/nowhere/bin/dbt", "dev-select", "m", cwd=project, env=env)
    assert r.returncode == 127, r.stderr
    assert r.stderr.endswith(
        "error: task 'dev-select' failed: dbt not found: looked for config dbt = \"/nowhere/bin/dbt\": "
        "/nowhere/bin/dbt\n" + install_hint("duckdb")), r.stderr


def test_a_dry_run_does_not_need_dbt(shop):
    project, env = shop
    r = dbtrun("-n", "dev-select", "m", cwd=project, env=env)
    assert r.returncode == 0, r.stderr
    assert "dbt build --select m" in r.stderr


needs_dbt = pytest.mark.skipif(not (VENV_BIN / "dbt").exists(), reason="dbt is not installed (tools/venv.sh)")
HINT = ("  add it to profiles.yml in one of those folders, point DBT_PROFILES_DIR at the folder that has it, "
        "or set config profile to a profiles.yml template (dbtrun init writes one)\n")


@needs_dbt
def test_missing_profile_names_it_and_the_folders_searched(shop):
    project, env = shop
    env["PATH"] = f"{VENV_BIN}:{env['PATH']}"
    r = dbtrun("dev-select", "m", cwd=project, env=env)
    assert r.returncode == 2, r.stderr
    home = env["HOME"]
    assert r.stderr.endswith(
        "error: dbt profile 'shop' (profile: in dbt_project.yml) not found: looked in "
        f"{project}/profiles.yml (no such file), {home}/.dbt/profiles.yml (no such file)\n" + HINT), r.stderr
    assert "dbt build" not in r.stderr  # refused before dbt ran


@needs_dbt
def test_profiles_file_without_the_profile_lists_what_it_has(shop):
    project, env = shop
    env["PATH"] = f"{VENV_BIN}:{env['PATH']}"
    (project / "profiles.yml").write_text(DUCKDB_PROFILE.replace("shop:", "jaffle:") + "config:\n  x: 1\n"
                                          + '"other":\n  target: dev\n')
    os.makedirs(f"{env['HOME']}/.dbt")
    open(f"{env['HOME']}/.dbt/profiles.yml", "w").write(DUCKDB_PROFILE)  # dbt never reads a second file
    r = dbtrun("dev", cwd=project, env=env)
    assert r.returncode == 2, r.stderr
    assert r.stderr.endswith(
        "error: dbt profile 'shop' (profile: in dbt_project.yml) not found: looked in "
        f"{project}/profiles.yml (it has jaffle, other)\n" + HINT), r.stderr


@needs_dbt
def test_profiles_dir_and_profile_from_the_environment_are_what_dbt_reads(shop, tmp_path):
    project, env = shop
    env["PATH"] = f"{VENV_BIN}:{env['PATH']}"
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "profiles.yml").write_text(DUCKDB_PROFILE)
    (project / "profiles.yml").write_text(DUCKDB_PROFILE)
    r = dbtrun("dev-select", "m", cwd=project, env=dict(env, DBT_PROFILES_DIR=str(tmp_path / "profiles"),
                                                        DBT_PROFILE="warehouse"))
    assert r.returncode == 2, r.stderr
    assert r.stderr.endswith(
        "error: dbt profile 'warehouse' (DBT_PROFILE) not found: looked in "
        f"{tmp_path}/profiles/profiles.yml (it has shop)\n" + HINT), r.stderr


@needs_dbt
def test_a_found_profile_lets_dbt_run(shop):
    project, env = shop
    env["PATH"] = f"{VENV_BIN}:{env['PATH']}"
    os.makedirs(f"{env['HOME']}/.dbt")
    open(f"{env['HOME']}/.dbt/profiles.yml", "w").write(DUCKDB_PROFILE)
    r = dbtrun("dev-select", "m", cwd=project, env=env, timeout=300)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr
    assert "dbt build --select m" in r.stderr
