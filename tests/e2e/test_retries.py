"""Retries as the SDKs make them, end to end: `dbtrun aws s3 cp` against a
loopback S3 stand-in that answers 503s, drops connections or says the
client's clock is wrong. Each case counts the requests the stand-in saw and
checks the outcome; none asserts a timing (DBTRUN_TEST_NO_BACKOFF=1 skips
the sleeps, not the decisions)."""
import email.utils
import http.server
import threading
import time

import pytest

from test_faults import OLD, BODY, etag, env, send, error  # noqa: F401 (shared stand-in parts)
from conftest import DBTRUN
import subprocess


class Stand(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, answer):
        super().__init__(("127.0.0.1", 0), Handler)
        self.answer = answer
        self.requests = []

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_GET(self):
        self.server.requests.append({k.lower(): v for k, v in self.headers.items()})
        self.server.answer(self, len(self.server.requests))


@pytest.fixture
def stand():
    servers = []

    def make(answer):
        srv = Stand(answer)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
        return srv
    yield make
    for srv in servers:
        srv.shutdown()
        srv.server_close()


def ok(h):
    send(h, 200, BODY, {"ETag": etag(BODY)})


def always_503(h, n):
    error(503, "ServiceUnavailable")(h)


def hang_up(h, n):
    h.close_connection = True  # no answer at all: a transport failure


def cp(srv, tmp_path, *opts, **extra):
    dest = tmp_path / "file.txt"
    dest.write_bytes(OLD)
    r = subprocess.run([DBTRUN, "aws", "--endpoint-url", srv.url, *opts, "s3", "cp",
                        "s3://bkt/file.txt", str(dest)], env=env(tmp_path, **extra),
                       capture_output=True, text=True, timeout=120)
    return r, dest


def test_max_attempts_from_the_environment(stand, tmp_path):
    srv = stand(always_503)
    r, dest = cp(srv, tmp_path, AWS_MAX_ATTEMPTS="5")
    assert r.returncode == 1
    assert "ServiceUnavailable (503)" in r.stderr
    assert len(srv.requests) == 5
    assert dest.read_bytes() == OLD


def test_legacy_mode_makes_five_attempts(stand, tmp_path):
    srv = stand(always_503)
    r, _ = cp(srv, tmp_path, AWS_RETRY_MODE="legacy")
    assert r.returncode == 1
    assert len(srv.requests) == 5


def test_retry_mode_from_the_profile(stand, tmp_path):
    cfg = tmp_path / "config"
    cfg.write_text("[default]\nretry_mode = legacy\n")
    srv = stand(always_503)
    r, _ = cp(srv, tmp_path, AWS_CONFIG_FILE=str(cfg))
    assert r.returncode == 1
    assert len(srv.requests) == 5


@pytest.mark.parametrize("mode", ["standard", "adaptive", "legacy"])
def test_each_mode_recovers_from_a_storm(stand, tmp_path, mode):
    srv = stand(lambda h, n: always_503(h, n) if n <= 2 else ok(h))
    r, dest = cp(srv, tmp_path, AWS_RETRY_MODE=mode)
    assert r.returncode == 0, r.stderr
    assert len(srv.requests) == 3
    assert dest.read_bytes() == BODY


def test_quota_stops_retries_when_nothing_answers(stand, tmp_path):
    # 500 tokens, 10 per retry after no answer: 50 retries, whatever
    # max_attempts allows
    srv = stand(hang_up)
    r, dest = cp(srv, tmp_path, "-v", AWS_MAX_ATTEMPTS="100")
    assert r.returncode == 1
    assert "NetworkError" in r.stderr
    assert len(srv.requests) == 51
    assert "the retry quota is used up; not retrying" in r.stderr
    assert dest.read_bytes() == OLD


def test_quota_costs_five_per_error_answer(stand, tmp_path):
    # 99 retries of 5 tokens fit in 500: max_attempts is the limit here
    srv = stand(always_503)
    r, _ = cp(srv, tmp_path, "-v", AWS_MAX_ATTEMPTS="100")
    assert r.returncode == 1
    assert len(srv.requests) == 100
    assert "retry quota" not in r.stderr


def test_legacy_mode_has_no_quota(stand, tmp_path):
    srv = stand(hang_up)
    r, _ = cp(srv, tmp_path, AWS_MAX_ATTEMPTS="60", AWS_RETRY_MODE="legacy")
    assert r.returncode == 1
    assert len(srv.requests) == 60


@pytest.mark.parametrize("where", ["env", "profile"])
def test_bad_retry_settings_name_their_origin(stand, tmp_path, where):
    srv = stand(always_503)
    cfg = tmp_path / "config"
    if where == "env":
        r, dest = cp(srv, tmp_path, AWS_RETRY_MODE="fast")
        assert "AWS_RETRY_MODE must be standard, adaptive or legacy, not 'fast'" in r.stderr
    else:
        cfg.write_text("[profile dev]\nregion = us-east-1\nmax_attempts = many\n")
        r, dest = cp(srv, tmp_path, "--profile", "dev", AWS_CONFIG_FILE=str(cfg))
        assert (f"max_attempts in profile dev of {cfg} must be a whole number from 1 to 100, "
                "not 'many'") in r.stderr
    assert r.returncode == 1
    assert srv.requests == []
    assert dest.read_bytes() == OLD


def amz_time(headers):
    return time.mktime(time.strptime(headers["x-amz-date"], "%Y%m%dT%H%M%SZ"))


def skewed(code, offset_s, then=ok):
    def answer(h, n):
        if n == 1:
            xml = (f"<?xml version='1.0'?><Error><Code>{code}</Code><Message>clock</Message>"
                   "<RequestId>R1</RequestId></Error>").encode()
            # the server's own Date, far from the client's clock
            date = email.utils.formatdate(time.time() + offset_s, usegmt=True)
            h.send_response_only(403)
            h.send_header("Date", date)
            h.send_header("Content-Type", "application/xml")
            h.send_header("Content-Length", str(len(xml)))
            h.end_headers()
            h.wfile.write(xml)
        else:
            then(h)
    return answer


@pytest.mark.parametrize("code", ["RequestTimeTooSkewed", "SignatureDoesNotMatch",
                                  "RequestExpired", "InvalidSignatureException"])
def test_clock_skew_is_corrected_once(stand, tmp_path, code):
    srv = stand(skewed(code, 3600))
    r, dest = cp(srv, tmp_path, "-v", AWS_MAX_ATTEMPTS="1")
    assert r.returncode == 0, r.stderr
    assert len(srv.requests) == 2
    # the second request is signed with the server's time, about an hour on
    moved = amz_time(srv.requests[1]) - amz_time(srv.requests[0])
    assert 3000 < moved < 4200
    assert "the server's clock is" in r.stderr and "ahead of ours" in r.stderr
    assert dest.read_bytes() == BODY


def test_skew_that_persists_is_not_retried_again(stand, tmp_path):
    srv = stand(skewed("RequestTimeTooSkewed", -7200,
                       then=lambda h: skewed("RequestTimeTooSkewed", -14400)(h, 1)))
    r, dest = cp(srv, tmp_path)
    assert r.returncode == 1
    assert "RequestTimeTooSkewed (403)" in r.stderr
    assert len(srv.requests) == 2
    assert dest.read_bytes() == OLD


def test_a_wrong_signature_with_a_right_clock_is_final(stand, tmp_path):
    srv = stand(skewed("SignatureDoesNotMatch", 5))
    r, _ = cp(srv, tmp_path)
    assert r.returncode == 1
    assert "SignatureDoesNotMatch (403)" in r.stderr
    assert len(srv.requests) == 1
