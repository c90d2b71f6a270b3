"""The credential chain against the scenarios recorded by the AWS SDK for Rust
(smithy-rs aws-config test data, in ../shared/testdata): each case's
environment and fake file system, its HTTP traffic (IMDS, ECS, STS) replayed
by a loopback server, and `dbtrun aws export-credentials` compared with the
credentials or the error the case expects."""
import datetime
import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from conftest import DBTRUN, ROOT

DATA = Path(
    os.environ.get("DR_TESTDATA") or ROOT.parent / "shared" / "testdata"
) / "smithy-rs" / "aws-config-test-data"
CHAIN = DATA / "default-credential-provider-chain"
PROFILE = DATA / "profile-provider"

SKIPPED = {}

# Expected failures: what dbtrun's message must say (the cases' own texts are
# the Rust SDK's wording).
ERRORS = {
    "eks_pod_identity_no_token_file": ["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "No such file"],
    "imds_default_chain_error": ["no AWS credentials found; tried in order: ",
                                 "; IMDS: no IAM role attached to the instance"],
    "imds_disabled": ["no AWS credentials found; tried in order: ",
                      "; IMDS: disabled by AWS_EC2_METADATA_DISABLED"],
    "imds_no_iam_role": ["credential_source = Ec2InstanceMetadata", "no IAM role attached"],
    "imds_token_fail": ["HTTP 403", "IMDS is disabled"],
    "profile_overrides_web_identity": ["credential_source = Environment", "AWS_ACCESS_KEY_ID"],
    "web_identity_source_profile_no_env": [
        "web_identity_token_file was specified but role_arn was missing"
    ],
    "web_identity_token_invalid_jwt": ["InvalidIdentityToken", "No OpenIDConnect provider found"],
    "credential_process_failure": ["credential_process exited with status 1"],
    "credential_process_invalid": ["credential_process output is not a JSON object"],
    "empty_config": ["no AWS credentials found; tried in order: ", "; profile 'default': not found in "],
    "invalid_config": ["ConfigError"],
    "invalid_sso_credentials_config": ["IAM Identity Center for a token only",
                                       "sso_account_id and sso_role_name"],
    "sso_token": ["IAM Identity Center for a token only"],
    "sso_no_token_file": ["profile sso-test: not logged in to IAM Identity Center (SSO); "
                          "run: dbtrun aws sso login --profile sso-test"],
    "sso_server_error": ["GetRoleCredentials", "(503)"],
}


def cases(folder):
    if not folder.is_dir():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"no test data at {folder}"))]
    out = []
    for d in sorted(p for p in folder.iterdir() if p.is_dir()):
        marks = [pytest.mark.skip(reason=SKIPPED[d.name])] if d.name in SKIPPED else []
        out.append(pytest.param(d, id=d.name, marks=marks))
    return out


# ---- the recorded traffic ----------------------------------------------------


def load_exchanges(case):
    """The recorded request/response pairs, in the order the requests were made."""
    events = json.loads((case / "http-traffic.json").read_text())["events"]
    by_conn, order = {}, []
    for e in events:
        a, conn = e["action"], e["connection_id"]
        if "Request" in a:
            r = a["Request"]["request"]
            x = {
                "method": r["method"],
                "uri": r["uri"],
                "headers": {k.lower(): v[0] for k, v in r["headers"].items()},
                "body": "",
                "status": None,
                "resp_headers": {},
                "resp_body": "",
            }
            by_conn[conn] = x
            order.append(x)
        elif "Data" in a:
            data = a["Data"]["data"].get("Utf8", "")
            if a["Data"]["direction"] == "Request":
                by_conn[conn]["body"] += data
            else:
                by_conn[conn]["resp_body"] += data
        elif "Response" in a:
            ok = a["Response"]["response"].get("Ok")
            if ok:
                by_conn[conn]["status"] = ok["status"]
                by_conn[conn]["resp_headers"] = {k.lower(): v[0] for k, v in ok["headers"].items()}
    return order


def origin(uri):
    u = urlsplit(uri)
    return f"{u.scheme}://{u.netloc}"


def path_of(uri):
    u = urlsplit(uri)
    return (u.path or "/") + (f"?{u.query}" if u.query else "")


def same_target(uri, path):
    """The recorded uri and the path asked for name the same thing (query
    parameters in any order: recordings disagree on it)."""
    want, got = urlsplit(uri), urlsplit(path)
    return (want.path or "/") == (got.path or "/") and \
        sorted(parse_qs(want.query).items()) == sorted(parse_qs(got.query).items())


class Replay:
    """Answers the recorded responses in order; a request that is not the
    next recorded one (method and path) is answered 404 and remembered. A
    retry of a request that got a 5xx gets the same answer again (the
    recordings hold one attempt; the SDKs retry 5xx)."""

    DROP = {"content-length", "connection", "transfer-encoding", "date"}

    def __init__(self, exchanges):
        self.exchanges = exchanges
        self.next = 0
        self.requests = []  # (exchange or None, method, path, headers, body)
        self.lock = threading.Lock()
        replay = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def answer(self):
                n = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(n).decode() if n else ""
                headers = {k.lower(): v for k, v in self.headers.items()}
                with replay.lock:
                    x = None
                    if replay.next < len(replay.exchanges):
                        cand = replay.exchanges[replay.next]
                        if cand["method"] == self.command and same_target(cand["uri"], self.path):
                            x = cand
                            replay.next += 1
                    if x is None and replay.next > 0:
                        last = replay.exchanges[replay.next - 1]
                        if ((last["status"] or 0) >= 500 and last["method"] == self.command
                                and same_target(last["uri"], self.path)):
                            x = last
                    replay.requests.append((x, self.command, self.path, headers, body))
                if x is None:
                    status, out_headers, out = 404, {"content-type": "text/plain"}, "unexpected request"
                else:
                    status, out_headers, out = x["status"], x["resp_headers"], x["resp_body"]
                data = out.encode()
                self.send_response(status)
                for k, v in out_headers.items():
                    if k not in Replay.DROP:
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = answer

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


# ---- a case's world ------------------------------------------------------------


def clock_for(case, expected, exchanges):
    """A forced clock before the credentials expire (recorded ones are old)."""
    ok = expected.get("Ok") or {}
    if ok.get("expiry"):
        t = datetime.datetime.fromtimestamp(ok["expiry"] - 3600, tz=datetime.timezone.utc)
        return t.strftime("%Y%m%dT%H%M%SZ")
    for x in exchanges:
        date = x["resp_headers"].get("date")
        if date:
            t = datetime.datetime.strptime(date, "%a, %d %b %Y %H:%M:%S GMT")
            return t.strftime("%Y%m%dT%H%M%SZ")
    return None


def build_env(case, tmp, server_url, exchanges, profile_only):
    """The case's environment with its file system under tmp and every
    recorded host (IMDS, ECS, STS, endpoint overrides) replaced by the
    loopback server; nothing of the caller's environment but PATH leaks in."""
    root = tmp / "fs"
    if (case / "fs").is_dir():
        shutil.copytree(case / "fs", root)
    else:
        root.mkdir()
    hosts = {origin(x["uri"]) for x in exchanges}
    hosts |= {"http://169.254.170.2", "http://169.254.170.23", "http://169.254.169.254"}

    def remap(text):
        for h in sorted(hosts, key=len, reverse=True):
            text = text.replace(h, server_url)
        return text

    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
        if k in os.environ:
            env[k] = os.environ[k]
    configured_endpoint = False
    for k, v in json.loads((case / "env.json").read_text()).items():
        if (k == "HOME" or k.endswith("_FILE")) and v.startswith("/"):
            v = str(root) + v
        if k.startswith("AWS_ENDPOINT_URL"):
            configured_endpoint = True
        if k == "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI":
            # the relative URI's host is fixed (169.254.170.2): ask the loopback server instead
            k, v = "AWS_CONTAINER_CREDENTIALS_FULL_URI", server_url + v
        env[k] = remap(v)
    for f in root.rglob("*"):
        if f.is_file() and f.name in ("config", "credentials"):
            text = remap(f.read_text())
            text = "\n".join(
                line.split("=", 1)[0] + "= " + str(root) + line.split("=", 1)[1].strip()
                if line.strip().startswith("web_identity_token_file") else line
                for line in text.split("\n")
            )
            configured_endpoint |= "endpoint_url" in text
            f.write_text(text)
    env.setdefault("AWS_EC2_METADATA_SERVICE_ENDPOINT", server_url)
    if not configured_endpoint:
        env["AWS_ENDPOINT_URL_STS"] = server_url
        env["AWS_ENDPOINT_URL_SSO"] = server_url
    env["DBTRUN_TEST_NO_BACKOFF"] = "1"
    if profile_only:
        # these cases test the profile provider alone: leave out the others
        env.pop("AWS_ACCESS_KEY_ID", None)
        env.pop("AWS_SECRET_ACCESS_KEY", None)
        env["AWS_EC2_METADATA_DISABLED"] = "true"
    return env, root


def export_credentials(env, cwd):
    return subprocess.run(
        [DBTRUN, "aws", "export-credentials"],
        env=env, cwd=cwd, capture_output=True, text=True, timeout=60,
    )


def parse_time(s):
    return int(datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp())


@pytest.fixture(scope="module")
def has_export_credentials(tmp_path_factory):
    """Skips while the binary has no `aws export-credentials` (a usage error,
    status 2); once it has one, it must work for plain environment keys."""
    d = tmp_path_factory.mktemp("probe")
    env = {"PATH": os.environ.get("PATH", ""), "AWS_ACCESS_KEY_ID": "AKIDPROBE",
           "AWS_SECRET_ACCESS_KEY": "probe", "HOME": str(d)}
    r = export_credentials(env, d)
    if r.returncode == 2:
        pytest.skip(f"{DBTRUN} has no `aws export-credentials` yet: {r.stderr.strip()[:200]}")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"Version": 1, "AccessKeyId": "AKIDPROBE",
                                    "SecretAccessKey": "probe"}


def creds_in(body):
    """(AccessKeyId, session token) in a recorded ECS/IMDS (JSON) or STS (XML)
    answer, or None."""
    try:
        doc = json.loads(body)
        if isinstance(doc, dict) and "AccessKeyId" in doc:
            return doc["AccessKeyId"], doc.get("Token")
    except ValueError:
        pass
    m = re.search(r"<AccessKeyId>(.*?)</AccessKeyId>", body)
    t = re.search(r"<SessionToken>(.*?)</SessionToken>", body)
    return (m.group(1), t.group(1) if t else None) if m else None


def check_requests(replay, env, root):
    """What the chain sent: the recorded requests, in order, and the parts
    of them that prove it used the right inputs. A signed STS call must use
    the credentials the step before it answered (some recordings were
    spliced together, so their own headers do not always agree)."""
    unexpected = [(m, p) for x, m, p, _, _ in replay.requests if x is None]
    assert not unexpected, f"requests not in the recording: {unexpected}"
    previous = None
    for x, method, path, headers, body in replay.requests:
        want = dict(x["headers"])
        if previous and "authorization" in want:
            want["authorization"] = f"Credential={previous[0]}/"
            if previous[1]:
                want["x-amz-security-token"] = previous[1]
        for h in ("x-aws-ec2-metadata-token", "x-aws-ec2-metadata-token-ttl-seconds",
                  "x-amz-security-token", "x-amz-sso_bearer_token"):
            if h in want:
                assert headers.get(h) == want[h], f"{method} {path}: header {h}"
        if "Credential=" in want.get("authorization", ""):
            key = want["authorization"].split("Credential=")[1].split("/")[0]
            assert f"Credential={key}/" in headers.get("authorization", ""), f"{path}: signing key"
        if method == "POST":
            sent, recorded = parse_qs(body), parse_qs(x["body"])
            assert sent["Action"] == recorded["Action"]
            assert sent.get("RoleArn") and sent.get("RoleSessionName")
            if "WebIdentityToken" in recorded:
                token_file = env.get("AWS_WEB_IDENTITY_TOKEN_FILE") or str(root / "token.jwt")
                assert sent["WebIdentityToken"] == [Path(token_file).read_text().strip()]
                assert "authorization" not in headers, "AssumeRoleWithWebIdentity must be unsigned"
        if env.get("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE") and "169.254.170" in x["uri"]:
            token = Path(env["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"]).read_text().strip()
            assert headers.get("authorization") == token
        previous = creds_in(x["resp_body"]) or previous


def run_case(case, tmp_path, profile_only):
    expected = json.loads((case / "test-case.json").read_text())["result"]
    exchanges = load_exchanges(case)
    with Replay(exchanges) as replay:
        env, root = build_env(case, tmp_path, replay.url, exchanges, profile_only)
        clock = clock_for(case, expected, exchanges)
        if clock:
            env["DBTRUN_TEST_CLOCK"] = clock
        r = export_credentials(env, tmp_path)
    if "Ok" in expected:
        want = expected["Ok"]
        assert r.returncode == 0, r.stderr
        got = json.loads(r.stdout)
        assert got["Version"] == 1
        assert got["AccessKeyId"] == want["access_key_id"]
        assert got["SecretAccessKey"] == want["secret_access_key"]
        assert got.get("SessionToken") == want.get("session_token")
        if "expiry" in want:
            assert parse_time(got["Expiration"]) == want["expiry"]
        else:
            assert "Expiration" not in got
        assert replay.next == len(exchanges), "not every recorded request was made"
    else:
        assert r.returncode == 1, r.stdout + r.stderr
        assert r.stdout == ""
        for words in ERRORS[case.name]:
            assert words in r.stderr
    check_requests(replay, env, root)
    # never a secret in the messages
    for cache in root.glob("home/.aws/sso/cache/*.json"):
        for key in ("accessToken", "refreshToken", "clientSecret"):
            value = json.loads(cache.read_text()).get(key)
            if value:
                assert value not in r.stderr
    for x in exchanges:
        for secret in ("secretkeycorrect", "SECRETKEYTEST", "TESTSECRETKEY", "testsecret"):
            if secret in x["resp_body"]:
                assert secret not in r.stderr


@pytest.mark.parametrize("case", cases(CHAIN))
def test_default_chain(case, tmp_path, has_export_credentials):
    run_case(case, tmp_path, profile_only=False)


@pytest.mark.parametrize("case", cases(PROFILE))
def test_profile_provider(case, tmp_path, has_export_credentials):
    run_case(case, tmp_path, profile_only=True)


# ---- scenarios the recordings do not cover ---------------------------------------


def scripted(method, path, status, body, ctype="text/xml"):
    return {"method": method, "uri": "http://replay" + path, "headers": {}, "body": "",
            "status": status, "resp_headers": {"content-type": ctype}, "resp_body": body}


def sts_answer(action, akid, secret, token, expiration="2030-01-01T01:00:00Z"):
    return scripted("POST", "/", 200, (
        f'<{action}Response xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><{action}Result>'
        f"<Credentials><AccessKeyId>{akid}</AccessKeyId><SecretAccessKey>{secret}</SecretAccessKey>"
        f"<SessionToken>{token}</SessionToken><Expiration>{expiration}</Expiration></Credentials>"
        f"</{action}Result></{action}Response>"))


def run_scripted(tmp_path, exchanges, env, config=None):
    """Runs export-credentials against a loopback server answering
    `exchanges`, with a fresh home (holding `config`) and only `env`."""
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    if config is not None:
        (home / ".aws" / "config").write_text(config)
    with Replay(exchanges) as replay:
        full = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home),
                "AWS_EC2_METADATA_DISABLED": "true", "AWS_ENDPOINT_URL_STS": replay.url,
                "DBTRUN_TEST_CLOCK": "20300101T000000Z", "DBTRUN_TEST_NO_BACKOFF": "1"}
        for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
            if k in os.environ:
                full[k] = os.environ[k]
        full.update({k: v.replace("{server}", replay.url) for k, v in env.items()})
        r = export_credentials(full, tmp_path)
    return r, replay


ROLE = "arn:aws:iam::123456789012:role/ci"


def test_github_actions_oidc_with_role_from_environment(tmp_path, has_export_credentials):
    exchanges = [
        scripted("GET", "/_apis/token?api-version=2.0&audience=sts.amazonaws.com", 200,
                 '{"count": 1, "value": "eyJ.github.jwt"}', "application/json"),
        sts_answer("AssumeRoleWithWebIdentity", "ASIAGH", "ghsecret", "ghtoken"),
    ]
    r, replay = run_scripted(tmp_path, exchanges, {
        "AWS_ROLE_ARN": ROLE,
        "AWS_ROLE_SESSION_NAME": "run-42",
        "ACTIONS_ID_TOKEN_REQUEST_URL": "{server}/_apis/token?api-version=2.0",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "ghs-request-secret",
    })
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert (got["AccessKeyId"], got["SessionToken"]) == ("ASIAGH", "ghtoken")
    assert parse_time(got["Expiration"]) == 1893459600
    assert [x is not None for x, *_ in replay.requests] == [True, True]
    assert replay.requests[0][3]["authorization"] == "Bearer ghs-request-secret"
    form = parse_qs(replay.requests[1][4])
    assert form["Action"] == ["AssumeRoleWithWebIdentity"]
    assert form["RoleArn"] == [ROLE] and form["RoleSessionName"] == ["run-42"]
    assert form["WebIdentityToken"] == ["eyJ.github.jwt"]
    assert "authorization" not in replay.requests[1][3]
    assert "ghs-request-secret" not in r.stderr


def test_github_actions_oidc_with_role_from_profile(tmp_path, has_export_credentials):
    exchanges = [
        scripted("GET", "/token?audience=sts.amazonaws.com", 200, '{"value": "jwt2"}',
                 "application/json"),
        sts_answer("AssumeRoleWithWebIdentity", "ASIAPROF", "s", "t"),
    ]
    r, replay = run_scripted(tmp_path, exchanges, {
        "ACTIONS_ID_TOKEN_REQUEST_URL": "{server}/token",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "req",
    }, config=f"[default]\nregion = eu-west-1\nrole_arn = {ROLE}\n")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["AccessKeyId"] == "ASIAPROF"
    assert parse_qs(replay.requests[1][4])["WebIdentityToken"] == ["jwt2"]


def test_github_actions_without_id_token_permission(tmp_path, has_export_credentials):
    r, replay = run_scripted(tmp_path, [], {"AWS_ROLE_ARN": ROLE, "GITHUB_ACTIONS": "true"})
    assert r.returncode == 1
    assert "no AWS credentials found; tried in order: " in r.stderr
    assert "this GitHub Actions job gets no OIDC token: it lacks `permissions: id-token: write`" in r.stderr
    assert replay.requests == []


def test_credential_process_then_assume_role(tmp_path, has_export_credentials):
    process = ("printf '{\"Version\": 1, \"AccessKeyId\": \"AKIDPROC\", "
               "\"SecretAccessKey\": \"sp\", \"SessionToken\": \"tp\"}'")
    config = (f"[default]\nrole_arn = {ROLE}\nsource_profile = base\nexternal_id = ext-1\n"
              f"duration_seconds = 900\nrole_session_name = my-session\n"
              f"[profile base]\ncredential_process = {process}\n")
    r, replay = run_scripted(tmp_path, [sts_answer("AssumeRole", "ASIAROLE", "rs", "rt")], {},
                             config=config)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["AccessKeyId"] == "ASIAROLE"
    _, method, path, headers, body = replay.requests[0]
    assert "Credential=AKIDPROC/" in headers["authorization"]
    assert "/sts/aws4_request" in headers["authorization"]
    assert headers["x-amz-security-token"] == "tp"
    form = parse_qs(body)
    assert form["Action"] == ["AssumeRole"] and form["RoleArn"] == [ROLE]
    assert form["ExternalId"] == ["ext-1"] and form["DurationSeconds"] == ["900"]
    assert form["RoleSessionName"] == ["my-session"]


def test_assume_role_refused_names_role_and_code(tmp_path, has_export_credentials):
    denied = scripted("POST", "/", 403, (
        '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error>'
        "<Type>Sender</Type><Code>AccessDenied</Code><Message>not authorized to perform "
        "sts:AssumeRole</Message></Error><RequestId>req-1</RequestId></ErrorResponse>"))
    config = (f"[profile dev]\nrole_arn = {ROLE}\nsource_profile = keys\n"
              "[profile keys]\naws_access_key_id = AKIDKEYS\naws_secret_access_key = topsecret\n")
    r, _ = run_scripted(tmp_path, [denied], {"AWS_PROFILE": "dev"}, config=config)
    assert r.returncode == 1
    assert "AssumeRole" in r.stderr and ROLE in r.stderr
    assert "AccessDenied" in r.stderr and "req-1" in r.stderr
    assert "topsecret" not in r.stderr


def test_named_profile_missing_from_existing_files(tmp_path, has_export_credentials):
    r, replay = run_scripted(tmp_path, [], {"AWS_PROFILE": "typo"},
                             config="[profile real]\nregion = eu-west-1\n")
    assert r.returncode == 1
    assert "profile 'typo' (from AWS_PROFILE) not found in " in r.stderr
    assert replay.requests == []


def live_processes_with(marker):
    """Live (non-zombie) processes whose command line contains marker."""
    found = []
    for pid in os.listdir("/proc"):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError, NotADirectoryError, IndexError):
            continue
        if marker in cmdline and state != "Z":
            found.append(pid)
    return found


def hanging_process_config(marker):
    return f"[default]\ncredential_process = sleep {marker} & wait\n"


def test_credential_process_timeout_kills_it(tmp_path, has_export_credentials):
    marker = f"{400 + os.getpid() % 1000}.{time.monotonic_ns() % 100000}"
    start = time.monotonic()
    r, _ = run_scripted(tmp_path, [], {"DBTRUN_CREDENTIAL_PROCESS_TIMEOUT": "1"},
                        config=hanging_process_config(marker))
    assert time.monotonic() - start < 20
    assert r.returncode == 1
    assert "profile 'default': credential_process did not finish within 1 s" in r.stderr
    assert not live_processes_with(f"sleep {marker}"), "credential_process survived"


def test_credential_process_ends_with_interrupted_dbtrun(tmp_path, has_export_credentials):
    marker = f"{500 + os.getpid() % 1000}.{time.monotonic_ns() % 100000}"
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    (home / ".aws" / "config").write_text(hanging_process_config(marker))
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home),
           "AWS_EC2_METADATA_DISABLED": "true"}
    p = subprocess.Popen([DBTRUN, "aws", "export-credentials"], env=env, cwd=tmp_path,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 10
    while not live_processes_with(f"sleep {marker}") and time.monotonic() < deadline:
        time.sleep(0.02)
    assert live_processes_with(f"sleep {marker}"), "credential_process did not start"
    p.send_signal(signal.SIGTERM)
    p.communicate(timeout=20)
    assert p.returncode in (-signal.SIGTERM, 143)
    deadline = time.monotonic() + 5
    while live_processes_with(f"sleep {marker}") and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not live_processes_with(f"sleep {marker}"), "credential_process was orphaned"


def test_credential_process_expired_result_is_refused(tmp_path, has_export_credentials):
    process = ("printf '{\"Version\": 1, \"AccessKeyId\": \"AKIDOLD\", "
               "\"SecretAccessKey\": \"sp\", \"Expiration\": \"2029-12-31T23:00:00Z\"}'")
    r, _ = run_scripted(tmp_path, [], {}, config=f"[default]\ncredential_process = {process}\n")
    assert r.returncode == 1
    assert ("credential_process for profile 'default' returned credentials that expired at "
            "2029-12-31T23:00:00Z") in r.stderr
    assert "AKIDOLD" not in r.stdout


# ---- errors that say why, without -v (issue 13) ------------------------------------
#
# The real binary, a fresh home, and nothing of the caller's environment but
# PATH: `dbtrun aws s3 ls` and task files using aws.* and store.* must name
# a missing profile and the files searched, and list each source of an empty
# chain with why it gave nothing. Nothing here reaches 169.254.169.254: IMDS
# is disabled or pointed at a loopback port.


def closed_port():
    """A loopback port nothing listens on (connections are refused)."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_run(tmp_path, args, env, config=None, credentials=None, task=None):
    """Runs dbtrun with only `env` (plus PATH, a fresh HOME and an S3
    endpoint nobody answers) in a folder holding `task` as dbtrun.lua."""
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True, exist_ok=True)
    if config is not None:
        (home / ".aws" / "config").write_text(config)
    if credentials is not None:
        (home / ".aws" / "credentials").write_text(credentials)
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    if task is not None:
        (work / "dbtrun.lua").write_text(task)
    full = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home),
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{closed_port()}", "AWS_REGION": "us-east-1"}
    for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
        if k in os.environ:
            full[k] = os.environ[k]
    full.update(env)
    r = subprocess.run([DBTRUN, *args], env=full, cwd=work, capture_output=True, text=True,
                       timeout=60)
    return r, home / ".aws"


LS = "error: ListObjectsV2 s3://b/: CredentialsError: "
ENV_LINE = "environment: AWS_ACCESS_KEY_ID is not set"
WEB_LINE = "web identity: AWS_ROLE_ARN is not set"
ECS_LINE = "ECS: not configured (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI / _FULL_URI not set)"
IMDS_OFF = "IMDS: disabled by AWS_EC2_METADATA_DISABLED"
REAL = "[profile real]\nregion = eu-west-1\n"


def chain(*lines):
    return "no AWS credentials found; tried in order: " + "; ".join(lines)


def test_unknown_profile_flag_names_profile_and_files(tmp_path):
    r, aws = clean_run(tmp_path, ["aws", "--profile", "typo", "s3", "ls", "s3://b"],
                       {"AWS_EC2_METADATA_DISABLED": "true"}, config=REAL)
    assert (r.returncode, r.stdout) == (1, "")
    assert r.stderr == (f"{LS}profile 'typo' not found in {aws}/config or "
                        f"{aws}/credentials (no such file)\n")


def test_unknown_profile_without_files_is_not_an_imds_error(tmp_path):
    """Neither file exists (a fresh CI machine): still the profile's error,
    and IMDS (a loopback stand-in here) is never asked."""
    with Replay([]) as imds:
        r, aws = clean_run(tmp_path, ["aws", "--profile", "typo", "s3", "ls", "s3://b"],
                           {"AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.url})
    assert r.returncode == 1
    assert r.stderr == (f"{LS}profile 'typo' not found in {aws}/config (no such file) or "
                        f"{aws}/credentials (no such file)\n")
    assert imds.requests == []


def test_unknown_aws_profile_honours_file_variables(tmp_path):
    cfg, cred = tmp_path / "team-config", tmp_path / "team-credentials"
    cfg.write_text(REAL)
    cred.write_text("[real]\naws_access_key_id = AKIDREAL\naws_secret_access_key = s3cr3t\n")
    r, _ = clean_run(tmp_path, ["aws", "s3", "ls", "s3://b"],
                     {"AWS_PROFILE": "typo", "AWS_EC2_METADATA_DISABLED": "true",
                      "AWS_CONFIG_FILE": str(cfg), "AWS_SHARED_CREDENTIALS_FILE": str(cred)})
    assert r.returncode == 1
    assert r.stderr == f"{LS}profile 'typo' (from AWS_PROFILE) not found in {cfg} or {cred}\n"
    assert "s3cr3t" not in r.stderr and "AKIDREAL" not in r.stderr


TASK = """config { aws = { profile = "typo" } }
task("list", function()
  aws.s3.list("s3://b/")
end)
task("fetch", function()
  store.get("s3://b/artifacts/", "manifest.json", "manifest.json")
end)
"""


@pytest.mark.parametrize("task,op", [("list", "ListObjectsV2 s3://b/"),
                                     ("fetch", "GetObject s3://b/artifacts/manifest.json")])
def test_unknown_config_aws_profile_in_a_task(tmp_path, task, op):
    r, aws = clean_run(tmp_path, [task], {"AWS_EC2_METADATA_DISABLED": "true"}, config=REAL,
                       task=TASK)
    assert r.returncode == 1
    assert r.stderr == (f"error: task '{task}' failed: {op}: CredentialsError: profile 'typo' "
                        f"not found in {aws}/config or {aws}/credentials (no such file)\n")


def test_missing_source_profile_names_it_and_the_files(tmp_path):
    config = REAL + "[profile dev]\nrole_arn = arn:aws:iam::123456789012:role/dev\nsource_profile = gone\n"
    r, aws = clean_run(tmp_path, ["aws", "s3", "ls", "s3://b"],
                       {"AWS_PROFILE": "dev", "AWS_EC2_METADATA_DISABLED": "true"}, config=config)
    assert r.returncode == 1
    assert r.stderr == (f"{LS}source profile 'gone' (named by profile 'dev') not found in "
                        f"{aws}/config or {aws}/credentials (no such file)\n")


def test_empty_chain_with_imds_disabled_lists_each_source(tmp_path):
    r, aws = clean_run(tmp_path, ["aws", "s3", "ls", "s3://b"],
                       {"AWS_EC2_METADATA_DISABLED": "true"}, config=REAL)
    assert r.returncode == 1
    profile = f"profile 'default': not found in {aws}/config or {aws}/credentials (no such file)"
    assert r.stderr == LS + chain(ENV_LINE, profile, WEB_LINE, ECS_LINE, IMDS_OFF) + "\n"
    # -v still says where it looked, before the error
    v, _ = clean_run(tmp_path, ["-v", "aws", "s3", "ls", "s3://b"],
                     {"AWS_EC2_METADATA_DISABLED": "true"}, config=REAL)
    assert v.returncode == 1
    assert "aws: credentials: tried in order: " + "; ".join(
        [ENV_LINE, profile, WEB_LINE, ECS_LINE, IMDS_OFF]) in v.stderr


def test_empty_chain_with_imds_refusing_names_address_and_reason(tmp_path):
    port = closed_port()
    r, aws = clean_run(tmp_path, ["aws", "s3", "ls", "s3://b"],
                       {"AWS_EC2_METADATA_SERVICE_ENDPOINT": f"http://127.0.0.1:{port}"},
                       credentials="[default]\nregion = eu-west-1\n")
    assert r.returncode == 1
    profile = "profile 'default': no credentials in it"
    head = LS + chain(ENV_LINE, profile, WEB_LINE, ECS_LINE, f"IMDS: no answer from http://127.0.0.1:{port} (")
    assert r.stderr.startswith(head), r.stderr
    # curl's own words for the refusal, then the end of the message
    assert re.fullmatch(rf"Failed to connect to 127\.0\.0\.1 port {port}\b[^\n]*\)\n",
                        r.stderr[len(head):]), r.stderr


def test_empty_chain_on_github_actions_without_id_token_permission(tmp_path):
    r, aws = clean_run(tmp_path, ["aws", "s3", "ls", "s3://b"],
                       {"AWS_EC2_METADATA_DISABLED": "true", "GITHUB_ACTIONS": "true",
                        "AWS_ROLE_ARN": ROLE})
    assert r.returncode == 1
    profile = (f"profile 'default': not found in {aws}/config (no such file) or "
               f"{aws}/credentials (no such file)")
    web = ("web identity: AWS_ROLE_ARN is set, but this GitHub Actions job gets no OIDC token: "
           "it lacks `permissions: id-token: write` (ACTIONS_ID_TOKEN_REQUEST_URL is not set)")
    assert r.stderr == LS + chain(ENV_LINE, profile, web, ECS_LINE, IMDS_OFF) + "\n"


def test_profile_role_on_github_actions_without_id_token_permission(tmp_path):
    """A profile with role_arn alone is assumed with GitHub's OIDC token;
    without the permission the error says what the job lacks."""
    r, _ = clean_run(tmp_path, ["aws", "s3", "ls", "s3://b"],
                     {"AWS_EC2_METADATA_DISABLED": "true", "GITHUB_ACTIONS": "true"},
                     config=f"[default]\nrole_arn = {ROLE}\n")
    assert r.returncode == 1
    assert r.stderr == (f"{LS}profile 'default' has role_arn but no source_profile, "
                        "credential_source or web_identity_token_file: on GitHub Actions it would "
                        "use the job's OIDC token, but this job gets none: it lacks "
                        "`permissions: id-token: write`\n")
