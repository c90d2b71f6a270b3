"""`uv add --dev` of dbtrun's wheel puts `dbtrun` in the project's .venv/bin,
beside dbt (issue 13), and the uv workflows `dbtrun init` writes can install
it again from the lock file alone.

dbtrun is not on PyPI yet, so the wheel of `make wheel` (test_wheel.py's
fixture) is copied into the project, as a team would commit it, and added by
its path: pyproject.toml then names it under [tool.uv.sources] and uv.lock
records its hash. Everything runs offline (UV_OFFLINE=1: the wheel has no
dependencies), with a cache of its own and the Python that runs pytest, so uv
neither reaches PyPI nor downloads an interpreter. dbt comes from the
repository's .venv, further down PATH than the project's .venv/bin."""
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import ROOT
from test_wheel import REPO_VENV_BIN, VERSION, wheel  # noqa: F401  (wheel is a fixture)
from test_init import check_common, lint, make_project, steps

yaml = pytest.importorskip("yaml")

PYPROJECT = '[project]\nname = "{name}"\nversion = "0.1.0"\nrequires-python = ">=3.11"\ndependencies = []\n'


def _uv():
    found = REPO_VENV_BIN / "uv"
    if found.exists():
        return str(found)
    found = shutil.which("uv")
    if not found:
        pytest.skip("uv is not installed (tools/venv.sh installs requirements.txt)")
    return found


def _env(project, tmp_path):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("UV_", "VIRTUAL_ENV", "DBTRUN_", "GITHUB_")) and k != "NO_COLOR"}
    env.update(UV_CACHE_DIR=str(tmp_path / "uv-cache"), UV_PYTHON=sys.executable,
               UV_PYTHON_DOWNLOADS="never", UV_OFFLINE="1", UV_NO_CONFIG="1",
               DBT_SEND_ANONYMOUS_USAGE_STATS="false", AWS_EC2_METADATA_DISABLED="true",
               PATH=os.pathsep.join([str(project / ".venv" / "bin"), str(REPO_VENV_BIN), os.environ["PATH"]]))
    return env


def _run(args, project, tmp_path, timeout=120):
    return subprocess.run(args, cwd=project, env=_env(project, tmp_path), capture_output=True, text=True,
                          timeout=timeout)


def _uv_add(project, wheel, tmp_path):  # noqa: F811
    """pyproject.toml, the wheel in wheels/, and `uv add --dev ./wheels/<file>`."""
    (project / "pyproject.toml").write_text(PYPROJECT.format(name=project.name.replace("_", "-")))
    (project / "wheels").mkdir()
    shutil.copy2(wheel, project / "wheels" / wheel.name)
    r = _run([_uv(), "add", "--dev", f"./wheels/{wheel.name}"], project, tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    return r


@pytest.fixture(scope="module")
def jaffle(wheel, tmp_path_factory):  # noqa: F811
    """The example project with dbtrun added to it by uv."""
    tmp = tmp_path_factory.mktemp("uv")
    project = tmp / "jaffle_contacts"
    shutil.copytree(ROOT / "examples" / "jaffle_contacts", project,
                    ignore=shutil.ignore_patterns("target", "logs", "*.duckdb*", ".artifacts", ".dbtrun", ".venv"))
    _uv_add(project, wheel, tmp)
    return project


def test_uv_add_puts_dbtrun_in_the_projects_venv(jaffle, wheel, tmp_path):  # noqa: F811
    exe = jaffle / ".venv" / "bin" / "dbtrun"
    assert exe.is_file() and os.access(exe, os.X_OK)
    assert shutil.which("dbtrun", path=_env(jaffle, tmp_path)["PATH"]) == str(exe)
    r = _run(["dbtrun", "--version"], jaffle, tmp_path)
    assert (r.returncode, r.stdout.strip()) == (0, f"dbtrun {VERSION}"), r.stderr
    r = _run(["dbtrun", "--list"], jaffle, tmp_path)
    assert r.returncode == 0, r.stderr
    assert re.search(r"^\s+deploy\s+#", r.stdout, re.M) and re.search(r"^\s+dev\b", r.stdout, re.M)

    pyproject = (jaffle / "pyproject.toml").read_text()
    assert re.search(r'^\[dependency-groups\]\ndev = \[\n\s+"dbtrun",\n\]', pyproject, re.M), pyproject
    assert f'dbtrun = {{ path = "wheels/{wheel.name}" }}' in pyproject
    lock = (jaffle / "uv.lock").read_text()
    assert re.search(rf'^name = "dbtrun"\nversion = "{re.escape(VERSION)}"\n'
                     rf'source = {{ path = "wheels/{re.escape(wheel.name)}" }}', lock, re.M), lock
    assert re.search(rf'filename = "{re.escape(wheel.name)}", hash = "sha256:[0-9a-f]{{64}}"', lock)


def test_uv_sync_locked_installs_it_again_in_a_fresh_checkout(jaffle, tmp_path):
    # What the generated workflows run on a runner: the committed files, no .venv.
    fresh = tmp_path / "checkout"
    fresh.mkdir()
    for name in ("pyproject.toml", "uv.lock", "wheels"):
        src = jaffle / name
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, fresh / name)
    r = _run([_uv(), "sync", "--locked"], fresh, tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"+ dbtrun=={VERSION}" in r.stderr
    r = _run(["dbtrun", "--version"], fresh, tmp_path)
    assert (r.returncode, r.stdout.strip()) == (0, f"dbtrun {VERSION}"), r.stderr
    assert shutil.which("dbtrun", path=_env(fresh, tmp_path)["PATH"]) == str(fresh / ".venv" / "bin" / "dbtrun")

    # --locked refuses a lock file that no longer matches pyproject.toml.
    (fresh / "pyproject.toml").write_text((fresh / "pyproject.toml").read_text().replace('"0.1.0"', '"0.2.0"', 1))
    r = _run([_uv(), "sync", "--locked"], fresh, tmp_path)
    assert r.returncode != 0 and "needs to be updated, but `--locked` was provided" in r.stderr, r.stderr

    # A wheel replaced without `uv lock` is refused too: the lock holds its hash.
    shutil.copy2(jaffle / "pyproject.toml", fresh / "pyproject.toml")
    shutil.rmtree(fresh / ".venv")
    with zipfile.ZipFile(next((fresh / "wheels").glob("*.whl")), "a") as zf:
        zf.comment = b"rebuilt"
    r = _run([_uv(), "sync", "--locked"], fresh, tmp_path)
    assert r.returncode != 0 and "Hash mismatch for `dbtrun @ file://" in r.stderr, r.stderr
    # (plain `uv lock` keeps the old hash; --upgrade-package takes the new one)
    r = _run([_uv(), "lock", "--upgrade-package", "dbtrun"], fresh, tmp_path)
    assert r.returncode == 0, r.stderr
    r = _run([_uv(), "sync", "--locked"], fresh, tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr


def test_the_example_loop_runs_with_uvs_dbtrun(jaffle, tmp_path):
    if not (REPO_VENV_BIN / "dbt").exists():
        pytest.skip("dbt is not installed (tools/venv.sh)")
    r = _run(["dbtrun", "deploy"], jaffle, tmp_path, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr
    assert (jaffle / ".dbtrun" / "store" / "artifacts" / "manifest.json").is_file()

    model = jaffle / "models" / "intermediate" / "int_contacts__enriched.sql"
    model.write_text(model.read_text() + "\n-- an edit\n")
    r = _run(["dbtrun", "dev"], jaffle, tmp_path, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr
    assert "fetched the production manifest from file://.dbtrun/store/artifacts/" in r.stderr
    assert "rebuilt 3 model(s)" in r.stderr


def test_init_in_a_project_uv_added_dbtrun_to_writes_the_uv_workflows(wheel, tmp_path):  # noqa: F811
    # test_init.py covers a hand-written pyproject.toml; this is the one uv
    # itself writes (a dev group plus a path source), read by uv's own dbtrun.
    proj = make_project(tmp_path / "acme", "duckdb")
    _uv_add(proj, wheel, tmp_path)
    env = _env(proj, tmp_path)
    env.update(HOME=str(tmp_path), AWS_CONFIG_FILE=str(tmp_path / "no-aws-config"),
               AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-aws-creds"))
    r = subprocess.run(["dbtrun", "init"], cwd=proj, env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "workflows install with uv sync" in r.stderr
    assert not (proj / "requirements-dbtrun.txt").exists()
    ci, deploy = check_common(proj)
    for wf, job in ((ci, "dbt-ci"), (deploy, "dbt-deploy")):
        s = steps(wf, job)
        assert s["Install uv"]["uses"].startswith("astral-sh/setup-uv@")
        assert s["Install dbt and dbtrun (pyproject.toml)"]["run"] == "uv sync --python 3.11 --locked"
    lint(proj)
