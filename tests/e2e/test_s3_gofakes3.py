"""The S3 client against a second S3 implementation: gofakes3 (Go, installed by
tools/deps.sh) on 127.0.0.1, behind a proxy that re-signs every request with
botocore's signers and refuses any that differ (gofakes3 checks no signatures,
aws-notes.md). Unlike moto with checks on, this proves correct signatures on
awkward keys, multipart, paging, --delete and presigned URLs end to end."""
import hashlib
import os
import shutil
import subprocess
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from conftest import DBTRUN, _free_port, _wait_tcp

boto3 = pytest.importorskip("boto3")
from sigcheck_proxy import SigCheckProxy, self_signed  # noqa: E402 (needs botocore)

AKID, SECRET = "AKIDGOFAKES3", "gofakes3-secret/with+chars"
ODD_KEYS = ["with space.txt", "caf\u00e9/\u20ac uro.json", "plus+sign.txt", "pct%41.txt",
            "eq=sign&amp.txt", "tilde~semi;star*paren(.txt", "deep/a b/c+d/e=f%g.txt",
            "\u65e5\u672c/x.csv", "comma,and'quote.txt", "at@dollar$.txt"]


def _gofakes3():
    found = shutil.which("gofakes3") or str(Path.home() / "go" / "bin" / "gofakes3")
    if not os.access(found, os.X_OK):
        pytest.skip("gofakes3 is not installed (tools/deps.sh: go install ...gofakes3@v1.2.0)")
    return found


@pytest.fixture(scope="module")
def server():
    port = _free_port()
    proc = subprocess.Popen([_gofakes3(), "-backend", "memory", "-host", f"127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    proxy = None
    try:
        _wait_tcp(port, proc)
        proxy = SigCheckProxy(port, {AKID: SECRET}).start()
        direct = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                              aws_access_key_id="x", aws_secret_access_key="y")
        yield proxy, direct
    finally:
        if proxy:
            proxy.stop()
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def s3(server, tmp_path):
    """(run, direct boto3 client, bucket, proxy): run("cp", a, b) is `dbtrun aws s3 ...`
    through the checking proxy; every test ends with no signature refused."""
    proxy, direct = server
    bucket = "g-" + uuid.uuid4().hex[:16]
    direct.create_bucket(Bucket=bucket)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID=AKID, AWS_SECRET_ACCESS_KEY=SECRET, AWS_DEFAULT_REGION="us-east-1",
               AWS_ENDPOINT_URL=proxy.url, AWS_EC2_METADATA_DISABLED="true",
               AWS_CONFIG_FILE=str(tmp_path / "none"), AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"))

    def run(*args, extra_env=None):
        return subprocess.run([DBTRUN, "aws", "s3", *map(str, args)], cwd=tmp_path,
                              env={**env, **(extra_env or {})}, capture_output=True, text=True, timeout=180)

    before = len(proxy.failures)
    yield run, direct, bucket, proxy
    assert proxy.failures[before:] == []


def _keys(direct, bucket):
    pages = direct.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return sorted(o["Key"] for p in pages for o in p.get("Contents", []))


def test_odd_keys_round_trip(s3, tmp_path):
    run, direct, bucket, proxy = s3
    src = tmp_path / "src"
    for i, key in enumerate(ODD_KEYS):
        (src / key).parent.mkdir(parents=True, exist_ok=True)
        (src / key).write_text(f"body {i} of {key}\n")
    r = run("sync", src, f"s3://{bucket}/p/")
    assert r.returncode == 0, r.stderr
    assert _keys(direct, bucket) == sorted("p/" + k for k in ODD_KEYS)
    listed = run("ls", f"s3://{bucket}/p/", "--recursive")
    assert listed.returncode == 0, listed.stderr
    assert sorted(line.split(None, 3)[3] for line in listed.stdout.splitlines()) == sorted(
        "p/" + k for k in ODD_KEYS)
    for key in ODD_KEYS:
        out = tmp_path / "one.txt"
        r = run("cp", f"s3://{bucket}/p/{key}", out)
        assert r.returncode == 0, r.stderr
        assert out.read_text() == (src / key).read_text()
    assert proxy.checked > len(ODD_KEYS)


def test_multipart_round_trip(s3, tmp_path):
    run, direct, bucket, _ = s3
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(1 << 20) * 20)  # 20 MiB: parts of 16 and 4 MiB
    r = run("cp", big, f"s3://{bucket}/big.bin")
    assert r.returncode == 0, r.stderr
    got = direct.get_object(Bucket=bucket, Key="big.bin")["Body"].read()
    assert hashlib.md5(got).hexdigest() == hashlib.md5(big.read_bytes()).hexdigest()
    back = tmp_path / "back.bin"
    r = run("cp", f"s3://{bucket}/big.bin", back)
    assert r.returncode == 0, r.stderr
    assert back.read_bytes() == big.read_bytes()


def test_sync_with_delete(s3, tmp_path):
    run, direct, bucket, _ = s3
    src = tmp_path / "site"
    for name in ["index.html", "a/b.css", "a/c.js", "stale.txt"]:
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_text(name)
    assert run("sync", src, f"s3://{bucket}/site/").returncode == 0
    (src / "stale.txt").unlink()
    (src / "a/c.js").write_text("changed")
    r = run("sync", src, f"s3://{bucket}/site/", "--delete")
    assert r.returncode == 0, r.stderr
    assert _keys(direct, bucket) == ["site/a/b.css", "site/a/c.js", "site/index.html"]
    assert direct.get_object(Bucket=bucket, Key="site/a/c.js")["Body"].read() == b"changed"
    down = tmp_path / "down"
    r = run("sync", f"s3://{bucket}/site/", down, "--delete")
    assert r.returncode == 0, r.stderr
    assert sorted(str(p.relative_to(down)) for p in down.rglob("*") if p.is_file()) == [
        "a/b.css", "a/c.js", "index.html"]


def test_listing_pages_past_1000_keys(s3):
    run, direct, bucket, _ = s3
    for i in range(1105):
        direct.put_object(Bucket=bucket, Key=f"many/{i:05d}.txt", Body=b"x")
    r = run("ls", f"s3://{bucket}/many/", "--recursive")
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.splitlines()) == 1105
    r = run("rm", f"s3://{bucket}/many/", "--recursive")
    assert r.returncode == 0, r.stderr
    assert _keys(direct, bucket) == []


def test_presigned_url_is_accepted(s3):
    run, direct, bucket, proxy = s3
    direct.put_object(Bucket=bucket, Key="docs/a b+c.html", Body=b"<p>hi</p>")
    r = run("presign", f"s3://{bucket}/docs/a b+c.html", "--expires-in", "300")
    assert r.returncode == 0, r.stderr
    url = r.stdout.strip()
    assert url.startswith(proxy.url) and "X-Amz-Signature=" in url
    with urllib.request.urlopen(url, timeout=30) as resp:
        assert resp.read() == b"<p>hi</p>"
    before = len(proxy.failures)
    tampered = url.replace("X-Amz-Expires=300", "X-Amz-Expires=301")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(tampered, timeout=30)
    assert refused.value.code == 403 and len(proxy.failures) == before + 1
    del proxy.failures[before:]


def test_wrong_secret_is_refused_by_the_proxy(s3):
    """The proxy really checks: a wrong secret is a 403 that dbtrun reports
    with AWS's code, and nothing is written."""
    run, direct, bucket, proxy = s3
    before = len(proxy.failures)
    r = run("ls", f"s3://{bucket}/", extra_env={"AWS_SECRET_ACCESS_KEY": "wrong"})
    assert r.returncode != 0
    assert "SignatureDoesNotMatch" in r.stderr
    assert len(proxy.failures) > before
    del proxy.failures[before:]  # expected here; the fixture checks the rest


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1, trusted through AWS_CA_BUNDLE."""
    return self_signed(tmp_path_factory.mktemp("tls"))


def test_https_bodies_stream_with_a_crc32_trailer(s3, server, tls_files, tmp_path):
    """Over HTTPS, UploadPart and a PutObject above 64 KiB stream their body
    aws-chunked as STREAMING-UNSIGNED-PAYLOAD-TRAILER with the CRC32 as a
    trailer (the proxy decodes the body and checks the signature, the framing,
    the lengths and the CRC); a small PutObject goes as UNSIGNED-PAYLOAD with
    an x-amz-checksum-crc32 header; the multipart upload declares CRC32 and
    completes with each part's CRC32. Over plain HTTP every body is signed."""
    run, direct, bucket, plain = s3
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(20 << 20))  # parts of 16 and 4 MiB
    (tmp_path / "mid.bin").write_bytes(os.urandom((5 << 19) + 7))  # 2.5 MiB: three chunks
    (tmp_path / "small.txt").write_text("small\n")
    tls = SigCheckProxy(plain.upstream_port, {AKID: SECRET}, tls=tls_files, decode=True).start()
    try:
        extra = {"AWS_ENDPOINT_URL": tls.url, "AWS_CA_BUNDLE": tls_files[0]}
        for name in ("big.bin", "mid.bin", "small.txt"):
            r = run("cp", name, f"s3://{bucket}/tls/{name}", extra_env=extra)
            assert r.returncode == 0, r.stderr
        assert tls.failures == []
        bodies = {p.split("?")[0].rsplit("/", 1)[1] + ("#" + p.split("partNumber=")[1][:1]
                                                       if "partNumber=" in p else ""): h
                  for m, p, h in tls.seen if m == "PUT"}
        assert sorted(bodies) == ["big.bin#1", "big.bin#2", "mid.bin", "small.txt"]
        for name in ("big.bin#1", "big.bin#2", "mid.bin"):
            h = bodies[name]
            assert h["x-amz-content-sha256"] == "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
            assert h["content-encoding"] == "aws-chunked" and "transfer-encoding" not in h
            assert h["x-amz-trailer"] == "x-amz-checksum-crc32"
            assert "x-amz-checksum-crc32" not in h
        assert bodies["mid.bin"]["x-amz-decoded-content-length"] == str((5 << 19) + 7)
        assert bodies["small.txt"]["x-amz-content-sha256"] == "UNSIGNED-PAYLOAD"
        assert "x-amz-checksum-crc32" in bodies["small.txt"]
        create = [h for m, p, h in tls.seen if m == "POST" and p.endswith("?uploads")]
        assert create and create[0].get("x-amz-checksum-algorithm") == "CRC32"
    finally:
        tls.stop()
    for name in ("big.bin", "mid.bin", "small.txt"):
        got = direct.get_object(Bucket=bucket, Key=f"tls/{name}")["Body"].read()
        assert got == (tmp_path / name).read_bytes()
        assert "aws-chunked" not in direct.head_object(Bucket=bucket, Key=f"tls/{name}").get(
            "ContentEncoding", "")
    # the same uploads over plain HTTP: signed bodies, which the proxy checked
    before = len(plain.seen)
    for name in ("big.bin", "mid.bin"):
        assert run("cp", name, f"s3://{bucket}/plain/{name}").returncode == 0
    puts = [h for m, _, h in plain.seen[before:] if m == "PUT"]
    assert len(puts) == 3 and all(len(h["x-amz-content-sha256"]) == 64 for h in puts)


def test_cp_of_a_big_object_in_ranges_and_of_an_empty_one(s3, tmp_path):
    """gofakes3 honours Range and answers 416 for an empty object, as S3 does:
    a 21 MiB object comes as a 16 MiB first range, the rest If-Match its ETag
    and a HEAD, byte for byte; an empty object is an empty file."""
    run, direct, bucket, proxy = s3
    data = os.urandom(21 << 20)
    direct.put_object(Bucket=bucket, Key="big.bin", Body=data)
    direct.put_object(Bucket=bucket, Key="empty.txt", Body=b"")
    before = len(proxy.seen)
    r = run("cp", f"s3://{bucket}/big.bin", "down/big.bin")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "down/big.bin").read_bytes() == data
    seen = proxy.seen[before:]
    ranges = sorted(h.get("range", "") for m, _, h in seen if m == "GET")
    assert ranges == ["bytes=0-16777215", "bytes=16777216-22020095"]
    tag = direct.head_object(Bucket=bucket, Key="big.bin")["ETag"]
    later = [h.get("if-match") for m, _, h in seen if m != "GET" or h["range"] != ranges[0]]
    assert later == [tag] * 2  # the second range and the HEAD
    assert run("cp", f"s3://{bucket}/empty.txt", "down/empty.txt").returncode == 0
    assert (tmp_path / "down/empty.txt").read_bytes() == b""
    assert sorted(os.listdir(tmp_path / "down")) == ["big.bin", "empty.txt"]


def test_cp_notices_an_object_replaced_between_ranges_without_if_match(s3, tmp_path):
    """gofakes3 ignores If-Match: the later ranges' own ETag still tells the
    object changed, and no file mixing two versions is written."""
    run, direct, bucket, proxy = s3
    direct.put_object(Bucket=bucket, Key="big.bin", Body=os.urandom(20 << 20))
    replaced = []

    def replace_once(method, path, headers):
        if headers.get("If-Match") and not replaced:
            replaced.append(1)
            direct.put_object(Bucket=bucket, Key="big.bin", Body=os.urandom(20 << 20))

    proxy.before_forward = replace_once
    try:
        r = run("cp", f"s3://{bucket}/big.bin", "down/big.bin")
    finally:
        proxy.before_forward = None
    assert r.returncode == 1, r.stdout + r.stderr
    assert f"GetObject s3://{bucket}/big.bin: PreconditionFailed (412)" in r.stderr, r.stderr
    assert os.listdir(tmp_path / "down") == []
