"""End-to-end tests of `dbtrun aws s3 ...` against moto_server on 127.0.0.1,
cross-checked with boto3 and the real aws CLI. Signature checks stay off:
moto rejects correct signatures on percent-encoded paths (aws-notes.md), so
these tests prove behaviour, and the signer is proven by its own suites."""
import base64
import hashlib
import os
import signal
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
import zlib
from pathlib import Path

import pytest

from conftest import DBTRUN, ROOT, _free_port, _tool, _wait_tcp  # noqa: F401

boto3 = pytest.importorskip("boto3")

VENV_BIN = ROOT / ".venv" / "bin"
SEED_FILTERS = ["--exclude", "*.json", "--include", "index.html", "--include", "catalog.json",
                "--include", "manifest.json", "--include", "run_results.json"]
AWKWARD_KEYS = ["with space.txt", "caf\u00e9/\u20ac uro.json", "plus+sign.txt", "pct%41.txt",
                "eq=sign&amp.txt", "tilde~semi;star*paren(.txt", "deep/a b/c+d/e=f%g.txt"]


@pytest.fixture(scope="session")
def s3(moto):
    return boto3.client("s3", endpoint_url=moto, aws_access_key_id="testing",
                        aws_secret_access_key="testing", region_name="us-east-1")


@pytest.fixture
def bucket(s3):
    name = "t-" + uuid.uuid4().hex[:20]
    s3.create_bucket(Bucket=name)
    return name


def _env(endpoint, tmp_path):
    env = dict(os.environ)
    for k in list(env):
        if k.startswith("AWS_"):
            del env[k]
    env.update({
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
        "TZ": "UTC",
        "GITHUB_ACTIONS": "",  # the aws CLI's lines: on Actions dbtrun folds them into a group
    })
    return env


@pytest.fixture
def run(moto, tmp_path):
    """run("cp", a, b, cwd=...) -> CompletedProcess of `dbtrun aws s3 ...`."""

    def go(*args, cwd=None, endpoint=None, timeout=120):
        return subprocess.run([DBTRUN, "aws", "s3", *map(str, args)], cwd=cwd or tmp_path,
                              env=_env(endpoint or moto, tmp_path), capture_output=True,
                              text=True, timeout=timeout)

    return go


@pytest.fixture
def aws(moto, tmp_path):
    """The real aws CLI against the same moto."""

    def go(*args, cwd=None):
        return subprocess.run([_tool("aws"), "--endpoint-url", moto, "s3", *map(str, args)],
                              cwd=cwd or tmp_path, env=_env(moto, tmp_path),
                              capture_output=True, text=True, timeout=300)

    return go


def keys(s3, bucket, prefix=""):
    out = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for o in page.get("Contents", []):
            out[o["Key"][len(prefix):]] = s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()
    return out


def md5(data):
    return hashlib.md5(data).hexdigest()


def docs_tree(root):
    """A dbt target/ folder as `dbt docs generate` leaves it."""
    files = {
        "index.html": b"<html>docs</html>",
        "catalog.json": b'{"nodes": {}}',
        "manifest.json": b'{"metadata": {}}',
        "run_results.json": b'{"results": []}',
        "semantic_manifest.json": b"{}",
        "graph_summary.json": b"{}",
        "graph.gpickle": b"\x80\x04pickle",
        "partial_parse.msgpack": b"\x81\xa1a\x01",
        "compiled/proj/models/a.sql": b"select 1",
        "run/proj/models/nested/b.sql": b"select 2",
    }
    for rel, data in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    return files


# ---- cp --------------------------------------------------------------------


def test_cp_up_and_down_with_content_types(run, s3, bucket, tmp_path):
    (tmp_path / "manifest.json").write_text('{"a": 1}')
    (tmp_path / "graph.gpickle").write_bytes(b"\x00\x01binary")
    (tmp_path / "page.html").write_text("<p>")
    r = run("cp", "manifest.json", f"s3://{bucket}/artifacts/manifest.json")
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"upload: ./manifest.json to s3://{bucket}/artifacts/manifest.json\n"
    # a trailing slash means "into that folder", as with the aws CLI
    assert run("cp", "graph.gpickle", f"s3://{bucket}/artifacts/").returncode == 0
    assert run("cp", f"file://{tmp_path}/page.html", f"s3://{bucket}/p.html").returncode == 0

    head = s3.head_object(Bucket=bucket, Key="artifacts/manifest.json")
    assert head["ContentType"] == "application/json"
    assert head["ETag"].strip('"') == md5(b'{"a": 1}')
    assert s3.head_object(Bucket=bucket, Key="artifacts/graph.gpickle")["ContentType"] == \
        "binary/octet-stream"
    assert s3.head_object(Bucket=bucket, Key="p.html")["ContentType"] == "text/html"

    r = run("cp", f"s3://{bucket}/artifacts/manifest.json", ".artifacts/manifest.json")
    assert r.returncode == 0, r.stderr
    assert r.stdout == (f"download: s3://{bucket}/artifacts/manifest.json to "
                        ".artifacts/manifest.json\n")
    assert (tmp_path / ".artifacts/manifest.json").read_text() == '{"a": 1}'
    (tmp_path / "into").mkdir()
    assert run("cp", f"s3://{bucket}/artifacts/graph.gpickle", "into").returncode == 0
    assert (tmp_path / "into/graph.gpickle").read_bytes() == b"\x00\x01binary"


def test_cp_missing_key_keeps_the_old_file(run, bucket, tmp_path):
    d = tmp_path / ".artifacts"
    d.mkdir()
    (d / "manifest.json").write_text("old and good")
    r = run("cp", f"s3://{bucket}/artifacts/manifest.json", ".artifacts/manifest.json")
    assert r.returncode == 1
    assert (f"error: GetObject s3://{bucket}/artifacts/manifest.json: NoSuchKey (404): "
            "The specified key does not exist.") in r.stderr
    assert (d / "manifest.json").read_text() == "old and good"
    assert sorted(os.listdir(d)) == ["manifest.json"]  # no temporary file left


def test_cp_missing_bucket_and_bad_usage(run, tmp_path):
    (tmp_path / "f").write_text("x")
    r = run("cp", "f", "s3://no-such-bucket-dbtrun/f")
    assert r.returncode == 1 and "NoSuchBucket" in r.stderr
    assert run("cp", "f").returncode == 2
    assert run("cp", "f", "g").returncode == 2
    assert run("frobnicate").returncode == 2
    assert run("sync", "a", "b", "--bogus").returncode == 2


def test_unchanged_download_is_not_sent_again(run, s3, bucket, moto, tmp_path):
    s3.put_object(Bucket=bucket, Key="m.json", Body=b"x" * 1000)
    assert run("cp", f"s3://{bucket}/m.json", "m.json").returncode == 0
    before = os.stat(tmp_path / "m.json")
    proxy = CuttingProxy(int(moto.rsplit(":", 1)[1]))
    proxy.cut = False
    try:
        r = run("cp", f"s3://{bucket}/m.json", "m.json", endpoint=f"http://127.0.0.1:{proxy.port}")
    finally:
        proxy.close()
    assert r.returncode == 0, r.stderr
    after = os.stat(tmp_path / "m.json")
    assert (before.st_ino, before.st_mtime_ns) == (after.st_ino, after.st_mtime_ns)
    # exactly one request, a conditional GET with the object's ETag
    assert len(proxy.requests) == 1
    method, target, head = proxy.requests[0]
    assert method == b"GET" and f'if-none-match: "{md5(b"x" * 1000)}"'.encode() in head.lower()
    s3.put_object(Bucket=bucket, Key="m.json", Body=b"y" * 1000)
    assert run("cp", f"s3://{bucket}/m.json", "m.json").returncode == 0
    assert (tmp_path / "m.json").read_bytes() == b"y" * 1000


# ---- awkward keys -------------------------------------------------------------


def test_awkward_keys_round_trip(run, s3, bucket, tmp_path, aws):
    src = tmp_path / "src"
    for i, k in enumerate(AWKWARD_KEYS):
        p = src / k
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(f"body {i} of {k}".encode())
    r = run("sync", "src", f"s3://{bucket}/k/")
    assert r.returncode == 0, r.stderr
    got = keys(s3, bucket, "k/")
    assert sorted(got) == sorted(AWKWARD_KEYS)
    for i, k in enumerate(AWKWARD_KEYS):
        assert got[k] == f"body {i} of {k}".encode()
    # objects written by boto3, read by dbtrun
    for i, k in enumerate(AWKWARD_KEYS):
        s3.put_object(Bucket=bucket, Key="b/" + k, Body=f"boto {i}".encode())
        r = run("cp", f"s3://{bucket}/b/{k}", f"single/{i}")
        assert r.returncode == 0, r.stderr
        assert (tmp_path / f"single/{i}").read_bytes() == f"boto {i}".encode()
    r = run("sync", f"s3://{bucket}/b", "down")
    assert r.returncode == 0, r.stderr
    for i, k in enumerate(AWKWARD_KEYS):
        assert (tmp_path / "down" / k).read_bytes() == f"boto {i}".encode()
    # ls agrees with the aws CLI's
    mine, theirs = run("ls", "--recursive", f"s3://{bucket}/b/"), aws("ls", "--recursive",
                                                                       f"s3://{bucket}/b/")
    assert mine.returncode == 0 and theirs.returncode == 0
    assert mine.stdout == theirs.stdout


# ---- sync --------------------------------------------------------------------


def test_seed_docs_sync_matches_the_aws_cli(run, aws, s3, bucket, tmp_path):
    files = docs_tree(tmp_path / "target")
    for prefix in ("mine/", "theirs/"):
        s3.put_object(Bucket=bucket, Key=prefix + "stale.json", Body=b"stale")  # excluded: kept
        s3.put_object(Bucket=bucket, Key=prefix + "old.html", Body=b"old")  # deleted
        s3.put_object(Bucket=bucket, Key=prefix + "index.html", Body=b"<html>old</html>")
    args = ["--delete", *SEED_FILTERS]
    r = run("sync", "./target/", f"s3://{bucket}/mine/", *args)
    assert r.returncode == 0, r.stderr
    a = aws("sync", "./target/", f"s3://{bucket}/theirs/", *args, "--no-progress")
    assert a.returncode == 0, a.stderr
    mine, theirs = keys(s3, bucket, "mine/"), keys(s3, bucket, "theirs/")
    assert mine == theirs
    assert mine["stale.json"] == b"stale"
    assert "old.html" not in mine and "semantic_manifest.json" not in mine
    assert mine["index.html"] == files["index.html"]
    assert mine["graph.gpickle"] == files["graph.gpickle"]
    for k in mine:
        h1 = s3.head_object(Bucket=bucket, Key="mine/" + k)
        h2 = s3.head_object(Bucket=bucket, Key="theirs/" + k)
        assert h1["ContentType"] == h2["ContentType"], k
    # the same lines as the aws CLI, in any order
    assert sorted(r.stdout.replace("/mine/", "/X/").splitlines()) == \
        sorted(a.stdout.replace("/theirs/", "/X/").splitlines())
    # a second run has nothing to do
    r = run("sync", "./target/", f"s3://{bucket}/mine/", *args)
    assert r.returncode == 0 and r.stdout == ""


MIME_NAMES = ["index.html", "a.HTM", "style.css", "app.js", "mod.mjs", "manifest.json",
              "q.sql", "README.md", "seeds.csv", "t.tsv", "notes.txt", "doc.xml", "logo.svg",
              "x.png", "x.webp", "f.woff2", "run.py", "deploy.sh", "dist.tar", "dist.tgz",
              "dist.tar.gz", "dist.TAR.GZ", "dist.tar.bz2", "dist.txz", "rows.json.gz",
              "seeds.csv.gz", "img.svgz", "old.tar.Z", "raw.gz", "x.json.br", "graph.gpickle",
              "p.msgpack", "dbt_project.yml", "Makefile", ".hidden.json", "..json", "a.b.c.pdf"]


def test_content_types_match_the_aws_cli(run, aws, s3, bucket, tmp_path):
    """Whatever the aws CLI's mimetypes guesses on this machine (builtins plus
    /etc/mime.types), dbtrun sends the same Content-Type, and, like the CLI,
    no Content-Encoding for .gz and friends."""
    src = tmp_path / "files"
    src.mkdir()
    for n in MIME_NAMES:
        (src / n).write_bytes(b"x")
    r = run("sync", src, f"s3://{bucket}/mine/")
    assert r.returncode == 0, r.stderr
    a = aws("sync", src, f"s3://{bucket}/theirs/", "--no-progress")
    assert a.returncode == 0, a.stderr
    got = {}
    for n in MIME_NAMES:
        h1 = s3.head_object(Bucket=bucket, Key="mine/" + n)
        h2 = s3.head_object(Bucket=bucket, Key="theirs/" + n)
        got[n] = (h1["ContentType"], h1.get("ContentEncoding"))
        assert got[n] == (h2["ContentType"], h2.get("ContentEncoding")), n
    # the cases the old hand table got wrong, whatever /etc/mime.types says
    assert got["dist.tar.gz"][0] == got["dist.tgz"][0] == "application/x-tar"
    assert got["rows.json.gz"][0] == "application/json"
    assert got["seeds.csv.gz"][0] == "text/csv"
    assert got["run.py"][0] == "text/x-python"
    assert got["raw.gz"] == ("binary/octet-stream", None)


@pytest.mark.parametrize("args", [
    [],
    ["--delete"],
    ["--exclude", "*"],
    ["--exclude", "*", "--include", "*.sql", "--delete"],
    ["--include", "*.sql", "--exclude", "*", "--delete"],
    ["--exclude", "compiled/*", "--delete"],
    ["--exclude", "*.JSON", "--delete"],
])
def test_sync_cases_match_the_aws_cli(run, aws, s3, bucket, tmp_path, args):
    docs_tree(tmp_path / "target")
    for prefix in ("mine/", "theirs/"):
        s3.put_object(Bucket=bucket, Key=prefix + "gone.sql", Body=b"x")
        s3.put_object(Bucket=bucket, Key=prefix + "compiled/old.sql", Body=b"x")
    r = run("sync", "target", f"s3://{bucket}/mine", *args)
    a = aws("sync", "target", f"s3://{bucket}/theirs", *args)
    assert r.returncode == a.returncode == 0, r.stderr + a.stderr
    assert keys(s3, bucket, "mine/") == keys(s3, bucket, "theirs/")


def test_sync_down_with_delete_and_filters(run, aws, s3, bucket, tmp_path):
    for k, v in {"a.json": b"1", "sub/b.txt": b"22", "keep.log": b"remote"}.items():
        s3.put_object(Bucket=bucket, Key="p/" + k, Body=v)
    for d in ("mine", "theirs"):
        (tmp_path / d / "sub").mkdir(parents=True)
        (tmp_path / d / "extra.txt").write_text("local only")
        (tmp_path / d / "mine.log").write_text("excluded, kept")
        (tmp_path / d / "sub/b.txt").write_text("xx")  # same size, other bytes
    args = ["--delete", "--exclude", "*.log"]
    r = run("sync", f"s3://{bucket}/p/", "mine", *args)
    assert r.returncode == 0, r.stderr
    a = aws("sync", f"s3://{bucket}/p/", "theirs", *args)
    assert a.returncode == 0, a.stderr
    mine = tmp_path / "mine"
    assert (mine / "a.json").read_bytes() == b"1"
    assert (mine / "sub/b.txt").read_bytes() == b"22"  # MD5 differs: downloaded
    assert not (mine / "extra.txt").exists()
    assert (mine / "mine.log").read_text() == "excluded, kept"
    assert not (mine / "keep.log").exists()  # excluded: not downloaded either
    listing = lambda d: sorted(str(p.relative_to(d)) for p in d.rglob("*") if p.is_file())
    # the aws CLI decides by size and time, so its sub/b.txt may stay stale;
    # the set of files is what both must agree on
    assert listing(mine) == listing(tmp_path / "theirs")
    r = run("sync", f"s3://{bucket}/p/", "mine", *args)
    assert r.returncode == 0 and r.stdout == ""


def test_dryrun_changes_nothing(run, s3, bucket, tmp_path):
    docs_tree(tmp_path / "target")
    s3.put_object(Bucket=bucket, Key="d/old.html", Body=b"old")
    r = run("sync", "target", f"s3://{bucket}/d", "--delete", "--dryrun")
    assert r.returncode == 0, r.stderr
    assert f"(dryrun) upload: target/index.html to s3://{bucket}/d/index.html" in r.stdout
    assert f"(dryrun) delete: s3://{bucket}/d/old.html" in r.stdout
    assert list(keys(s3, bucket, "d/")) == ["old.html"]


def test_second_sync_of_many_files_transfers_nothing(run, s3, bucket, tmp_path):
    src = tmp_path / "many"
    for i in range(1000):
        p = src / f"d{i % 7}" / f"f{i}.html"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(f"page {i}")
    r = run("sync", "many", f"s3://{bucket}/many/")
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.splitlines()) == 1000
    assert len(keys(s3, bucket, "many/")) == 1000
    # touch every file: newer mtimes, same bytes — the MD5 says unchanged
    now = time.time() + 100
    for p in src.rglob("*.html"):
        os.utime(p, (now, now))
    r = run("sync", "many", f"s3://{bucket}/many/", "--delete")
    assert r.returncode == 0 and r.stdout == ""


def test_a_failed_item_is_reported_after_the_lines_before_it_in_a_log_of_both_streams(
        moto, s3, bucket, tmp_path):
    # per-file lines into a pipe are flushed in batches (src/aws/sync.c), but
    # never after an error line that came later, nor left unwritten at the end
    for name in ("a.txt", "b.txt", "c.txt"):
        s3.put_object(Bucket=bucket, Key=f"in/{name}", Body=name.encode())
    (tmp_path / "down" / "b.txt").mkdir(parents=True)  # b.txt cannot be written there
    r = subprocess.run([DBTRUN, "aws", "s3", "sync", f"s3://{bucket}/in/", "down/", "--jobs", "1"],
                       cwd=tmp_path, env=_env(moto, tmp_path), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=120)
    lines = r.stdout.splitlines()
    assert r.returncode != 0
    assert [line.split(":")[0] for line in lines] == ["download", "error", "download"], lines
    assert "a.txt" in lines[0] and "b.txt" in lines[1] and "c.txt" in lines[2]


# ---- multipart -------------------------------------------------------------------


def test_multipart_upload_50mib(run, s3, bucket, tmp_path):
    data = os.urandom(50 << 20)
    (tmp_path / "big").mkdir()
    (tmp_path / "big/blob.bin").write_bytes(data)
    r = run("cp", "big/blob.bin", f"s3://{bucket}/big/blob.bin")
    assert r.returncode == 0, r.stderr
    head = s3.head_object(Bucket=bucket, Key="big/blob.bin")
    assert head["ContentLength"] == len(data)
    assert head["ETag"].strip('"').endswith("-4")  # three parts of 16 MiB and one of 2
    body = s3.get_object(Bucket=bucket, Key="big/blob.bin")["Body"].read()
    assert md5(body) == md5(data)
    assert not s3.list_multipart_uploads(Bucket=bucket).get("Uploads")
    # back down, and a sync of the folder finds it unchanged (multipart ETag)
    assert run("cp", f"s3://{bucket}/big/blob.bin", "copy.bin").returncode == 0
    assert md5((tmp_path / "copy.bin").read_bytes()) == md5(data)
    r = run("sync", "big", f"s3://{bucket}/big/")
    assert r.returncode == 0 and r.stdout == ""


def test_sync_knows_the_aws_clis_multipart_etag(run, aws, s3, bucket, tmp_path):
    """An object the aws CLI uploaded in 8 MiB parts is recognised as the same
    file although dbtrun would cut it into 16 MiB parts."""
    (tmp_path / "big").mkdir()
    (tmp_path / "big/blob.bin").write_bytes(os.urandom(20 << 20))
    assert aws("cp", "big/blob.bin", f"s3://{bucket}/big/blob.bin").returncode == 0
    assert s3.head_object(Bucket=bucket, Key="big/blob.bin")["ETag"].strip('"').endswith("-3")
    later = time.time() + 100  # newer than the object: only the ETag can say "unchanged"
    os.utime(tmp_path / "big/blob.bin", (later, later))
    r = run("sync", "big", f"s3://{bucket}/big/")
    assert r.returncode == 0 and r.stdout == "", r.stdout


# ---- safety ----------------------------------------------------------------------


def test_keys_that_climb_out_are_refused(run, s3, bucket, tmp_path):
    for k in ["p/../evil.txt", "p/a/../../evil2.txt", "p//abs.txt", "p/ok.txt"]:
        s3.put_object(Bucket=bucket, Key=k, Body=b"x")
    dest = tmp_path / "dest" / "inner"
    r = run("sync", f"s3://{bucket}/p", "dest/inner")
    assert r.returncode == 1
    assert "refusing to write outside" in r.stderr
    assert (dest / "ok.txt").read_bytes() == b"x"
    found = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert found == ["dest/inner/ok.txt"]
    # cp of such a key into a folder is refused too
    r = run("cp", f"s3://{bucket}/p/..", "dest/")
    assert r.returncode != 0
    # a symbolic link inside the destination does not lead outside either
    (tmp_path / "outside").mkdir()
    (dest / "link").symlink_to(tmp_path / "outside")
    s3.put_object(Bucket=bucket, Key="q/link/planted.txt", Body=b"x")
    r = run("sync", f"s3://{bucket}/q", "dest/inner")
    assert r.returncode == 1 and "outside" in r.stderr
    assert not (tmp_path / "outside/planted.txt").exists()
    # ...nor makes folders there: the link is refused before any mkdir
    s3.put_object(Bucket=bucket, Key="q/link/newdir/f.txt", Body=b"x")
    for args in (["sync", f"s3://{bucket}/q", "dest/inner"],
                 ["cp", "--recursive", f"s3://{bucket}/q", "dest/inner"]):
        r = run(*args)
        assert r.returncode == 1 and "is a symbolic link" in r.stderr, r.stderr
        assert list((tmp_path / "outside").iterdir()) == []


class CuttingProxy:
    """A loopback proxy that forwards each request to moto and, for the
    requests should_cut picks, sends back only the first half of moto's
    answer, then resets the connection."""

    def __init__(self, upstream_port):
        self.upstream = upstream_port
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.cuts = 0
        self.cut = True
        self.requests = []  # (method, target, request head) of each request seen
        # which requests to cut: GETs of an object by default
        self.should_cut = lambda method, target: method == b"GET" and b"list-type" not in target
        self.cut_head = lambda head: True  # and which of those, by the request head
        self.mangle = None  # (request head, response) -> the response to send instead
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    @staticmethod
    def _read_message(sock, first=b""):
        data = first
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                return None, None
            data += chunk
        head, rest = data.split(b"\r\n\r\n", 1)
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        return head, rest, length

    def _handle(self, conn):
        with conn:
            buf = b""
            while True:
                got = self._read_message(conn, buf)
                if got[0] is None:
                    return
                head, rest, length = got
                while len(rest) < length:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    rest += chunk
                body, buf = rest[:length], rest[length:]
                self.requests.append((*head.split(b" ", 2)[:2], head))
                with socket.create_connection(("127.0.0.1", self.upstream)) as up:
                    lines = head.split(b"\r\n")
                    lines = [l for l in lines if not l.lower().startswith(b"connection:")]
                    up.sendall(b"\r\n".join(lines) + b"\r\nConnection: close\r\n\r\n" + body)
                    resp = b""
                    while True:
                        chunk = up.recv(65536)
                        if not chunk:
                            break
                        resp += chunk
                rhead, _, rbody = resp.partition(b"\r\n\r\n")
                method, target = head.split(b" ", 2)[:2]
                if (self.cut and self.should_cut(method, target) and self.cut_head(head)
                        and rhead.split(b" ")[1] in (b"200", b"206")):
                    self.cuts += 1
                    conn.sendall(resp[: len(resp) // 2])  # for a GET: headers, part of the body
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                    b"\x01\x00\x00\x00\x00\x00\x00\x00")  # RST
                    return
                try:
                    conn.sendall(self.mangle(head, resp) if self.mangle else resp)
                except OSError:
                    pass  # the client is gone (an interrupted run)
                return  # moto closed its side; so do we

    def close(self):
        self.sock.close()


def test_connection_reset_mid_download_keeps_the_old_file(run, s3, bucket, moto, tmp_path):
    s3.put_object(Bucket=bucket, Key="artifacts/manifest.json", Body=b"N" * 200_000)
    d = tmp_path / ".artifacts"
    d.mkdir()
    (d / "manifest.json").write_bytes(b"old manifest")
    proxy = CuttingProxy(int(moto.rsplit(":", 1)[1]))
    try:
        r = run("cp", f"s3://{bucket}/artifacts/manifest.json", ".artifacts/manifest.json",
                endpoint=f"http://127.0.0.1:{proxy.port}")
        assert r.returncode == 1, r.stdout + r.stderr
        assert proxy.cuts >= 1
        assert (d / "manifest.json").read_bytes() == b"old manifest"
        assert sorted(os.listdir(d)) == ["manifest.json"]
        # once the network behaves, the same command succeeds
        proxy.cut = False
        r = run("cp", f"s3://{bucket}/artifacts/manifest.json", ".artifacts/manifest.json",
                endpoint=f"http://127.0.0.1:{proxy.port}")
        assert r.returncode == 0, r.stderr
        assert (d / "manifest.json").read_bytes() == b"N" * 200_000
    finally:
        proxy.close()


def test_big_download_comes_in_ranges_and_a_failed_range_keeps_the_old_file(run, s3, bucket,
                                                                          moto, tmp_path):
    data = os.urandom(40 << 20)  # ranges of 16, 16 and 8 MiB; a single-part MD5 ETag
    s3.put_object(Bucket=bucket, Key="big/blob.bin", Body=data)
    d = tmp_path / "down"
    d.mkdir()
    (d / "blob.bin").write_bytes(b"old")
    proxy = CuttingProxy(int(moto.rsplit(":", 1)[1]))
    proxy.cut_head = lambda head: b"range: bytes=16777216-33554431" in head.lower()
    try:
        r = run("sync", f"s3://{bucket}/big/", "down", endpoint=f"http://127.0.0.1:{proxy.port}")
        assert r.returncode == 1, r.stdout + r.stderr
        assert "GetObject" in r.stderr
        assert proxy.cuts == 3  # that range, retried up to the attempts
        assert (d / "blob.bin").read_bytes() == b"old"
        assert sorted(os.listdir(d)) == ["blob.bin"]
        proxy.cut = False
        proxy.requests.clear()
        r = run("sync", f"s3://{bucket}/big/", "down", endpoint=f"http://127.0.0.1:{proxy.port}")
        assert r.returncode == 0, r.stderr
        assert md5((d / "blob.bin").read_bytes()) == md5(data)
        assert sorted(os.listdir(d)) == ["blob.bin"]
        ranges = sorted(h.lower().split(b"range: bytes=")[1].split(b"\r\n")[0]
                        for m, _, h in proxy.requests if m == b"GET" and b"range:" in h.lower())
        assert ranges == [b"0-16777215", b"16777216-33554431", b"33554432-41943039"]
        # the first range learns the size and the ETag; every later one asks If-Match it
        assert all((b"if-match:" in h.lower()) != (b"range: bytes=0-" in h.lower())
                   for m, _, h in proxy.requests if m == b"GET" and b"range:" in h.lower())
    finally:
        proxy.close()


def test_ranged_download_checks_the_whole_object_checksum(run, s3, bucket, moto, tmp_path):
    """The ranges are checked as a whole against what the HEAD (checksum mode)
    claims: boto3 stored a full-object CRC32. One flipped byte in one range is
    caught, fetched again, and the file is never written with it."""
    data = os.urandom(33 << 20)
    s3.put_object(Bucket=bucket, Key="big/blob.bin", Body=data)
    proxy = CuttingProxy(int(moto.rsplit(":", 1)[1]))
    proxy.cut = False
    proxy.mangle = lambda head, resp: (resp[:-1] + bytes([resp[-1] ^ 1])
                                       if b"range: bytes=0-" in head.lower() else resp)
    try:
        r = run("sync", f"s3://{bucket}/big/", "down", endpoint=f"http://127.0.0.1:{proxy.port}")
        assert r.returncode == 1, r.stdout + r.stderr
        assert "BadDigest: x-amz-checksum-crc32 expected" in r.stderr, r.stderr
        heads = [h for m, _, h in proxy.requests if m == b"HEAD"]
        assert len(heads) == 3 and all(b"x-amz-checksum-mode: enabled" in h.lower() for h in heads)
        assert list((tmp_path / "down").iterdir()) == []  # no file, no temporary one
    finally:
        proxy.close()


def test_interrupt_during_a_ranged_download_keeps_the_old_file(s3, bucket, moto, tmp_path):
    s3.put_object(Bucket=bucket, Key="big/blob.bin", Body=os.urandom(33 << 20))
    d = tmp_path / "down"
    d.mkdir()
    (d / "blob.bin").write_bytes(b"old")
    proxy = CuttingProxy(int(moto.rsplit(":", 1)[1]))
    proxy.cut = False
    proxy.mangle = lambda head, resp: (time.sleep(10) if b"range:" in head.lower() else None) or resp
    try:
        p = subprocess.Popen([DBTRUN, "aws", "s3", "sync", f"s3://{bucket}/big/", "down"],
                             cwd=tmp_path, env=_env(f"http://127.0.0.1:{proxy.port}", tmp_path),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while not any(b"range:" in h.lower() for _, _, h in proxy.requests):
            assert time.monotonic() < deadline and p.poll() is None
            time.sleep(0.05)
        time.sleep(0.3)
        start = time.monotonic()
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=30)
        assert p.returncode == 130, err
        assert "Interrupted" in err
        assert time.monotonic() - start < 5
        assert (d / "blob.bin").read_bytes() == b"old"
        assert sorted(os.listdir(d)) == ["blob.bin"]
    finally:
        proxy.close()


def _range_of(head):
    """The Range a request head asks for ("" for none)."""
    low = head.lower()
    return low.split(b"range: bytes=")[1].split(b"\r\n")[0].decode() if b"range:" in low else ""


def test_cp_of_a_big_object_comes_in_ranges_after_the_first(run, s3, bucket, moto, tmp_path):
    """No HEAD first: the first GET asks for 16 MiB, its Content-Range gives
    the size, then the rest (If-Match the first answer's ETag) and a HEAD
    for the checksum go out while it streams. A multipart object, as big
    uploads are. Unchanged, it costs one conditional GET (a 304)."""
    data = os.urandom(21 << 20)
    (tmp_path / "up.bin").write_bytes(data)
    assert run("cp", "up.bin", f"s3://{bucket}/big/blob.bin").returncode == 0
    tag = s3.head_object(Bucket=bucket, Key="big/blob.bin")["ETag"]
    assert tag.strip('"').endswith("-2")  # 16 and 5 MiB parts
    proxy = CuttingProxy(int(moto.rsplit(":", 1)[1]))
    proxy.cut = False
    try:
        r = run("cp", f"s3://{bucket}/big/blob.bin", "down/blob.bin",
                endpoint=f"http://127.0.0.1:{proxy.port}")
        first_run = list(proxy.requests)
        # unchanged: one conditional GET of the first range, answered 304
        again = run("cp", f"s3://{bucket}/big/blob.bin", "down/blob.bin",
                    endpoint=f"http://127.0.0.1:{proxy.port}")
        assert again.returncode == 0, again.stderr
        second_run = proxy.requests[len(first_run):]
        assert [(m, _range_of(h)) for m, _, h in second_run] == [(b"GET", "0-16777215")]
        assert f"if-none-match: {tag}".encode() in second_run[0][2].lower()
    finally:
        proxy.close()
    proxy.requests = first_run
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "down/blob.bin").read_bytes() == data
    assert sorted(os.listdir(tmp_path / "down")) == ["blob.bin"]
    gets = [(_range_of(h), h.lower()) for m, _, h in proxy.requests if m == b"GET"]
    assert sorted(g for g, _ in gets) == ["0-16777215", "16777216-22020095"]
    first = next(h for g, h in gets if g == "0-16777215")
    rest = next(h for g, h in gets if g != "0-16777215")
    assert b"if-match:" not in first and f"if-match: {tag}".encode() in rest
    heads = [h.lower() for m, _, h in proxy.requests if m == b"HEAD"]
    assert len(heads) == 1 and f"if-match: {tag}".encode() in heads[0]
    assert len(proxy.requests) == 3


def test_cp_of_a_small_object_is_one_ranged_get_and_an_unchanged_one_is_a_304(run, s3, bucket,
                                                                            moto, tmp_path):
    s3.put_object(Bucket=bucket, Key="m.json", Body=b"x" * 1000, ChecksumAlgorithm="CRC32")
    proxy = CuttingProxy(int(moto.rsplit(":", 1)[1]))
    proxy.cut = False
    try:
        for _ in range(2):
            r = run("cp", f"s3://{bucket}/m.json", "m.json",
                    endpoint=f"http://127.0.0.1:{proxy.port}")
            assert r.returncode == 0, r.stderr
    finally:
        proxy.close()
    assert (tmp_path / "m.json").read_bytes() == b"x" * 1000
    assert [(m, _range_of(h)) for m, _, h in proxy.requests] == [(b"GET", "0-16777215")] * 2
    assert b"if-none-match:" in proxy.requests[1][2].lower()  # answered 304, nothing sent again


def test_cp_in_ranges_matches_the_aws_cli_copy(run, aws, s3, bucket, tmp_path):
    """An object the aws CLI uploaded in 8 MiB parts (a -5 ETag, 33 MiB: a
    first range of 16 MiB and one more of 17): dbtrun's copy is the aws
    CLI's, byte for byte."""
    data = os.urandom(33 << 20)
    (tmp_path / "src.bin").write_bytes(data)
    assert aws("cp", "src.bin", f"s3://{bucket}/cli/src.bin").returncode == 0
    assert s3.head_object(Bucket=bucket, Key="cli/src.bin")["ETag"].strip('"').endswith("-5")
    assert aws("cp", f"s3://{bucket}/cli/src.bin", "by-aws.bin").returncode == 0
    r = run("cp", f"s3://{bucket}/cli/src.bin", "by-dbtrun.bin")
    assert r.returncode == 0, r.stderr
    assert md5((tmp_path / "by-dbtrun.bin").read_bytes()) == md5(
        (tmp_path / "by-aws.bin").read_bytes()) == md5(data)


def test_cp_survives_a_reset_in_its_first_range_while_the_rest_comes(run, s3, bucket, moto,
                                                                    tmp_path):
    """The first answer is cut mid-body after the other ranges went out: only
    it is asked again (same object: the rest is not), and the file is whole."""
    data = os.urandom(20 << 20)
    s3.put_object(Bucket=bucket, Key="big/blob.bin", Body=data)
    proxy = CuttingProxy(int(moto.rsplit(":", 1)[1]))
    cuts = []
    proxy.cut_head = lambda head: (_range_of(head) == "0-16777215" and not cuts
                                   and not cuts.append(1))  # the first answer, once
    try:
        r = run("cp", f"s3://{bucket}/big/blob.bin", "down/blob.bin",
                endpoint=f"http://127.0.0.1:{proxy.port}")
    finally:
        proxy.close()
    assert r.returncode == 0, r.stderr
    assert proxy.cuts == 1
    assert (tmp_path / "down/blob.bin").read_bytes() == data
    assert sorted(os.listdir(tmp_path / "down")) == ["blob.bin"]
    gets = sorted(_range_of(h) for m, _, h in proxy.requests if m == b"GET")
    assert gets == ["0-16777215", "0-16777215", "16777216-20971519"]


@pytest.mark.parametrize("where", ["file", "folder"])
def test_cp_of_an_empty_object(run, s3, bucket, tmp_path, where):
    """S3 answers 416 to any range of an empty object: that is an empty file."""
    s3.put_object(Bucket=bucket, Key="d/empty.txt", Body=b"")
    (tmp_path / "out").mkdir()
    (tmp_path / "out/empty.txt").write_bytes(b"old")
    r = run("cp", f"s3://{bucket}/d/empty.txt", "out/empty.txt" if where == "file" else "out/")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "out/empty.txt").read_bytes() == b""
    assert sorted(os.listdir(tmp_path / "out")) == ["empty.txt"]
    # unchanged: still fine (a conditional GET)
    assert run("cp", f"s3://{bucket}/d/empty.txt", "out/empty.txt").returncode == 0


def test_cp_of_an_object_replaced_between_its_ranges_fails_and_leaves_nothing(run, s3, bucket,
                                                                              moto, tmp_path):
    s3.put_object(Bucket=bucket, Key="big/blob.bin", Body=os.urandom(20 << 20))
    proxy = CuttingProxy(int(moto.rsplit(":", 1)[1]))
    proxy.cut = False

    def replace_once(head, resp):
        if _range_of(head) == "0-16777215" and not replaced:
            replaced.append(1)
            s3.put_object(Bucket=bucket, Key="big/blob.bin", Body=os.urandom(20 << 20))
        return resp

    replaced = []
    proxy.mangle = replace_once
    try:
        r = run("cp", f"s3://{bucket}/big/blob.bin", "down/blob.bin",
                endpoint=f"http://127.0.0.1:{proxy.port}")
    finally:
        proxy.close()
    assert r.returncode == 1, r.stdout + r.stderr
    assert f"GetObject s3://{bucket}/big/blob.bin: PreconditionFailed (412)" in r.stderr, r.stderr
    assert "replaced while it was being downloaded" in r.stderr
    assert os.listdir(tmp_path / "down") == []  # no file, no temporary one


@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupt_during_a_ranged_cp_leaves_nothing(s3, bucket, moto, tmp_path, sig, code):
    s3.put_object(Bucket=bucket, Key="big/blob.bin", Body=os.urandom(20 << 20))
    (tmp_path / "down").mkdir()
    proxy = CuttingProxy(int(moto.rsplit(":", 1)[1]))
    proxy.cut = False
    later = b"range: bytes=16777216-"
    proxy.mangle = lambda head, resp: (time.sleep(10) if later in head.lower() else None) or resp
    try:
        p = subprocess.Popen([DBTRUN, "aws", "s3", "cp", f"s3://{bucket}/big/blob.bin", "down/"],
                             cwd=tmp_path, env=_env(f"http://127.0.0.1:{proxy.port}", tmp_path),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while not any(later in h.lower() for _, _, h in proxy.requests):
            assert time.monotonic() < deadline and p.poll() is None
            time.sleep(0.05)
        time.sleep(0.3)
        start = time.monotonic()
        p.send_signal(sig)
        _, err = p.communicate(timeout=30)
        assert p.returncode == code, err
        assert "Interrupted" in err
        assert time.monotonic() - start < 5
        assert os.listdir(tmp_path / "down") == []
    finally:
        proxy.close()


def test_failed_part_aborts_the_multipart_upload(run, s3, bucket, moto, tmp_path):
    (tmp_path / "big.bin").write_bytes(os.urandom(17 << 20))
    proxy = CuttingProxy(int(moto.rsplit(":", 1)[1]))
    proxy.should_cut = lambda method, target: method == b"PUT" and b"partNumber=2" in target
    try:
        r = run("cp", "big.bin", f"s3://{bucket}/big.bin",
                endpoint=f"http://127.0.0.1:{proxy.port}")
    finally:
        proxy.close()
    assert r.returncode == 1, r.stdout + r.stderr
    assert "UploadPart" in r.stderr
    assert proxy.cuts >= 1
    assert not s3.list_multipart_uploads(Bucket=bucket).get("Uploads")
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


def _crc32_b64(data):
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def test_https_uploads_stream_a_crc32_trailer_that_moto_keeps(run, s3, bucket, moto, tmp_path):
    """Over HTTPS (a TLS proxy that checks signatures, the aws-chunked framing
    and the trailer's CRC32, then hands moto the body as it came): moto
    decodes the parts and the 2.5 MiB PutObject, stores the right bytes and
    the trailer's CRC32, which dbtrun and the aws CLI (checksum validation
    on) check when they read the objects back."""
    from sigcheck_proxy import SigCheckProxy, self_signed
    tls_files = self_signed(tmp_path)
    files = {"mid.bin": os.urandom((5 << 19) + 7), "big.bin": os.urandom((20 << 20) + 3)}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    proxy = SigCheckProxy(int(moto.rsplit(":", 1)[1]), {"testing": "testing"}, tls=tls_files).start()
    env = {**_env(proxy.url, tmp_path), "AWS_CA_BUNDLE": tls_files[0],
           "AWS_RESPONSE_CHECKSUM_VALIDATION": "when_supported"}
    try:
        for name in files:
            r = subprocess.run([DBTRUN, "aws", "s3", "cp", name, f"s3://{bucket}/{name}"],
                               cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
            assert r.returncode == 0, r.stderr
        puts = [(p, h) for m, p, h in proxy.seen if m == "PUT"]
        assert len(puts) == 3
        assert all(h["x-amz-content-sha256"] == "STREAMING-UNSIGNED-PAYLOAD-TRAILER" for _, h in puts)
        for name, data in files.items():
            assert s3.get_object(Bucket=bucket, Key=name)["Body"].read() == data
        head = s3.head_object(Bucket=bucket, Key="mid.bin", ChecksumMode="ENABLED")
        assert head["ChecksumCRC32"] == _crc32_b64(files["mid.bin"])
        # the multipart object's checksum is the CRC32 of its parts' CRC32s
        sizes = [int(h["x-amz-decoded-content-length"]) for p, h in sorted(puts) if "partNumber" in p]
        offsets = [sum(sizes[:i]) for i in range(len(sizes))]
        parts = b"".join(zlib.crc32(files["big.bin"][o:o + n]).to_bytes(4, "big")
                         for o, n in zip(offsets, sizes))
        head = s3.head_object(Bucket=bucket, Key="big.bin", ChecksumMode="ENABLED")
        got = head["ResponseMetadata"]["HTTPHeaders"]["x-amz-checksum-crc32"]
        assert got in (_crc32_b64(parts), f"{_crc32_b64(parts)}-{len(sizes)}")  # moto's HEAD: no -N
        for name, data in files.items():
            r = subprocess.run([DBTRUN, "aws", "s3", "cp", f"s3://{bucket}/{name}", f"back-{name}"],
                               cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
            assert r.returncode == 0, r.stderr
            assert (tmp_path / f"back-{name}").read_bytes() == data
            before = len(proxy.seen)
            r = subprocess.run([_tool("aws"), "--endpoint-url", proxy.url, "s3", "cp",
                                f"s3://{bucket}/{name}", f"cli-{name}"], cwd=tmp_path, env=env,
                               capture_output=True, text=True, timeout=300)
            assert r.returncode == 0, r.stderr
            assert (tmp_path / f"cli-{name}").read_bytes() == data
            gets = [h for m, _, h in proxy.seen[before:] if m == "GET"]
            assert gets and all(h.get("x-amz-checksum-mode") == "ENABLED" for h in gets)
        assert proxy.failures == []
    finally:
        proxy.stop()


# ---- ls, rm, presign -------------------------------------------------------------


def test_ls_paginates_and_matches_the_aws_cli(run, aws, s3, bucket):
    for i in range(1105):
        s3.put_object(Bucket=bucket, Key=f"many/k{i:05d}", Body=b"x" * (i % 13))
    s3.put_object(Bucket=bucket, Key="many/sub/x", Body=b"x")
    s3.put_object(Bucket=bucket, Key="top.txt", Body=b"top")
    mine = run("ls", "--recursive", f"s3://{bucket}")
    assert mine.returncode == 0, mine.stderr
    assert len(mine.stdout.splitlines()) == 1107
    assert mine.stdout == aws("ls", "--recursive", f"s3://{bucket}").stdout
    for path in (f"s3://{bucket}", f"s3://{bucket}/", f"s3://{bucket}/many/",
                 f"s3://{bucket}/many"):
        m, a = run("ls", path), aws("ls", path)
        assert (m.returncode, m.stdout) == (a.returncode, a.stdout), path
    assert run("ls", f"s3://{bucket}/nothing-here").returncode == 1
    m, a = run("ls"), aws("ls")
    assert m.returncode == a.returncode == 0
    assert m.stdout == a.stdout and bucket in m.stdout


def test_rm_single_and_recursive(run, s3, bucket):
    for k in ["dir/a", "dir/b/c", "dir2/keep", "top"]:
        s3.put_object(Bucket=bucket, Key=k, Body=b"x")
    r = run("rm", f"s3://{bucket}/top")
    assert r.returncode == 0 and r.stdout == f"delete: s3://{bucket}/top\n"
    r = run("rm", "--recursive", f"s3://{bucket}/dir")
    assert r.returncode == 0, r.stderr
    assert sorted(r.stdout.splitlines()) == [f"delete: s3://{bucket}/dir/a",
                                             f"delete: s3://{bucket}/dir/b/c"]
    assert list(keys(s3, bucket)) == ["dir2/keep"]


def test_rm_recursive_more_than_one_batch(run, s3, bucket):
    for i in range(1003):
        s3.put_object(Bucket=bucket, Key=f"x/{i}", Body=b"")
    r = run("rm", "--recursive", f"s3://{bucket}/x/", "--quiet")
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""
    assert keys(s3, bucket) == {}


def test_presign(run, s3, bucket):
    s3.put_object(Bucket=bucket, Key="a b/c+d.txt", Body=b"presigned body")
    r = run("presign", f"s3://{bucket}/a b/c+d.txt", "--expires-in", "300")
    assert r.returncode == 0, r.stderr
    url = r.stdout.strip()
    assert "X-Amz-Expires=300" in url and "X-Amz-Signature=" in url
    assert urllib.request.urlopen(url, timeout=10).read() == b"presigned body"
    assert run("presign", f"s3://{bucket}/k", "--expires-in", "604801").returncode == 2


# ---- signature checks on ---------------------------------------------------------


def test_signed_requests_pass_moto_checks(moto_auth, tmp_path):
    url, key_id, secret = moto_auth
    s3c = boto3.client("s3", endpoint_url=url, aws_access_key_id=key_id,
                       aws_secret_access_key=secret, region_name="us-east-1")
    s3c.create_bucket(Bucket="signed")
    (tmp_path / "manifest.json").write_text('{"signed": true}')
    env = _env(url, tmp_path)
    env.update(AWS_ACCESS_KEY_ID=key_id, AWS_SECRET_ACCESS_KEY=secret)

    def go(*args, **kw):
        return subprocess.run([DBTRUN, "aws", "s3", *args], cwd=tmp_path, env=kw.get("env", env),
                              capture_output=True, text=True, timeout=60)

    # plain keys only: moto rejects correct signatures on encoded paths (aws-notes.md)
    r = go("cp", "manifest.json", "s3://signed/artifacts/manifest.json")
    assert r.returncode == 0, r.stderr
    r = go("cp", "s3://signed/artifacts/manifest.json", "back.json")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "back.json").read_text() == '{"signed": true}'
    assert s3c.get_object(Bucket="signed", Key="artifacts/manifest.json")["Body"].read() == \
        b'{"signed": true}'
    wrong = dict(env, AWS_SECRET_ACCESS_KEY=secret[:-1] + ("x" if secret[-1] != "x" else "y"))
    r = go("cp", "s3://signed/artifacts/manifest.json", "never.json", env=wrong)
    assert r.returncode == 1
    assert "SignatureDoesNotMatch" in r.stderr or "(403)" in r.stderr
    assert not (tmp_path / "never.json").exists()


# ---- control characters in keys -------------------------------------------------


def _escaped(key):
    """A key as dbtrun prints it: \\n \\r \\t, \\xNN, \\\\."""
    out = []
    for ch in key:
        c = ord(ch)
        out.append("\\\\" if ch == "\\" else "\\n" if ch == "\n" else "\\r" if ch == "\r"
                   else "\\t" if ch == "\t" else f"\\x{c:02x}" if c < 0x20 or c == 0x7f else ch)
    return "".join(out)


def test_key_with_control_characters_is_printed_escaped(run, s3, bucket, tmp_path):
    # moto_server's routes (".+") cannot hold a "\n" in a key; "\r" forges a
    # line on a terminal just as well and goes through the same escaper
    forged = "a\rupload: evil to s3:/x"
    s3.put_object(Bucket=bucket, Key="n/" + forged, Body=b"x")
    s3.put_object(Bucket=bucket, Key="n/back\\slash\ttab", Body=b"y")
    for cmd in (["cp", "--recursive"], ["sync"]):
        r = run(*cmd, f"s3://{bucket}/n/", f"out-{cmd[0]}")
        assert r.returncode == 0, r.stderr
        lines = sorted(r.stdout.splitlines())
        assert lines == sorted([f"download: s3://{bucket}/n/{_escaped(forged)} to out-{cmd[0]}/"
                                f"{_escaped(forged)}",
                                f"download: s3://{bucket}/n/back\\\\slash\\ttab to out-{cmd[0]}/"
                                "back\\\\slash\\ttab"])
    r = run("rm", "--recursive", f"s3://{bucket}/n/")
    assert r.returncode == 0, r.stderr
    assert sorted(r.stdout.splitlines()) == sorted([
        f"delete: s3://{bucket}/n/{_escaped(forged)}",
        f"delete: s3://{bucket}/n/back\\\\slash\\ttab"])
    assert keys(s3, bucket) == {}


def test_key_with_carriage_return_is_really_deleted(run, s3, bucket, tmp_path):
    for k in ["r/cr\rkey", "r/tab\tkey", "r/plain"]:
        s3.put_object(Bucket=bucket, Key=k, Body=b"x")
    r = run("rm", "--recursive", f"s3://{bucket}/r/")
    assert r.returncode == 0, r.stderr
    assert keys(s3, bucket) == {}
    # sync --delete of an empty folder removes them too
    for k in ["s/cr\rkey", "s/plain"]:
        s3.put_object(Bucket=bucket, Key=k, Body=b"x")
    (tmp_path / "empty").mkdir()
    r = run("sync", "--delete", "empty", f"s3://{bucket}/s/")
    assert r.returncode == 0, r.stderr
    assert f"delete: s3://{bucket}/s/cr\\rkey" in r.stdout.splitlines()
    assert keys(s3, bucket) == {}


ODD_KEYS = ["o/with space", "o/plus+sign", "o/pct%41 and %2B", "o/caf\u00e9 \u20ac",
            "o/tab\there", "o/dir one/x+y z", "o/amp&lt;", "o/cr\r"]


def test_listing_of_odd_keys_matches_boto3(run, s3, bucket):
    for k in ODD_KEYS:
        s3.put_object(Bucket=bucket, Key=k, Body=b"z")
    want = sorted(k for k in keys(s3, bucket))
    assert want == sorted(ODD_KEYS)
    r = run("ls", "--recursive", f"s3://{bucket}/o/")
    assert r.returncode == 0, r.stderr
    got = sorted(line.split(None, 3)[3] for line in r.stdout.splitlines())
    assert got == sorted(_escaped(k) for k in ODD_KEYS)
    # folders (CommonPrefixes) decoded too
    r = run("ls", f"s3://{bucket}/o/")
    assert r.returncode == 0, r.stderr
    assert "PRE dir one/" in r.stdout


def test_sync_delete_never_reaches_through_a_linked_folder(run, s3, bucket, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious.txt").write_text("keep me")
    (outside / "data.csv").write_text("keep me too")
    dst = tmp_path / "dst"
    dst.mkdir()
    (dst / "extra.txt").write_text("delete me")
    (dst / "linked").symlink_to(outside)
    (dst / "file-link").symlink_to(outside / "data.csv")
    s3.put_object(Bucket=bucket, Key="d/wanted.txt", Body=b"w")
    r = run("sync", "--delete", f"s3://{bucket}/d/", "dst")
    assert r.returncode == 0, r.stderr
    assert sorted(os.listdir(outside)) == ["data.csv", "precious.txt"]
    assert (outside / "data.csv").read_text() == "keep me too"
    assert not (dst / "extra.txt").exists()
    assert not os.path.lexists(dst / "file-link")  # the link went, not its target
    assert (dst / "linked").is_symlink()
    assert (dst / "wanted.txt").read_bytes() == b"w"


def test_key_that_cannot_be_a_file_name_gets_a_clear_error(run, s3, bucket, tmp_path):
    long_name = "n" * 256
    s3.put_object(Bucket=bucket, Key=f"l/{long_name}", Body=b"x")
    s3.put_object(Bucket=bucket, Key="l/ok", Body=b"y")
    r = run("sync", f"s3://{bucket}/l/", "down")
    assert r.returncode == 1
    assert "longer than a file name may be" in r.stderr, r.stderr
    assert (tmp_path / "down" / "ok").read_bytes() == b"y"
    (tmp_path / "single").mkdir()
    r = run("cp", f"s3://{bucket}/l/{long_name}", "single/")
    assert r.returncode == 1
    assert "longer than a file name may be" in r.stderr, r.stderr
