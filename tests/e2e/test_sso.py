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
import time

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


@pytest.fixture(scope="module")
def role_credentials(moto_auth):
    """Temporary credentials of a role on the checked moto, as the portal
    hands out (an assumed role's key, secret and session token)."""
    url, key_id, secret = moto_auth

    def client(service):
        return boto3.client(service, endpoint_url=url, aws_access_key_id=key_id,
                            aws_secret_access_key=secret, region_name="us-east-1")

    iam = client("iam")
    allow = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", %s}]}'
    try:
        iam.create_role(RoleName="DataEngineer", AssumeRolePolicyDocument=allow % (
            '"Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"'))
        iam.put_role_policy(RoleName="DataEngineer", PolicyName="all",
                            PolicyDocument=allow % '"Action": "*", "Resource": "*"')
    except iam.exceptions.EntityAlreadyExistsException:
        pass
    c = client("sts").assume_role(RoleArn="arn:aws:iam::123456789012:role/DataEngineer",
                                  RoleSessionName="sso-user")["Credentials"]
    return c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"]


@pytest.fixture
def world(tmp_path, moto_auth, moto, role_credentials):
    """A home with the config, a stand-in handing out a role's credentials
    from the checked moto, and the environment that points dbtrun at them."""
    url = moto_auth[0]
    key_id, secret, session_token = role_credentials
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    (home / ".aws" / "config").write_text(CONFIG)
    with SsoStandin(key_id, secret, session_token) as sso:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home),
               "AWS_EC2_METADATA_DISABLED": "true", "DBTRUN_TEST_NO_BACKOFF": "1",
               "AWS_ENDPOINT_URL_SSO": sso.url, "AWS_ENDPOINT_URL_SSO_OIDC": sso.url,
               "AWS_ENDPOINT_URL_S3": moto, "AWS_ENDPOINT_URL_STS": url}
        for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
            if k in os.environ:
                env[k] = os.environ[k]
        yield {"home": home, "sso": sso, "env": env, "moto": (url, key_id, secret),
               "creds": role_credentials, "s3": moto, "tmp": tmp_path}
    assert not sso.problems, sso.problems


def run(world, *args, env=None, timeout=60):
    full = dict(world["env"], **(env or {}))
    return subprocess.run([DBTRUN, *args], env=full, cwd=world["tmp"], capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def no_secrets(r, world=None, printed_credentials=False):
    """Neither tokens nor the client secret nor (unless the command prints
    them on purpose) the role's credentials are in the output."""
    for s in SECRETS:
        assert s not in r.stdout + r.stderr, s
    if world:
        for s in world["creds"][1:]:
            assert s not in r.stderr
            assert printed_credentials or s not in r.stdout


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
    no_secrets(r, world)
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
    assert who["Arn"].endswith(":assumed-role/DataEngineer/sso-user")  # the portal's key
    assert who["Expiration"].endswith("Z")
    write_cache(world["home"], "https://legacy.awsapps.com/start")
    r = run(world, "aws", "--profile", "legacy", "whoami", "--json")
    assert json.loads(r.stdout)["Provider"] == "sso (profile legacy)"
    no_secrets(r, world)


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
    r = run(world, "-v", "aws", "--profile", "data-engineer", "export-credentials")
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
    no_secrets(r, world, printed_credentials=True)


def test_a_failed_refresh_keeps_a_token_that_still_works(world):
    """Renewal starts 15 minutes ahead; if it fails the token serves until it expires."""
    path = write_cache(world["home"], "corp", expiresAt=iso(300), refreshToken="rt-revoked",
                       clientId="cid-known", clientSecret="cs-known",
                       registrationExpiresAt=iso(86400))
    before = path.read_text()
    r = run(world, "-v", "aws", "--profile", "data-engineer", "export-credentials")
    assert r.returncode == 0, r.stderr
    assert world["sso"].paths() == [("POST", "/token"), ("GET", "/federation/credentials")]
    assert world["sso"].requests[1][2]["x-amz-sso_bearer_token"] == "at-valid"
    assert "refreshing the SSO token failed" in r.stderr and "invalid_grant" in r.stderr
    assert path.read_text() == before
    assert "rt-revoked" not in r.stderr
    no_secrets(r, world, printed_credentials=True)


def test_expired_registration_cannot_refresh(world):
    write_cache(world["home"], "corp", expiresAt=iso(-60), refreshToken="rt-valid",
                clientId="cid-known", clientSecret="cs-known", registrationExpiresAt=iso(-10))
    r = run(world, "aws", "--profile", "data-engineer", "export-credentials")
    assert r.returncode == 1
    assert EXPIRED in r.stderr
    assert world["sso"].requests == []


# ---- dbtrun aws sso login / logout ------------------------------------------------------------


def test_login_writes_the_cache_the_aws_cli_reads(world):
    r = run(world, "aws", "--profile", "data-engineer", "sso", "login", timeout=60)
    assert r.returncode == 0, r.stderr
    sso = world["sso"]
    assert sso.paths() == [("POST", "/client/register"), ("POST", "/device_authorization"),
                           ("POST", "/token"), ("POST", "/token")]
    register, device, pending, token = (x[3] for x in sso.requests)
    assert register["clientType"] == "public" and register["clientName"]
    assert register["scopes"] == ["sso:account:access"]
    assert DEVICE_GRANT in register["grantTypes"] and "refresh_token" in register["grantTypes"]
    assert device == {"clientId": "cid-1", "clientSecret": "cs-secret-1",
                      "startUrl": "https://corp.awsapps.com/start"}
    assert pending == token == {"grantType": DEVICE_GRANT, "clientId": "cid-1",
                                "clientSecret": "cs-secret-1",
                                "deviceCode": "device-code-secret-0"}
    # what the person is told: where to go and the code, nothing secret
    assert "https://device.sso.example/?user_code=WXYZ-1234" in r.stdout
    assert "WXYZ-1234" in r.stdout
    no_secrets(r, world)
    # the AWS CLI's file: sha1 of the session name, 0600, with the registration inside
    path = cache_file(world["home"], "corp")
    assert [p.name for p in path.parent.iterdir()] == [path.name]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    doc = json.loads(path.read_text())
    assert doc["accessToken"] == "at-new-1" and doc["refreshToken"] == "rt-new-1"
    assert doc["clientId"] == "cid-1" and doc["clientSecret"] == "cs-secret-1"
    assert doc["startUrl"] == "https://corp.awsapps.com/start" and doc["region"] == "eu-west-1"
    for key in ("expiresAt", "registrationExpiresAt"):
        assert datetime.datetime.fromisoformat(doc[key].replace("Z", "+00:00")) > \
            datetime.datetime.now(datetime.timezone.utc)
    # and the sign-in works
    r = run(world, "aws", "--profile", "data-engineer", "whoami", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["Provider"] == "sso (session corp)"
    assert sso.requests[-1][2]["x-amz-sso_bearer_token"] == "at-new-1"


def test_login_legacy_profile_caches_under_the_start_url(world):
    r = run(world, "aws", "--profile", "legacy", "sso", "login", "--no-browser")
    assert r.returncode == 0, r.stderr
    register = world["sso"].requests[0][3]
    assert "scopes" not in register  # the legacy form registers without scopes
    path = cache_file(world["home"], "https://legacy.awsapps.com/start")
    doc = json.loads(path.read_text())
    assert doc["accessToken"] == "at-new-1" and doc["startUrl"] == "https://legacy.awsapps.com/start"
    assert "clientSecret" not in doc  # as the CLI: the legacy token file holds no registration
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    no_secrets(r)


def test_login_reuses_a_live_registration(world):
    write_cache(world["home"], "corp", expiresAt=iso(-60), clientId="cid-known",
                clientSecret="cs-known", registrationExpiresAt=iso(30 * 86400))
    r = run(world, "aws", "--profile", "data-engineer", "sso", "login")
    assert r.returncode == 0, r.stderr
    assert world["sso"].paths()[0] == ("POST", "/device_authorization")
    doc = json.loads(cache_file(world["home"], "corp").read_text())
    assert doc["clientId"] == "cid-known" and doc["accessToken"] == "at-new-1"


def test_login_for_a_profile_without_sso(world):
    (world["home"] / ".aws" / "config").write_text(CONFIG + "[profile keys]\nregion = eu-west-1\n")
    r = run(world, "aws", "--profile", "keys", "sso", "login")
    assert r.returncode == 1
    assert "profile keys does not sign in through IAM Identity Center" in r.stderr
    assert world["sso"].requests == []


def test_logout_removes_the_token_caches(world):
    a = write_cache(world["home"], "corp")
    b = write_cache(world["home"], "https://legacy.awsapps.com/start")
    other = a.parent / "botocore-client-id-eu-west-1.json"  # a registration, not a token
    other.write_text(json.dumps({"clientId": "c", "clientSecret": "s", "expiresAt": iso(99)}))
    r = run(world, "aws", "sso", "logout")
    assert r.returncode == 0, r.stderr
    assert "Removed 2 SSO tokens" in r.stdout
    assert not a.exists() and not b.exists() and other.exists()
    r = run(world, "aws", "--profile", "data-engineer", "export-credentials")
    assert r.returncode == 1 and "run: dbtrun aws sso login --profile data-engineer" in r.stderr


def test_the_aws_cli_uses_a_dbtrun_sign_in(world):
    """Cross-check: the real aws CLI (botocore's SSO provider) reads the cache
    file dbtrun wrote and gets credentials with its token."""
    aws = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".venv", "bin", "aws")
    if not os.path.exists(aws):
        pytest.skip("the aws CLI is not installed in .venv")
    r = run(world, "aws", "--profile", "data-engineer", "sso", "login")
    assert r.returncode == 0, r.stderr
    sso = world["sso"]
    before = len(sso.requests)
    env = dict(world["env"], AWS_CONFIG_FILE=str(world["home"] / ".aws" / "config"),
               AWS_SHARED_CREDENTIALS_FILE=str(world["home"] / ".aws" / "credentials"))
    r = subprocess.run([aws, "sts", "get-caller-identity", "--profile", "data-engineer",
                        "--output", "json"], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["Arn"].endswith(":assumed-role/DataEngineer/sso-user")
    (method, path, headers, _), = sso.requests[before:]
    assert (method, path.split("?")[0]) == ("GET", "/federation/credentials")
    assert headers["x-amz-sso_bearer_token"] == "at-new-1"


def fake_browser(world):
    """An xdg-open on PATH that records its arguments, one per line."""
    bin_dir = world["tmp"] / "bin"
    bin_dir.mkdir(exist_ok=True)
    marker = world["tmp"] / "opened"
    script = bin_dir / "xdg-open"
    script.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{marker}"\n')
    script.chmod(0o755)
    return {"PATH": f"{bin_dir}:{world['env']['PATH']}", "DISPLAY": ":0"}, marker


def test_login_opens_a_browser_only_at_a_terminal(world):
    import pty
    env, marker = fake_browser(world)
    # output to a pipe (CI, scripts): no browser, even with DISPLAY set
    r = run(world, "aws", "--profile", "data-engineer", "sso", "login", env=env)
    assert r.returncode == 0, r.stderr
    assert not marker.exists()
    # at a terminal: xdg-open gets the URL as its one argument
    primary, secondary = pty.openpty()
    try:
        p = subprocess.run([DBTRUN, "aws", "--profile", "data-engineer", "sso", "login"],
                           env=dict(world["env"], **env), cwd=world["tmp"], stdout=secondary,
                           stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, timeout=60)
    finally:
        os.close(secondary)
        os.close(primary)
    assert p.returncode == 0, p.stderr
    for _ in range(50):  # xdg-open runs on its own; give it a moment
        if marker.exists() and marker.read_text():
            break
        time.sleep(0.1)
    assert marker.read_text() == "https://device.sso.example/?user_code=WXYZ-1234\n"


def test_a_task_uses_an_sso_profile(world, bucket):
    """The seed's local loop: a task reads the artifact bucket with the
    team's SSO profile (config.aws.profile), signed with the portal's keys."""
    write_cache(world["home"], "corp")
    (world["tmp"] / "dbtrun.lua").write_text("""
config { aws = { profile = "data-engineer" } }
task("fetch", function()
  for _, o in ipairs(aws.s3.list("s3://%s")) do print(o.key) end
  print(aws.sts.whoami().arn)
end)
""" % bucket)
    r = run(world, "fetch")
    assert r.returncode == 0, r.stderr
    assert "manifest.json" in r.stdout
    assert r.stdout.strip().endswith(":assumed-role/DataEngineer/sso-user")
    no_secrets(r, world)
