"""Shared helpers for the end-to-end tests: they run the real dbtrun binary."""
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DBTRUN = os.environ.get("DBTRUN_BIN", str(ROOT / "build" / "dbtrun"))


def dbtrun(*args, cwd=None, env=None, timeout=60, **kw):
    """Runs dbtrun and returns the CompletedProcess (text mode, both streams captured)."""
    full_env = dict(os.environ)
    full_env.pop("NO_COLOR", None)
    full_env.update(env or {})
    return subprocess.run(
        [DBTRUN, *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout, **kw
    )


@pytest.fixture
def project(tmp_path):
    """Writes a dbtrun.lua in a fresh folder and returns the folder."""

    def make(text, name="dbtrun.lua"):
        (tmp_path / name).write_text(text)
        return tmp_path

    return make
