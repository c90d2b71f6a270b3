"""Deploy's history (artifacts/history/<commit>/), its retention,
`fetch-manifest --at REF` and ci's merge-base state — real dbt-core +
dbt-duckdb on copies of the example project in real git repositories, with
the local store (file://) and with S3 on moto."""
import json
import os
import shutil
import subprocess
import time
import uuid
from types import SimpleNamespace

import pytest

from conftest import ROOT, dbtrun

VENV_BIN = ROOT / ".venv" / "bin"
EXAMPLE = ROOT / "examples" / "jaffle_contacts"
pytestmark = pytest.mark.skipif(not (VENV_BIN / "dbt").exists(), reason="dbt is not installed (tools/venv.sh)")

ENRICHED = "model.jaffle_contacts.int_contacts__enriched"
RATES = "model.jaffle_contacts.fct_exchange_rates"
GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com", "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1"}


def base_env():
    env = {k: "" for k in os.environ if k.startswith(("AWS_", "GITHUB_", "DBTRUN_"))}
    env.update(GIT_ENV)
    env.update({"PATH": f"{VENV_BIN}:{os.environ['PATH']}", "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
                "AWS_EC2_METADATA_DISABLED": "true"})
    return env


def git(project, *args):
    r = subprocess.run(["git", *args], cwd=project, env=dict(os.environ, **GIT_ENV), capture_output=True,
                       text=True, check=True)
    return r.stdout.strip()


def copy_example(dst):
    shutil.copytree(EXAMPLE, dst, ignore=shutil.ignore_patterns("target", "logs", "*.duckdb*", ".artifacts", ".dbtrun"))
    with open(dst / "dbtrun.lua", "a") as f:
        f.write("\nconfig { docs = false }\n")  # no docs site: these tests are about the manifest
    return dst


def edit(project, model, text="\n-- an edit\n"):
    path = next(project.glob(f"models/**/{model}.sql"))
    path.write_text(path.read_text() + text)


def deploy(project, env=None, *flags):
    r = dbtrun(*flags, "deploy", cwd=project, env=dict(base_env(), **(env or {})), timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr
    return r


def built(project):
    return {r["unique_id"] for r in json.loads((project / "target" / "run_results.json").read_text())["results"]}


def age(path, days):
    t = time.time() - days * 86400
    for f in [path, *path.rglob("*")]:
        os.utime(f, (t, t))


# ---- history and retention (local store) ------------------------------------------------


def test_deploy_keeps_history_per_commit_and_prunes_by_keep_and_days(tmp_path):
    project = copy_example(tmp_path / "jaffle_contacts")
    store = project / ".dbtrun" / "store" / "artifacts"
    history = store / "history"
    a, b, c, d = "a" * 40, "b" * 40, "c" * 40, "d" * 40
    r = deploy(project, {"GITHUB_SHA": a})
    assert f"history: manifest.json and run_results.json in file://.dbtrun/store/artifacts/history/{a}/" in r.stderr
    assert sorted(p.name for p in (history / a).iterdir()) == ["manifest.json", "run_results.json"]
    assert (history / a / "manifest.json").read_bytes() == (store / "manifest.json").read_bytes()
    results = json.loads((history / a / "run_results.json").read_text())
    assert ENRICHED in {x["unique_id"] for x in results["results"]}  # the build's, not docs generate's
    # entries of other deploys, and things outside history/ that pruning must never touch
    for sha, days in ((c, 2), (d, 1)):
        (history / sha).mkdir()
        (history / sha / "manifest.json").write_text("{}")
        age(history / sha, days)
    age(history / a, 40)
    (store / "history-notes.txt").write_text("outside the prefix")
    (store / "old").mkdir()
    (store / "old" / "manifest.json").write_text("{}")
    age(store / "old", 400)

    edit(project, "int_contacts__enriched")
    r = deploy(project, {"GITHUB_SHA": b.upper()}, "--set", "history_keep=2", "--set", "history_days=30")
    assert sorted(p.name for p in history.iterdir()) == [b, d], r.stderr
    assert "history: pruned 2 of 4 entries in file://.dbtrun/store/artifacts/history/" in r.stderr
    assert (store / "manifest.json").read_bytes() == (history / b / "manifest.json").read_bytes()
    assert (store / "manifest.json").read_bytes() == (project / "target" / "manifest.json").read_bytes()
    assert (store / "history-notes.txt").exists() and (store / "old" / "manifest.json").exists()


def test_deploy_without_a_commit_stores_no_history(tmp_path):
    project = copy_example(tmp_path / "jaffle_contacts")  # not a git repository, no GITHUB_SHA
    env = dict(base_env(), GIT_CEILING_DIRECTORIES=str(tmp_path))
    r = dbtrun("deploy", cwd=project, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "history: not stored: no GITHUB_SHA and no git commit here (git rev-parse HEAD failed)" in r.stderr
    assert (project / ".dbtrun" / "store" / "artifacts" / "manifest.json").exists()
    assert not (project / ".dbtrun" / "store" / "artifacts" / "history").exists()


def test_bad_retention_setting_is_refused(tmp_path):
    project = copy_example(tmp_path / "jaffle_contacts")
    r = dbtrun("--set", "history_keep=many", "deploy", cwd=project, env=base_env())
    assert r.returncode == 2 and "history_keep" in r.stderr, r.stderr


# ---- a real repository: fetch-manifest --at and merge-base state -------------------------------


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    """main: commit A (tag v1) deployed, then commit M that edits
    int_contacts__enriched, deployed; both deploys name their entry from git."""
    project = copy_example(tmp_path_factory.mktemp("repo") / "jaffle_contacts")
    git(project, "init", "-q", "-b", "main")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "A")
    git(project, "tag", "v1")
    a = git(project, "rev-parse", "HEAD")
    deploy(project)
    edit(project, "int_contacts__enriched")
    git(project, "commit", "-q", "-am", "M: main moves on")
    m = git(project, "rev-parse", "HEAD")
    deploy(project)
    git(project, "update-ref", "refs/remotes/origin/main", "main")
    store = project / ".dbtrun" / "store" / "artifacts"
    return SimpleNamespace(path=project, a=a, m=m, store=store)


def test_history_entries_are_named_by_the_git_commit(repo):
    assert sorted(p.name for p in (repo.store / "history").iterdir()) == sorted([repo.a, repo.m])
    assert (repo.store / "manifest.json").read_bytes() == (repo.store / "history" / repo.m / "manifest.json").read_bytes()


def test_fetch_manifest_at_a_tag_and_a_commit(repo):
    state = repo.path / ".artifacts" / "manifest.json"
    r = dbtrun("fetch-manifest", "--at", "v1", cwd=repo.path, env=base_env())
    assert r.returncode == 0, r.stderr
    assert f"fetched the manifest of v1 ({repo.a[:12]})" in r.stderr
    assert state.read_bytes() == (repo.store / "history" / repo.a / "manifest.json").read_bytes()
    r = dbtrun("fetch-manifest", f"--at={repo.m[:10]}", cwd=repo.path, env=base_env())
    assert r.returncode == 0, r.stderr
    assert state.read_bytes() == (repo.store / "manifest.json").read_bytes()


def test_fetch_manifest_at_a_commit_without_entry_names_the_location(repo):
    git(repo.path, "tag", "-f", "undeployed", git(repo.path, "commit-tree", "-p", "HEAD", "-m", "x", "HEAD^{tree}"))
    sha = git(repo.path, "rev-parse", "undeployed")
    r = dbtrun("fetch-manifest", "--at", "undeployed", cwd=repo.path, env=base_env())
    assert r.returncode == 1, r.stderr
    assert (f"fetch-manifest --at undeployed: no manifest of commit {sha} in the history: "
            f"file://.dbtrun/store/artifacts/history/{sha}/manifest.json is missing") in r.stderr
    r = dbtrun("fetch-manifest", "--at", "no-such-tag", cwd=repo.path, env=base_env())
    assert r.returncode == 2 and "git knows no commit no-such-tag" in r.stderr, r.stderr


def test_merge_base_state_does_not_charge_the_pr_with_mains_later_changes(repo):
    project = repo.path
    git(project, "checkout", "-q", "-b", "feature", "v1")
    edit(project, "fct_exchange_rates")
    git(project, "commit", "-q", "-am", "the PR's change")
    try:
        env = dict(base_env(), GITHUB_BASE_REF="main")
        r = dbtrun("--set", "pr=21", "--set", "state=merge-base", "ci", cwd=project, env=env, timeout=300)
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr
        assert f"state merge-base: comparing against the manifest of {repo.a[:12]} (merge-base with origin/main)" in r.stderr
        assert RATES in built(project) and ENRICHED not in built(project)

        # against the latest manifest, main's edit of enriched looks like the PR's
        r = dbtrun("--set", "pr=22", "ci", cwd=project, env=env, timeout=300)
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr
        assert RATES in built(project) and ENRICHED in built(project)

        # the history lacks the merge-base: the latest, and saying so
        kept = repo.store.parent / "kept-entry"
        shutil.move(repo.store / "history" / repo.a, kept)
        try:
            r = dbtrun("--set", "pr=23", "--set", "state=merge-base", "ci", cwd=project, env=env, timeout=300)
        finally:
            shutil.move(kept, repo.store / "history" / repo.a)
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr
        assert (f"state merge-base: the history has no manifest of merge-base {repo.a[:12]} (origin/main): "
                "comparing against the latest production manifest") in r.stderr
        assert ENRICHED in built(project)
    finally:
        git(project, "checkout", "-q", "-f", "main")


def test_merge_base_in_a_shallow_clone_says_so_and_falls_back(repo, tmp_path):
    """actions/checkout's default: one commit of the PR, and main fetched shallow."""
    git(repo.path, "branch", "-f", "shallow-pr", "v1")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", "--depth", "1", "--no-local", "-b", "shallow-pr", f"file://{repo.path}",
                    str(clone)], check=True, env=dict(os.environ, **GIT_ENV))
    git(clone, "fetch", "-q", "--depth", "1", "origin", "main:refs/remotes/origin/main")
    script = tmp_path / "t.lua"
    script.write_text(f'require("dbtrun.config").merge {{ state = "merge-base", artifacts = "file://{repo.store}" }}\n'
                      'require("dbtrun.artifacts").use_merge_base()\n')  # what ci does first
    r = dbtrun("--script", str(script), cwd=clone, env=base_env())
    assert r.returncode == 0, r.stderr
    assert ("state merge-base: git merge-base origin/main HEAD found no common commit (the clone is shallow: "
            "actions/checkout needs fetch-depth: 0): comparing against the latest production manifest") in r.stderr


def test_merge_base_refuses_githubs_merge_commit(repo, tmp_path):
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 3, "head": {"sha": "e" * 40}}}))
    script = tmp_path / "t.lua"
    script.write_text('require("dbtrun.config").merge { state = "merge-base" }\n'
                      'require("dbtrun.artifacts").use_merge_base()\n')
    r = dbtrun("--script", str(script), cwd=repo.path,
               env=dict(base_env(), GITHUB_EVENT_PATH=str(event)))
    assert r.returncode == 0, r.stderr
    assert "is not the pull request's head eeeeeeeeeeee" in r.stderr
    assert "ref: ${{ github.event.pull_request.head.sha }}" in r.stderr


# ---- S3 (moto) ----------------------------------------------------------------------------------


def test_history_on_s3(moto, tmp_path):
    boto3 = pytest.importorskip("boto3")
    s3 = boto3.client("s3", endpoint_url=moto, aws_access_key_id="k", aws_secret_access_key="s",
                      region_name="us-east-1")
    bucket = "dbt-" + uuid.uuid4().hex[:12]
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="artifacts/historyish/keep.json", Body=b"{}")  # shares the prefix's text
    s3.put_object(Bucket=bucket, Key="other/history/x/manifest.json", Body=b"{}")
    project = copy_example(tmp_path / "jaffle_contacts")
    git(project, "init", "-q", "-b", "main")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "A")
    git(project, "tag", "v1")
    a = git(project, "rev-parse", "HEAD")
    env = dict(base_env(), AWS_ENDPOINT_URL=moto, AWS_ACCESS_KEY_ID="k", AWS_SECRET_ACCESS_KEY="s",
               AWS_REGION="us-east-1", AWS_CONFIG_FILE=str(tmp_path / "none"),
               AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"), DBTRUN_ARTIFACTS=f"s3://{bucket}/artifacts/")
    deploy(project, env)
    edit(project, "int_contacts__enriched")
    git(project, "commit", "-q", "-am", "M")
    m = git(project, "rev-parse", "HEAD")
    time.sleep(1.1)  # S3's LastModified has whole seconds: the newer entry must be newer
    r = deploy(project, env, "--set", "history_keep=1")

    def keys():
        return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", []))

    assert keys() == sorted(["artifacts/manifest.json", "artifacts/run_results.json",  # the latest
                             f"artifacts/history/{m}/manifest.json",
                             f"artifacts/history/{m}/run_results.json", "artifacts/historyish/keep.json",
                             "other/history/x/manifest.json"]), r.stderr
    assert f"history: pruned 1 of 2 entries in s3://{bucket}/artifacts/history/" in r.stderr
    r = dbtrun("fetch-manifest", "--at", "HEAD", cwd=project, env=env)
    assert r.returncode == 0, r.stderr
    got = s3.get_object(Bucket=bucket, Key=f"artifacts/history/{m}/manifest.json")["Body"].read()
    assert (project / ".artifacts" / "manifest.json").read_bytes() == got
    r = dbtrun("fetch-manifest", "--at", "v1", cwd=project, env=env)
    assert r.returncode == 1
    assert f"s3://{bucket}/artifacts/history/{a}/manifest.json is missing" in r.stderr


def test_fetch_manifest_at_checks_what_it_fetched(tmp_path):
    """No dbt needed: a history entry that is not a manifest is refused and removed."""
    project = tmp_path / "p"
    project.mkdir()
    (project / "dbtrun.lua").write_text("")
    git(project, "init", "-q", "-b", "main")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "A")
    sha = git(project, "rev-parse", "HEAD")
    entry = project / ".dbtrun" / "store" / "artifacts" / "history" / sha
    entry.mkdir(parents=True)
    (entry / "manifest.json").write_text('{"metadata": {}}')
    r = dbtrun("fetch-manifest", "--at", "main", cwd=project, env=base_env())
    assert r.returncode == 1, r.stderr
    assert ".artifacts/manifest.json is not a dbt manifest (metadata.dbt_schema_version: missing)" in r.stderr
    assert not (project / ".artifacts" / "manifest.json").exists()
    r = dbtrun("fetch-manifest", "--at", cwd=project, env=base_env())
    assert r.returncode == 1 and "--at needs a commit or tag (fetch-manifest [--at REF])" in r.stderr, r.stderr


def test_dry_run_deploy_says_what_history_it_would_store(tmp_path):
    project = tmp_path / "p"
    project.mkdir()
    (project / "dbtrun.lua").write_text("config { docs = false }\n")
    (project / "dbt_project.yml").write_text("name: p\nprofile: p\n")
    r = dbtrun("--dry-run", "deploy", cwd=project, env=dict(base_env(), GITHUB_SHA="f" * 40))
    assert r.returncode == 0, r.stderr
    assert f"store put target/run_results.json file://.dbtrun/store/artifacts/history/{'f' * 40}/run_results.json" in r.stderr
    assert not (project / ".dbtrun").exists()
