"""The progress line of long transfers, driven under a pseudo-terminal:
`dbtrun aws s3 cp/sync` and the Lua store/aws primitives against moto_server,
a slow loopback server for a line that visibly redraws (bytes, rate, time
left, at most ten drawings a second), nothing extra on a pipe (the other
lines byte-identical), nothing under --quiet; and on GitHub Actions the
per-file sync lines in a ::group:: with a summary line after it."""
import hashlib
import http.server
import os
import pty
import re
import select
import subprocess
import threading
import time
import tty
import uuid

import pytest

from conftest import DBTRUN

boto3 = pytest.importorskip("boto3")

DRAWING = re.compile(rb"\r(Completed [^\r\n]*?) *(?=\r)")


def run_pty(args, env, cwd, timeout=120):
    """Runs args with stdin, stdout and stderr on one raw pseudo-terminal
    (no \\n -> \\r\\n translation); returns (exit code, bytes shown, seconds)."""
    master, slave = pty.openpty()
    tty.setraw(slave)
    start = time.monotonic()
    p = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=cwd)
    os.close(slave)
    out = b""
    try:
        while time.monotonic() - start < timeout:
            ready, _, _ = select.select([master], [], [], 1)
            if not ready:
                if p.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child side closed
                break
            if not chunk:
                break
            out += chunk
    finally:
        os.close(master)
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    return p.returncode, out, time.monotonic() - start


def run_pipe(args, env, cwd, timeout=120):
    """The same with stdout and stderr on one pipe: (exit code, bytes)."""
    r = subprocess.run(args, env=env, cwd=cwd, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=timeout)
    return r.returncode, r.stdout


def without_progress(out):
    """out with the progress drawings and their erasure taken away: each run of
    them starts with \\r and ends with the \\r after the blanks."""
    return re.sub(rb"\r[^\n]*\r", b"", out)


def assert_erased(out):
    """Each run of drawings, played on a one-line screen (\\r returns to
    column 0, a byte overwrites the cell under the cursor), leaves the
    line blank and the cursor at column 0 for what follows."""
    runs = re.findall(rb"\r[^\n]*\r", out)
    assert runs
    for run in runs:
        cells, col = [], 0
        for byte in run:
            if byte == 13:
                col = 0
                continue
            if col < len(cells):
                cells[col] = byte
            else:
                cells.append(byte)
            col += 1
        assert col == 0 and set(cells) <= {32}, run[-200:]


def aws_env(url, tmp_path, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({
        "AWS_ENDPOINT_URL": url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
        "GITHUB_ACTIONS": "",
        "DBTRUN_TEST_NO_BACKOFF": "1",
    })
    env.pop("NO_COLOR", None)
    env.update(extra)
    return env


@pytest.fixture
def s3(moto):
    return boto3.client("s3", endpoint_url=moto, aws_access_key_id="testing",
                        aws_secret_access_key="testing", region_name="us-east-1")


@pytest.fixture
def bucket(s3):
    name = "p-" + uuid.uuid4().hex[:16]
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def big(tmp_path):
    """A 20 MiB file: multipart on upload, many chunks on download."""
    p = tmp_path / "big.bin"
    p.write_bytes(os.urandom(20 << 20))
    return p


# ---- dbtrun aws s3 cp against moto ---------------------------------------------


def test_cp_up_and_down_draw_a_progress_line_and_erase_it(moto, s3, bucket, big, tmp_path):
    env = aws_env(moto, tmp_path)
    up = [DBTRUN, "aws", "s3", "cp", "big.bin", f"s3://{bucket}/big.bin"]
    rc, out, _ = run_pty(up, env, tmp_path)
    assert rc == 0, out
    drawings = DRAWING.findall(out)
    assert drawings and all(d.startswith(b"Completed ") for d in drawings), out
    assert any(d.endswith(b"/20.0 MiB") or b"/20.0 MiB (" in d for d in drawings), drawings
    assert_erased(out)
    assert without_progress(out) == f"upload: ./big.bin to s3://{bucket}/big.bin\n".encode()
    # on a pipe: the same line, nothing else
    assert run_pipe(up, env, tmp_path) == (0, without_progress(out))

    down = [DBTRUN, "aws", "s3", "cp", f"s3://{bucket}/big.bin", "back.bin"]
    rc, out, _ = run_pty(down, env, tmp_path)
    assert rc == 0, out
    assert (tmp_path / "back.bin").read_bytes() == big.read_bytes()
    drawings = DRAWING.findall(out)
    assert drawings and any(b"/20.0 MiB" in d for d in drawings), out
    assert_erased(out)
    assert without_progress(out) == f"download: s3://{bucket}/big.bin to ./back.bin\n".encode()
    (tmp_path / "back.bin").unlink()
    assert run_pipe(down, env, tmp_path) == (0, without_progress(out))


def test_quiet_and_no_progress_draw_nothing(moto, bucket, big, tmp_path):
    env = aws_env(moto, tmp_path)
    rc, out, _ = run_pty([DBTRUN, "aws", "s3", "cp", "big.bin", f"s3://{bucket}/a", "--quiet"],
                         env, tmp_path)
    assert (rc, out) == (0, b"")
    rc, out, _ = run_pty([DBTRUN, "aws", "s3", "cp", "big.bin", f"s3://{bucket}/b",
                          "--no-progress"], env, tmp_path)
    assert (rc, out) == (0, f"upload: ./big.bin to s3://{bucket}/b\n".encode())


def test_an_error_body_is_not_progress(moto, bucket, tmp_path):
    rc, out, _ = run_pty([DBTRUN, "aws", "s3", "cp", f"s3://{bucket}/missing", "x"],
                         aws_env(moto, tmp_path), tmp_path)
    assert rc == 1
    assert b"\r" not in out and b"NoSuchKey" in out


# ---- a slow loopback server: a line that visibly redraws ------------------------

SLOW_BODY = bytes(range(256)) * 1024  # 256 KiB
SLOW_CHUNK = 16 << 10


class Slow(http.server.ThreadingHTTPServer):
    daemon_threads = True


class SlowHandler(http.server.BaseHTTPRequestHandler):
    """GET: the body in 16 KiB chunks every 0.1 s (about 1.6 s in all)."""
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(len(SLOW_BODY)))
        self.send_header("ETag", '"' + hashlib.md5(SLOW_BODY).hexdigest() + '"')
        self.end_headers()
        for i in range(0, len(SLOW_BODY), SLOW_CHUNK):
            self.wfile.write(SLOW_BODY[i:i + SLOW_CHUNK])
            self.wfile.flush()
            time.sleep(0.1)


@pytest.fixture
def slow():
    srv = Slow(("127.0.0.1", 0), SlowHandler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def test_slow_download_redraws_with_rate_and_time_left_at_most_ten_times_a_second(slow, tmp_path):
    env = aws_env(slow, tmp_path)
    args = [DBTRUN, "aws", "s3", "cp", "s3://bkt/dir/file.bin", "file.bin"]
    rc, out, took = run_pty(args, env, tmp_path)
    assert rc == 0, out
    assert (tmp_path / "file.bin").read_bytes() == SLOW_BODY
    drawings = DRAWING.findall(out)
    assert len(drawings) >= 3, drawings
    assert len(drawings) <= took * 10 + 2, (len(drawings), took)
    done = [float(m.group(1)) for d in drawings
            if (m := re.match(rb"Completed ([\d.]+) KiB/256\.0 KiB", d))]
    assert done == sorted(done) and len(set(done)) >= 3, drawings
    assert any(re.fullmatch(rb"Completed [\d.]+ KiB/256\.0 KiB \([\d.]+ KiB/s, \d+s left\)", d)
               for d in drawings), drawings
    assert_erased(out)
    assert without_progress(out) == b"download: s3://bkt/dir/file.bin to ./file.bin\n"
    (tmp_path / "file.bin").unlink()
    assert run_pipe(args, env, tmp_path) == (0, without_progress(out))


# ---- sync --------------------------------------------------------------------------


def site(root):
    root.mkdir()
    (root / "big.bin").write_bytes(os.urandom(12 << 20))
    (root / "index.html").write_bytes(b"<html>docs</html>")
    (root / "catalog.json").write_bytes(b'{"nodes": {}}')


def test_sync_counts_files_left_and_a_pipe_shows_the_same_lines(moto, s3, bucket, tmp_path):
    site(tmp_path / "site")
    env = aws_env(moto, tmp_path)
    # one file at a time: the lines come in a fixed order, both runs alike
    args = [DBTRUN, "aws", "s3", "sync", "site", f"s3://{bucket}/site", "--jobs", "1"]
    rc, out, _ = run_pty(args, env, tmp_path)
    assert rc == 0, out
    drawings = DRAWING.findall(out)
    assert any(re.search(rb"/12\.0 MiB.* with [123] file\(s\) remaining$", d) for d in drawings), out
    assert_erased(out)
    lines = without_progress(out)
    assert b"\r" not in lines and lines.count(b"upload: ") == 3
    for o in s3.list_objects_v2(Bucket=bucket)["Contents"]:
        s3.delete_object(Bucket=bucket, Key=o["Key"])
    assert run_pipe(args, env, tmp_path) == (0, lines)


def test_sync_on_github_actions_folds_lines_into_a_group_with_a_summary(moto, bucket, tmp_path):
    site(tmp_path / "site")
    dst = f"s3://{bucket}/docs"
    env = aws_env(moto, tmp_path, GITHUB_ACTIONS="true")
    args = [DBTRUN, "aws", "s3", "sync", "site", dst, "--delete"]
    rc, out = run_pipe(args, env, tmp_path)
    assert rc == 0, out
    lines = out.decode().splitlines()
    assert lines[0] == f"::group::sync site -> {dst}"
    assert sorted(lines[1:4]) == [f"upload: site/{n} to {dst}/{n}"
                                  for n in ("big.bin", "catalog.json", "index.html")]
    assert lines[4] == "::endgroup::"
    assert re.fullmatch(rf"sync site -> {dst}: 3 uploaded, 0 deleted, 0 skipped, 12\.0 MiB in [\d.]+s",
                        lines[5]), lines[5]
    assert len(lines) == 6

    (tmp_path / "site" / "catalog.json").unlink()
    (tmp_path / "site" / "index.html").write_bytes(b"<html>new docs</html>")
    rc, out = run_pipe(args, env, tmp_path)
    assert rc == 0, out
    assert out.decode().splitlines() == [
        f"::group::sync site -> {dst}",
        f"upload: site/index.html to {dst}/index.html",
        f"delete: {dst}/catalog.json",
        "::endgroup::",
        out.decode().splitlines()[-1]]
    assert re.fullmatch(rf"sync site -> {dst}: 1 uploaded, 1 deleted, 1 skipped, 21 B in [\d.]+s",
                        out.decode().splitlines()[-1])

    # nothing to do: no empty group, the summary only
    rc, out = run_pipe(args, env, tmp_path)
    assert rc == 0
    assert re.fullmatch(rf"sync site -> {dst}: 0 uploaded, 0 deleted, 2 skipped, 0 B in [\d.]+s\n",
                        out.decode()), out
    # --quiet: nothing at all; outside Actions: the lines as the aws CLI prints them
    (tmp_path / "site" / "index.html").write_bytes(b"<html>newer</html>")
    assert run_pipe([*args, "--quiet"], env, tmp_path) == (0, b"")
    (tmp_path / "site" / "index.html").write_bytes(b"<html>newest</html>")
    assert run_pipe(args, aws_env(moto, tmp_path), tmp_path) == (
        0, f"upload: site/index.html to {dst}/index.html\n".encode())


# ---- the Lua primitives of tasks ---------------------------------------------------


TASKS = """
task("move", function()
  local put = store.put("s3://{bucket}/artifacts/", "big.bin", "big.bin")
  print("put", put.changed)
  local got = store.get("s3://{bucket}/artifacts/", "big.bin", "back/big.bin")
  print("get", got.changed, got.size)
  local s = store.sync("site/", "s3://{bucket}/docs/", {{ delete = true }})
  print("sync", s.copied)
  aws.s3.put("big.bin", "s3://{bucket}/raw/big.bin")
  aws.s3.get("s3://{bucket}/raw/big.bin", "raw.bin", {{ force = true }})
  print("done")
end)
"""


def test_task_store_and_aws_transfers_draw_progress_only_on_a_terminal(moto, bucket, big, tmp_path):
    site(tmp_path / "site")
    (tmp_path / "dbtrun.lua").write_text(TASKS.format(bucket=bucket))
    env = aws_env(moto, tmp_path)
    rc, out, _ = run_pty([DBTRUN, "move"], env, tmp_path)
    assert rc == 0, out
    drawings = DRAWING.findall(out)
    # store.put, store.get, the sync's big file, aws.s3.put and aws.s3.get
    assert sum(1 for d in drawings if b"/20.0 MiB" in d) >= 4, drawings
    assert any(b"file(s) remaining" in d for d in drawings), drawings
    assert_erased(out)
    assert (tmp_path / "back" / "big.bin").read_bytes() == big.read_bytes()
    assert (tmp_path / "raw.bin").read_bytes() == big.read_bytes()
    shown = without_progress(out)
    assert b"\r" not in shown and b"put\ttrue\nget\ttrue\t20971520\n" in shown and b"done\n" in shown

    # -q: no progress (nor the sync's lines)
    rc, out, _ = run_pty([DBTRUN, "-q", "move"], env, tmp_path)
    assert rc == 0, out
    assert b"\r" not in out and b"Completed" not in out and b"upload:" not in out

    # a pipe: nothing extra, the same lines as the terminal's once the
    # transfers are the same (all unchanged now, the forced get aside)
    rc, piped = run_pipe([DBTRUN, "move"], env, tmp_path)
    rc2, out, _ = run_pty([DBTRUN, "move"], env, tmp_path)
    assert rc == rc2 == 0
    assert b"\r" not in piped and b"Completed" not in piped
    assert without_progress(out) == piped


def test_task_sync_on_github_actions_is_grouped_with_a_summary(moto, bucket, tmp_path):
    site(tmp_path / "site")
    (tmp_path / "dbtrun.lua").write_text(f"""
task("publish", function()
  store.sync("site/", "s3://{bucket}/docs/")
end)
""")
    rc, out = run_pipe([DBTRUN, "publish"], aws_env(moto, tmp_path, GITHUB_ACTIONS="true"), tmp_path)
    assert rc == 0, out
    lines = out.decode().splitlines()
    group = lines.index(f"::group::sync site/ -> s3://{bucket}/docs/")
    end = lines.index("::endgroup::")
    assert sorted(lines[group + 1:end]) == [f"upload: site/{n} to s3://{bucket}/docs/{n}"
                                           for n in ("big.bin", "catalog.json", "index.html")]
    assert re.fullmatch(rf"sync site/ -> s3://{bucket}/docs/: 3 uploaded, 0 deleted, 0 skipped, "
                        r"12\.0 MiB in [\d.]+s", lines[end + 1]), lines


def test_docs_clean_up_pass_is_grouped_under_its_own_name(tmp_path):
    """The docs site's second sync (deleting what the site does not hold)
    runs from a temporary folder; its group and summary line name the pass,
    never that folder."""
    (tmp_path / "target").mkdir()
    for n in ("index.html", "catalog.json", "manifest.json"):
        (tmp_path / "target" / n).write_text("x")
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "stale.html").write_text("old")
    (tmp_path / "dbtrun.lua").write_text(
        'task("pub", function() require("dbtrun.artifacts").publish_docs("site/") end)\n')
    env = {**os.environ, "GITHUB_ACTIONS": "true", "HOME": str(tmp_path)}
    rc, out = run_pipe([DBTRUN, "pub"], env, tmp_path)
    assert rc == 0, out
    lines = out.decode().splitlines()
    group = lines.index("::group::sync (docs clean-up) -> site/")
    assert lines[group + 1:group + 3] == ["delete: site/stale.html", "::endgroup::"]
    assert lines[group + 3].startswith("sync (docs clean-up) -> site/: 0 copied, 1 deleted"), lines
    assert str(tmp_path / ".dbtrun") not in out.decode() and "/tmp" not in "\n".join(lines[:group + 1])
    assert sorted(p.name for p in (tmp_path / "site").iterdir()) == ["catalog.json", "index.html", "manifest.json"]


def test_the_line_passes_the_mask_and_keeps_its_redraws(moto, bucket, big, tmp_path):
    """Progress text holds numbers only, but it passes the mask like every
    byte dbtrun prints: a secret that happens to be in it is hidden, and the
    \\r before each drawing stays where it is."""
    (tmp_path / "dbtrun.lua").write_text(f"""
task("t", function()
  secret("Completed")
  io.stderr:write("before\\n")
  aws.s3.put("big.bin", "s3://{bucket}/big.bin")
  print("done")
end)
""")
    rc, out, _ = run_pty([DBTRUN, "t"], aws_env(moto, tmp_path), tmp_path)
    assert rc == 0, out
    assert b"Completed" not in out
    drawings = re.findall(rb"\r(\*\*\* [^\r\n]*?) *(?=\r)", out)
    assert drawings and any(b"/20.0 MiB" in d for d in drawings), out
    assert_erased(out)
    # what Lua wrote before the transfer is out before the first drawing
    assert without_progress(out) == b"before\ndone\n"
