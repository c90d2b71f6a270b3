"""tools/check-layers.sh (make check-layers): passes on the repository and
fails, naming file and line, on each kind of forbidden include."""
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHECK = ROOT / "tools" / "check-layers.sh"


def run(tree):
    return subprocess.run([str(CHECK), str(tree)], capture_output=True, text=True)


def copy_tree(tmp_path):
    for d in ("src", "include", "runner"):
        shutil.copytree(ROOT / d, tmp_path / d)
    return tmp_path


def add_include(path, line):
    text = path.read_text()
    path.write_text(line + "\n" + text)


def test_repository_passes():
    r = run(ROOT)
    assert r.returncode == 0, r.stderr
    assert "layers: ok" in r.stdout


def test_base_including_aws_fails(tmp_path):
    tree = copy_tree(tmp_path)
    add_include(tree / "src/base/fs.c", '#include "dbtrun/s3.h"')
    r = run(tree)
    assert r.returncode == 1
    assert "src/base/fs.c:1: includes dbtrun/s3.h (aws) from the base floor" in r.stderr


def test_src_including_the_runner_fails(tmp_path):
    tree = copy_tree(tmp_path)
    add_include(tree / "src/lua/host.c", '#include "dbtrun/cli.h"')
    r = run(tree)
    assert r.returncode == 1
    assert "src/lua/host.c:1: includes dbtrun/cli.h (runner) from the lua floor" in r.stderr


def test_lua_outside_src_lua_fails(tmp_path):
    tree = copy_tree(tmp_path)
    add_include(tree / "src/dbt/plan.c", "#include <lua.h>")
    r = run(tree)
    assert r.returncode == 1
    assert "src/dbt/plan.c:1: includes <lua.h>: only src/lua/ may use Lua" in r.stderr


def test_header_reaching_up_fails(tmp_path):
    tree = copy_tree(tmp_path)
    add_include(tree / "include/dbtrun/buf.h", '#include "dbtrun/manifest.h"')
    r = run(tree)
    assert r.returncode == 1
    assert "include/dbtrun/buf.h:1: includes dbtrun/manifest.h (dbt) from the base floor" in r.stderr


def test_internal_header_elsewhere_fails(tmp_path):
    tree = copy_tree(tmp_path)
    add_include(tree / "src/aws/s3.c", '#include "bindings.h"')
    r = run(tree)
    assert r.returncode == 1
    assert 'src/aws/s3.c:1: includes "bindings.h", which is not beside it' in r.stderr
