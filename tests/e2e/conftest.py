"""Shared helpers for the end-to-end tests: they run the real dbtrun binary."""
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
DBTRUN = os.environ.get("DBTRUN_BIN", str(ROOT / "build" / "dbtrun"))

# Tests never reach 169.254.169.254: with no region configured a client asks
# IMDS for one (and the credential chain ends with IMDS), so every dbtrun that
# inherits this environment has IMDS off. Tests of IMDS build their own
# environment with a loopback stand-in.
os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")


# ---- under CI=true a missing prerequisite fails ------------------------------
# A skip means "this machine lacks something" (dbt, moto, the aws CLI, boto3,
# valgrind, actionlint, test data). On a developer's machine that is a skip;
# under CI=true it fails the run, so that a broken install step cannot pass as
# green. Skips that are not about the machine (a feature not built yet, a check
# that cannot apply to this build) say so with a reason starting "n/a:".
CI = os.environ.get("CI") == "true"
NOT_APPLICABLE = "n/a:"


def _ci_fails_skip(rep):
    if not (CI and rep.skipped) or hasattr(rep, "wasxfail"):
        return
    reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
    reason = reason.removeprefix("Skipped: ")
    if reason.startswith(NOT_APPLICABLE):
        return
    rep.outcome = "failed"
    rep.longrepr = f"CI=true: a prerequisite is missing: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    _ci_fails_skip(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    _ci_fails_skip(outcome.get_result())


def dbtrun(*args, cwd=None, env=None, timeout=60, **kw):
    """Runs dbtrun and returns the CompletedProcess (text mode, both streams captured)."""
    full_env = dict(os.environ)
    full_env.pop("NO_COLOR", None)
    full_env.update(env or {})
    return subprocess.run(
        [DBTRUN, *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout, **kw
    )


@pytest.fixture
def project(tmp_path):
    """Writes a dbtrun.lua in a fresh folder and returns the folder."""

    def make(text, name="dbtrun.lua"):
        (tmp_path / name).write_text(text)
        return tmp_path

    return make


# ---- moto_server on 127.0.0.1 ------------------------------------------------


def _tool(name):
    p = VENV_BIN / name
    if p.exists():
        return str(p)
    found = shutil.which(name)
    if not found:
        pytest.skip(f"{name} not installed")
    return found


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_tcp(port, proc, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("moto_server exited early")
        try:
            # a TCP connect, not an HTTP probe (aws-notes.md)
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("moto_server did not start")


@pytest.fixture(scope="session")
def moto():
    """A moto_server on 127.0.0.1 at an ephemeral port; yields its URL."""
    port = _free_port()
    env = dict(os.environ)
    env.pop("INITIAL_NO_AUTH_ACTION_COUNT", None)  # signature checks off
    proc = subprocess.Popen([_tool("moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        _wait_tcp(port, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def moto_auth():
    """A second moto with signature checks on; yields (url, key id, secret)."""
    port = _free_port()
    env = dict(os.environ, INITIAL_NO_AUTH_ACTION_COUNT="4")
    proc = subprocess.Popen([_tool("moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        _wait_tcp(port, proc)
        url = f"http://127.0.0.1:{port}"
        import boto3

        iam = boto3.client("iam", endpoint_url=url, aws_access_key_id="testing",
                           aws_secret_access_key="testing", region_name="us-east-1")
        iam.create_user(UserName="ci")
        iam.put_user_policy(UserName="ci", PolicyName="all", PolicyDocument=(
            '{"Version": "2012-10-17", "Statement": '
            '[{"Effect": "Allow", "Action": "*", "Resource": "*"}]}'))
        key = iam.create_access_key(UserName="ci")["AccessKey"]
        yield url, key["AccessKeyId"], key["SecretAccessKey"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)




def create_distribution(cf, domain="docs.s3.amazonaws.com", origin_path=""):
    """A CloudFront distribution in front of one S3 origin, made with boto3
    client `cf`; returns its id."""
    import uuid

    origin = {"Id": "docs", "DomainName": domain, "OriginPath": origin_path,
              "S3OriginConfig": {"OriginAccessIdentity": ""}}
    return cf.create_distribution(DistributionConfig={
        "CallerReference": uuid.uuid4().hex, "Comment": "dbt docs", "Enabled": True,
        "Origins": {"Quantity": 1, "Items": [origin]},
        "DefaultCacheBehavior": {"TargetOriginId": "docs", "ViewerProtocolPolicy": "redirect-to-https",
                                 "MinTTL": 0, "ForwardedValues": {"QueryString": False,
                                                                  "Cookies": {"Forward": "none"}}},
    })["Distribution"]["Id"]
