"""mfa_serial on an assume-role profile, end to end: the real binary on a
pseudo-terminal (Python's pty) is asked for the code, types it with echo
off, and assumes the role on moto's STS (which takes any code). The
session credentials land in the aws CLI's cache (~/.aws/cli/cache, 0600),
so a second run, and the aws CLI itself, use them without asking; without a
terminal and without a cached session the error says so. The code typed
never appears in any output or file."""
import hashlib
import json
import os
import pty
import select
import stat
import subprocess
import time

import pytest

from conftest import DBTRUN, VENV_BIN

SERIAL = "arn:aws:iam::123456789012:mfa/alice"
ROLE = "arn:aws:iam::123456789012:role/admin"
CODE = "918273"


def config(home, extra=""):
    aws = home / ".aws"
    aws.mkdir(parents=True, exist_ok=True)
    (aws / "config").write_text(
        "[profile base]\nregion = us-east-1\n"
        f"[profile dev]\nregion = us-east-1\nrole_arn = {ROLE}\nsource_profile = base\n"
        f"mfa_serial = {SERIAL}\n{extra}")
    (aws / "credentials").write_text(
        "[base]\naws_access_key_id = AKIAMFABASE\naws_secret_access_key = base-secret\n")


def environment(home, moto):
    e = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home),
         "AWS_EC2_METADATA_DISABLED": "true", "AWS_ENDPOINT_URL": moto,
         "DBTRUN_TEST_NO_BACKOFF": "1"}
    for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
        if k in os.environ:
            e[k] = os.environ[k]
    return e


def on_terminal(argv, env, answer=CODE, timeout=60):
    """Runs argv on a new pseudo-terminal; types `answer` and Enter after the
    prompt. Returns (exit status, everything the terminal showed)."""
    pid, fd = pty.fork()
    if pid == 0:
        try:
            os.execve(argv[0], argv, env)
        finally:
            os._exit(127)
    seen, typed = b"", False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
        if not typed and b"Enter MFA code" in seen and seen.rstrip().endswith(b":"):
            time.sleep(0.2)  # echo is switched off before the prompt is written
            os.write(fd, answer.encode() + b"\r")
            typed = True
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), seen.decode(errors="replace"), typed


def cache_files(home):
    d = home / ".aws" / "cli" / "cache"
    return sorted(d.iterdir()) if d.exists() else []


def botocore_key():
    args = json.dumps({"RoleArn": ROLE, "SerialNumber": SERIAL}, sort_keys=True)
    return hashlib.sha1(args.encode()).hexdigest()


def no_terminal(argv, env):
    """Runs argv in a session of its own: no controlling terminal."""
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL, start_new_session=True)


def test_code_is_asked_on_the_terminal_and_cached(moto, tmp_path):
    home = tmp_path / "home"
    config(home)
    env = environment(home, moto)
    code, shown, typed = on_terminal([DBTRUN, "aws", "--profile", "dev", "whoami"], env)
    assert typed, shown
    assert code == 0, shown
    assert f"Enter MFA code for {SERIAL} (profile dev): " in shown
    assert CODE not in shown  # echo was off
    assert "assumed-role/admin" in shown
    # the session is in the aws CLI's cache, under botocore's key, for the owner only
    files = cache_files(home)
    assert [f.name for f in files] == [botocore_key() + ".json"]
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    assert stat.S_IMODE(files[0].parent.stat().st_mode) == 0o700
    doc = json.loads(files[0].read_text())
    assert list(doc) == ["Credentials"]
    assert sorted(doc["Credentials"]) == ["AccessKeyId", "Expiration", "SecretAccessKey",
                                          "SessionToken"]
    assert CODE not in files[0].read_text()
    # a second run needs no terminal: the cached session is used
    r = no_terminal([DBTRUN, "aws", "--profile", "dev", "whoami"], env)
    assert r.returncode == 0, r.stderr
    assert "assumed-role/admin" in r.stdout
    assert "MFA" not in r.stderr
    # ... and so does the aws CLI, reading the same file
    aws = VENV_BIN / "aws"
    if not aws.exists():
        pytest.skip("aws CLI not installed")
    r = no_terminal([str(aws), "sts", "get-caller-identity", "--profile", "dev"], env)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["Arn"].startswith("arn:aws:sts::123456789012:assumed-role/admin/")


def test_a_session_the_aws_cli_cached_is_used(moto, tmp_path):
    aws = VENV_BIN / "aws"
    if not aws.exists():
        pytest.skip("aws CLI not installed")
    home = tmp_path / "home"
    config(home)
    env = environment(home, moto)
    code, shown, typed = on_terminal([str(aws), "sts", "get-caller-identity", "--profile", "dev"],
                                     env)
    assert typed and code == 0, shown
    assert [f.name for f in cache_files(home)] == [botocore_key() + ".json"]
    r = no_terminal([DBTRUN, "aws", "--profile", "dev", "whoami"], env)
    assert r.returncode == 0, r.stderr
    assert "assumed-role/admin" in r.stdout


def test_without_a_terminal_the_error_says_so(moto, tmp_path):
    home = tmp_path / "home"
    config(home)
    r = no_terminal([DBTRUN, "aws", "--profile", "dev", "whoami"], environment(home, moto))
    assert r.returncode == 1
    assert (f"profile dev needs an MFA code (mfa_serial {SERIAL}) but there is no terminal "
            "to ask on") in r.stderr
    assert cache_files(home) == []


def test_an_expired_cache_asks_again(moto, tmp_path):
    home = tmp_path / "home"
    config(home)
    d = home / ".aws" / "cli" / "cache"
    d.mkdir(parents=True)
    f = d / (botocore_key() + ".json")
    f.write_text(json.dumps({"Credentials": {
        "AccessKeyId": "ASIAOLD", "SecretAccessKey": "old", "SessionToken": "old",
        "Expiration": "2020-01-01T00:00:00UTC"}}))
    f.chmod(0o600)
    env = environment(home, moto)
    r = no_terminal([DBTRUN, "aws", "--profile", "dev", "whoami"], env)
    assert r.returncode == 1 and "no terminal to ask on" in r.stderr
    code, shown, typed = on_terminal([DBTRUN, "aws", "--profile", "dev", "whoami"], env)
    assert typed and code == 0, shown
    assert "ASIAOLD" not in f.read_text()


def test_a_cache_others_can_read_is_ignored(moto, tmp_path):
    home = tmp_path / "home"
    config(home)
    env = environment(home, moto)
    code, shown, typed = on_terminal([DBTRUN, "aws", "--profile", "dev", "whoami"], env)
    assert typed and code == 0, shown
    f = cache_files(home)[0]
    f.chmod(0o644)
    r = no_terminal([DBTRUN, "aws", "--profile", "dev", "whoami"], env)
    assert r.returncode == 1 and "no terminal to ask on" in r.stderr


def test_an_empty_answer_is_an_error(moto, tmp_path):
    home = tmp_path / "home"
    config(home)
    code, shown, typed = on_terminal([DBTRUN, "aws", "--profile", "dev", "whoami"],
                                     environment(home, moto), answer="")
    assert typed and code == 1, shown
    assert "no MFA code entered for profile dev" in shown
    assert cache_files(home) == []


def test_a_run_asks_once_even_without_the_disk_cache(moto, tmp_path):
    """Two AWS clients in one task run, with ~/.aws/cli unwritable: the
    second uses the session the first bought, kept in memory."""
    home = tmp_path / "home"
    config(home)
    (home / ".aws" / "cli").write_text("not a folder\n")
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "dbtrun.lua").write_text(
        'task("t", function()\n'
        '  for i = 1, 2 do\n'
        '    local c = aws.client { profile = "dev" }\n'
        '    print("who " .. i .. " " .. c.sts.whoami().arn)\n'
        '  end\n'
        'end)\n')
    env = environment(home, moto)
    here = os.getcwd()
    os.chdir(proj)
    try:
        code, shown, typed = on_terminal([DBTRUN, "t"], env)
    finally:
        os.chdir(here)
    assert typed, shown
    assert code == 0, shown
    assert shown.count("Enter MFA code") == 1
    assert shown.count("assumed-role/admin") == 2
    assert CODE not in shown
