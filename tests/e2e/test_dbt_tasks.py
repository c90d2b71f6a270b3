"""The built-in dbt tasks (deploy, fetch-manifest, dev, dev-select, ci) with
real dbt-core + dbt-duckdb on copies of the example project, against
moto_server: S3 and Secrets Manager with signature checks on, CloudFront on
the unchecked moto (moto cannot verify CloudFront signatures). One production
deploy per module; each test works on its own copy of the deployed project
(DuckDB file included). A fake dbt appears only in the plumbing tests at the
end (secrets -> private key and profile files, deps, evaluator)."""
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import threading
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest

from conftest import DBTRUN, ROOT, create_distribution, dbtrun

VENV_BIN = ROOT / ".venv" / "bin"
EXAMPLE = ROOT / "examples" / "jaffle_contacts"
pytestmark = pytest.mark.skipif(not (VENV_BIN / "dbt").exists(), reason="dbt is not installed (tools/venv.sh)")
boto3 = pytest.importorskip("boto3")

ENRICHED = "model.jaffle_contacts.int_contacts__enriched"
DOCS_JSON = {"catalog.json", "manifest.json", "run_results.json"}


def base_env():
    """dbt from the venv; nothing from a GitHub runner the suite may run on."""
    return {
        "PATH": f"{VENV_BIN}:{os.environ['PATH']}",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "GITHUB_ACTIONS": "", "GITHUB_EVENT_PATH": "", "GITHUB_STEP_SUMMARY": "", "GITHUB_TOKEN": "",
    }


def copy_example(dst):
    shutil.copytree(EXAMPLE, dst, ignore=shutil.ignore_patterns("target", "logs", "*.duckdb*", ".artifacts", ".dbtrun"))
    return dst


def schemas(project):
    import duckdb

    with duckdb.connect(str(project / "example.duckdb"), read_only=True) as db:
        return {row[0] for row in db.execute(
            "select schema_name from information_schema.schemata where catalog_name = 'example'").fetchall()}


def run_results(project):
    return {r["unique_id"]: r for r in json.loads((project / "target" / "run_results.json").read_text())["results"]}


def descendants(manifest, node):
    seen, todo = set(), [node]
    while todo:
        for child in manifest["child_map"].get(todo.pop(), []):
            if child not in seen:
                seen.add(child)
                todo.append(child)
    return seen


def edit_enriched(project, text="\n-- an edit\n"):
    model = project / "models" / "intermediate" / "int_contacts__enriched.sql"
    model.write_text(model.read_text() + text)


# ---- moto and the production deploy --------------------------------------------------


@pytest.fixture(scope="module")
def cloud(moto_auth, moto, tmp_path_factory):
    """A secret on the checked moto; a bucket and a CloudFront distribution on
    the unchecked one (with checks on, moto rejects correct signatures of
    percent-encoded queries such as ListObjectsV2 prefix=docs%2F, and of
    CloudFront: shared/aws-notes.md); the environment that points dbtrun at them."""
    url, key, secret = moto_auth
    home = tmp_path_factory.mktemp("aws")
    env = {k: "" for k in os.environ if k.startswith("AWS_")}
    env.update(base_env())
    env.update({
        "AWS_ENDPOINT_URL": moto, "AWS_ENDPOINT_URL_SECRETS_MANAGER": url,
        "AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret, "AWS_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(home / "no-config"), "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-credentials"),
    })

    def client(service, endpoint):
        return boto3.client(service, endpoint_url=endpoint, aws_access_key_id=key,
                            aws_secret_access_key=secret, region_name="us-east-1")

    c = SimpleNamespace(s3=client("s3", moto), sm=client("secretsmanager", url), cf=client("cloudfront", moto))
    c.bucket = "dbt-" + uuid.uuid4().hex[:12]
    c.s3.create_bucket(Bucket=c.bucket)
    c.dist = create_distribution(c.cf, f"{c.bucket}.s3.amazonaws.com", "/docs")
    # What the seed keeps in dbt/snowflake-credentials, for DuckDB: the file and the threads.
    c.secret = "dbt/jaffle-" + uuid.uuid4().hex[:8]
    c.sm.create_secret(Name=c.secret, SecretString=json.dumps({"duckdb_path": "example.duckdb", "threads": "3"}))
    c.env = dict(env, DBTRUN_ARTIFACTS=f"s3://{c.bucket}/artifacts/", DBTRUN_DOCS=f"s3://{c.bucket}/docs/",
                 DBTRUN_CLOUDFRONT=c.dist)
    return c


@pytest.fixture(scope="module")
def deployed(cloud, tmp_path_factory):
    """`dbtrun deploy` of the example to moto, after an earlier deploy left objects behind."""
    project = copy_example(tmp_path_factory.mktemp("deployed") / "jaffle_contacts")
    cloud.s3.put_object(Bucket=cloud.bucket, Key="docs/stale.html", Body=b"<p>an earlier deploy</p>")
    cloud.s3.put_object(Bucket=cloud.bucket, Key="docs/compiled/jaffle_contacts/models/gone.sql", Body=b"select 1")
    r = dbtrun("deploy", cwd=project, env=cloud.env, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr
    return SimpleNamespace(path=project, result=r)


@pytest.fixture
def work(deployed, tmp_path):
    """A copy of the deployed project (and its DuckDB file) for one test."""
    dst = tmp_path / "jaffle_contacts"
    shutil.copytree(deployed.path, dst)
    return dst


def summary_line(err, task):
    """The closing summary of a built-in task (issue 14): exactly one, its shape checked, the time left free."""
    lines = [line for line in err.splitlines() if line.startswith(task + ": ") and re.search(r" steps? in ", line)]
    assert len(lines) == 1, err[-3000:]
    head = re.match(re.escape(task) + r": \d+ steps? in (\d+\.\ds|\d+m\d\ds)(; |$)", lines[0])
    assert head, lines[0]
    return lines[0][head.end():]


def test_deploy_publishes_manifest_docs_and_invalidates(deployed, cloud):
    err = deployed.result.stderr
    rest = summary_line(err, "deploy")
    assert re.fullmatch(r"built 12 nodes, \d+ tests passed(?:, \d+ warnings?)?; published manifest.json, run_results.json(?:, history/[0-9a-f]+/)? to "
                        + re.escape(f"s3://{cloud.bucket}/artifacts/") + r", docs \((\d+) files, \1 uploaded\) to "
                        + re.escape(f"s3://{cloud.bucket}/docs/"), rest), rest
    assert "dbt build --target prod --fail-fast" in err
    assert "dbt docs generate --target prod" in err
    assert err.index("dbt build --target prod") < err.index("published the production manifest") \
        < err.index("dbt docs generate")
    manifest = json.loads(cloud.s3.get_object(Bucket=cloud.bucket, Key="artifacts/manifest.json")["Body"].read())
    assert ENRICHED in manifest["nodes"]
    assert manifest["nodes"][ENRICHED]["schema"] == "prod_intermediate"
    # the build's timings beside it, for the plan's estimate (not docs generate's run_results)
    results = json.loads(cloud.s3.get_object(Bucket=cloud.bucket, Key="artifacts/run_results.json")["Body"].read())
    assert ENRICHED in {r["unique_id"] for r in results["results"]}
    keys = {o["Key"][len("docs/"):] for o in cloud.s3.list_objects_v2(Bucket=cloud.bucket, Prefix="docs/")["Contents"]}
    assert "index.html" in keys
    # exactly the docs site: not the rest of target/ (the seed's rule sends it), and what an
    # earlier deploy left there is gone
    assert keys == {"index.html"} | DOCS_JSON
    catalog = json.loads(cloud.s3.get_object(Bucket=cloud.bucket, Key="docs/catalog.json")["Body"].read())
    assert ENRICHED in catalog["nodes"]
    items = cloud.cf.list_invalidations(DistributionId=cloud.dist)["InvalidationList"]["Items"]
    assert len(items) == 1
    batch = cloud.cf.get_invalidation(DistributionId=cloud.dist, Id=items[0]["Id"])["Invalidation"]["InvalidationBatch"]
    assert batch["Paths"]["Items"] == ["/*"]
    assert schemas(deployed.path) >= {"prod", "prod_staging", "prod_intermediate", "raw_airbyte"}


def test_second_fetch_downloads_nothing(work, cloud):
    r = dbtrun("fetch-manifest", cwd=work, env=cloud.env)
    assert r.returncode == 0, r.stderr
    assert f"fetched the production manifest from s3://{cloud.bucket}/artifacts/" in r.stderr
    assert (work / ".artifacts" / "run_results.json").is_file()  # optional, there after a deploy
    local = work / ".artifacts" / "manifest.json"
    before = local.stat()
    r = dbtrun("fetch-manifest", cwd=work, env=cloud.env)
    assert r.returncode == 0, r.stderr
    assert "production manifest unchanged" in r.stderr and "nothing downloaded" in r.stderr
    after = local.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    # a manifest that changed in the store is fetched again, atomically replaced
    body = local.read_bytes().replace(b'"dbt_version": "', b'"dbt_version": "0.1.0-', 1)
    cloud.s3.put_object(Bucket=cloud.bucket, Key="other/manifest.json", Body=body)
    r = dbtrun("--set", f"artifacts=s3://{cloud.bucket}/other/", "fetch-manifest", cwd=work, env=cloud.env)
    assert r.returncode == 0, r.stderr
    assert "fetched the production manifest" in r.stderr
    assert "was written by dbt 0.1.0-" in r.stderr  # version skew is a warning
    assert local.read_bytes() == body and local.stat().st_ino != before.st_ino


def test_dev_rebuilds_the_edit_and_its_children_against_prod(work, cloud):
    edit_enriched(work)
    r = dbtrun("dev", cwd=work, env=cloud.env, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr
    assert "dbt build --select state:modified+ --defer --state .artifacts/" in r.stderr
    # the plan is printed before the build, with the reason
    assert "modified.body" in r.stdout and r.stdout.index("modified.body") < r.stdout.index("Concurrency")
    manifest = json.loads((work / ".artifacts" / "manifest.json").read_text())
    want = {ENRICHED} | descendants(manifest, ENRICHED)
    built = run_results(work)
    assert set(built) == want
    assert {u for u in built if u.startswith("model.")} == {
        ENRICHED, "model.jaffle_contacts.fct_contacts", "model.jaffle_contacts.fct_contacts_by_country"}
    assert any(u.startswith("test.") for u in built)
    assert all(r["status"] in ("success", "pass") for r in built.values())
    # the rebuilt model reads its unchanged parents from production
    sql = (work / "target/compiled/jaffle_contacts/models/intermediate/int_contacts__enriched.sql").read_text()
    assert '"example"."prod_intermediate"."int_contacts__deduplicated"' in sql
    assert '"example"."prod_intermediate"."int_exchange_rates__latest"' in sql
    assert '"example"."prod"."country_currencies"' in sql
    assert '"dev' not in sql
    # the example's own dev wraps the built-in one (builtin("dev")) and reports
    assert "rebuilt 3 model(s): fct_contacts, fct_contacts_by_country, int_contacts__enriched" in r.stderr
    # the closing summary: what the build did, split by the plan into edited and downstream
    tests = sum(1 for u in built if u.startswith("test."))
    assert summary_line(r.stderr, "dev") == f"built 3 nodes (1 modified, 2 downstream), {tests} tests passed"
    assert schemas(work) >= {"dev", "dev_intermediate"} and "dev_staging" not in schemas(work)


def test_dev_select_builds_the_selection_with_deferral(work, cloud):
    r = dbtrun("dev-select", "fct_contacts", cwd=work, env=cloud.env, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr
    assert "dbt build --select fct_contacts --defer --state .artifacts/" in r.stderr
    built = run_results(work)
    assert {u for u in built if not u.startswith("test.")} == {"model.jaffle_contacts.fct_contacts"}
    assert any(u.startswith("test.jaffle_contacts.unique_fct_contacts_contact_id") for u in built)
    tests = sum(1 for u in built if u.startswith("test."))
    assert summary_line(r.stderr, "dev-select") == f"built 1 node, {tests} tests passed"
    sql = (work / "target/compiled/jaffle_contacts/models/marts/fct_contacts.sql").read_text()
    assert '"example"."prod_intermediate"."int_contacts__enriched"' in sql


def test_dry_run_dev_prints_the_dbt_command(work, cloud):
    (work / ".artifacts").mkdir()
    shutil.copy(work / "target" / "manifest.json", work / ".artifacts" / "manifest.json")
    before = (work / "target" / "run_results.json").stat().st_mtime_ns
    r = dbtrun("--dry-run", "dev", "--fail-fast", cwd=work, env=cloud.env)
    assert r.returncode == 0, r.stderr
    assert f"store get s3://{cloud.bucket}/artifacts/manifest.json .artifacts/manifest.json" in r.stderr
    assert "dbt build --select state:modified+ --defer --state .artifacts/ --fail-fast" in r.stderr
    assert (work / "target" / "run_results.json").stat().st_mtime_ns == before
    assert not re.search(r"^dev: \d+ steps? in", r.stderr, re.M)  # nothing was built: no summary


def test_dev_without_manifest_warns_and_builds_everything(tmp_path):
    project = copy_example(tmp_path / "jaffle_contacts")
    r = dbtrun("dev", cwd=project, env=base_env(), timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr
    assert "no production manifest in file://.dbtrun/store/artifacts/: running without deferral" in r.stderr
    assert "a full build, without deferral" in r.stderr
    lines = [line for line in r.stderr.splitlines() if line.startswith("dbt build")]
    assert lines == ["dbt build"]
    models = {u.split(".")[-1] for u in run_results(project) if u.startswith("model.")}
    assert models == {p.stem for p in (project / "models").rglob("*.sql")}


# ---- ci -------------------------------------------------------------------------------


@pytest.fixture
def ci_env(cloud):
    """The example's ci with its secret from Secrets Manager (the seed's
    `secret-ids: JAFFLE, dbt/...` form) and the manifest put in S3 by boto3."""
    return dict(cloud.env, DBTRUN_SECRETS=f"JAFFLE, {cloud.secret}", DBTRUN_ARTIFACTS=f"s3://{cloud.bucket}/ci/")


@pytest.fixture
def ci_work(work, cloud):
    cloud.s3.put_object(Bucket=cloud.bucket, Key="ci/manifest.json", Body=(work / "target" / "manifest.json").read_bytes())
    return work


def ci_schemas(project, pr):
    return {s for s in schemas(project) if s.lower().startswith(f"ci_pr_{pr}")}


def test_ci_builds_in_the_pr_schema_and_drops_it(ci_work, ci_env, tmp_path):
    edit_enriched(ci_work)
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"action": "synchronize", "pull_request": {"number": 7}}))
    env = dict(ci_env, GITHUB_EVENT_PATH=str(event), JAFFLE_FRESHNESS_ERROR_DAYS="1")
    r = dbtrun("ci", cwd=ci_work, env=env, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr
    err = r.stderr
    assert "secrets: " + ci_env["DBTRUN_SECRETS"].split(", ")[1] + " -> JAFFLE_DUCKDB_PATH JAFFLE_THREADS" in err
    # freshness fails (error_after 1 day) and CI goes on
    assert "dbt source freshness --target ci" in err
    assert "dbt source freshness exited 1: sources are stale (CI goes on)" in err
    assert "dbt build --target ci --select state:modified+ --defer --state .artifacts/ --fail-fast" in err
    assert "Concurrency: 3 threads (target='ci')" in r.stdout  # the profile came from the secret
    built = run_results(ci_work)
    assert built[ENRICHED]["relation_name"] == '"example"."CI_PR_7_intermediate"."int_contacts__enriched"'
    assert built["model.jaffle_contacts.fct_contacts"]["relation_name"] == '"example"."CI_PR_7"."fct_contacts"'
    profiles_dir = json.loads((ci_work / "target" / "run_results.json").read_text())["args"]["profiles_dir"]
    assert Path(profiles_dir) != ci_work and not Path(profiles_dir).exists()  # private, removed
    assert "run-operation drop_ci_schemas" in err
    assert ci_schemas(ci_work, 7) == set()
    assert {"prod", "prod_intermediate"} <= schemas(ci_work)
    # the summary is the build's, not the evaluator's or the drop's, and comes before the drop
    nodes = sum(1 for u in built if not u.startswith("test."))
    assert re.fullmatch(rf"built {nodes} nodes \(1 modified, {nodes - 1} downstream\), \d+ tests passed(?:, \d+ warnings?)?",
                        summary_line(err, "ci"))
    assert err.index("ci: ") < err.index("run-operation drop_ci_schemas")


def test_ci_drops_its_schemas_after_a_failing_test_with_github_annotations(ci_work, ci_env, tmp_path):
    model = ci_work / "models" / "intermediate" / "int_contacts__enriched.sql"
    model.write_text(model.read_text().replace("countries.country_name,", "cast(null as varchar) as country_name,"))
    summary = tmp_path / "summary.md"
    env = dict(ci_env, GITHUB_ACTIONS="true", GITHUB_STEP_SUMMARY=str(summary))
    r = dbtrun("--set", "pr=8", "ci", cwd=ci_work, env=env, timeout=300)
    assert r.returncode == 1, r.stdout[-3000:] + r.stderr  # dbt's exit code
    out = r.stdout
    assert "::group::dbt build" in out and "::endgroup::" in out
    build = out[out.index("::group::dbt build"):]
    assert build.index("Concurrency") < build.index("::endgroup::")  # dbt's log inside the group
    failing = "not_null_int_contacts__enriched_country_name"
    annotations = [line for line in out.splitlines() if line.startswith("::error ")]
    assert any(failing in a and "file=models/intermediate/_intermediate__models.yml" in a for a in annotations), annotations
    text = summary.read_text()
    assert "### ❌ dbt build" in text
    assert failing in text and "Failed (" in text
    assert "dbt build --target ci" in r.stderr and "run-operation drop_ci_schemas" in r.stderr
    assert ci_schemas(ci_work, 8) == set()
    assert not re.search(r"^ci: \d+ steps? in", r.stderr, re.M)  # a failed task has no summary


def test_ci_drops_its_schemas_after_sigint_mid_build(ci_work, ci_env):
    edit_enriched(ci_work)
    env = dict(os.environ)
    env.update(ci_env)
    p = subprocess.Popen([DBTRUN, "--set", "pr=9", "ci"], cwd=ci_work, env=env, text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    stderr = []
    threading.Thread(target=lambda: stderr.append(p.stderr.read()), daemon=True).start()
    seen = []
    for line in p.stdout:  # dbt's log: the build has started once a model starts
        seen.append(line)
        if "START sql" in line and "CI_PR_9" in line:
            p.send_signal(signal.SIGINT)
            break
    else:
        pytest.fail("the build never started: " + "".join(seen[-20:]))
    rest = p.stdout.read()
    assert p.wait(timeout=120) == 130, "".join(seen[-20:]) + rest
    time.sleep(0.1)
    assert "interrupted by SIGINT" in "".join(stderr)
    assert "run-operation drop_ci_schemas" in "".join(stderr)
    assert ci_schemas(ci_work, 9) == set()


def test_ci_with_nothing_modified_skips_the_warehouse(ci_work, ci_env):
    r = dbtrun("--set", "pr=10", "ci", cwd=ci_work, env=ci_env, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr
    assert "ci: nothing is modified against production: no build, schema CI_PR_10 not created" in r.stderr
    assert "No changes" in r.stdout
    assert "dbt build" not in r.stderr and "freshness" not in r.stderr and "run-operation" not in r.stderr
    assert ci_schemas(ci_work, 10) == set()
    assert summary_line(r.stderr, "ci") == "nothing modified: nothing built"


def test_ci_without_a_pull_request_number_fails_clearly(work, cloud):
    r = dbtrun("ci", cwd=work, env=cloud.env)
    assert r.returncode == 2
    assert "no pull request number" in r.stderr and "--set pr=N" in r.stderr
    assert "dbt build" not in r.stderr


# ---- plumbing with a fake dbt ---------------------------------------------------------

FAKE_DBT = r"""#!/bin/sh
# Records each call with what it sees of the profile, the key and the environment.
log=__LOG__
echo "ARGV $*" >> "$log"
if [ -n "$DBT_PROFILES_DIR" ]; then
  echo "DIR $(stat -c %a "$DBT_PROFILES_DIR") PROFILE $(stat -c %a "$DBT_PROFILES_DIR/profiles.yml")" >> "$log"
  cp "$DBT_PROFILES_DIR/profiles.yml" "$(dirname "$log")/profiles.seen"
fi
if [ -n "$DBT_PRIVATE_KEY_PATH" ]; then
  echo "KEY $(stat -c %a "$DBT_PRIVATE_KEY_PATH")" >> "$log"
  cp "$DBT_PRIVATE_KEY_PATH" "$(dirname "$log")/key.seen"
fi
echo "ENV schema=$DBT_CI_SCHEMA target=$DBT_TARGET" >> "$log"
[ "$1" = "${FAKE_DBT_FAIL:-}" ] && exit 1
exit 0
"""

TEMPLATE = """# ${NOT_SUBSTITUTED} in a comment
p:
  target: ci
  outputs:
    ci:
      type: snowflake
      account: "${SNOW_ACCOUNT}"
      password: "${SNOW_PASSWORD}"
      private_key_path: "${DBT_PRIVATE_KEY_PATH}"
      schema: "${DBT_CI_SCHEMA:-ANALYTICS}"
      threads: ${SNOW_THREADS:-4}
"""


@pytest.fixture
def fake(tmp_path, cloud):
    d = tmp_path / "proj"
    (d / "macros").mkdir(parents=True)
    (d / "dbt_packages" / "dbt_project_evaluator").mkdir(parents=True)
    (d / "packages.yml").write_text("packages: []\n")
    (d / "dbt_project.yml").write_text("name: p\nprofile: p\n")
    (d / "ci").mkdir()
    (d / "ci" / "profiles.yml").write_text(TEMPLATE)
    log = tmp_path / "calls.log"
    dbt = tmp_path / "fake-dbt"
    dbt.write_text(FAKE_DBT.replace("__LOG__", str(log)))
    dbt.chmod(0o755)
    secret = "dbt/snow-" + uuid.uuid4().hex[:8]
    key = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----"
    cloud.sm.create_secret(Name=secret, SecretString=json.dumps({
        "account": "acme-eu", "password": 'pa"ss\\word-Xy9', "private_key": key}))
    (d / "dbtrun.lua").write_text(f"""
config {{
  dbt = "{dbt}",
  secrets = {{ {{ prefix = "SNOW", id = "{secret}" }} }},
  profile = "ci/profiles.yml",
  private_key = "SNOW_PRIVATE_KEY",
  artifacts = "file://store/",
}}
""")
    return SimpleNamespace(dir=d, log=log, key=key, env=dict(cloud.env, DBTRUN_ARTIFACTS="file://store/"))


def calls(log):
    return [line[5:] for line in log.read_text().splitlines() if line.startswith("ARGV ")]


def test_ci_plumbing_secret_key_profile_deps_evaluator(fake):
    (fake.dir / "macros" / "drop_ci_schemas.sql").write_text("{% macro drop_ci_schemas(prefix) %}{% endmacro %}\n")
    r = dbtrun("--set", "pr=42", "ci", cwd=fake.dir, env=fake.env)
    assert r.returncode == 0, r.stderr
    assert calls(fake.log) == [
        "deps",
        "source freshness --target ci",
        "build --target ci --fail-fast",
        "build --target ci --select package:dbt_project_evaluator",
        'run-operation drop_ci_schemas --args {"prefix":"CI_PR_42"} --target ci --no-write-json',
    ]
    log = fake.log.read_text()
    assert "DIR 700 PROFILE 600" in log and "KEY 600" in log
    assert "ENV schema=CI_PR_42 target=ci" in log
    seen = (fake.log.parent / "profiles.seen").read_text()
    assert "# ${NOT_SUBSTITUTED} in a comment" in seen
    assert 'account: "acme-eu"' in seen
    assert 'password: "pa\\"ss\\\\word-Xy9"' in seen  # escaped for YAML
    assert 'schema: "CI_PR_42"' in seen and "threads: 4" in seen
    key_path = seen.split('private_key_path: "')[1].split('"')[0]
    assert (fake.log.parent / "key.seen").read_text() == fake.key + "\n"
    assert not Path(key_path).exists() and not Path(key_path).parent.exists()  # removed when ci ended
    assert "acme-eu" not in r.stdout + r.stderr and "Xy9" not in r.stdout + r.stderr
    assert "no production manifest" in r.stderr


def test_ci_without_drop_ci_schemas_macro_uses_drop_schema(fake):
    (fake.dir / "target").mkdir()
    (fake.dir / "target" / "manifest.json").write_text(json.dumps({"nodes": {
        "model.p.a": {"database": "ANALYTICS_DEV", "schema": "CI_PR_5_staging"},
        "model.p.b": {"database": "ANALYTICS_DEV", "schema": "CI_PR_55"}}}))
    r = dbtrun("--set", "pr=5", "--set", "plan=false", "ci", cwd=fake.dir, env=fake.env)
    assert r.returncode == 0, r.stderr
    assert "no drop_ci_schemas macro" in r.stderr
    drops = [c for c in calls(fake.log) if c.startswith("run-operation")]
    assert drops == [
        'run-operation drop_schema --args {"schema_name":"CI_PR_5"} --target ci --no-write-json',
        'run-operation drop_schema --args {"database_name":"ANALYTICS_DEV","schema_name":"CI_PR_5_staging"} '
        "--target ci --no-write-json",
    ]


@pytest.mark.parametrize("github", [False, True])
def test_ci_warns_when_the_schemas_cannot_be_dropped(fake, github, tmp_path):
    (fake.dir / "macros" / "drop_ci_schemas.sql").write_text("{% macro drop_ci_schemas(prefix) %}{% endmacro %}\n")
    env = dict(fake.env, FAKE_DBT_FAIL="run-operation", GITHUB_ACTIONS="true" if github else "",
               GITHUB_STEP_SUMMARY=str(tmp_path / "summary.md") if github else "")
    r = dbtrun("--set", "pr=43", "ci", cwd=fake.dir, env=env)
    assert r.returncode == 0, r.stderr  # the seed's clean-up is continue-on-error
    note = "drop CI_PR_43* exited 1: schema CI_PR_43 or one of CI_PR_43_* may be left in the warehouse"
    assert note in r.stderr
    annotations = [line for line in r.stdout.splitlines() if line.startswith("::warning ")]
    if github:
        assert any(note in a and "title=CI schema clean-up" in a for a in annotations), r.stdout
    else:
        assert annotations == []


def test_team_override_calls_the_builtin(fake):
    with open(fake.dir / "dbtrun.lua", "a") as f:
        f.write("""
-- deploy's profile from a function instead of a template file
config { deploy = { profile = function(v)
  return ("p:\\n  target: %s\\n  account: %s\\n"):format(v.target, v.env("SNOW_ACCOUNT"))
end } }

-- our deploy: the built-in, then a note
task("deploy", function()
  builtin("deploy")()
  log("team deploy done")
end)
""")
    (fake.dir / "target").mkdir()
    (fake.dir / "target" / "manifest.json").write_text('{"metadata": {}}')
    r = dbtrun("--set", "docs=", "deploy", cwd=fake.dir, env=fake.env)
    assert r.returncode == 0, r.stderr
    assert calls(fake.log) == ["deps", "build --target prod --fail-fast"]
    assert "docs: no docs location" in r.stderr and "team deploy done" in r.stderr
    assert (fake.dir / "store" / "manifest.json").read_text() == '{"metadata": {}}'
    assert "ENV schema= target=prod" in fake.log.read_text()
    assert (fake.log.parent / "profiles.seen").read_text() == "p:\n  target: prod\n  account: acme-eu\n"
    assert "from config deploy.profile" in r.stderr


def test_fetch_rejects_what_is_not_a_manifest(tmp_path):
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / "manifest.json").write_text('{"metadata": {"dbt_schema_version": '
                                                      '"https://schemas.getdbt.com/dbt/run-results/v6.json"}}')
    (tmp_path / "dbtrun.lua").write_text('config { artifacts = "file://store/" }\n')
    r = dbtrun("fetch-manifest", cwd=tmp_path, env=base_env())
    assert r.returncode == 1
    assert ".artifacts/manifest.json is not a dbt manifest" in r.stderr
    assert not (tmp_path / ".artifacts" / "manifest.json").exists()  # dev will not defer to it
