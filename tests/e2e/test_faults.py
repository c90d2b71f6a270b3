"""Fault injection for downloads: `dbtrun aws s3 cp` (and a task's
aws.s3.get) against a tiny S3 stand-in on 127.0.0.1 that stalls, cuts
bodies short, lies about checksums, answers 5xx, never answers, or streams
slowly while dbtrun is interrupted. Every case checks the exit code, the
message, a generous time bound, that the old destination file is intact and
that no temporary file is left beside it."""
import base64
import hashlib
import http.server
import os
import signal
import subprocess
import threading
import time
import zlib

import pytest

from conftest import DBTRUN

OLD = b"old contents\n"
BODY = b"new object body\n" * 64


class Fake(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.behaviour = ok()
        self.requests = []
        self.stop = threading.Event()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}"

    def gets(self):
        return [r for r in self.requests if r[0] == "GET"]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_GET(self):
        self.server.requests.append(("GET", self.path, dict(self.headers)))
        self.server.behaviour(self, len(self.server.gets()))

    do_HEAD = do_GET


def send(h, status, body, headers=None, length=None):
    h.send_response(status)
    h.send_header("Content-Length", str(len(body) if length is None else length))
    for k, v in (headers or {}).items():
        h.send_header(k, v)
    h.end_headers()
    try:
        h.wfile.write(body)
        h.wfile.flush()
    except OSError:
        pass


def etag(body):
    return '"' + hashlib.md5(body).hexdigest() + '"'


def ok(body=BODY, headers=None):
    def go(h, n):
        send(h, 200, body, {"ETag": etag(body), **(headers or {})})
    return go


def error(status, code):
    xml = (f"<?xml version='1.0'?><Error><Code>{code}</Code><Message>try later</Message>"
           "<RequestId>R1</RequestId></Error>").encode()
    return lambda h: send(h, status, xml, {"Content-Type": "application/xml"})


def storm(failures):
    def go(h, n):
        if n <= failures:
            error(503, "SlowDown")(h)
        else:
            ok()(h, n)
    return go


def stall(h, n):
    h.send_response(200)
    h.send_header("Content-Length", str(len(BODY)))
    h.send_header("ETag", etag(BODY))
    h.end_headers()
    h.wfile.write(BODY[:100])
    h.wfile.flush()
    h.server.stop.wait(30)
    h.close_connection = True


def silent(h, n):
    h.server.stop.wait(30)
    h.close_connection = True


def short(h, n):
    send(h, 200, BODY[:10], {"ETag": etag(BODY)}, length=len(BODY))
    h.close_connection = True


def slow(h, n):
    h.send_response(200)
    h.send_header("Content-Length", str(len(BODY)))
    h.send_header("ETag", etag(BODY))
    h.end_headers()
    for i in range(len(BODY)):
        if h.server.stop.is_set():
            break
        try:
            h.wfile.write(BODY[i:i + 1])
            h.wfile.flush()
        except OSError:
            break
        time.sleep(0.05)
    h.close_connection = True


@pytest.fixture
def fake():
    srv = Fake()
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv
    srv.stop.set()
    srv.shutdown()
    srv.server_close()


def env(tmp_path, **extra):
    e = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    e.update({
        "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "dummy-secret",
        "AWS_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
        "DBTRUN_TEST_NO_BACKOFF": "1",
    })
    e.update(extra)
    return e


@pytest.fixture
def dest(tmp_path):
    d = tmp_path / "out"
    d.mkdir()
    f = d / "file.txt"
    f.write_bytes(OLD)
    return f


def cp(fake, tmp_path, dest, *opts, timeout=60, **extra):
    start = time.monotonic()
    r = subprocess.run([DBTRUN, "aws", "--endpoint-url", fake.url, *opts, "s3", "cp",
                        "s3://bkt/dir/file.txt", str(dest)], env=env(tmp_path, **extra),
                       capture_output=True, text=True, timeout=timeout)
    return r, time.monotonic() - start


def assert_intact(dest):
    assert dest.read_bytes() == OLD
    assert sorted(p.name for p in dest.parent.iterdir()) == [dest.name]


def test_success_replaces_the_file(fake, tmp_path, dest):
    r, _ = cp(fake, tmp_path, dest)
    assert r.returncode == 0, r.stderr
    assert dest.read_bytes() == BODY
    assert sorted(p.name for p in dest.parent.iterdir()) == [dest.name]


def test_stall_mid_body_times_out(fake, tmp_path, dest):
    fake.behaviour = stall
    r, took = cp(fake, tmp_path, dest, "--cli-read-timeout", "1", AWS_MAX_ATTEMPTS="2")
    assert r.returncode == 1
    assert "GetObject s3://bkt/dir/file.txt: NetworkError" in r.stderr
    assert len(fake.gets()) == 2
    assert took < 20
    assert_intact(dest)


def test_server_that_never_answers_times_out(fake, tmp_path, dest):
    fake.behaviour = silent
    r, took = cp(fake, tmp_path, dest, "--cli-read-timeout", "1", AWS_MAX_ATTEMPTS="1")
    assert r.returncode == 1
    assert "NetworkError" in r.stderr
    assert len(fake.gets()) == 1
    assert took < 15
    assert_intact(dest)


def test_short_body_is_retried_then_fails(fake, tmp_path, dest):
    fake.behaviour = short
    r, took = cp(fake, tmp_path, dest)
    assert r.returncode == 1
    assert "GetObject s3://bkt/dir/file.txt" in r.stderr
    assert len(fake.gets()) == 3
    assert took < 30
    assert_intact(dest)


def test_storm_then_success(fake, tmp_path, dest):
    fake.behaviour = storm(2)
    r, took = cp(fake, tmp_path, dest)
    assert r.returncode == 0, r.stderr
    assert len(fake.gets()) == 3
    assert dest.read_bytes() == BODY
    assert took < 30


def test_endless_503_stops_after_max_attempts(fake, tmp_path, dest):
    fake.behaviour = storm(1000)
    r, took = cp(fake, tmp_path, dest, AWS_MAX_ATTEMPTS="2")
    assert r.returncode == 1
    assert "SlowDown (503)" in r.stderr
    assert len(fake.gets()) == 2
    assert took < 30
    assert_intact(dest)


def test_max_attempts_from_the_profile(fake, tmp_path, dest):
    (tmp_path / "config").write_text("[default]\nmax_attempts = 4\nretry_mode = standard\n")
    fake.behaviour = storm(1000)
    r, _ = cp(fake, tmp_path, dest, AWS_CONFIG_FILE=str(tmp_path / "config"))
    assert r.returncode == 1
    assert len(fake.gets()) == 4
    assert_intact(dest)


def test_bad_max_attempts_is_a_config_error(fake, tmp_path, dest):
    r, _ = cp(fake, tmp_path, dest, AWS_MAX_ATTEMPTS="zero")
    assert r.returncode == 1
    assert "ConfigError" in r.stderr and "AWS_MAX_ATTEMPTS" in r.stderr
    assert fake.gets() == []
    assert_intact(dest)


def checksum_crc32(body):
    return base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode()


def test_checksum_mode_is_asked_and_a_good_checksum_passes(fake, tmp_path, dest):
    fake.behaviour = ok(headers={"x-amz-checksum-crc32": checksum_crc32(BODY)})
    r, _ = cp(fake, tmp_path, dest)
    assert r.returncode == 0, r.stderr
    assert fake.gets()[0][2].get("x-amz-checksum-mode") == "ENABLED"
    # the first 16 MiB are asked for; this stand-in ignores Range and sends it all
    assert fake.gets()[0][2].get("Range") == "bytes=0-16777215"
    assert dest.read_bytes() == BODY


@pytest.mark.parametrize("header,value", [
    ("x-amz-checksum-crc32", checksum_crc32(b"something else")),
    ("x-amz-checksum-sha256", base64.b64encode(hashlib.sha256(b"x").digest()).decode()),
    ("ETag", etag(b"something else")),
])
def test_wrong_checksum_is_retried_then_fails(fake, tmp_path, dest, header, value):
    fake.behaviour = ok(headers={header: value})
    r, took = cp(fake, tmp_path, dest, AWS_MAX_ATTEMPTS="2")
    assert r.returncode == 1
    assert "GetObject s3://bkt/dir/file.txt: BadDigest" in r.stderr
    assert "expected" in r.stderr and "got" in r.stderr
    assert len(fake.gets()) == 2
    assert took < 30
    assert_intact(dest)


def test_kms_and_multipart_etags_are_not_md5s(fake, tmp_path, dest):
    fake.behaviour = ok(headers={"ETag": etag(b"other"),
                                 "x-amz-server-side-encryption": "aws:kms"})
    r, _ = cp(fake, tmp_path, dest)
    assert r.returncode == 0, r.stderr
    fake.behaviour = ok(headers={"ETag": '"0123456789abcdef0123456789abcdef-3"'})
    dest.write_bytes(OLD)
    r, _ = cp(fake, tmp_path, dest)
    assert r.returncode == 0, r.stderr
    assert dest.read_bytes() == BODY


def wait_for(cond, timeout=20):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupt_mid_transfer(fake, tmp_path, dest, sig, code):
    fake.behaviour = slow
    p = subprocess.Popen([DBTRUN, "aws", "--endpoint-url", fake.url, "s3", "cp",
                          "s3://bkt/dir/file.txt", str(dest)], env=env(tmp_path),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert wait_for(lambda: len(fake.gets()) == 1 and len(list(dest.parent.iterdir())) == 2)
    time.sleep(0.3)
    start = time.monotonic()
    p.send_signal(sig)
    _, err = p.communicate(timeout=20)
    assert p.returncode == code, err
    assert time.monotonic() - start < 5
    assert "Interrupted" in err
    time.sleep(0.3)
    assert len(fake.gets()) == 1
    assert_intact(dest)


def test_interrupt_in_a_task(fake, tmp_path, dest):
    fake.behaviour = slow
    (tmp_path / "dbtrun.lua").write_text(
        f'config {{ aws = {{ endpoint = "{fake.url}" }} }}\n'
        f'task("t", function() aws.s3.get("s3://bkt/dir/file.txt", "{dest}") end)\n')
    p = subprocess.Popen([DBTRUN, "t"], cwd=tmp_path, env=env(tmp_path),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert wait_for(lambda: len(fake.gets()) == 1 and len(list(dest.parent.iterdir())) == 2)
    time.sleep(0.3)
    start = time.monotonic()
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=20)
    assert p.returncode == 130, err
    assert time.monotonic() - start < 5
    assert len(fake.gets()) == 1
    assert_intact(dest)


def test_disk_full(fake, tmp_path):
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    m = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)],
                       capture_output=True, text=True)
    if m.returncode != 0:
        pytest.skip(f"cannot mount a tiny tmpfs: {m.stderr.strip()}")
    try:
        dest = mnt / "file.txt"
        dest.write_bytes(OLD)
        fake.behaviour = ok(body=b"x" * (256 << 10))
        r, took = cp(fake, tmp_path, dest)
        assert r.returncode == 1
        assert "No space left on device" in r.stderr
        assert took < 30
        assert_intact(dest)
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)


def test_upload_sync_never_sends_temp_files(moto, tmp_path):
    """Leftovers of a killed download (.NAME.dbtrun-<hex>, NAME.dbtrun-<6>) stay local."""
    boto3 = pytest.importorskip("boto3")
    s3 = boto3.client("s3", endpoint_url=moto, aws_access_key_id="testing",
                      aws_secret_access_key="testing", region_name="us-east-1")
    s3.create_bucket(Bucket="faults-sync")
    src = tmp_path / "site"
    (src / "sub").mkdir(parents=True)
    (src / "index.html").write_text("hi")
    (src / ".index.html.dbtrun-0123456789ab").write_text("partial")
    (src / "sub" / "a.json.dbtrun-Ab12Cd").write_text("partial")
    (src / "sub" / "keep.dbtrun-notatemp").write_text("kept")
    r = subprocess.run([DBTRUN, "aws", "--endpoint-url", moto, "s3", "sync", str(src),
                        "s3://faults-sync/p"], env=env(tmp_path), capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="faults-sync").get("Contents", []))
    assert keys == ["p/index.html", "p/sub/keep.dbtrun-notatemp"]


def test_reset_mid_part_over_https_is_retried_and_the_object_is_whole(moto, tmp_path):
    """Over HTTPS a part streams aws-chunked with its CRC32 as a trailer; a
    connection reset 1 MiB into part 2 makes dbtrun send the part again from
    its offset, summing afresh: the proxy checks the resent part's trailer,
    and the object is the file, byte for byte."""
    boto3 = pytest.importorskip("boto3")
    from sigcheck_proxy import SigCheckProxy, self_signed
    s3 = boto3.client("s3", endpoint_url=moto, aws_access_key_id="testing",
                      aws_secret_access_key="testing", region_name="us-east-1")
    s3.create_bucket(Bucket="faults-reset")
    data = os.urandom((20 << 20) + 5)  # parts of 16 MiB and 4 MiB + 5
    (tmp_path / "big.bin").write_bytes(data)
    tls = self_signed(tmp_path)
    proxy = SigCheckProxy(int(moto.rsplit(":", 1)[1]), {"AKIDEXAMPLE": "dummy-secret"}, tls=tls)
    resets = []

    def fault(method, path, headers):
        if method == "PUT" and "partNumber=2" in path and not resets:
            resets.append(path)
            return 1 << 20
        return None

    proxy.fault = fault
    proxy.start()
    try:
        r = subprocess.run([DBTRUN, "aws", "--endpoint-url", proxy.url, "s3", "cp",
                            str(tmp_path / "big.bin"), "s3://faults-reset/big.bin"],
                           env=env(tmp_path, AWS_CA_BUNDLE=tls[0]), capture_output=True,
                           text=True, timeout=120)
    finally:
        proxy.stop()
    assert r.returncode == 0, r.stderr
    assert len(resets) == 1
    parts = [p for m, p, _ in proxy.seen if m == "PUT"]
    assert sum("partNumber=2" in p for p in parts) == 1  # seen: the resent one (the cut is not)
    assert proxy.failures == []
    assert proxy.checked >= 4  # create, two parts, complete
    assert s3.get_object(Bucket="faults-reset", Key="big.bin")["Body"].read() == data
    assert not s3.list_multipart_uploads(Bucket="faults-reset").get("Uploads")


def test_task_config_sets_attempts_and_read_timeout(fake, tmp_path, dest):
    fake.behaviour = stall
    (tmp_path / "dbtrun.lua").write_text(
        f'config {{ aws = {{ endpoint = "{fake.url}", max_attempts = 2, read_timeout = 1,'
        f' connect_timeout = 5 }} }}\n'
        f'task("t", function() aws.s3.get("s3://bkt/dir/file.txt", "{dest}") end)\n')
    start = time.monotonic()
    r = subprocess.run([DBTRUN, "t"], cwd=tmp_path, env=env(tmp_path), capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 1, r.stderr
    assert "NetworkError" in r.stderr
    assert len(fake.gets()) == 2
    assert time.monotonic() - start < 20
    assert_intact(dest)


def test_bad_timeout_options_are_usage_errors(fake, tmp_path, dest):
    for opt, value in [("--cli-read-timeout", "-1"), ("--cli-connect-timeout", "soon")]:
        r, _ = cp(fake, tmp_path, dest, opt, value)
        assert r.returncode == 2
        assert opt in r.stderr
    r, _ = cp(fake, tmp_path, dest, "--cli-read-timeout", "0", "--cli-connect-timeout", "0")
    assert r.returncode == 0, r.stderr
    assert fake.gets() and fake.gets()[-1][0] == "GET"
    assert dest.read_bytes() == BODY
