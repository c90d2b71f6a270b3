"""`dbtrun ci-cleanup` with real dbt-core + dbt-duckdb on a copy of the
example project: CI schemas left in DuckDB, a loopback stand-in for GitHub's
REST API (GITHUB_API_URL) answering which pull requests are closed."""
import os
import shutil

import pytest

from conftest import ROOT, dbtrun
from github_standin import GitHubStandin

VENV_BIN = ROOT / ".venv" / "bin"
EXAMPLE = ROOT / "examples" / "jaffle_contacts"
pytestmark = pytest.mark.skipif(not (VENV_BIN / "dbt").exists(), reason="dbt is not installed (tools/venv.sh)")
duckdb = pytest.importorskip("duckdb")

TOKEN = "ghs_cleanupT0ken"
STATES = {1: "closed", 2: "open", 12: "open"}


@pytest.fixture
def github():
    standin = GitHubStandin(TOKEN, "acme/shop", STATES)
    yield standin
    standin.close()


@pytest.fixture
def project(tmp_path):
    project = tmp_path / "jaffle_contacts"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("target", "logs", "*.duckdb*", ".artifacts", ".dbtrun"))
    with duckdb.connect(str(project / "example.duckdb")) as db:
        for schema in ("CI_PR_1", "CI_PR_1_intermediate", "CI_PR_2", "CI_PR_12", "prod", "ci_pr_notes"):
            db.execute(f'create schema "{schema}"')
            db.execute(f'create table "{schema}".t as select 1 as x')
    return project


def schemas(project):
    with duckdb.connect(str(project / "example.duckdb"), read_only=True) as db:
        return {r[0] for r in db.execute("select schema_name from information_schema.schemata "
                                         "where catalog_name = 'example'").fetchall()}


def env(api):
    e = {k: "" for k in os.environ if k.startswith(("GITHUB_", "DBTRUN_"))}
    e.update({"PATH": f"{VENV_BIN}:{os.environ['PATH']}", "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
              "GITHUB_API_URL": api, "GITHUB_TOKEN": TOKEN, "GITHUB_REPOSITORY": "acme/shop"})
    return e


def test_drops_the_schemas_of_closed_pull_requests_only(project, github):
    r = dbtrun("ci-cleanup", cwd=project, env=env(github.url), timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr
    left = schemas(project)
    assert not {"CI_PR_1", "CI_PR_1_intermediate"} & left
    assert {"CI_PR_2", "CI_PR_12", "prod", "ci_pr_notes"} <= left
    assert "ci-cleanup: dropping CI_PR_1, CI_PR_1_intermediate (pull request #1 is closed)" in r.stderr
    assert "ci-cleanup: keeping CI_PR_2: pull request #2 is open" in r.stderr
    assert "run-operation drop_ci_schemas --args '{\"prefix\":\"CI_PR_1\"}' --target ci" in r.stderr
    assert "ci-cleanup: 3 pull request(s) with CI schemas, 1 dropped" in r.stderr
    assert sorted(github.seen) == ["/repos/acme/shop/pulls/1", "/repos/acme/shop/pulls/12",
                                                "/repos/acme/shop/pulls/2"]
    assert TOKEN not in r.stdout + r.stderr


def test_dry_run_lists_and_drops_nothing(project, github):
    r = dbtrun("ci-cleanup", "--dry-run", cwd=project, env=env(github.url), timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr
    assert "would drop CI_PR_1, CI_PR_1_intermediate (pull request #1 is closed)" in r.stdout
    assert "would drop CI_PR_2" not in r.stdout
    assert "1 would be dropped (--dry-run)" in r.stderr
    assert {"CI_PR_1", "CI_PR_1_intermediate", "CI_PR_2", "CI_PR_12"} <= schemas(project)


def test_older_than_on_duckdb_says_only_closed_pull_requests_count(project, github):
    r = dbtrun("ci-cleanup", "--older-than", "0", "--dry-run", cwd=project, env=env(github.url), timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr
    assert ("--older-than 0: the warehouse gives no creation time for 3 of 3 pull requests' schemas") in r.stderr
    assert "would drop CI_PR_1, CI_PR_1_intermediate (pull request #1 is closed)" in r.stdout
    assert "would drop CI_PR_2" not in r.stdout


def test_a_pull_request_github_does_not_know_is_kept_with_a_warning(project, github):
    with duckdb.connect(str(project / "example.duckdb")) as db:
        db.execute('create schema "CI_PR_99"')
    r = dbtrun("ci-cleanup", "--dry-run", cwd=project, env=env(github.url), timeout=300)
    assert r.returncode == 0, r.stderr
    assert ("ci-cleanup: pull request #99 of acme/shop: github: reading the pull request: HTTP 404: Not Found: "
            "its schemas are kept") in r.stderr
    assert "would drop CI_PR_99" not in r.stdout


def test_without_a_token_it_says_what_github_needs(project, github):
    r = dbtrun("ci-cleanup", "--dry-run", cwd=project, env=dict(env(github.url), GITHUB_TOKEN=""), timeout=300)
    assert r.returncode == 2
    assert "ci-cleanup: GitHub needs GITHUB_TOKEN and GITHUB_REPOSITORY" in r.stderr
    r = dbtrun("ci-cleanup", "--dry-run", cwd=project, env=dict(env(github.url), GITHUB_TOKEN="ghs_wrong"), timeout=300)
    assert r.returncode == 1 and "ci-cleanup: GitHub refused the token (HTTP 401)" in r.stderr, r.stderr
    assert "ghs_wrong" not in r.stdout + r.stderr


def test_bad_arguments(project):
    r = dbtrun("ci-cleanup", "--older-than", "soon", cwd=project, env=env("http://127.0.0.1:9"))
    assert r.returncode == 2 and "--older-than needs a number of days, got soon" in r.stderr
    r = dbtrun("ci-cleanup", "--all", cwd=project, env=env("http://127.0.0.1:9"))
    assert r.returncode == 2 and "unknown argument --all" in r.stderr


def test_a_failed_drop_fails_the_task(project, github):
    (project / "macros" / "drop_ci_schemas.sql").write_text(
        "{% macro drop_ci_schemas(prefix, database_name=target.database) %}"
        "{% do exceptions.raise_compiler_error('no drop today') %}{% endmacro %}\n")
    r = dbtrun("ci-cleanup", cwd=project, env=env(github.url), timeout=300)
    assert r.returncode == 1, r.stdout[-3000:] + r.stderr
    assert "drop CI_PR_1* exited 1: schema CI_PR_1 or one of CI_PR_1_* may be left in the warehouse" in r.stderr
    assert "ci-cleanup: the drop of CI_PR_1 failed" in r.stderr
    assert "CI_PR_1" in schemas(project)
