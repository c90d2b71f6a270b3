"""The task file's bytecode cache (.dbtrun/cache/, src/lua/l_cache.c): a run
that finds a whole entry for this text, chunk name and dbtrun version skips
parsing; anything else — an edit, a torn or corrupt entry, a folder that
cannot be written — falls back to compiling, silently. Errors keep naming
the user's file:line either way."""
import os
import shutil
import subprocess
import tempfile

import pytest

from conftest import DBTRUN, dbtrun

TASKS = """\
-- Say hello
-- (in two lines)
task("hello", function()
  print("hello")
end)

-- Fail on purpose
task("boom", function()
  local t = nil
  return t.field
end)

task("undocumented", function() end)
"""


def entries(d, kind=""):
    """The cache's files whose names start with `kind` ("taskfile-", "list-")."""
    cache = d / ".dbtrun" / "cache"
    return sorted(f for f in cache.iterdir() if f.name.startswith(kind)) if cache.exists() else []


def only_entry(d, kind="taskfile-"):
    found = entries(d, kind)
    assert len(found) == 1, entries(d)
    return found[0]


def test_first_run_writes_the_entry_and_the_next_one_uses_it(project):
    d = project(TASKS)
    first = dbtrun("hello", cwd=d)
    assert first.returncode == 0 and first.stdout == "hello\n"
    entry = only_entry(d)
    assert entry.name.startswith("taskfile-") and entry.suffix == ".luac"
    before = entry.stat()
    second = dbtrun("hello", cwd=d)
    assert second.returncode == 0 and second.stdout == "hello\n" and second.stderr == ""
    after = only_entry(d).stat()
    # a hit reads the entry; a miss would have renamed a new file into place
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_list_from_a_cached_run_shows_the_doc_comments(project):
    d = project(TASKS)
    uncached = dbtrun("--list", cwd=d)
    assert entries(d)
    cached = dbtrun("--list", cwd=d)
    assert cached.returncode == 0
    assert cached.stdout == uncached.stdout
    assert "hello" in cached.stdout and "# Say hello (in two lines)" in cached.stdout
    assert "# Fail on purpose" in cached.stdout
    line = next(l for l in cached.stdout.splitlines() if "undocumented" in l)
    assert "#" not in line
    assert dbtrun("--list", "--json", cwd=d).stdout == dbtrun("--list", "--json", cwd=d).stdout


TRICKY = (
    "-- above a blank line: no doc\n\n"
    "task(\"a\", function() end)\n"
    "-- doc of b\n"
    "--[[ a block ]] task(\"b\", function() end)\n"
    "-- doc of c, trailing spaces   \r\n"
    "  --   indented, CRLF\r\n"
    "task(\"c\", function() end)\r\n"
    "--[[\nblock\n]]\n"
    "task(\"d\", function() end)\n"
    "---- many dashes\n"
    "task(\"e\", {\n  params = { \"X=1\" },\n}, function() end)\n"
    "-- doc of f\n"
    "if true then task(\"f\", function() end) end\n"
)


def test_doc_comments_from_the_cache_match_the_text_exactly(project):
    d = project(TRICKY)
    uncached = dbtrun("--list", "--json", cwd=d)
    assert uncached.returncode == 0, uncached.stderr
    assert entries(d)
    cached = dbtrun("--list", "--json", cwd=d)
    assert cached.stdout == uncached.stdout
    docs = {t["name"]: t.get("doc") for t in __import__("json").loads(cached.stdout)["tasks"]}
    assert docs["a"] is None and docs["d"] is None
    assert docs["b"] == "doc of b"
    assert docs["c"].startswith("doc of c, trailing spaces") and docs["c"].endswith("indented, CRLF")
    assert docs["e"] == "many dashes" and docs["f"] == "doc of f"
    assert dbtrun("--list", cwd=d).stdout == dbtrun("--list", cwd=d).stdout


def test_an_edit_is_a_miss_and_replaces_the_entry(project):
    d = project(TASKS)
    assert dbtrun("hello", cwd=d).stdout == "hello\n"
    old = only_entry(d).read_bytes()
    (d / "dbtrun.lua").write_text(TASKS.replace('print("hello")', 'print("edited")').replace("Say hello", "Say it"))
    r = dbtrun("hello", cwd=d)
    assert r.returncode == 0 and r.stdout == "edited\n"
    assert only_entry(d).read_bytes() != old  # one entry per task file, replaced
    assert "# Say it (in two lines)" in dbtrun("--list", cwd=d).stdout


@pytest.mark.parametrize("damage", ["flip", "truncate", "empty", "header-only", "garbage"])
def test_a_damaged_entry_is_never_trusted(project, damage):
    d = project(TASKS)
    dbtrun("hello", cwd=d)
    entry = only_entry(d)
    data = bytearray(entry.read_bytes())
    if damage == "flip":
        data[len(data) // 2] ^= 0x55  # inside the bytecode
    elif damage == "truncate":
        data = data[: len(data) - 7]
    elif damage == "empty":
        data = b""
    elif damage == "header-only":
        data = data[:48]
    else:
        data = os.urandom(len(data))
    entry.write_bytes(bytes(data))
    r = dbtrun("hello", cwd=d)
    assert r.returncode == 0 and r.stdout == "hello\n" and r.stderr == ""
    # and the entry is whole again
    rebuilt = only_entry(d).stat()
    again = dbtrun("hello", cwd=d)
    assert again.stdout == "hello\n"
    assert only_entry(d).stat().st_ino == rebuilt.st_ino


def test_a_folder_that_cannot_hold_the_cache_is_silent(project):
    d = project(TASKS)
    (d / ".dbtrun").write_text("not a folder\n")  # mkdir fails: ENOTDIR
    for _ in range(2):
        r = dbtrun("hello", cwd=d)
        assert r.returncode == 0 and r.stdout == "hello\n" and r.stderr == ""
    assert (d / ".dbtrun").read_text() == "not a folder\n"


def test_a_read_only_folder_is_silent_and_left_alone():
    d = tempfile.mkdtemp(prefix="dbtrun-ro-")
    try:
        with open(os.path.join(d, "dbtrun.lua"), "w") as f:
            f.write(TASKS)
        os.chmod(os.path.join(d, "dbtrun.lua"), 0o644)
        os.chmod(d, 0o555)
        cmd = [DBTRUN, "hello"]
        if os.geteuid() == 0:  # root writes anywhere: run as nobody
            cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *cmd]
        env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
        env["HOME"] = "/nonexistent"
        r = subprocess.run(cmd, cwd=d, capture_output=True, text=True, timeout=60, env=env)
        assert r.returncode == 0, r.stderr
        assert r.stdout == "hello\n" and r.stderr == ""
        assert os.listdir(d) == ["dbtrun.lua"]
    finally:
        os.chmod(d, 0o755)
        shutil.rmtree(d)


def test_concurrent_first_runs_all_succeed_and_leave_one_whole_entry(project):
    d = project(TASKS)
    procs = [
        subprocess.Popen([DBTRUN, "hello"], cwd=d, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(12)
    ]
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0 and out == "hello\n" and err == ""
    assert len(entries(d)) == 1  # no temporary files left behind either
    ino = only_entry(d).stat().st_ino
    procs = [
        subprocess.Popen([DBTRUN, "--list"], cwd=d, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(8)
    ]
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0 and "# Say hello (in two lines)" in out and err == ""
    assert only_entry(d).stat().st_ino == ino  # all hits
    assert len(entries(d)) == 2  # and one whole --list text, written by whichever finished last
    assert dbtrun("--list", cwd=d).stdout == out


def test_a_syntax_error_names_the_file_and_line_after_a_cached_run(project):
    d = project(TASKS)
    dbtrun("hello", cwd=d)
    (d / "dbtrun.lua").write_text(TASKS.replace('print("hello")', 'print("hello"'))
    for _ in range(2):  # nothing cached for a file that does not compile
        r = dbtrun("hello", cwd=d)
        assert r.returncode == 2
        assert "dbtrun.lua:5:" in r.stderr and "')' expected" in r.stderr


def test_a_runtime_error_from_cached_bytecode_names_the_users_line(project):
    d = project(TASKS)
    for _ in range(2):
        r = dbtrun("-v", "boom", cwd=d)
        assert r.returncode == 1
        assert "task 'boom' failed" in r.stderr and "dbtrun.lua:10:" in r.stderr
        tb = r.stderr[r.stderr.index("stack traceback"):]
        assert "dbtrun.lua:10: in" in tb
    assert entries(d)


def test_the_chunk_name_is_part_of_the_key(project):
    # errors name the file as the run was asked for it (-f ../dbtrun.lua, or
    # dbtrun.lua in its own folder): each name has its own entry
    d = project(TASKS)
    sub = d / "models"
    sub.mkdir()
    for _ in range(2):
        r = dbtrun("-f", "../dbtrun.lua", "boom", cwd=sub)
        assert "failed: ../dbtrun.lua:10:" in r.stderr
        r = dbtrun("boom", cwd=d)
        assert "failed: dbtrun.lua:10:" in r.stderr
    assert len(entries(d)) == 2


def test_a_dry_run_and_tab_completion_write_no_cache(project):
    d = project(TASKS)
    assert dbtrun("-n", "hello", cwd=d).returncode == 0
    assert dbtrun("--complete", "--", "he", cwd=d).returncode == 0
    assert not (d / ".dbtrun").exists()
    dbtrun("hello", cwd=d)
    ino = only_entry(d).stat().st_ino
    r = dbtrun("-n", "hello", cwd=d)  # but they read it
    assert r.returncode == 0 and only_entry(d).stat().st_ino == ino


# ---- the --list text -----------------------------------------------------------
# A plain --list of a task file whose top level only declares tasks and sets
# config{} keeps its text (list-*.txt) once the file is unchanged since the
# run before (its bytecode came from the cache), and shows it from there
# next time, without loading the library or the task file.


def test_a_plain_list_is_kept_and_the_next_one_is_shown_from_it(project):
    d = project(TASKS)
    first = dbtrun("--list", cwd=d)
    assert first.returncode == 0 and "# Say hello (in two lines)" in first.stdout
    assert entries(d, "list-") == []  # just compiled: maybe still being edited
    assert dbtrun("--list", cwd=d).stdout == first.stdout
    kept = only_entry(d, "list-")
    before = kept.stat()
    only_entry(d).unlink()  # the compiled file: a --list that loaded the task file would remake it
    second = dbtrun("--list", cwd=d)
    assert second.returncode == 0 and second.stdout == first.stdout and second.stderr == ""
    assert dbtrun(cwd=d).stdout == first.stdout  # no task named: the same list
    assert entries(d, "taskfile-") == []
    assert only_entry(d, "list-").stat().st_ino == before.st_ino


def test_config_at_the_top_level_still_keeps_the_text(project):
    d = project('config { artifacts = "file://elsewhere/", ci = { schema = "PR_{pr}" } }\n' + TASKS)
    first = dbtrun("--list", cwd=d)
    assert first.returncode == 0, first.stderr
    assert dbtrun("--list", cwd=d).stdout == first.stdout
    assert entries(d, "list-")
    assert dbtrun("--list", cwd=d).stdout == first.stdout


def test_loops_and_string_building_at_the_top_level_still_keep_the_text(project):
    d = project(
        TASKS
        + 'for _, env in ipairs({ "dev", "prod" }) do\n'
        + '  task(("deploy-%s"):format(env), { doc = string.upper(env) .. " " .. tostring(#env) }, function() end)\n'
        + "end\n"
        + 'local extra = setmetatable({}, { __index = table })\n'
        + 'task(extra.concat({ "a", "b" }, "-"), function() end)\n'
    )
    first = dbtrun("--list", cwd=d)
    assert first.returncode == 0, first.stderr
    assert "deploy-dev" in first.stdout and "# PROD 4" in first.stdout and "    a-b" in first.stdout
    assert dbtrun("--list", cwd=d).stdout == first.stdout
    assert entries(d, "list-")
    assert dbtrun("--list", cwd=d).stdout == first.stdout


@pytest.mark.parametrize(
    "top",
    [
        'if os.getenv("WITH_X") then task("x", function() end) end',
        'if env.get("WITH_X") then task("x", function() end) end',
        'if config.get("with_x") then task("x", function() end) end',
        'config { with_x = false }\nif config.with_x then task("x", function() end) end',
        'local ok = pcall(require, "nothing") task("x", function() end)',
        'print("top level")',
        'if math.random(2) == 1 then task("x", function() end) end',
        'if getmetatable(config).__index(config, "with_x") then task("x", function() end) end',
        'if pcall(function() return io.open("/nonexistent") end) then task("x", function() end) end',
    ],
)
def test_a_top_level_that_reads_anything_else_keeps_nothing(project, top):
    # its tasks may differ from run to run (environment, files, settings), or
    # it prints: each --list must run it
    d = project(TASKS + top + "\n")
    runs = [dbtrun("--list", cwd=d, env=e) for e in ({}, {"WITH_X": "1"}, {})]
    for r in runs:
        assert r.returncode == 0, r.stderr
        assert ("top level" in r.stdout) == top.startswith("print")
    assert entries(d, "list-") == []
    if "WITH_X" in top:
        assert "    x" not in runs[0].stdout and "    x" in runs[1].stdout and "    x" not in runs[2].stdout


def test_set_colour_json_and_dry_runs_never_use_or_make_the_kept_text(project):
    d = project(TASKS)
    assert dbtrun("hello", cwd=d).returncode == 0  # the bytecode cached
    assert dbtrun("-n", "--list", cwd=d).returncode == 0
    assert dbtrun("--list", "--color", "always", cwd=d).returncode == 0
    assert dbtrun("--list", "--set", "threads=4", cwd=d).returncode == 0
    assert entries(d, "list-") == []
    plain = dbtrun("--list", cwd=d).stdout
    assert entries(d, "list-")
    bad = dbtrun("--list", "--set", "no_such_key=1", cwd=d)  # still checked
    assert bad.returncode == 2 and "no_such_key" in bad.stderr
    coloured = dbtrun("--list", "--color", "always", cwd=d).stdout
    assert "\x1b[" in coloured and "\x1b[" not in plain
    assert dbtrun("--list", "--json", cwd=d).stdout.startswith("{")


def test_an_edit_replaces_the_kept_text(project):
    d = project(TASKS)
    dbtrun("--list", cwd=d)
    dbtrun("--list", cwd=d)
    old = only_entry(d, "list-").read_bytes()
    (d / "dbtrun.lua").write_text(TASKS.replace("Say hello", "Say it") + 'task("added", function() end)\n')
    r = dbtrun("--list", cwd=d)
    assert "# Say it (in two lines)" in r.stdout and "    added" in r.stdout
    assert only_entry(d, "list-").read_bytes() == old  # of another text: never shown
    assert dbtrun("--list", cwd=d).stdout == r.stdout
    assert only_entry(d, "list-").read_bytes() != old
    assert dbtrun("--list", cwd=d).stdout == r.stdout


@pytest.mark.parametrize("damage", ["flip", "truncate", "garbage"])
def test_a_damaged_kept_text_is_never_shown(project, damage):
    d = project(TASKS)
    good = dbtrun("--list", cwd=d).stdout
    assert dbtrun("--list", cwd=d).stdout == good
    entry = only_entry(d, "list-")
    data = bytearray(entry.read_bytes())
    if damage == "flip":
        data[-5] ^= 0x20  # inside the text
    elif damage == "truncate":
        data = data[:-3]
    else:
        data = os.urandom(len(data))
    entry.write_bytes(bytes(data))
    r = dbtrun("--list", cwd=d)
    assert r.returncode == 0 and r.stdout == good and r.stderr == ""
    assert dbtrun("--list", cwd=d).stdout == good


def test_the_kept_text_follows_how_the_file_is_named_and_found(project):
    # -f ../dbtrun.lua from a subfolder, and dbtrun.lua found upward from it,
    # each keep their own text in the task file's folder; after an edit, an
    # error still names the file as the run was asked for it
    d = project(TASKS)
    sub = d / "models" / "staging"
    sub.mkdir(parents=True)
    by_f = [dbtrun("-f", "../../dbtrun.lua", "--list", cwd=sub) for _ in range(3)]
    upward = [dbtrun("--list", cwd=sub) for _ in range(3)]
    here = [dbtrun("-C", str(d), "--list", cwd=sub) for _ in range(3)]
    for runs in (by_f, upward, here):
        assert all(r.returncode == 0 for r in runs), [r.stderr for r in runs]
        assert runs[0].stdout == runs[1].stdout == runs[2].stdout
        assert "# Say hello (in two lines)" in runs[0].stdout
    assert len(entries(d, "list-")) == 3  # one per name: ../../dbtrun.lua, <abs>/dbtrun.lua, dbtrun.lua
    assert not (sub / ".dbtrun").exists()
    (d / "dbtrun.lua").write_text(TASKS + 'task("late", { deps = { "missing" } }, function() end)\n')
    for args, name in ((["-f", "../../dbtrun.lua", "--list"], "../../dbtrun.lua"),
                       (["--list"], str(d / "dbtrun.lua"))):
        r = dbtrun(*args, cwd=sub)
        assert r.returncode == 2 and f"{name}:14: task 'late' depends on 'missing'" in r.stderr, r.stderr
