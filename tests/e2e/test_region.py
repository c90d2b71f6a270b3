"""The region's order, end to end: --region, AWS_REGION, AWS_DEFAULT_REGION,
the profile's region, then the instance's region from IMDS (IMDSv2: a
session token, then /latest/meta-data/placement/region with it), else
us-east-1. IMDS is a loopback stand-in (AWS_EC2_METADATA_SERVICE_ENDPOINT),
never 169.254.169.254; it also serves the S3 GET whose signature shows the
region used."""
import http.server
import os
import subprocess
import threading

import pytest

from conftest import DBTRUN

TOKEN = "imds-session-token-1"


class Stand(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, region="eu-west-3"):
        super().__init__(("127.0.0.1", 0), Handler)
        self.region = region
        self.seen = []

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}"

    def imds(self):
        return [s for s in self.seen if s[1].startswith("/latest/")]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def answer(self, status, body=b"", headers=None):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_PUT(self):
        self.server.seen.append(("PUT", self.path, {k.lower(): v for k, v in self.headers.items()}))
        if self.path == "/latest/api/token" and self.headers.get(
                "x-aws-ec2-metadata-token-ttl-seconds"):
            self.answer(200, TOKEN.encode())
        else:
            self.answer(400)

    def do_GET(self):
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.server.seen.append(("GET", self.path, headers))
        if self.path == "/latest/meta-data/placement/region":
            if headers.get("x-aws-ec2-metadata-token") != TOKEN:
                self.answer(401)
            elif self.server.region:
                self.answer(200, self.server.region.encode())
            else:
                self.answer(404)
        elif self.path.startswith("/bkt/"):
            self.answer(200, b"body", {"ETag": '"841a2d689ad86bd1611447453c22c6fc"'})
        else:
            self.answer(404)


@pytest.fixture
def stand():
    srv = Stand()
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv
    srv.shutdown()
    srv.server_close()


def env(tmp_path, stand, **extra):
    e = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path),
         "AWS_ACCESS_KEY_ID": "AKIDREGION", "AWS_SECRET_ACCESS_KEY": "region-secret",
         "AWS_EC2_METADATA_SERVICE_ENDPOINT": stand.url,
         "AWS_CONFIG_FILE": str(tmp_path / "config"),
         "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
         "DBTRUN_TEST_NO_BACKOFF": "1"}
    for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
        if k in os.environ:
            e[k] = os.environ[k]
    e.update(extra)
    return e


def cp(tmp_path, stand, *opts, profile_region=None, **extra):
    (tmp_path / "config").write_text(
        f"[default]\nregion = {profile_region}\n" if profile_region else "[default]\n")
    r = subprocess.run([DBTRUN, "aws", "-v", "--endpoint-url", stand.url, *opts, "s3", "cp",
                        "s3://bkt/k", str(tmp_path / "out")], env=env(tmp_path, stand, **extra),
                       capture_output=True, text=True, timeout=60)
    gets = [s for s in stand.seen if s[1].startswith("/bkt/")]
    scope = gets[-1][2]["authorization"].split("Credential=")[1].split(",")[0] if gets else ""
    return r, scope.split("/")[2] if scope else None


def test_region_from_imds_when_nothing_names_one(tmp_path, stand):
    r, signed = cp(tmp_path, stand)
    assert r.returncode == 0, r.stderr
    assert signed == "eu-west-3"
    assert "aws: region eu-west-3 (from IMDS)" in r.stderr
    # IMDSv2: the token first, then the region with it; asked once
    assert [(m, p) for m, p, _ in stand.imds()] == [
        ("PUT", "/latest/api/token"), ("GET", "/latest/meta-data/placement/region")]


@pytest.mark.parametrize("opts,extra,profile_region,want", [
    (["--region", "ap-south-1"], {"AWS_REGION": "eu-north-1"}, "sa-east-1", "ap-south-1"),
    ([], {"AWS_REGION": "eu-north-1", "AWS_DEFAULT_REGION": "us-west-2"}, "sa-east-1",
     "eu-north-1"),
    ([], {"AWS_DEFAULT_REGION": "us-west-2"}, "sa-east-1", "us-west-2"),
    ([], {}, "sa-east-1", "sa-east-1"),
])
def test_a_named_region_wins_and_imds_is_not_asked(tmp_path, stand, opts, extra, profile_region,
                                                   want):
    r, signed = cp(tmp_path, stand, *opts, profile_region=profile_region, **extra)
    assert r.returncode == 0, r.stderr
    assert signed == want
    assert stand.imds() == []


def test_imds_disabled_means_us_east_1(tmp_path, stand):
    r, signed = cp(tmp_path, stand, AWS_EC2_METADATA_DISABLED="true")
    assert r.returncode == 0, r.stderr
    assert signed == "us-east-1"
    assert stand.imds() == []


def test_imds_without_a_region_means_us_east_1(tmp_path, stand):
    stand.region = None
    r, signed = cp(tmp_path, stand)
    assert r.returncode == 0, r.stderr
    assert signed == "us-east-1"
    assert "aws: region us-east-1 (the default: IMDS named none)" in r.stderr


def test_a_nonsense_region_from_imds_is_not_used(tmp_path, stand):
    stand.region = "evil.example.com/x"
    r, signed = cp(tmp_path, stand)
    assert r.returncode == 0, r.stderr
    assert signed == "us-east-1"


def test_a_task_that_does_not_use_aws_never_asks_imds(tmp_path, stand):
    (tmp_path / "config").write_text("[default]\n")
    (tmp_path / "dbtrun.lua").write_text(
        'task("t", function() local c = aws.client {} print("made") end)\n')
    r = subprocess.run([DBTRUN, "t"], cwd=tmp_path, env=env(tmp_path, stand),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "made" in r.stdout
    r = subprocess.run([DBTRUN, "--list"], cwd=tmp_path, env=env(tmp_path, stand),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert stand.imds() == []


def test_a_task_client_reports_the_imds_region(tmp_path, stand):
    (tmp_path / "config").write_text("[default]\n")
    (tmp_path / "dbtrun.lua").write_text(
        'task("t", function() print("region " .. aws.client {}.region) end)\n')
    r = subprocess.run([DBTRUN, "t"], cwd=tmp_path, env=env(tmp_path, stand),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "region eu-west-3" in r.stdout
