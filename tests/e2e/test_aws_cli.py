"""dbtrun aws whoami / export-credentials / secrets get against moto_server,
with moto's signature checks on where moto checks correctly (aws-notes.md)."""
import json
import os

import pytest

from conftest import dbtrun

boto3 = pytest.importorskip("boto3")


def aws_env(url, key="testing", secret="testing", **extra):
    env = {
        "AWS_ENDPOINT_URL": url, "AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret,
        "AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "DBTRUN_TEST_NO_BACKOFF": "1",
    }
    env.pop("AWS_SESSION_TOKEN", None)
    env.update(extra)
    return env


def test_whoami_with_checked_signatures(moto_auth):
    url, key_id, secret = moto_auth
    r = dbtrun("aws", "whoami", "--json", env=aws_env(url, key_id, secret))
    assert r.returncode == 0, r.stderr
    who = json.loads(r.stdout)
    assert who["Arn"].endswith(":user/ci")
    assert who["Provider"] == "environment"
    assert secret not in r.stdout + r.stderr


def test_wrong_secret_fails_with_awss_code(moto_auth):
    url, key_id, secret = moto_auth
    wrong = secret[:-1] + ("x" if secret[-1] != "x" else "y")
    r = dbtrun("aws", "whoami", env=aws_env(url, key_id, wrong))
    assert r.returncode == 1
    assert "GetCallerIdentity" in r.stderr
    assert "SignatureDoesNotMatch" in r.stderr or "InvalidClientTokenId" in r.stderr
    assert wrong not in r.stderr


def test_verbose_logs_requests_without_secrets(moto_auth):
    url, key_id, secret = moto_auth
    r = dbtrun("-v", "aws", "whoami", env=aws_env(url, key_id, secret))
    assert r.returncode == 0, r.stderr
    assert "POST" in r.stderr and url in r.stderr and "200" in r.stderr
    assert secret not in r.stderr and "Signature=" not in r.stderr


def test_export_credentials(moto):
    r = dbtrun("aws", "export-credentials", env=aws_env(moto, "AKIDEXAMPLE", "s3cr3t-example"))
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"Version": 1, "AccessKeyId": "AKIDEXAMPLE",
                                    "SecretAccessKey": "s3cr3t-example"}


@pytest.fixture(scope="module")
def secrets(moto):
    sm = boto3.client("secretsmanager", endpoint_url=moto, region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    sm.create_secret(Name="dbt/snowflake-credentials", SecretString=json.dumps({
        "account": "xy12345", "user": "DBT_CI", "private-key": "-----BEGIN KEY-----\nMIIE\n-----END KEY-----",
        "warehouse": {"name": "TRANSFORMING", "size": "XS"}}))
    sm.create_secret(Name="plain-token", SecretString="not json at all")
    return sm


def test_secret_value_and_env_lines(moto, secrets):
    env = aws_env(moto)
    r = dbtrun("aws", "secrets", "get", "plain-token", env=env)
    assert r.returncode == 0 and r.stdout == "not json at all\n"
    r = dbtrun("aws", "secrets", "get", "dbt/snowflake-credentials", "--env", "SNOWFLAKE", env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[:2] == ["export SNOWFLAKE_ACCOUNT='xy12345'", "export SNOWFLAKE_USER='DBT_CI'"]
    assert "export SNOWFLAKE_PRIVATE_KEY='-----BEGIN KEY-----\nMIIE\n-----END KEY-----'" in r.stdout
    assert "export SNOWFLAKE_WAREHOUSE_NAME='TRANSFORMING'" in r.stdout
    r = dbtrun("aws", "secrets", "get", "plain-token", "--env", env=env)
    assert r.stdout == "export PLAIN_TOKEN='not json at all'\n"


def test_missing_secret_is_resource_not_found(moto, secrets):
    r = dbtrun("aws", "secrets", "get", "no/such/secret", env=aws_env(moto))
    assert r.returncode == 1
    assert "GetSecretValue no/such/secret: ResourceNotFoundException" in r.stderr


def test_no_credentials_is_a_clear_error(tmp_path):
    env = {"AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": str(tmp_path / "none"),
           "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"), "HOME": str(tmp_path),
           "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_ROLE_ARN": "",
           "AWS_CONTAINER_CREDENTIALS_FULL_URI": "", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": ""}
    r = dbtrun("aws", "export-credentials", env=env)
    assert r.returncode == 1
    assert "CredentialsError" in r.stderr or "credentials" in r.stderr.lower()


def test_usage_errors():
    assert dbtrun("aws").returncode == 2
    assert dbtrun("aws", "frobnicate").returncode == 2
    assert "whoami" in dbtrun("aws", "--help").stdout
