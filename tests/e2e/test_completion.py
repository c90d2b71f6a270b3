"""Shell completion: `dbtrun --complete` (what the scripts ask), the bash
function with COMP_LINE/COMP_WORDS set, and bash, zsh and fish driven on a
pseudo-terminal: a line is typed, Tab pressed, and the completed line read
back. Names come from target/manifest.json, else the state manifest."""
import json
import os
import pty
import re
import select
import shutil
import subprocess
import time

import pytest

from conftest import DBTRUN, dbtrun

TASKS = """
task("lint", { params = { "SELECTION" }, alias = { "chk" } }, function(a) print(a.SELECTION) end)
task("greet", { params = { "NAME" } }, function() end)
task("secret-thing", { private = true }, function() end)
"""


def node(typ, name, path, tags=()):
    return {"resource_type": typ, "name": name, "package_name": "shop", "original_file_path": path,
            "tags": list(tags), "checksum": {"name": "sha256", "checksum": name}, "depends_on": {"nodes": [], "macros": []}}


def manifest(extra=()):
    nodes = {
        "model.shop.stg_orders": node("model", "stg_orders", "models/staging/stg_orders.sql", ["daily", "finance"]),
        "model.shop.stg_customers": node("model", "stg_customers", "models/staging/stg_customers.sql", ["daily"]),
        "model.shop.orders": node("model", "orders", "models/marts/orders.sql", ["finance"]),
        "seed.shop.countries": node("seed", "countries", "seeds/countries.csv"),
        "snapshot.shop.orders_snap": node("snapshot", "orders_snap", "snapshots/orders_snap.sql"),
        "test.shop.not_null_orders_id": node("test", "not_null_orders_id", "models/marts/schema.yml"),
    }
    for name in extra:
        nodes[f"model.shop.{name}"] = node("model", name, f"models/{name}.sql")
    sources = {"source.shop.raw.payments": {"resource_type": "source", "name": "payments", "package_name": "shop",
                                            "original_file_path": "models/sources.yml"}}
    return {"metadata": {"dbt_version": "1.9.0"}, "nodes": nodes, "sources": sources, "exposures": {}, "macros": {}}


@pytest.fixture
def shop(project):
    d = project(TASKS)
    (d / "target").mkdir()
    (d / "target" / "manifest.json").write_text(json.dumps(manifest()))
    (d / "models").mkdir()
    return d


def complete(cwd, *words):
    r = dbtrun("--complete", "--", *words, cwd=cwd)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    kind, *cands = r.stdout.split("\n")
    assert cands[-1] == ""
    return kind, cands[:-1]


def test_task_position_offers_tasks_and_aliases_only(shop):
    kind, cands = complete(shop, "")
    assert kind == "words"
    assert {"lint", "chk", "greet", "dev-select", "dev", "plan"} <= set(cands)
    assert "secret-thing" not in cands
    assert not any(c in cands for c in ("orders", "state:", "tag:"))  # no selections here
    assert complete(shop, "ch") == ("words", ["chk"])
    assert complete(shop, "nothing-like-this") == ("words", [])  # not the file fallback


def test_options_before_the_task(shop):
    kind, cands = complete(shop, "--d")
    assert cands == ["--dry-run", "--directory", "--dotenv"]
    assert complete(shop, "--color", "al") == ("words", ["always"])
    assert complete(shop, "-C", "") == ("dirs", [])
    assert complete(shop, "--dotenv", "") == ("files", [])


def test_selection_names_and_methods(shop):
    assert complete(shop, "dev-select", "")[1][:5] == ["countries", "orders", "orders_snap", "stg_customers",
                                                      "stg_orders"]
    assert "not_null_orders_id" not in complete(shop, "dev-select", "")[1]  # models, seeds, snapshots
    assert complete(shop, "dev-select", "st") == ("words", ["stg_customers", "stg_orders", "state:"])
    assert complete(shop, "dev-select", "+stg_o") == ("words", ["+stg_orders"])
    assert complete(shop, "dev-select", "2+or")[1] == ["2+orders", "2+orders_snap"]
    assert complete(shop, "dev-select", "@cou")[1] == ["@countries"]
    assert complete(shop, "dev-select", "tag:")[1] == ["tag:daily", "tag:finance"]
    assert complete(shop, "dev-select", "+tag:fi")[1] == ["+tag:finance"]
    assert complete(shop, "dev-select", "state:modified.b")[1] == ["state:modified.body"]
    assert complete(shop, "dev-select", "path:")[1] == ["path:models/", "path:seeds/", "path:snapshots/"]
    assert complete(shop, "dev-select", "path:models/")[1] == [
        "path:models/marts/", "path:models/sources.yml", "path:models/staging/"]
    assert complete(shop, "dev-select", "source:")[1] == ["source:raw", "source:raw.payments"]
    assert complete(shop, "dev-select", "tag:daily,st")[1] == [
        "tag:daily,stg_customers", "tag:daily,stg_orders", "tag:daily,state:"]


def test_selection_parameters_flags_and_other_arguments(shop):
    assert complete(shop, "lint", "ord")[1] == ["orders", "orders_snap"]  # a SELECTION parameter
    assert complete(shop, "chk", "ord")[1] == ["orders", "orders_snap"]  # through its alias
    assert complete(shop, "greet", "ord") == ("files", [])  # NAME is not a selection
    assert complete(shop, "dev", "--select", "ord")[1] == ["orders", "orders_snap"]
    assert complete(shop, "dev", "--exclude", "tag:d")[1] == ["tag:daily"]
    assert complete(shop, "dev", "--select=cou")[1] == ["--select=countries"]
    assert complete(shop, "dev", "--fail-fast") == ("files", [])


def test_state_manifest_when_dbt_has_not_parsed(project):
    d = project(TASKS + 'config { state_dir = "prod" }\n')
    assert complete(d, "dev-select", "o") == ("words", [])  # no manifest at all: names unknown, no error
    (d / "prod").mkdir()
    (d / "prod" / "manifest.json").write_text(json.dumps(manifest(["only_in_state"])))
    assert complete(d, "dev-select", "only")[1] == ["only_in_state"]


def test_directory_and_file_options_are_honoured(shop, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    assert complete(elsewhere, "-C", str(shop), "ch")[1] == ["chk"]
    assert complete(elsewhere, "-f", str(shop / "dbtrun.lua"), "lint", "stg_c")[1] == ["stg_customers"]
    assert complete(elsewhere, "ch")[1] == []  # only the built-ins here


def test_a_broken_task_file_or_manifest_never_prints_an_error(project):
    d = project("this is not lua")
    (d / "target").mkdir()
    (d / "target" / "manifest.json").write_text("{ broken")
    kind, cands = complete(d, "dev")
    assert "dev-select" in cands  # the built-ins still complete
    kind, cands = complete(d, "dev-select", "")
    assert kind == "words" and cands[0] == "state:"  # methods, but no names from a broken manifest


def test_completion_reads_a_large_manifest_in_milliseconds(project):
    d = project(TASKS)
    (d / "target").mkdir()
    (d / "target" / "manifest.json").write_text(json.dumps(manifest([f"model_{i:05d}" for i in range(20000)])))
    start = time.monotonic()
    kind, cands = complete(d, "dev-select", "model_1999")
    elapsed = time.monotonic() - start
    assert cands == [f"model_1999{i}" for i in range(10)]
    assert elapsed < 1.0, elapsed  # about 0.05 s on a 2-core machine; generous for sanitizer builds


# ---- the scripts in real shells -----------------------------------------------


@pytest.fixture
def bindir(tmp_path_factory):
    """A PATH folder whose `dbtrun` is the binary under test (the scripts call `dbtrun`)."""
    d = tmp_path_factory.mktemp("bin")
    (d / "dbtrun").symlink_to(os.path.abspath(DBTRUN))
    return d


def shell_env(bindir, home):
    home.mkdir(exist_ok=True)
    return {"PATH": f"{bindir}:/usr/bin:/bin", "HOME": str(home), "TERM": "xterm", "LANG": "C.UTF-8"}


def bash_compreply(shop, bindir, line, words=None):
    """Calls _dbtrun as bash would, with COMP_LINE/COMP_POINT (or only COMP_WORDS/COMP_CWORD)."""
    script = subprocess.run([DBTRUN, "--completions", "bash"], capture_output=True, text=True).stdout
    if words is None:
        setup = f"COMP_LINE={shlex_quote(line)}; COMP_POINT=${{#COMP_LINE}}"
    else:
        setup = "COMP_WORDS=(" + " ".join(shlex_quote(w) for w in words) + f"); COMP_CWORD={len(words) - 1}"
    prog = script + f"\n{setup}\n_dbtrun\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n"
    r = subprocess.run(["bash", "--norc", "--noprofile", "-c", prog], cwd=shop, env=shell_env(bindir, shop / "h"),
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return [x for x in r.stdout.split("\n") if x]


def shlex_quote(s):
    return "'" + s.replace("'", "'\\''") + "'"


def test_bash_function_sets_compreply(shop, bindir):
    assert bash_compreply(shop, bindir, "dbtrun ch") == ["chk"]
    assert bash_compreply(shop, bindir, "dbtrun dev-select +stg_c") == ["+stg_customers"]
    # bash replaces only what follows the last ':' or '=', so the candidates start there
    assert bash_compreply(shop, bindir, "dbtrun dev-select tag:") == ["daily", "finance"]
    assert bash_compreply(shop, bindir, "dbtrun dev --select=cou") == ["countries"]
    assert sorted(bash_compreply(shop, bindir, "dbtrun -C ")) == ["h", "models", "target"]
    # without COMP_LINE (as some frameworks call it), from COMP_WORDS
    assert bash_compreply(shop, bindir, None, ["dbtrun", "lint", "or"]) == ["orders", "orders_snap"]


def read_until(fd, pattern, timeout=15):
    buf, end = b"", time.monotonic() + timeout
    while time.monotonic() < end:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            buf += chunk
            text = re.sub(r"\x1b\][^\x07]*\x07|\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][0-9A-B]|\x1b[=>]|\r", "", buf.decode(errors="replace"))
            m = re.search(pattern, text, re.M)
            if m:
                return m
    raise AssertionError(f"{pattern!r} not seen; the terminal showed:\n{buf.decode(errors='replace')[-3000:]}")


SHELLS = {
    "bash": (["bash", "--norc", "--noprofile"], "source {script}; PS1='READY> '; bind 'set bell-style none'"),
    "zsh": (["zsh", "-f"], "fpath=({dir} $fpath); autoload -Uz compinit; compinit -u; bindkey -e; PS1='READY> '"),
    "fish": (["fish", "--no-config"], "source {script}; function fish_prompt; echo -n 'READY> '; end"),
}


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
@pytest.mark.parametrize("typed, completed", [
    ("dbtrun dev-sel", "dbtrun dev-select"),
    ("dbtrun dev-select tag:fi", "dbtrun dev-select tag:finance"),
    ("dbtrun dev-select +stg_cu", "dbtrun dev-select +stg_customers"),
    ("dbtrun dev-select path:models/sta", "dbtrun dev-select path:models/staging/"),
    ("dbtrun -C mod", "dbtrun -C models/"),
])
def test_tab_in_a_real_shell_on_a_terminal(shop, bindir, tmp_path, shell, typed, completed):
    if not shutil.which(shell):
        pytest.skip(f"{shell} not installed (tools/deps.sh)")
    argv, setup = SHELLS[shell]
    folder = tmp_path / f"{shell}-completions"
    folder.mkdir()
    name = {"bash": "dbtrun.bash", "zsh": "_dbtrun", "fish": "dbtrun.fish"}[shell]
    (folder / name).write_text(subprocess.run([DBTRUN, "--completions", shell], capture_output=True, text=True).stdout)
    pid, fd = pty.fork()
    if pid == 0:
        os.chdir(shop)
        os.execvpe(argv[0], argv, shell_env(bindir, tmp_path / "home"))
    try:
        os.write(fd, (setup.format(script=folder / name, dir=folder) + "\n").encode())
        read_until(fd, r"(?<!')READY> ")  # the prompt, not the echoed PS1='READY> '
        # Tab completes; then Ctrl-A and `echo DONE:` turn the line into output to read back
        # (typed as DO''NE so that the shell's redraws of the line never match)
        os.write(fd, typed.encode() + b"\t")
        time.sleep(1.0)
        os.write(fd, b"\x01echo DO''NE: \r")
        m = read_until(fd, r"DONE: (.*?) *$")
        # zsh drops a folder's auto-removable "/" when the line is accepted
        assert m.group(1) in (completed, completed.rstrip("/") if typed.startswith("dbtrun -C") else completed)
    finally:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        os.close(fd)
