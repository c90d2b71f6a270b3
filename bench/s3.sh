#!/usr/bin/env bash
# bench/s3.sh — S3 transfers of dbtrun against `aws s3` and s5cmd on one
# moto_server (127.0.0.1, ephemeral port), in the same run: sync of 1000
# small files, sync of one 200 MiB file, re-sync of the unchanged 1000-file
# tree, and a repeated fetch of an unchanged 50 MiB manifest. Prints seconds,
# peak RSS and the ratios (dbtrun / other; below 1 means dbtrun is faster).
# Needs the venv (tools/venv.sh: moto, awscli, s5cmd). SMALL=N, BIG_MIB=N
# shrink the cases; REPEAT=N runs (median time, peak RSS over the runs).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export DBTRUN_BIN=${DBTRUN_BIN:-$root/build/dbtrun}
export VENV_BIN=$root/.venv/bin
[ -x "$VENV_BIN/moto_server" ] || { echo "s3.sh: moto_server not found (run tools/venv.sh)" >&2; exit 1; }
exec "$VENV_BIN/python" - "$@" <<'PY'
import os, resource, shutil, socket, subprocess, sys, tempfile, time, uuid

bin_ = os.environ["VENV_BIN"]
dbtrun = os.environ["DBTRUN_BIN"]
small = int(os.environ.get("SMALL", "1000"))
big_mib = int(os.environ.get("BIG_MIB", "200"))
repeat = int(os.environ.get("REPEAT", "3"))

with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
url = f"http://127.0.0.1:{port}"
moto = subprocess.Popen([f"{bin_}/moto_server", "-H", "127.0.0.1", "-p", str(port)],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
work = tempfile.mkdtemp(prefix="dbtrun-bench-s3-")
env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
env.update(AWS_ENDPOINT_URL=url, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
           AWS_DEFAULT_REGION="us-east-1", AWS_CONFIG_FILE=f"{work}/none",
           AWS_SHARED_CREDENTIALS_FILE=f"{work}/none")


def run(argv):
    """Seconds, peak RSS (MiB) and CPU seconds (user + system) of one command,
    from GNU time (a forked Python's own RSS would count in rusage); fails
    loudly. The CPU time is the client's alone: on one moto server the wall
    time of a many-file sync is mostly moto's, whichever client drives it."""
    start = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-f", "%M %U %S", "-o", f"{work}/rss", *argv], cwd=work,
                       env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if p.returncode != 0:
        sys.exit(f"failed: {' '.join(argv)}\n{p.stderr.decode()}")
    with open(f"{work}/rss") as f:
        rss, user, system = f.read().split()[-3:]
        return elapsed, int(rss) / 1024, float(user) + float(system)


tools = {
    "dbtrun": lambda *a: [dbtrun, "aws", "s3", *a],
    "aws": lambda *a: [f"{bin_}/aws", "--endpoint-url", url, "s3", *a, "--only-show-errors"],
    "s5cmd": lambda *a: [f"{bin_}/s5cmd", "--endpoint-url", url, *a],
}

try:
    deadline = time.time() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if time.time() > deadline:
                sys.exit("moto_server did not start")
            time.sleep(0.05)
    subprocess.run([f"{bin_}/aws", "--endpoint-url", url, "s3", "mb", "s3://bench"], env=env,
                   check=True, stdout=subprocess.DEVNULL)
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
    with open(f"{work}/manifest.json", "wb") as f:
        f.write(os.urandom(50 << 20))

    # every tool runs each case REPEAT times, in rotating order so none always
    # meets a colder or fuller moto; the median counts
    rounds = {name: [] for name in tools}
    names = list(tools)
    for rnd in range(repeat):
        for name in names[rnd % len(names):] + names[: rnd % len(names)]:
            t = tools[name]
            p = uuid.uuid4().hex[:8]
            r = {}
            r[f"sync {small} small files"] = run(t("sync", "small/", f"s3://bench/{p}/small/"))
            r["re-sync unchanged tree"] = run(t("sync", "small/", f"s3://bench/{p}/small/"))
            r[f"sync one {big_mib} MiB file"] = run(t("sync", "big/", f"s3://bench/{p}/big/"))
            key = f"s3://bench/{p}/manifest.json"
            run(t("cp", "manifest.json", key))
            run(t("cp", key, f"{name}-manifest.json"))
            r["fetch unchanged 50 MiB"] = run(t("cp", key, f"{name}-manifest.json"))
            rounds[name].append(r)
    results = {}
    for name, rs in rounds.items():
        results[name] = {}
        for c in rs[0]:
            times = sorted(x[c][0] for x in rs)
            cpus = sorted(x[c][2] for x in rs)
            results[name][c] = (times[len(times) // 2], max(x[c][1] for x in rs), cpus[len(cpus) // 2])

    cases = list(results["dbtrun"])
    print(f"{'case':<28} {'dbtrun':>16} {'aws':>16} {'s5cmd':>16} {'vs aws':>7} {'vs s5cmd':>8}")
    for c in cases:
        d, a, s = (results[n][c] for n in ("dbtrun", "aws", "s5cmd"))
        cell = lambda v: f"{v[0]:7.2f}s {v[1]:5.0f}MiB"
        print(f"{c:<28} {cell(d):>16} {cell(a):>16} {cell(s):>16} {d[0]/a[0]:6.2f}x {d[0]/s[0]:7.2f}x")
    print(f"\n{'client CPU (user + sys)':<28} {'dbtrun':>8} {'aws':>8} {'s5cmd':>8} {'vs aws':>7} {'vs s5cmd':>8}")
    for c in cases:
        d, a, s = (results[n][c][2] for n in ("dbtrun", "aws", "s5cmd"))
        print(f"{c:<28} {d:7.2f}s {a:7.2f}s {s:7.2f}s {d/max(a, 0.01):6.2f}x {d/max(s, 0.01):7.2f}x")
finally:
    moto.terminate()
    moto.wait()
    shutil.rmtree(work, ignore_errors=True)
PY
