"""The seed on its own stack: examples/snowflake_contacts with real dbt-core +
dbt-snowflake against fakesnow (a Snowflake emulator on DuckDB, HTTP server on
127.0.0.1, from its own venv .venv-fakesnow: tools/venv-fakesnow.sh) and moto
(S3, Secrets Manager, CloudFront). The credentials are the seed's secret
`dbt/snowflake-credentials` (JSON, parse-json-secrets style) with a generated
PKCS#8 key: key-pair auth goes through the real Snowflake connector.

Where fakesnow differs from Snowflake, the test adapts and the product does not:
- It cannot tell the database ANALYTICS from a schema ANALYTICS inside it,
  so the seed's prod `ANALYTICS.ANALYTICS` is ambiguous there: the tests set
  SNOWFLAKE_PROD_SCHEMA=MARTS (the template's default is the seed's ANALYTICS).
- It has no system$cancel_all_queries, which dbt-snowflake calls on Ctrl-C:
  the cancel fails in dbt's log; the SIGINT test asserts only what dbtrun
  promises (exit 130, schemas dropped).
- Connecting with a schema creates it (Snowflake does not): the clean-up's own
  connection recreates CI_PR_<n>, and the clean-up then drops it again.
"""
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import threading
import time
from importlib.util import find_spec
from pathlib import Path
from types import SimpleNamespace

import pytest

from conftest import DBTRUN, ROOT, _free_port, create_distribution, dbtrun
from github_standin import GitHubStandin

VENV_BIN = ROOT / ".venv" / "bin"
# DBTRUN_FAKESNOW_VENV: as for tools/venv-fakesnow.sh
FAKESNOW = Path(os.environ.get("DBTRUN_FAKESNOW_VENV") or ROOT / ".venv-fakesnow") / "bin" / "fakesnow"
EXAMPLE = ROOT / "examples" / "snowflake_contacts"
REGION = "eu-west-1"  # the example's aws.region
SECRET_ID = "dbt/snowflake-credentials"  # the seed's, unchanged
ACCOUNT = "acme-xq81734"  # secret values: never in any output
USER = "DBT_CI_USER_K2"

pytestmark = [
    pytest.mark.skipif(not FAKESNOW.exists(), reason="fakesnow is not installed (tools/venv-fakesnow.sh)"),
    pytest.mark.skipif(not (VENV_BIN / "dbt").exists() or find_spec("dbt.adapters.snowflake") is None,
                       reason="dbt-snowflake is not installed (tools/venv.sh)"),
]
boto3 = pytest.importorskip("boto3")
snowflake_connector = pytest.importorskip("snowflake.connector")

STG = "model.snowflake_contacts.stg_contacts"


@pytest.fixture(scope="module")
def fakesnow():
    port = _free_port()
    proc = subprocess.Popen([str(FAKESNOW), "-s", "--host", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError("fakesnow exited early")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if time.time() > deadline:
                    raise RuntimeError("fakesnow did not start")
                time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def private_key():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


@pytest.fixture(scope="module")
def cloud(moto, fakesnow, tmp_path_factory):
    home = tmp_path_factory.mktemp("aws")
    tmp = tmp_path_factory.mktemp("tmpdir")  # TMPDIR: where dbtrun's private folders appear

    def client(service):
        return boto3.client(service, endpoint_url=moto, aws_access_key_id="testing",
                            aws_secret_access_key="testing", region_name=REGION)

    c = SimpleNamespace(s3=client("s3"), sm=client("secretsmanager"), cf=client("cloudfront"), port=fakesnow, tmp=tmp)
    c.bucket = "dbt-snowflake-artifacts"
    c.s3.create_bucket(Bucket=c.bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    c.dist = create_distribution(c.cf, f"{c.bucket}.s3.amazonaws.com", "/docs")
    c.key = private_key()
    c.sm.create_secret(Name=SECRET_ID, SecretString=json.dumps({
        "ACCOUNT": ACCOUNT, "USER": USER, "ROLE": "TRANSFORMER", "WAREHOUSE": "TRANSFORMING",
        "PRIVATE_KEY": c.key}))
    env = {k: "" for k in os.environ if k.startswith(("AWS_", "SNOWFLAKE_", "GITHUB_"))}
    env.update({
        "PATH": f"{VENV_BIN}:{os.environ['PATH']}", "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "AWS_ENDPOINT_URL": moto, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_CONFIG_FILE": str(home / "no-config"), "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-credentials"),
        "DBTRUN_ARTIFACTS": f"s3://{c.bucket}/artifacts/", "DBTRUN_DOCS": f"s3://{c.bucket}/docs/",
        "DBTRUN_CLOUDFRONT": c.dist, "TMPDIR": str(tmp), "RUNNER_TEMP": "",
        # the emulator, through the template's optional variables
        "SNOWFLAKE_HOST": "127.0.0.1", "SNOWFLAKE_PORT": str(fakesnow), "SNOWFLAKE_PROTOCOL": "http",
        "SNOWFLAKE_PROD_SCHEMA": "MARTS",  # not ANALYTICS: fakesnow confuses ANALYTICS.ANALYTICS
    })
    c.env = env
    return c


def warehouse_schemas(cloud, database):
    """Schema names in `database`, listed through the Snowflake connector."""
    con = snowflake_connector.connect(account="x", user="x", password="x", host="127.0.0.1",
                                      port=cloud.port, protocol="http")
    try:
        cur = con.cursor()
        cur.execute(f"show terse schemas in database {database}")
        names = [d[0].lower() for d in cur.description]
        return {row[names.index("name")] for row in cur.fetchall()}
    finally:
        con.close()


def ci_schemas(cloud, pr):
    return {s for s in warehouse_schemas(cloud, "ANALYTICS_DEV") if s.upper().startswith(f"CI_PR_{pr}")}


def no_secret_in(cloud, text):
    body = "".join(cloud.key.splitlines()[1:-1])
    for value in (ACCOUNT, USER, body[:40], body[-40:]):
        assert value not in text


class KeyWatch:
    """Polls TMPDIR for the private key file while a task runs: its modes seen."""

    def __init__(self, tmp):
        self.tmp, self.modes, self.paths, self.stop = Path(tmp), set(), set(), threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop.is_set():
            for p in self.tmp.glob("*/private_key.pem"):
                try:
                    self.modes.add(stat.S_IMODE(p.stat().st_mode))
                    self.paths.add(p)
                except FileNotFoundError:
                    pass
            time.sleep(0.01)

    def done(self):
        self.stop.set()
        self.thread.join()
        assert self.modes == {0o600}, self.modes  # seen, and never readable by others
        assert not any(p.exists() or p.parent.exists() for p in self.paths)  # gone with the task


def copy_example(dst):
    shutil.copytree(EXAMPLE, dst, ignore=shutil.ignore_patterns("target", "logs", ".artifacts", ".dbtrun"))
    return dst


@pytest.fixture(scope="module")
def deployed(cloud, tmp_path_factory):
    project = copy_example(tmp_path_factory.mktemp("deployed") / "snowflake_contacts")
    watch = KeyWatch(cloud.tmp)
    r = dbtrun("deploy", cwd=project, env=cloud.env, timeout=300)
    watch.done()
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr
    return SimpleNamespace(path=project, result=r)


def run_results(project):
    return {r["unique_id"]: r for r in json.loads((project / "target" / "run_results.json").read_text())["results"]}


def edit_stg(project):
    model = project / "models" / "staging" / "stg_contacts.sql"
    model.write_text(model.read_text() + "\n-- an edit\n")


def test_init_writes_what_the_example_runs(tmp_path):
    """The example's template and macros are exactly dbtrun init's: what runs
    here on the emulator is what init gives a Snowflake project."""
    (tmp_path / "dbt_project.yml").write_text("name: shop\nprofile: dbt_transform\n")
    assert dbtrun("init", "--adapter", "snowflake", cwd=tmp_path, env={"HOME": str(tmp_path)}).returncode == 0
    for path in ("ci/profiles.yml", "macros/drop_schema.sql", "macros/drop_ci_schemas.sql", "macros/list_ci_schemas.sql"):
        assert (tmp_path / path).read_text() == (EXAMPLE / path).read_text(), path


def test_deploy_builds_prod_publishes_manifest_docs_and_invalidates(deployed, cloud):
    r = deployed.result
    err = r.stderr
    assert f"secrets: {SECRET_ID} -> " in err and "SNOWFLAKE_PRIVATE_KEY" in err
    assert "dbt build --target prod --fail-fast" in err and "dbt docs generate --target prod" in err
    assert "Registered adapter: snowflake" in r.stdout
    built = run_results(deployed.path)
    assert built["model.snowflake_contacts.fct_contacts"]["relation_name"] == "ANALYTICS.MARTS.fct_contacts"
    keys = {o["Key"] for o in cloud.s3.list_objects_v2(Bucket=cloud.bucket)["Contents"]}
    assert "artifacts/manifest.json" in keys
    assert {"docs/index.html", "docs/catalog.json", "docs/manifest.json"} <= keys
    inv = cloud.cf.list_invalidations(DistributionId=cloud.dist)["InvalidationList"]
    assert inv["Quantity"] >= 1
    assert {"MARTS", "MARTS_STAGING"} <= warehouse_schemas(cloud, "ANALYTICS")
    no_secret_in(cloud, r.stdout + r.stderr)


@pytest.fixture
def work(deployed, tmp_path):
    dst = tmp_path / "snowflake_contacts"
    shutil.copytree(deployed.path, dst)
    return dst


def test_ci_builds_the_edit_and_its_children_in_the_pr_schema_then_drops_them(work, cloud):
    edit_stg(work)
    watch = KeyWatch(cloud.tmp)
    r = dbtrun("--set", "pr=7", "ci", cwd=work, env=cloud.env, timeout=300)
    watch.done()
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr
    err = r.stderr
    assert "modified.body" in r.stdout  # the plan, before the build
    assert r.stdout.index("modified.body") < r.stdout.index("Concurrency")
    assert "dbt build --target ci --select state:modified+ --defer --state .artifacts/ --fail-fast" in err
    built = run_results(work)
    models = {u: b["relation_name"] for u, b in built.items() if u.startswith("model.")}
    assert models == {
        STG: "ANALYTICS_DEV.CI_PR_7_staging.stg_contacts",
        "model.snowflake_contacts.fct_contacts": "ANALYTICS_DEV.CI_PR_7.fct_contacts",
        "model.snowflake_contacts.fct_contacts_by_country": "ANALYTICS_DEV.CI_PR_7.fct_contacts_by_country",
    }  # not dim_countries, not the seeds: read from production (deferral)
    assert all(b["status"] in ("success", "pass") for b in built.values())
    sql = (work / "target/compiled/snowflake_contacts/models/marts/fct_contacts.sql").read_text()
    assert "ANALYTICS.MARTS.country_currencies" in sql
    assert "run-operation drop_ci_schemas" in err
    assert ci_schemas(cloud, 7) == set()
    assert "Dropped 2 schema(s) of CI_PR_7 in ANALYTICS_DEV: CI_PR_7, CI_PR_7_staging" in r.stdout
    assert {"MARTS", "MARTS_STAGING"} <= warehouse_schemas(cloud, "ANALYTICS")
    no_secret_in(cloud, r.stdout + r.stderr)


def test_ci_drops_its_schemas_after_sigint_mid_build(work, cloud):
    edit_stg(work)
    watch = KeyWatch(cloud.tmp)
    env = dict(os.environ)
    env.update(cloud.env)
    p = subprocess.Popen([DBTRUN, "--set", "pr=9", "ci"], cwd=work, env=env, text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    stderr = []
    threading.Thread(target=lambda: stderr.append(p.stderr.read()), daemon=True).start()
    seen = []
    for line in p.stdout:  # the build has started (and made CI_PR_9*) once a model starts
        seen.append(line)
        if "START sql" in line and "CI_PR_9" in line:
            assert ci_schemas(cloud, 9)  # there is something to drop
            p.send_signal(signal.SIGINT)
            break
    else:
        pytest.fail("the build never started: " + "".join(seen[-20:]))
    rest = p.stdout.read()
    assert p.wait(timeout=120) == 130, "".join(seen[-20:]) + rest
    watch.done()
    time.sleep(0.1)
    err = "".join(stderr)
    assert "interrupted by SIGINT" in err and "run-operation drop_ci_schemas" in err
    assert ci_schemas(cloud, 9) == set()
    assert "Dropped " in rest
    no_secret_in(cloud, "".join(seen) + rest + err)


def test_ci_cleanup_knows_when_snowflake_schemas_were_created(cloud, tmp_path):
    """Snowflake's show terse schemas has created_on, so --older-than applies
    there (fakesnow dates every schema 1970-01-01)."""
    project = copy_example(tmp_path / "snowflake_contacts")
    con = snowflake_connector.connect(account="x", user="x", password="x", host="127.0.0.1", port=cloud.port,
                                      protocol="http")
    try:
        cur = con.cursor()
        cur.execute("create database if not exists ANALYTICS_DEV")
        for schema in ("CI_PR_31", "CI_PR_31_STAGING", "CI_PR_32", "CI_PR_33"):
            cur.execute(f"create schema if not exists ANALYTICS_DEV.{schema}")
    finally:
        con.close()
    github = GitHubStandin("ghs_sf", "acme/shop", {31: "closed", 32: "open", 33: "open"})
    try:
        env = dict(cloud.env, GITHUB_API_URL=github.url, GITHUB_TOKEN="ghs_sf", GITHUB_REPOSITORY="acme/shop")
        r = dbtrun("ci-cleanup", cwd=project, env=env, timeout=300)
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr
        assert "dropping CI_PR_31, CI_PR_31_STAGING (pull request #31 is closed)" in r.stderr
        left = warehouse_schemas(cloud, "ANALYTICS_DEV")
        assert "CI_PR_31" not in left and "CI_PR_31_STAGING" not in left and {"CI_PR_32", "CI_PR_33"} <= left
        r = dbtrun("ci-cleanup", "--older-than", "30", cwd=project, env=env, timeout=300)
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr
        assert "dropping CI_PR_32 (created 1970-01-01, more than 30 days ago)" in r.stderr
        assert "no creation time" not in r.stderr
        assert not {"CI_PR_32", "CI_PR_33"} & warehouse_schemas(cloud, "ANALYTICS_DEV")
        no_secret_in(cloud, r.stdout + r.stderr)
    finally:
        github.close()
