"""The ways dbtrun reaches a machine other than `make install`: the platform
wheel of `make wheel` (pip/uv put `dbtrun` in the venv's bin/ next to dbt) and
the release tarball of `make dist`.

The wheel is built here with `make wheel` (the build is incremental, so under
`make check` the second run is a no-op), or taken from DBTRUN_WHEEL when that
names one. It is installed with pip --no-index into a venv made for the test,
and everything after that runs the installed copy found on PATH, as a user's
shell would: --version, --list, and the example project's deploy and dev on
the local store, with dbt from the repository's .venv further down PATH.

The missing-libcurl test runs the wheel's binary in a chroot that holds only
glibc: a real host without libcurl and libcrypto, where dlopen really fails,
rather than a test hook inside dbtrun that pretends it did."""
import base64
import csv
import hashlib
import io
import os
import re
import shutil
import stat
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from conftest import ROOT

VERSION = (ROOT / "VERSION").read_text().strip()
REPO_VENV_BIN = ROOT / ".venv" / "bin"
WHEEL_RE = re.compile(rf"dbtrun-{re.escape(VERSION)}-py3-none-(manylinux_2_(\d+)_x86_64)\.whl")


def _make(target):
    """Runs `make <target>` at the top of the repository; its stdout. The make
    that runs the suites (make test / make asan) exports its flags in
    MAKEFLAGS; they are dropped so this build is the plain one of a user."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    r = subprocess.run(["make", "--no-print-directory", "-j2", target], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, f"make {target} failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r.stdout


@pytest.fixture(scope="module")
def wheel():
    given = os.environ.get("DBTRUN_WHEEL")
    if given:
        path = Path(given)
        assert path.is_file(), f"DBTRUN_WHEEL={given}: no such file"
        return path
    out = _make("wheel")
    found = re.findall(r"WHL\s+(\S+\.whl)", out)
    assert found, out
    return ROOT / found[-1]


@pytest.fixture(scope="module")
def tag(wheel):
    m = WHEEL_RE.fullmatch(wheel.name)
    assert m, f"{wheel.name} is not dbtrun-{VERSION}-py3-none-manylinux_2_N_x86_64.whl"
    return m.group(1)


def test_wheel_holds_the_binary_metadata_and_a_true_record(wheel, tag):
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        info = f"dbtrun-{VERSION}.dist-info"
        script = f"dbtrun-{VERSION}.data/scripts/dbtrun"
        assert names == {script, f"{info}/METADATA", f"{info}/WHEEL", f"{info}/RECORD"}
        mode = zf.getinfo(script).external_attr >> 16
        assert stat.S_ISREG(mode) and stat.S_IMODE(mode) == 0o755
        assert zf.read(script)[:4] == b"\x7fELF"

        wheel_file = zf.read(f"{info}/WHEEL").decode()
        assert "Wheel-Version: 1.0\n" in wheel_file and "Root-Is-Purelib: false\n" in wheel_file
        assert f"Tag: py3-none-{tag}\n" in wheel_file
        meta = zf.read(f"{info}/METADATA").decode()
        assert meta.startswith("Metadata-Version: 2.1\nName: dbtrun\n")
        assert f"\nVersion: {VERSION}\n" in meta

        rows = list(csv.reader(io.StringIO(zf.read(f"{info}/RECORD").decode())))
        assert {r[0] for r in rows} == names
        for path, digest, size in rows:
            if path.endswith("/RECORD"):
                assert (digest, size) == ("", "")
                continue
            data = zf.read(path)
            want = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            assert (digest, size) == (f"sha256={want}", str(len(data))), path


def test_wheel_installs_where_ubuntu_22_04_and_rhel_9_are(tag):
    # glibc 2.35 and 2.34. Debian 12's libexpat.a alone would ask for 2.36
    # (arc4random_buf): tools/glibc_compat.c keeps it out.
    assert int(tag.split("_")[2]) <= 34, tag


def test_auditwheel_reports_the_tag_of_the_file_name(wheel, tag):
    auditwheel = REPO_VENV_BIN / "auditwheel"
    if not auditwheel.exists():
        pytest.skip("auditwheel is not installed (tools/venv.sh installs requirements.txt)")
    r = subprocess.run([str(auditwheel), "show", str(wheel)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    text = " ".join(r.stdout.split())
    m = re.search(r'is consistent with the following platform tag: "([^"]+)"', text)
    assert m, text
    assert m.group(1) == tag
    # libcurl and libcrypto are dlopened: nothing outside glibc is linked.
    assert "libcurl" not in text and "libcrypto" not in text and "libcjson" not in text


def _fresh_venv(tmp_path):
    try:
        import venv  # noqa: F401
        import ensurepip  # noqa: F401
    except ImportError as e:
        pytest.skip(f"the Python venv module with ensurepip is missing (python3-venv): {e}")
    env_dir = tmp_path / "venv"
    r = subprocess.run([sys.executable, "-m", "venv", str(env_dir)], capture_output=True, text=True,
                       timeout=300)
    if r.returncode != 0:
        pytest.skip(f"python -m venv cannot create a venv here (python3-venv): {r.stderr.strip()}")
    return env_dir


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory):
    """A fresh venv with the wheel installed by pip from the file alone."""
    env_dir = _fresh_venv(tmp_path_factory.mktemp("wheel"))
    r = subprocess.run([str(env_dir / "bin" / "python"), "-m", "pip", "install", "--no-index",
                        "--disable-pip-version-check", str(wheel)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    return env_dir


def _path(venv_dir):
    return os.pathsep.join([str(venv_dir / "bin"), str(REPO_VENV_BIN), os.environ["PATH"]])


def _run(args, venv_dir, cwd, timeout=60):
    env = dict(os.environ, PATH=_path(venv_dir), DBT_SEND_ANONYMOUS_USAGE_STATS="false",
               GITHUB_ACTIONS="", GITHUB_EVENT_PATH="", GITHUB_STEP_SUMMARY="", GITHUB_TOKEN="")
    env.pop("NO_COLOR", None)
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def test_pip_puts_dbtrun_in_the_venvs_bin(installed, tmp_path):
    exe = installed / "bin" / "dbtrun"
    assert exe.is_file() and os.access(exe, os.X_OK)
    assert shutil.which("dbtrun", path=_path(installed)) == str(exe)
    r = _run(["dbtrun", "--version"], installed, tmp_path)
    assert (r.returncode, r.stdout.strip()) == (0, f"dbtrun {VERSION}"), r.stderr


def test_installed_dbtrun_lists_and_runs_the_example_loop(installed, tmp_path):
    if not (REPO_VENV_BIN / "dbt").exists():
        pytest.skip("dbt is not installed (tools/venv.sh)")
    project = tmp_path / "jaffle_contacts"
    shutil.copytree(ROOT / "examples" / "jaffle_contacts", project,
                    ignore=shutil.ignore_patterns("target", "logs", "*.duckdb*", ".artifacts", ".dbtrun"))
    r = _run(["dbtrun", "--list"], installed, project)
    assert r.returncode == 0, r.stderr
    assert re.search(r"^\s+deploy\s+#", r.stdout, re.M) and re.search(r"^\s+dev\b", r.stdout, re.M)

    r = _run(["dbtrun", "deploy"], installed, project, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr
    assert (project / ".dbtrun" / "store" / "artifacts" / "manifest.json").is_file()

    model = project / "models" / "intermediate" / "int_contacts__enriched.sql"
    model.write_text(model.read_text() + "\n-- an edit\n")
    r = _run(["dbtrun", "dev"], installed, project, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr
    assert "fetched the production manifest from file://.dbtrun/store/artifacts/" in r.stderr
    assert "rebuilt 3 model(s)" in r.stderr


def test_pip_uninstall_removes_the_binary(wheel, tmp_path):
    env_dir = _fresh_venv(tmp_path)
    pip = [str(env_dir / "bin" / "python"), "-m", "pip", "--disable-pip-version-check"]
    assert subprocess.run(pip + ["install", "--no-index", str(wheel)], capture_output=True,
                          timeout=300).returncode == 0
    assert (env_dir / "bin" / "dbtrun").exists()
    r = subprocess.run(pip + ["uninstall", "-y", "dbtrun"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert not (env_dir / "bin" / "dbtrun").exists()


# ---- a host with glibc and nothing else ---------------------------------------


def _glibc_root(root, binary):
    """A folder holding `binary` as /bin/dbtrun, the glibc files it loads (as
    ldd resolves them) and an empty /proj; nothing else: no libcurl, no
    libcrypto, no shell."""
    (root / "bin").mkdir(parents=True)
    (root / "proj").mkdir()
    (root / "tmp").mkdir()
    shutil.copy2(binary, root / "bin" / "dbtrun")
    ldd = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=True).stdout
    for path in re.findall(r"(/\S+) \(0x", ldd):
        dest = root / path.lstrip("/")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, dest)
    return root


def _in_root(root, args, env):
    """Runs args inside the chroot `root`: chroot as root, else in a user
    namespace (unshare -r) where the caller is root."""
    tools = ["chroot"] if os.geteuid() == 0 else ["unshare", "chroot"]
    found = [shutil.which(t, path=os.environ["PATH"] + ":/usr/sbin:/sbin") for t in tools]
    if None in found:
        pytest.skip(f"{' and '.join(tools)} not installed (coreutils, util-linux)")
    base = [found[0], str(root)] if len(found) == 1 else [found[0], "-r", found[1], str(root)]
    r = subprocess.run(base + ["/bin/dbtrun", "--version"], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        pytest.skip(f"cannot chroot here: {r.stderr.strip()}")
    return subprocess.run(base + args, env=env, capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def glibc_only(wheel, tmp_path_factory):
    root = tmp_path_factory.mktemp("glibc-only")
    with zipfile.ZipFile(wheel) as zf:
        binary = root / "dbtrun"
        binary.write_bytes(zf.read(f"dbtrun-{VERSION}.data/scripts/dbtrun"))
        binary.chmod(0o755)
    return _glibc_root(root / "root", binary)


AWS_ENV = {"PATH": "/bin", "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "notasecret",
           "AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true", "HOME": "/tmp"}


def test_wheel_binary_runs_tasks_on_a_host_with_only_glibc(glibc_only):
    (glibc_only / "proj" / "dbtrun.lua").write_text('task("hi", function() print("hello") end)\n')
    r = _in_root(glibc_only, ["/bin/dbtrun", "-C", "/proj", "hi"], AWS_ENV)
    assert (r.returncode, r.stdout) == (0, "hello\n"), r.stderr


def test_missing_libcurl_names_the_package(glibc_only):
    r = _in_root(glibc_only, ["/bin/dbtrun", "aws", "s3", "ls", "s3://bucket",
                              "--endpoint-url", "http://127.0.0.1:9"], AWS_ENV)
    assert r.returncode == 1
    assert "cannot load libcurl: libcurl.so.4: cannot open shared object file" in r.stderr
    assert "install the Debian/Ubuntu package libcurl4 (libcurl4t64 on Ubuntu 24.04)" in r.stderr


def test_missing_libcrypto_names_the_package(glibc_only):
    # presign signs locally: libcrypto is the only library it needs.
    r = _in_root(glibc_only, ["/bin/dbtrun", "aws", "s3", "presign", "s3://bucket/key"], AWS_ENV)
    assert r.returncode == 1
    assert "cannot load libcrypto: libcrypto.so.3: cannot open shared object file" in r.stderr
    assert "install the Debian/Ubuntu package libssl3 (libssl3t64 on Ubuntu 24.04)" in r.stderr


# ---- the release tarball ------------------------------------------------------


def test_release_tarball_unpacks_and_runs(tmp_path, tag):
    out = _make("dist")
    name = f"dbtrun-{VERSION}-linux-x86_64"
    tarball = ROOT / "dist" / f"{name}.tar.gz"
    assert f"dist/{name}.tar.gz" in out and tarball.is_file()
    with tarfile.open(tarball) as tf:
        members = {m.name: m for m in tf.getmembers()}
        assert set(members) == {name, f"{name}/dbtrun", f"{name}/README.md", f"{name}/INSTALL"}
        assert members[f"{name}/dbtrun"].mode == 0o755
        assert all(m.uid == 0 and m.gid == 0 for m in members.values())
        tf.extractall(tmp_path, filter="data")
    folder = tmp_path / name
    r = subprocess.run([str(folder / "dbtrun"), "--version"], capture_output=True, text=True, timeout=30)
    assert (r.returncode, r.stdout.strip()) == (0, f"dbtrun {VERSION}")
    note = (folder / "INSTALL").read_text()
    glibc = "2." + tag.split("_")[2]
    assert f"dbtrun {VERSION} for Linux x86_64" in note and f"glibc {glibc} or newer" in note
    assert "libcurl4" in note and "libssl3" in note
