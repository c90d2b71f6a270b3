"""A malformed manifest stops `dbtrun plan` (exit 2, the file, the JSON path
and the byte), and stops dev (which goes through the same plan.before_build as ci)
before anything is built, instead of reading as "nothing modified"."""
import os
import shutil
from pathlib import Path

import pytest

from conftest import ROOT, dbtrun

VENV_BIN = ROOT / ".venv" / "bin"
EXAMPLE = ROOT / "examples" / "jaffle_contacts"
HEAD = '{"metadata": {"dbt_schema_version": "https://schemas.getdbt.com/dbt/manifest/v12.json"}, '
GOOD = HEAD + '"nodes": {}}'


def plan(tmp_path, state_text, target_text=GOOD):
    (tmp_path / "st").mkdir()
    (tmp_path / "st" / "manifest.json").write_bytes(state_text.encode("utf-8", "surrogateescape"))
    (tmp_path / "cur.json").write_bytes(target_text.encode("utf-8", "surrogateescape"))
    return dbtrun("plan", "--state", "st", "--target-manifest", "cur.json", "--no-parse", cwd=tmp_path)


@pytest.mark.parametrize("text, message", [
    ('{"nodes": []}', "st/manifest.json: field nodes: expected an object, got an array (at byte 10)"),
    ('{"nodes": {"model.p.x": {"depends_on": {"nodes": "model.p.y"}}}}',
     "st/manifest.json: field nodes.model.p.x.depends_on.nodes: expected an array or null, "
     "got a string (at byte 49)"),
    ('{"nodes": {"model.p.x": {"config": [1]}}}',
     "st/manifest.json: field nodes.model.p.x.config: expected an object or null, got an array"),
    ('{"nodes": {"model.p.x": {"name": "a"', "st/manifest.json: field nodes.model.p.x: unexpected end of input"),
    ('{"nodes": {"model.p.x": {"name": "a\udcff"}}}',
     "st/manifest.json: field nodes.model.p.x.name: invalid UTF-8 in the string at byte 33"),
])
def test_plan_on_a_malformed_manifest_exits_2(tmp_path, text, message):
    r = plan(tmp_path, text)
    assert r.returncode == 2, r.stdout + r.stderr
    assert message in r.stderr
    assert "selects" not in r.stdout


def test_plan_on_a_malformed_target_manifest_exits_2(tmp_path):
    r = plan(tmp_path, GOOD, '{"nodes": {"model.p.x": {"checksum": 7}}}')
    assert r.returncode == 2, r.stdout + r.stderr
    assert "cur.json: field nodes.model.p.x.checksum: expected an object or a string or null, got a number" in r.stderr


@pytest.mark.skipif(not (VENV_BIN / "dbt").exists(), reason="needs the venv's dbt (tools/venv.sh)")
def test_dev_stops_on_a_malformed_production_manifest(tmp_path):
    project = tmp_path / "project"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("target", "logs", "*.duckdb*", ".artifacts", ".dbtrun"))
    store = project / ".dbtrun" / "store" / "artifacts"
    store.mkdir(parents=True)
    (store / "manifest.json").write_text(HEAD + '"nodes": {"model.jaffle_contacts.x": {"depends_on": {"nodes": "model.a"}}}}')
    (project / "target").mkdir()
    (project / "target" / "manifest.json").write_text(GOOD)  # newer than the inputs: no dbt parse
    env = {"PATH": f"{VENV_BIN}:{os.environ['PATH']}", "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
           "GITHUB_ACTIONS": "", "GITHUB_EVENT_PATH": "", "GITHUB_STEP_SUMMARY": "", "GITHUB_TOKEN": ""}
    r = dbtrun("dev", cwd=project, env=env, timeout=300)
    assert r.returncode == 2, r.stdout[-2000:] + r.stderr
    assert ("plan: .artifacts/manifest.json: field nodes.model.jaffle_contacts.x.depends_on.nodes: "
            "expected an array or null, got a string") in r.stderr
    assert "building anyway" not in r.stderr
    assert not any(line.startswith("dbt build") for line in r.stderr.splitlines())
