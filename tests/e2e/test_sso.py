"""IAM Identity Center (SSO) profiles end to end: the real dbtrun binary with
both profile forms against a loopback stand-in for the SSO portal and SSO
OIDC (sso_standin.py) and moto: STS on the moto that checks signatures (so
whoami proves the portal's key is the one used), S3 on the one that does not
(with checks on moto rejects correct S3 list signatures: aws-notes.md). The
token cache is the AWS CLI's (~/.aws/sso/cache/<sha1>.json)."""
import datetime
import hashlib
import json
import os
import stat
import subprocess

import pytest

from conftest import DBTRUN
from sso_standin import DEVICE_GRANT, SsoStandin

boto3 = pytest.importorskip("boto3")

CONFIG = """\
[profile data-engineer]
sso_session = corp
sso_account_id = 111122223333
sso_role_name = DataEngineer
region = us-east-1

[sso-session corp]
sso_start_url = https://corp.awsapps.com/start
sso_region = eu-west-1
sso_registration_scopes = sso:account:access

[profile legacy]
sso_start_url = https://legacy.awsapps.com/start
sso_region = us-east-2
sso_account_id = 111122223333
sso_role_name = DataEngineer
region = us-east-1
"""

EXPIRED = ("profile data-engineer: SSO session expired; "
           "run: dbtrun aws sso login --profile data-engineer")
SECRETS = ("at-valid", "rt-valid", "cs-known", "at-new-", "rt-new-", "cs-secret-",
           "device-code-secret")


def iso(delta_s):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=delta_s)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def cache_file(home, key):
    return home / ".aws" / "sso" / "cache" / (hashlib.sha1(key.encode()).hexdigest() + ".json")


def write_cache(home, key, **fields):
    path = cache_file(home, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"startUrl": "https://corp.awsapps.com/start", "region": "eu-west-1",
           "accessToken": "at-valid", "expiresAt": iso(3600)}
    doc.update(fields)
    path.write_text(json.dumps(doc))
    path.chmod(0o600)
    return path


@pytest.fixture
def world(tmp_path, moto_auth, moto):
    """A home with the config, a stand-in handing out the checked moto's key,
    and the environment that points dbtrun at them."""
    url, key_id, secret = moto_auth
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    (home / ".aws" / "config").write_text(CONFIG)
    with SsoStandin(key_id, secret) as sso:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home),
               "AWS_EC2_METADATA_DISABLED": "true", "DBTRUN_TEST_NO_BACKOFF": "1",
               "AWS_ENDPOINT_URL_SSO": sso.url, "AWS_ENDPOINT_URL_SSO_OIDC": sso.url,
               "AWS_ENDPOINT_URL_S3": moto, "AWS_ENDPOINT_URL_STS": url}
        for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
            if k in os.environ:
                env[k] = os.environ[k]
        yield {"home": home, "sso": sso, "env": env, "moto": (url, key_id, secret),
               "s3": moto, "tmp": tmp_path}
    assert not sso.problems, sso.problems


def run(world, *args, env=None, timeout=60):
    full = dict(world["env"], **(env or {}))
    return subprocess.run([DBTRUN, *args], env=full, cwd=world["tmp"], capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def no_secrets(r):
    for s in SECRETS:
        assert s not in r.stdout + r.stderr, s


@pytest.fixture
def bucket(world):
    s3 = boto3.client("s3", endpoint_url=world["s3"], aws_access_key_id="testing",
                      aws_secret_access_key="testing", region_name="us-east-1")
    name = f"sso-{os.getpid()}-{abs(hash(str(world['tmp']))) % 10**8}"
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="manifest.json", Body=b"{}")
    return name


# ---- credentials from a cache the AWS CLI wrote -------------------------------------------


@pytest.mark.parametrize("profile,key", [("data-engineer", "corp"),
                                         ("legacy", "https://legacy.awsapps.com/start")])
def test_s3_ls_with_an_sso_profile(world, bucket, profile, key):
    write_cache(world["home"], key)
    r = run(world, "aws", "--profile", profile, "s3", "ls", f"s3://{bucket}")
    assert r.returncode == 0, r.stderr
    assert "manifest.json" in r.stdout
    no_secrets(r)
    (method, path), *_ = world["sso"].paths()
    assert (method, path) == ("GET", "/federation/credentials")
    _, _, headers, _ = world["sso"].requests[0]
    assert headers["x-amz-sso_bearer_token"] == "at-valid"


def test_whoami_names_the_sso_session_and_expiry(world):
    write_cache(world["home"], "corp")
    r = run(world, "aws", "--profile", "data-engineer", "whoami")
    assert r.returncode == 0, r.stderr
    assert "Credentials  sso (session corp)" in r.stdout
    assert "Expires      " in r.stdout and "(in 60 min)" in r.stdout
    r = run(world, "aws", "--profile", "data-engineer", "whoami", "--json")
    who = json.loads(r.stdout)
    assert who["Provider"] == "sso (session corp)"
    assert who["Arn"].endswith(":user/ci")  # the checked moto took the portal's key
    assert who["Expiration"].endswith("Z")
    write_cache(world["home"], "https://legacy.awsapps.com/start")
    r = run(world, "aws", "--profile", "legacy", "whoami", "--json")
    assert json.loads(r.stdout)["Provider"] == "sso (profile legacy)"
    no_secrets(r)


# ---- expired, missing, refreshed ------------------------------------------------------------


def test_expired_token_says_what_to_run(world):
    write_cache(world["home"], "corp", expiresAt=iso(-60))
    r = run(world, "aws", "--profile", "data-engineer", "export-credentials")
    assert r.returncode == 1
    assert r.stdout == ""
    assert r.stderr.count("\n") == 1 and EXPIRED in r.stderr
    assert world["sso"].requests == []  # nothing sent with a dead token
    no_secrets(r)


def test_missing_token_says_what_to_run(world):
    r = run(world, "aws", "--profile", "data-engineer", "export-credentials")
    assert r.returncode == 1
    assert ("profile data-engineer: not logged in to IAM Identity Center (SSO); "
            "run: dbtrun aws sso login --profile data-engineer") in r.stderr
    assert r.stderr.count("\n") == 1


def test_token_the_portal_refuses_says_what_to_run(world):
    write_cache(world["home"], "corp", accessToken="at-revoked")
    r = run(world, "aws", "--profile", "data-engineer", "export-credentials")
    assert r.returncode == 1
    assert EXPIRED in r.stderr
    assert "at-revoked" not in r.stderr


def test_expired_token_is_refreshed_and_written_back(world):
    path = write_cache(world["home"], "corp", expiresAt=iso(-60), refreshToken="rt-valid",
                       clientId="cid-known", clientSecret="cs-known",
                       registrationExpiresAt=iso(86400))
    path.chmod(0o644)  # the rewrite is 0600 whatever the old file was
    r = run(world, "aws", "--profile", "data-engineer", "export-credentials")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["AccessKeyId"] == world["moto"][1]
    sso = world["sso"]
    assert sso.paths() == [("POST", "/token"), ("GET", "/federation/credentials")]
    body = sso.requests[0][3]
    assert body == {"grantType": "refresh_token", "clientId": "cid-known",
                    "clientSecret": "cs-known", "refreshToken": "rt-valid"}
    assert sso.requests[1][2]["x-amz-sso_bearer_token"] == "at-new-1"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    doc = json.loads(path.read_text())
    assert doc["accessToken"] == "at-new-1" and doc["refreshToken"] == "rt-new-1"
    assert doc["clientId"] == "cid-known" and doc["clientSecret"] == "cs-known"
    assert doc["startUrl"] == "https://corp.awsapps.com/start" and doc["region"] == "eu-west-1"
    exp = datetime.datetime.fromisoformat(doc["expiresAt"].replace("Z", "+00:00"))
    left = (exp - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
    assert 28000 < left <= 28800
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left
    no_secrets(r)


def test_expired_registration_cannot_refresh(world):
    write_cache(world["home"], "corp", expiresAt=iso(-60), refreshToken="rt-valid",
                clientId="cid-known", clientSecret="cs-known", registrationExpiresAt=iso(-10))
    r = run(world, "aws", "--profile", "data-engineer", "export-credentials")
    assert r.returncode == 1
    assert EXPIRED in r.stderr
    assert world["sso"].requests == []
