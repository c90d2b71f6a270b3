"""dbtrun init writes a loadable starter dbtrun.lua, the drop_schema macro and
two GitHub workflows that parse as YAML and run dbtrun ci / dbtrun deploy."""
import pytest

from conftest import dbtrun

yaml = pytest.importorskip("yaml")


def test_init_writes_starter_files_and_keeps_existing(tmp_path):
    r = dbtrun("init", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    for path in ("dbtrun.lua", "macros/drop_schema.sql", ".github/workflows/ci.yml", ".github/workflows/deploy.yml"):
        assert (tmp_path / path).exists(), path
    ci = yaml.safe_load((tmp_path / ".github/workflows/ci.yml").read_text())
    steps = ci["jobs"]["dbt-ci"]["steps"]
    assert steps[-1]["run"] == "dbtrun ci"
    assert ci["permissions"]["id-token"] == "write"
    deploy = yaml.safe_load((tmp_path / ".github/workflows/deploy.yml").read_text())
    assert deploy["jobs"]["dbt-deploy"]["steps"][-1]["run"] == "dbtrun deploy"
    assert "macro drop_schema" in (tmp_path / "macros/drop_schema.sql").read_text()
    # the starter task file loads
    assert dbtrun("--list", cwd=tmp_path).returncode == 0
    (tmp_path / "dbtrun.lua").write_text("-- mine\n")
    r = dbtrun("init", cwd=tmp_path)
    assert "kept     dbtrun.lua" in r.stderr
    assert (tmp_path / "dbtrun.lua").read_text() == "-- mine\n"
    assert dbtrun("init", "--force", cwd=tmp_path).returncode == 0
    assert (tmp_path / "dbtrun.lua").read_text() != "-- mine\n"
    assert dbtrun("init", "--bogus", cwd=tmp_path).returncode == 1
