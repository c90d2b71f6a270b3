"""End-to-end tests of the Lua primitives aws.* and store.* in task files,
against moto_server: Secrets Manager, STS and S3 object calls with signature
checks on; S3 listings and CloudFront without (moto rejects correct
signatures on percent-encoded queries and on CloudFront, aws-notes.md).
Results are cross-checked with boto3."""
import hashlib
import json
import os
import re
import shutil
import subprocess
import uuid

import pytest

from conftest import DBTRUN, create_distribution, dbtrun

boto3 = pytest.importorskip("boto3")


def aws_env(tmp_path, url, key="testing", secret="testing"):
    env = {k: "" for k in os.environ if k.startswith("AWS_")}
    env.update({
        "AWS_ENDPOINT_URL": url,
        "AWS_ACCESS_KEY_ID": key,
        "AWS_SECRET_ACCESS_KEY": secret,
        "AWS_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
    })
    return env


def client(service, url, key="testing", secret="testing"):
    return boto3.client(service, endpoint_url=url, aws_access_key_id=key,
                        aws_secret_access_key=secret, region_name="us-east-1")


@pytest.fixture
def authed(moto_auth, tmp_path):
    """(env for dbtrun, s3 client, secretsmanager client) on the checked moto."""
    url, key, secret = moto_auth
    return (aws_env(tmp_path, url, key, secret), client("s3", url, key, secret),
            client("secretsmanager", url, key, secret))


@pytest.fixture
def plain(moto, tmp_path):
    """(env for dbtrun, s3 client) on the moto without signature checks."""
    return aws_env(tmp_path, moto), client("s3", moto)


def new_bucket(s3):
    name = "lua-" + uuid.uuid4().hex[:16]
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def bucket(authed):
    return new_bucket(authed[1])


def run_task(project, text, env, *args, timeout=120):
    d = project(text)
    return dbtrun(*args, cwd=d, env=env, timeout=timeout)


# ---- aws.s3 ----------------------------------------------------------------------


def test_s3_put_get_head_list_rm(project, plain, tmp_path):
    env, s3 = plain
    bucket = new_bucket(s3)
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "index.html").write_text("<html>hi</html>")
    r = run_task(project, f"""
task("t", function()
  local put = aws.s3.put("site/index.html", "s3://{bucket}/docs/")
  print("put", put.size, put.etag)
  local head = aws.s3.head("s3://{bucket}/docs/index.html")
  print("head", head.size, head.content_type, head.etag == put.etag)
  local got = aws.s3.get("s3://{bucket}/docs/index.html", "down/index.html")
  print("get", got.changed, fs.read("down/index.html"))
  local again = aws.s3.get("s3://{bucket}/docs/index.html", "down/index.html")
  print("again", again.changed)
  local objects = aws.s3.list("s3://{bucket}/docs/")
  print("list", #objects, objects[1].key, objects[1].size)
  local _, prefixes = aws.s3.list("s3://{bucket}/", {{ delimiter = "/" }})
  print("prefixes", prefixes[1])
  print("rm", aws.s3.rm("s3://{bucket}/docs", {{ recursive = true }}))
  print("after", #aws.s3.list("s3://{bucket}/"))
end)
""", env, "t")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    etag = hashlib.md5(b"<html>hi</html>").hexdigest()
    assert lines == [f"put\t15\t{etag}", "head\t15\ttext/html\ttrue", "get\ttrue\t<html>hi</html>",
                     "again\tfalse", "list\t1\tdocs/index.html\t15", "prefixes\tdocs/", "rm\t1",
                     "after\t0"]


def test_s3_errors_are_structured_values(project, authed, bucket, tmp_path):
    env, _, _ = authed
    r = run_task(project, f"""
task("t", function()
  local ok, err = pcall(aws.s3.get, "s3://{bucket}/missing.json", "x.json")
  print(ok, err.kind, err.code, err.status, err.op, err.target)
  print(tostring(err))
  ok, err = pcall(aws.s3.head, "s3://{bucket}/missing.json")
  print(ok, err.code, err.status)
  aws.s3.get("s3://{bucket}/missing.json", "x.json")
end)
""", env, "t")
    assert r.returncode == 1
    out = r.stdout.splitlines()
    assert out[0] == f"false\taws\tNoSuchKey\t404\tGetObject\ts3://{bucket}/missing.json"
    assert "NoSuchKey" in out[1] and f"s3://{bucket}/missing.json" in out[1]
    assert out[2] == "false\tNotFound\t404"
    assert "GetObject" in r.stderr and "NoSuchKey" in r.stderr
    assert not (tmp_path / "x.json").exists()


def test_s3_sync_with_ordered_filters_and_delete(project, plain, tmp_path):
    env, s3 = plain
    bucket = new_bucket(s3)
    site = tmp_path / "target"
    site.mkdir()
    for name in ["index.html", "catalog.json", "manifest.json", "run_results.json",
                 "graph_summary.json", "partial_parse.msgpack"]:
        (site / name).write_text(name)
    s3.put_object(Bucket=bucket, Key="docs/stale.html", Body=b"old")
    r = run_task(project, f"""
task("t", function()
  local st = aws.s3.sync("target", "s3://{bucket}/docs/", {{
    delete = true,
    filters = {{ {{"exclude", "*.json"}}, {{"include", "index.html"}}, {{"include", "catalog.json"}},
                {{"include", "manifest.json"}}, {{"include", "run_results.json"}} }},
    quiet = true,
  }})
  print(st.copied, st.deleted)
  st = aws.s3.sync("target", "s3://{bucket}/docs/", {{ delete = true, exclude = "*.json",
    include = {{ "index.html", "catalog.json", "manifest.json", "run_results.json" }} }})
  print(st.copied, st.deleted, st.unchanged)
end)
""", env, "t")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["5\t1", "0\t0\t5"]
    listed = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert listed == {"docs/index.html", "docs/catalog.json", "docs/manifest.json",
                      "docs/run_results.json", "docs/partial_parse.msgpack"}


def test_dry_run_prints_aws_commands_and_changes_nothing(project, authed, bucket, tmp_path):
    env, s3, _ = authed
    (tmp_path / "a.txt").write_text("a")
    r = run_task(project, f"""
task("t", function()
  aws.s3.put("a.txt", "s3://{bucket}/a.txt")
  aws.s3.sync(".", "s3://{bucket}/site/", {{ delete = true, exclude = "*.json" }})
  store.put("s3://{bucket}/artifacts/", "manifest.json", "a.txt")
  aws.cloudfront.invalidate("E123", {{ "/*" }})
end)
""", env, "--dry-run", "t")
    assert r.returncode == 0, r.stderr
    assert f"aws s3 cp a.txt s3://{bucket}/a.txt" in r.stderr
    assert f"aws s3 sync . s3://{bucket}/site/ --delete --exclude '*.json'" in r.stderr
    assert f"store put a.txt s3://{bucket}/artifacts/manifest.json" in r.stderr
    assert "aws cloudfront create-invalidation --distribution-id E123 --paths '/*'" in r.stderr
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


def test_explicit_client(project, moto_auth, bucket, tmp_path):
    url, key, secret = moto_auth
    env = aws_env(tmp_path, "http://127.0.0.1:9", key, secret)  # the default would fail
    r = run_task(project, f"""
task("t", function()
  local c = aws.client {{ endpoint = "{url}", region = "eu-west-1" }}
  print(c.region, #c.s3.list("s3://{bucket}"))
  print(c.sts.whoami().arn)
end)
""", env, "t")
    assert r.returncode == 0, r.stderr
    region, count = r.stdout.splitlines()[0].split("\t")
    assert (region, count) == ("eu-west-1", "0")
    assert r.stdout.splitlines()[1].endswith(":user/ci")


# ---- store -------------------------------------------------------------------------


def test_file_store_put_get_and_missing(project, tmp_path):
    (tmp_path / "target").mkdir()
    (tmp_path / "target" / "manifest.json").write_text('{"nodes": {}}')
    r = run_task(project, """
task("t", function()
  local put = store.put("file://.dbtrun/store/artifacts/", "manifest.json", "target/manifest.json")
  print("put", put.changed)
  print("put again", store.put("file://.dbtrun/store/artifacts/", "manifest.json", "target/manifest.json").changed)
  local got = store.get("file://.dbtrun/store/artifacts/", "manifest.json", ".artifacts/manifest.json")
  print("get", got.changed, got.size)
  print("get again", store.get("file://.dbtrun/store/artifacts/", "manifest.json", ".artifacts/manifest.json").changed)
  local ok, err = pcall(store.get, "file://.dbtrun/store/artifacts/", "nothing.json", ".artifacts/nothing.json")
  print(ok, err.code)
end)
""", {}, "t")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["put\ttrue", "put again\tfalse", "get\ttrue\t13",
                                     "get again\tfalse", "false\tNoSuchKey"]
    assert (tmp_path / ".dbtrun/store/artifacts/manifest.json").read_text() == '{"nodes": {}}'


def test_s3_store_second_get_is_one_conditional_request(project, authed, bucket, tmp_path):
    env, s3, _ = authed
    s3.put_object(Bucket=bucket, Key="artifacts/manifest.json", Body=b'{"metadata": {}}')
    task = f"""
task("t", function()
  print(store.get("s3://{bucket}/artifacts/", "manifest.json", ".artifacts/manifest.json").changed)
end)
"""
    r = run_task(project, task, env, "t")
    assert r.returncode == 0 and r.stdout == "true\n", r.stderr
    path = tmp_path / ".artifacts/manifest.json"
    before = os.stat(path)
    r = run_task(project, task, env, "-v", "t")
    assert r.returncode == 0 and r.stdout == "false\n", r.stderr
    requests = [line for line in r.stderr.splitlines()
                if re.match(r"aws: \w+ (GET|HEAD|PUT|POST|DELETE) ", line)]
    assert len(requests) == 1 and "GetObject" in requests[0] and "304" in requests[0], r.stderr
    after = os.stat(path)
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    # a changed object is fetched again, and a missing one is NoSuchKey
    s3.put_object(Bucket=bucket, Key="artifacts/manifest.json", Body=b'{"metadata": {"v": 2}}')
    r = run_task(project, task, env, "t")
    assert r.stdout == "true\n" and path.read_bytes() == b'{"metadata": {"v": 2}}'
    r = run_task(project, f"""
task("t", function()
  local ok, err = pcall(store.get, "s3://{bucket}/nowhere/", "manifest.json", "m.json")
  print(err.code)
end)
""", env, "t")
    assert r.stdout == "NoSuchKey\n", r.stderr


def test_store_sync_between_file_locations(project, tmp_path):
    (tmp_path / "target" / "sub").mkdir(parents=True)
    for name in ["index.html", "catalog.json", "graph.gpickle", "sub/x.json"]:
        (tmp_path / "target" / name).write_text(name)
    r = run_task(project, """
task("t", function()
  local st = store.sync("target", "file://.dbtrun/store/docs/", { delete = true, exclude = "*.json",
    include = "catalog.json", quiet = true })
  print(st.copied, st.excluded)
end)
""", {}, "t")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "3\t1\n"
    got = sorted(str(p.relative_to(tmp_path / ".dbtrun/store/docs"))
                 for p in (tmp_path / ".dbtrun/store/docs").rglob("*") if p.is_file())
    assert got == ["catalog.json", "graph.gpickle", "index.html"]


# ---- secrets, sts, cloudfront --------------------------------------------------------


def test_secrets_env_sets_masked_variables(project, authed, tmp_path):
    env, _, sm = authed
    name = "dbt/snowflake-" + uuid.uuid4().hex[:8]
    value = {"account": "xy12345", "user": "DBT_CI", "private-key": "-----BEGIN KEY-----\nABCDEF123\n-----END KEY-----",
             "nested": {"warehouse": "ci_wh"}}
    sm.create_secret(Name=name, SecretString=json.dumps(value))
    r = run_task(project, f"""
task("t", function()
  local names = aws.secrets.env("{name}", "SNOWFLAKE")
  table.sort(names)
  print(table.concat(names, " "))
  print(env.get("SNOWFLAKE_NESTED_WAREHOUSE"))
  fs.write("key.p8", env.get("SNOWFLAKE_PRIVATE_KEY"), {{ mode = "0600" }})
  run {{ "sh", "-c", 'stat -c %a key.p8; echo "user=$SNOWFLAKE_USER"; printf "%s" "$SNOWFLAKE_PRIVATE_KEY" >&2' }}
  print(aws.secrets.get("{name}") ~= nil)
end)
""", dict(env, GITHUB_ACTIONS="true"), "t")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "SNOWFLAKE_ACCOUNT SNOWFLAKE_NESTED_WAREHOUSE SNOWFLAKE_PRIVATE_KEY SNOWFLAKE_USER" in out
    assert "\n600\n" in out and "user=***" in out
    # the runner consumes ::add-mask:: lines; everything else must be masked
    shown = "\n".join(line for line in out.splitlines() if not line.startswith("::add-mask::"))
    for secret_text in ["xy12345", "DBT_CI", "ABCDEF123", "ci_wh"]:
        assert f"::add-mask::{secret_text}" in out
        assert secret_text not in shown and secret_text not in r.stderr
    assert (tmp_path / "key.p8").stat().st_mode & 0o777 == 0o600


def test_secrets_get_plain_and_missing(project, authed):
    env, _, sm = authed
    name = "plain-" + uuid.uuid4().hex[:8]
    sm.create_secret(Name=name, SecretString="not json at all")
    r = run_task(project, f"""
task("t", function()
  local v = aws.secrets.get("{name}")
  print(#v, v)
  local ok, err = pcall(aws.secrets.get, "no-such-secret")
  print(ok, err.code, err.op)
  local ok2, err2 = pcall(aws.secrets.env, "{name}", "PLAIN")
  print(ok2, ok2 and env.get("PLAIN") == v)
end)
""", env, "t")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "15\t***"
    assert lines[1] == "false\tResourceNotFoundException\tGetSecretValue"
    assert lines[2] == "true\ttrue"


def test_sts_whoami(project, authed):
    env, _, _ = authed
    r = run_task(project, """
task("t", function()
  local me = aws.sts.whoami()
  print(me.account, me.arn)
end)
""", env, "t")
    assert r.returncode == 0, r.stderr
    account, arn = r.stdout.split()
    assert account.isdigit() and arn == f"arn:aws:iam::{account}:user/ci"


def test_cloudfront_invalidate_is_visible_to_boto3(project, moto, tmp_path):
    cf = client("cloudfront", moto)
    dist = create_distribution(cf)
    r = run_task(project, f"""
task("t", function()
  print(aws.cloudfront.invalidate("{dist}", {{ "/*" }}, {{ wait = true, timeout = 60 }}))
end)
""", aws_env(tmp_path, moto), "t")
    assert r.returncode == 0, r.stderr
    inv_id = r.stdout.strip()
    items = cf.list_invalidations(DistributionId=dist)["InvalidationList"]["Items"]
    assert inv_id in [i["Id"] for i in items]
    paths = cf.get_invalidation(DistributionId=dist, Id=inv_id)["Invalidation"]["InvalidationBatch"]["Paths"]
    assert paths["Items"] == ["/*"]


def test_libcurl_is_loaded_only_by_an_aws_call(project, tmp_path):
    r = run_task(project, """
task("t", function()
  local s3, put = aws.s3, store.put
end)
""", {"LD_DEBUG": "files"}, "t")
    assert r.returncode == 0, r.stderr
    assert "libcurl" not in r.stderr and "libcrypto" not in r.stderr


def test_failing_aws_call_with_a_secret_in_its_error_is_masked(project, authed, bucket):
    env, _, sm = authed
    name = "leaky-" + uuid.uuid4().hex[:8]
    sm.create_secret(Name=name, SecretString="Tok3nValue77")
    r = run_task(project, f"""
task("t", function()
  local token = aws.secrets.get("{name}")
  aws.s3.get("s3://{bucket}/" .. token .. ".json", "out.json")
end)
""", env, "-v", "t")
    assert r.returncode == 1
    assert "NoSuchKey" in r.stderr and f"s3://{bucket}/***.json" in r.stderr
    assert "Tok3nValue77" not in r.stdout + r.stderr


@pytest.mark.skipif(not shutil.which("valgrind"), reason="valgrind is not installed")
def test_aws_path_is_valgrind_clean(project, plain, tmp_path):
    """The end-to-end AWS path under valgrind, with the Lua state closed so that
    every allocation must be freed: no errors, nothing lost."""
    env, s3 = plain
    if "libasan" in subprocess.run(["ldd", DBTRUN], capture_output=True, text=True).stdout:
        pytest.skip("n/a: valgrind cannot run an AddressSanitizer build")
    bucket = new_bucket(s3)
    d = project(f"""
task("t", function()
  fs.write("a.txt", "hello")
  aws.s3.put("a.txt", "s3://{bucket}/a.txt")
  aws.s3.get("s3://{bucket}/a.txt", "b.txt")
  store.put("file://st/", "a.txt", "a.txt")
  store.get("file://st/", "a.txt", "c.txt")
  print(#aws.s3.list("s3://{bucket}/"), pcall(aws.secrets.get, "nope"))
end)
""")
    r = subprocess.run(["valgrind", "--leak-check=full", "--error-exitcode=99", DBTRUN, "t"],
                       cwd=d, env=dict(os.environ, **env, DBTRUN_LUA_CLOSE="1"),
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "definitely lost: 0 bytes" in r.stderr and "possibly lost: 0 bytes" in r.stderr
    assert "ERROR SUMMARY: 0 errors" in r.stderr
