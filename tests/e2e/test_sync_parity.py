"""Differential tests of `dbtrun aws s3 sync` against the real aws CLI
(issue 19): a seeded generator draws local trees (non-ASCII names, glob
characters in names), remote states (non-empty keys ending in '/', the
prefix's own object, empty folder markers), --exclude/--include lists aimed
at Python fnmatch's rules, --delete, and both directions; both clients run
with --dryrun on the same moto state and must plan the same (action, path)
set. Local mtimes are pinned in the past and changed contents change size,
so the aws CLI's size+mtime rule and dbtrun's content rule agree.

SYNC_PARITY_SEEDS=1,2,3 (default 19) and SYNC_PARITY_CASES=N (default 240)
run more. The deliberate differences (README, "Sync") are generated on
purpose below and assert dbtrun's documented behaviour instead."""
import json
import os
import random
import subprocess
import sys
import uuid

import pytest

from conftest import DBTRUN, ROOT, _tool  # noqa: F401

boto3 = pytest.importorskip("boto3")

SEEDS = [int(s) for s in os.environ.get("SYNC_PARITY_SEEDS", "19").split(",") if s.strip()]
CASES = int(os.environ.get("SYNC_PARITY_CASES", "240"))
BATCH = 40  # cases per aws CLI process (its start-up is the cost)
OLD = 946684800  # 2000-01-01: local files older than any remote object

# no name is a folder of another name, so trees never clash file-vs-folder
NAMES = ["a.txt", "b.txt", "A.TXT", "^x", "!n", "\u00e9.txt", "\u00fc/x.csv", "caf\u00e9.md",
         "a[1].txt", "b*c.txt", "q?.md", "[ab]", "x-y", "u].txt", ":].txt", "d/e/f.json",
         "d/g.txt", "z", "\u20ac", "sp ace.txt", "k/\u00e9\u00e9.txt", "dash-/m.txt"]
SLASH_KEYS = ["", "d/", "k/", "nope/"]  # non-empty, ending in '/' ("" is the prefix itself)
PATTERNS = ["*.txt", "[^a]*", "[!a]*", "[[:upper:]]*", "[[.a.]]*", "[[=a=]]*", "?.txt",
            "[\u00e9]*", "*", "d/*", "", "[a-c]*", "[z-a]*", "[!z-a]*", "*[*]*", "a[1].txt",
            "[]]*", "??", "\u00e9*", "*/*", "[!]]*", "q?.md", "*.TXT", "*/", "d/", "[a-]*",
            "*\u00e9*", "?", "[^]*", "k/*", "[!-]*", "*[?]*", "[b-a!]*", "*.md"]

AWS_BATCH = r"""
import contextlib, io, json, os, sys
from awscli.clidriver import create_clidriver
job = json.load(sys.stdin)
os.chdir(job["cwd"])
res = []
for argv in job["argvs"]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = create_clidriver().main(argv)
        except SystemExit as e:
            rc = e.code
    res.append([rc, out.getvalue(), err.getvalue()])
sys.__stdout__.write(json.dumps(res))
"""


@pytest.fixture(scope="module")
def s3(moto):
    return boto3.client("s3", endpoint_url=moto, aws_access_key_id="testing",
                        aws_secret_access_key="testing", region_name="us-east-1")


def _env(moto, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"AWS_ENDPOINT_URL": moto, "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
                "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"), "TZ": "UTC",
                # the aws CLI's lines: on Actions dbtrun would fold them into a group
                "GITHUB_ACTIONS": ""})
    return env


def aws_batch(moto, tmp_path, argvs):
    """Runs each aws CLI argv in one Python process: [(rc, stdout, stderr)]."""
    aws = _tool("aws")  # skips (fails under CI) without the aws CLI
    python = os.path.join(os.path.dirname(aws), "python")
    python = python if os.path.exists(python) else sys.executable
    job = json.dumps({"cwd": str(tmp_path), "argvs": [["--endpoint-url", moto, *a] for a in argvs]})
    r = subprocess.run([python, "-c", AWS_BATCH], input=job, capture_output=True, text=True,
                       env=_env(moto, tmp_path), timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout)


def dbtrun_sync(moto, tmp_path, argv):
    r = subprocess.run([DBTRUN, "aws", *argv], cwd=tmp_path, env=_env(moto, tmp_path),
                       capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout, r.stderr


def planned(out, err, bucket, prefix, local):
    """The (action, path) set a --dryrun printed, paths relative to the synced
    folder/prefix. dbtrun reports a key it cannot save as a file (one ending
    in '/') as an error up front; the aws CLI plans it and fails later, so
    both count as ("download", path)."""
    url = f"s3://{bucket}/{prefix}"
    ops = set()

    def rel(p):
        if p.startswith(url):
            return p[len(url):]
        assert p == local or p.startswith(local + "/"), p
        return p[len(local) + 1:]

    for line in out.splitlines():
        if not line.startswith("(dryrun) "):
            continue
        verb, _, rest = line[len("(dryrun) "):].partition(": ")
        src = rest
        if verb == "download":
            src = rest[:rest.index(" to ")]
        elif verb == "upload":
            src = rest[rest.rindex(" to ") + 4:]
        ops.add((verb, rel(src)))
    for line in err.splitlines():
        marker = f"error: Download {url}"
        if line.startswith(marker) and "UnsupportedKey" in line:
            ops.add(("download", line[len(marker):].split(": UnsupportedKey")[0]))
    return ops


def content(rng, name):
    return (name.encode() + b"-" + str(rng.randrange(1000)).encode())


def gen_case(rng):
    local = {n: content(rng, n) for n in rng.sample(NAMES, rng.randint(0, 8))}
    remote = {}
    for n in rng.sample(NAMES, rng.randint(0, 8)):
        roll = rng.random()
        if n in local and roll < 0.5:
            remote[n] = local[n]  # unchanged
        else:
            remote[n] = content(rng, n) + b"x" * rng.randint(1, 3)  # another size
            if n in local and len(remote[n]) == len(local[n]):
                remote[n] += b"!"
    for k in SLASH_KEYS:
        if rng.random() < 0.3:
            remote[k] = b"data" if rng.random() < 0.7 else b""  # empty: a marker
    rules = [(rng.choice(["--exclude", "--include"]), rng.choice(PATTERNS))
             for _ in range(rng.choice([0, 1, 1, 2, 2, 3, 4]))]
    return {"local": local, "remote": remote, "rules": rules, "delete": rng.random() < 0.7,
            "up": rng.random() < 0.5}


def stage(s3, bucket, tmp_path, i, case):
    folder = tmp_path / f"w{i}"
    folder.mkdir()
    for name, data in case["local"].items():
        p = folder / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        os.utime(p, (OLD, OLD))
    for name, data in case["remote"].items():
        s3.put_object(Bucket=bucket, Key=f"c{i}/{name}", Body=data)
    src, dst = f"w{i}", f"s3://{bucket}/c{i}/"
    argv = ["s3", "sync", *((src, dst) if case["up"] else (dst, src)), "--dryrun"]
    if case["delete"]:
        argv.append("--delete")
    for opt, pat in case["rules"]:
        argv += [opt, pat]
    return argv


@pytest.mark.parametrize("seed", SEEDS)
def test_random_syncs_plan_as_the_aws_cli_does(moto, s3, tmp_path, seed):
    rng = random.Random(seed)
    bucket = "parity-" + uuid.uuid4().hex[:12]
    s3.create_bucket(Bucket=bucket)
    cases = [gen_case(rng) for _ in range(CASES)]
    argvs = [stage(s3, bucket, tmp_path, i, c) for i, c in enumerate(cases)]
    results = []
    for start in range(0, len(argvs), BATCH):
        results += aws_batch(moto, tmp_path, argvs[start:start + BATCH])
    disagree = []
    for i, (case, argv, (arc, aout, aerr)) in enumerate(zip(cases, argvs, results)):
        assert arc in (0, 1, 2), (argv, aerr)
        drc, dout, derr = dbtrun_sync(moto, tmp_path, argv)
        assert drc in (0, 1), (argv, derr)
        want = planned(aout, aerr, bucket, f"c{i}/", f"w{i}")
        got = planned(dout, derr, bucket, f"c{i}/", f"w{i}")
        if want != got:
            disagree.append({"case": i, "argv": argv, "aws": sorted(want), "dbtrun": sorted(got),
                             "local": sorted(case["local"]), "remote": sorted(case["remote"])})
    assert not disagree, json.dumps(disagree[:5], ensure_ascii=False, indent=1)


def _both(moto, tmp_path, argv, bucket, prefix, local):
    (arc, aout, aerr), = aws_batch(moto, tmp_path, [argv])
    drc, dout, derr = dbtrun_sync(moto, tmp_path, argv)
    return (planned(aout, aerr, bucket, prefix, local), planned(dout, derr, bucket, prefix, local),
            derr)


def test_deliberate_differences(moto, s3, tmp_path):
    """Each difference the README lists, on purpose: dbtrun's side is asserted."""
    bucket = "delib-" + uuid.uuid4().hex[:12]
    s3.create_bucket(Bucket=bucket)
    # content, not size+mtime: same size but other bytes and an old local
    # file is "same" for the aws CLI, an upload for dbtrun; the same bytes
    # in a newer file are an upload for the aws CLI, nothing for dbtrun
    w = tmp_path / "w"
    w.mkdir()
    (w / "same-size.txt").write_bytes(b"new!")
    os.utime(w / "same-size.txt", (OLD, OLD))
    (w / "rewritten.txt").write_bytes(b"same")
    s3.put_object(Bucket=bucket, Key="p/same-size.txt", Body=b"old!")
    s3.put_object(Bucket=bucket, Key="p/rewritten.txt", Body=b"same")
    os.utime(w / "rewritten.txt", (2**32, 2**32))  # newer than the object
    argv = ["s3", "sync", "w", f"s3://{bucket}/p/", "--dryrun"]
    aws, ours, _ = _both(moto, tmp_path, argv, bucket, "p/", "w")
    assert aws == {("upload", "rewritten.txt")}
    assert ours == {("upload", "same-size.txt")}
    # --size-only gives the aws CLI's own --size-only rule
    aws, ours, _ = _both(moto, tmp_path, argv + ["--size-only"], bucket, "p/", "w")
    assert aws == ours == set()

    # a source folder with glob characters: the aws CLI joins the pattern to
    # it, so its filters match nothing; dbtrun matches the relative path
    g = tmp_path / "w[1]"
    g.mkdir()
    (g / "a.txt").write_bytes(b"a")
    (g / "b.txt").write_bytes(b"b")
    argv = ["s3", "sync", "w[1]", f"s3://{bucket}/g/", "--dryrun", "--exclude", "a.txt"]
    aws, ours, _ = _both(moto, tmp_path, argv, bucket, "g/", "w[1]")
    assert aws == {("upload", "a.txt"), ("upload", "b.txt")}
    assert ours == {("upload", "b.txt")}

    # `/*`: os.path.join makes it absolute for the aws CLI, excluding every
    # local file but no key; for dbtrun no relative path starts with '/'
    argv = ["s3", "sync", "w[1]", f"s3://{bucket}/s/", "--dryrun", "--exclude", "/*"]
    aws, ours, _ = _both(moto, tmp_path, argv, bucket, "s/", "w[1]")
    assert aws == set()
    assert ours == {("upload", "a.txt"), ("upload", "b.txt")}

    # a key with a ".." segment is refused even when it stays inside
    s3.put_object(Bucket=bucket, Key="u/x/../in.txt", Body=b"i")
    argv = ["s3", "sync", f"s3://{bucket}/u/", "d", "--dryrun"]
    drc, dout, derr = dbtrun_sync(moto, tmp_path, argv)
    assert drc == 1 and "UnsafeKey" in derr and "x/../in.txt" in derr
    assert "(dryrun) download" not in dout


def test_slash_keys_and_empty_patterns(moto, s3, tmp_path):
    """Issue 19, cases 4 and 5, spelt out: a stale non-empty `d/` and the
    prefix's own object are deleted by --delete, an empty marker is not, and
    `--exclude ''` (accepted) keeps the prefix's own object."""
    bucket = "slash-" + uuid.uuid4().hex[:12]
    s3.create_bucket(Bucket=bucket)
    for key, body in [("p/", b"x"), ("p/d/", b"yy"), ("p/e/", b""), ("p/a.txt", b"a")]:
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    w = tmp_path / "w"
    w.mkdir()
    (w / "a.txt").write_bytes(b"a")
    os.utime(w / "a.txt", (OLD, OLD))
    argv = ["s3", "sync", "w", f"s3://{bucket}/p/", "--dryrun", "--delete"]
    aws, ours, _ = _both(moto, tmp_path, argv, bucket, "p/", "w")
    assert aws == ours == {("delete", ""), ("delete", "d/")}
    aws, ours, _ = _both(moto, tmp_path, argv + ["--exclude", ""], bucket, "p/", "w")
    assert aws == ours == {("delete", "d/")}
    # downloading them cannot work (no file name): dbtrun says so at once
    argv = ["s3", "sync", f"s3://{bucket}/p/", "w", "--dryrun"]
    aws, ours, derr = _both(moto, tmp_path, argv, bucket, "p/", "w")
    assert aws == ours == {("download", ""), ("download", "d/")}
    assert "has no file name" in derr
    # and a real upload sync removes them
    r = dbtrun_sync(moto, tmp_path, argv[:2] + ["w", f"s3://{bucket}/p/", "--delete"])
    assert r[0] == 0, r[2]
    left = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert left == {"p/e/", "p/a.txt"}
