"""End-to-end tests of the core runner: task files, parameters, deps, exit
codes, errors, listing and the command line, through the real binary."""
import json
import os
import shutil
import subprocess

import pytest

from conftest import DBTRUN, dbtrun


def test_syntax_error_names_file_and_line(project):
    d = project('task("ok", function() end)\n\ntask("broken", function()\n  run { "echo" \nend)\n')
    r = dbtrun("ok", cwd=d)
    assert r.returncode == 2
    assert "dbtrun.lua:5:" in r.stderr
    assert "error" in r.stderr


def test_undefined_global_at_load_is_a_task_file_error(project):
    d = project('local x = 1\nconfig { threads = undefined_value }\n')
    r = dbtrun(cwd=d)
    assert r.returncode == 2
    assert "dbtrun.lua:2: undefined global 'undefined_value'" in r.stderr


def test_runtime_error_in_task_names_line_and_task(project):
    d = project('task("oops", function()\n  local n = nil\n  return n.field\nend)\n')
    r = dbtrun("oops", cwd=d)
    assert r.returncode == 1
    assert "task 'oops' failed" in r.stderr
    assert "dbtrun.lua:3:" in r.stderr


def test_bad_task_declaration_names_line(project):
    d = project('\ntask("x", { parmas = {} }, function() end)\n')
    r = dbtrun(cwd=d)
    assert r.returncode == 2
    assert "dbtrun.lua:2:" in r.stderr and "unknown option 'parmas'" in r.stderr


@pytest.mark.parametrize("body", ['run { "sh", "-c", "exit 7" }', 'sh "exit 7"'])
def test_exit_code_follows_the_failing_child(project, body):
    d = project(f'task("seven", function()\n  {body}\nend)\n')
    r = dbtrun("seven", cwd=d)
    assert r.returncode == 7
    assert "exit code 7" in r.stderr
    assert "dbtrun.lua:2:" in r.stderr


def test_child_killed_by_signal_gives_128_plus_n(project):
    d = project('task("k", function() sh "kill -9 $$" end)\n')
    assert dbtrun("k", cwd=d).returncode == 137


def test_collector_runs_in_a_task_that_makes_garbage(project):
    # The collector is stopped while task files load and restarted (its first
    # cycle deferred) when the task runs: a task churning through ~200 MB of
    # short-lived tables must still stay small.
    d = project(
        'task("churn", function()\n'
        '  local peak = 0\n'
        '  for i = 1, 400000 do\n'
        '    local t = { i, i + 1, i + 2, tostring(i) .. string.rep("x", 400) }\n'
        '    if i % 1000 == 0 then peak = math.max(peak, collectgarbage("count")) end\n'
        '  end\n'
        '  print(("peak %d KiB"):format(math.floor(peak)))\n'
        'end)\n'
    )
    r = dbtrun("churn", cwd=d)
    assert r.returncode == 0, r.stderr
    peak = int(r.stdout.split()[1])
    assert peak < 32 * 1024, r.stdout


def test_check_false_returns_the_code(project):
    d = project('task("t", function()\n  local c = run { "sh", "-c", "exit 3", check = false }\n  print("code", c)\nend)\n')
    r = dbtrun("t", cwd=d)
    assert r.returncode == 0 and "code\t3" in r.stdout


def test_missing_command_is_127(project):
    d = project('task("t", function() run { "dbtrun-no-such-tool", "x" } end)\n')
    r = dbtrun("t", cwd=d)
    assert r.returncode == 127
    assert "dbtrun-no-such-tool: command not found" in r.stderr


def test_deps_run_once_and_in_order(project):
    d = project(
        """
local function mark(name) run { "sh", "-c", "echo " .. name .. " >> order.txt" } end
task("a", function() mark("a") end)
task("b", { deps = { "a" } }, function() mark("b") end)
task("greet", { params = { "WHO" } }, function(p) mark("greet-" .. p.WHO) end)
task("c", { deps = { "a", "b", { "greet", "x" }, { "greet", "y" }, { "greet", "x" } } }, function() mark("c") end)
"""
    )
    r = dbtrun("c", cwd=d)
    assert r.returncode == 0, r.stderr
    assert (d / "order.txt").read_text().split() == ["a", "b", "greet-x", "greet-y", "c"]


def test_dependency_cycle_is_reported(project):
    d = project('task("a", { deps = { "b" } }, function() end)\ntask("b", { deps = { "a" } }, function() end)\n')
    r = dbtrun("a", cwd=d)
    assert r.returncode == 2 and "cycle" in r.stderr


def test_variadic_args_pass_through_untouched(project):
    d = project(
        'task("echo", { params = { "FIRST", "*ARGS" } }, function(a)\n'
        '  run { "printf", "<%s>\\n", a.FIRST, a.ARGS }\nend)\n'
    )
    tricky = ["a b", "it's", '"quoted"', "$HOME", "*", "; rm -rf /", "`id`", "", "--fail-fast"]
    r = dbtrun("-q", "echo", "first word", *tricky, cwd=d)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [f"<{w}>" for w in ["first word", *tricky]]


def test_plus_args_need_one(project):
    d = project('task("p", { params = { "+FILES" } }, function(a) print(#a.FILES) end)\n')
    r = dbtrun("p", cwd=d)
    assert r.returncode == 2
    assert "usage: dbtrun p +FILES" in r.stderr
    assert dbtrun("p", "x", "y", cwd=d).stdout.strip() == "2"


def test_missing_parameter_prints_usage(project):
    d = project('task("dev-select", { params = { "SELECTION", "TARGET=dev" } }, function() end)\n')
    r = dbtrun("dev-select", cwd=d)
    assert r.returncode == 2
    assert "missing argument for SELECTION" in r.stderr
    assert 'usage: dbtrun dev-select SELECTION TARGET="dev"' in r.stderr


def test_unknown_task_suggests_the_closest(project):
    d = project('task("dev-select", function() end)\ntask("deploy", function() end)\n')
    r = dbtrun("dev-selcet", cwd=d)
    assert r.returncode == 2
    assert "no task named 'dev-selcet'" in r.stderr and "Did you mean 'dev-select'?" in r.stderr


def test_task_file_found_upward_and_run_from_its_folder(project):
    d = project('task("where", function() run { "pwd" } end)\n')
    sub = d / "models" / "staging"
    sub.mkdir(parents=True)
    r = dbtrun("-q", "where", cwd=sub)
    assert r.returncode == 0
    assert r.stdout.strip() == str(d)


def test_file_and_directory_options(project, tmp_path):
    d = project('task("where", function() run { "pwd" } end)\n', name="other.lua")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert dbtrun("-q", "-f", str(d / "other.lua"), "where", cwd=elsewhere).stdout.strip() == str(d)
    (d / "dbtrun.lua").write_text('task("here", function() run { "pwd" } end)\n')
    assert dbtrun("-q", "-C", str(d), "here", cwd=elsewhere).stdout.strip() == str(d)
    r = dbtrun("-f", "missing.lua", cwd=elsewhere)
    assert r.returncode == 2 and "task file not found" in r.stderr


def test_list_is_the_default_and_aligned(project):
    d = project(
        """
-- Run dbt with deferral to production (only changed models)
task("dev", { params = { "*ARGS" } }, function() end)

-- Run a specific selection with deferral
task("dev-select", { params = { "SELECTION" } }, function() end)

task("build", { params = { "TARGET=dev" }, group = "prod" }, function() end)
task("_secret", function() end)
"""
    )
    r = dbtrun(cwd=d)
    assert r.returncode == 0
    assert r.stdout == dbtrun("--list", cwd=d).stdout
    lines = r.stdout.splitlines()
    assert lines[0] == "Available tasks:"
    assert "    dev *ARGS            # Run dbt with deferral to production (only changed models)" in lines
    assert "    dev-select SELECTION # Run a specific selection with deferral" in lines
    assert "    [prod]" in lines and '    build TARGET="dev"' in lines
    assert "_secret" not in r.stdout
    assert "clean-artifacts" in r.stdout  # built-ins are listed too


def test_json_listing(project):
    d = project('-- Say hi\ntask("hi", { params = { "WHO=you" }, alias = "h" }, function() end)\n')
    doc = json.loads(dbtrun("--json", cwd=d).stdout)
    hi = next(t for t in doc["tasks"] if t["name"] == "hi")
    assert hi["doc"] == "Say hi"
    assert hi["params"] == [{"name": "WHO", "kind": "default", "default": "you"}]
    assert hi["aliases"] == ["h"] and hi["builtin"] is False
    assert dbtrun("-q", "h", cwd=d).returncode == 0


def test_dry_run_prints_and_runs_nothing(project):
    d = project(
        'task("t", { deps = { "d" } }, function()\n'
        '  run { "touch", "made by run", env = { MODE = "x y" } }\n'
        '  sh "touch made-by-sh"\n'
        '  fs.write("written.txt", "x")\nend)\n'
        'task("d", function() run { "touch", "dep-ran" } end)\n'
    )
    r = dbtrun("-n", "t", cwd=d)
    assert r.returncode == 0, r.stderr
    assert "touch dep-ran" in r.stderr
    assert "MODE='x y' touch 'made by run'" in r.stderr
    assert "touch made-by-sh" in r.stderr
    assert "written.txt" in r.stderr
    assert sorted(p.name for p in d.iterdir()) == ["dbtrun.lua"]


def test_quiet_and_verbose(project):
    d = project('task("t", function() run { "echo", "out" } end)\n')
    assert dbtrun("-q", "t", cwd=d).stderr == ""
    assert "echo out" in dbtrun("t", cwd=d).stderr
    assert "exit 0 after" in dbtrun("-v", "t", cwd=d).stderr


def test_color(project):
    d = project('task("t", function() run { "true" } end)\n')
    assert "\x1b[" in dbtrun("--color=always", "t", cwd=d).stderr
    assert "\x1b[" not in dbtrun("--color=never", "t", cwd=d).stderr
    assert "\x1b[" not in dbtrun("t", cwd=d).stderr  # not a terminal
    r = dbtrun("--color", "sometimes", cwd=d)
    assert r.returncode == 2


def test_config_overrides(project):
    d = project(
        'config { target = "dev", threads = 4, aws = { region = "eu-west-1" } }\n'
        'task("show", function() print(config.target, config.threads + 1, config.aws.region, config.pr) end)\n'
    )
    assert dbtrun("show", cwd=d).stdout == "dev\t5\teu-west-1\tnil\n"
    r = dbtrun("--set", "target=prod", "--set", "threads=8", "--set", "pr=42", "show", cwd=d,
               env={"DBTRUN_AWS__REGION": "us-east-1", "DBTRUN_TARGET": "ci"})
    assert r.stdout == "prod\t9\tus-east-1\t42\n"


def test_user_task_replaces_a_builtin_and_can_call_it(project):
    d = project(
        'task("clean-artifacts", function(a)\n'
        '  print("before")\n  builtin("clean-artifacts")(a)\n  print("after")\nend)\n'
    )
    (d / ".artifacts").mkdir()
    (d / ".artifacts" / "manifest.json").write_text("{}")
    r = dbtrun("clean-artifacts", cwd=d)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "before\nafter\n"
    assert not (d / ".artifacts").exists()


def test_builtins_work_without_a_task_file(tmp_path):
    (tmp_path / ".artifacts").mkdir()
    r = dbtrun("clean-artifacts", cwd=tmp_path)
    assert r.returncode == 0
    assert not (tmp_path / ".artifacts").exists()


def test_always_runs_after_success_and_failure(project):
    d = project(
        'task("ok", function() always(function() fs.write("ok.txt", "1") end) end)\n'
        'task("bad", function()\n  always(function() fs.write("bad.txt", "1") end)\n  sh "exit 5"\nend)\n'
        'task("bad_cleanup", function()\n  always(function() error("cleanup broke") end)\nend)\n'
    )
    assert dbtrun("ok", cwd=d).returncode == 0 and (d / "ok.txt").exists()
    assert dbtrun("bad", cwd=d).returncode == 5 and (d / "bad.txt").exists()
    r = dbtrun("bad_cleanup", cwd=d)
    assert r.returncode == 0 and "cleanup broke" in r.stderr


def test_fs_write_mode_and_json(project):
    d = project(
        'task("t", function()\n'
        '  fs.write("key.pem", "secret", { mode = "0600" })\n'
        '  fs.write("data.json", json.encode({ a = { 1, 2 }, b = json.null }))\n'
        '  print(json.read("data.json").a[2], fs.exists("key.pem"), fs.isdir("."))\n'
        '  local ok, err = pcall(fs.read, "missing.txt")\n'
        '  print(ok, err.op)\nend)\n'
    )
    r = dbtrun("t", cwd=d)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "2\ttrue\ttrue\nfalse\tfs.read\n"
    assert (d / "key.pem").stat().st_mode & 0o777 == 0o600
    assert json.loads((d / "data.json").read_text()) == {"a": [1, 2], "b": None}


def test_completions():
    bash = dbtrun("--completions", "bash")
    assert bash.returncode == 0 and "complete -o default -F _dbtrun dbtrun" in bash.stdout
    assert subprocess.run(["bash", "-n"], input=bash.stdout, text=True).returncode == 0
    assert "#compdef dbtrun" in dbtrun("--completions", "zsh").stdout
    assert "complete -c dbtrun" in dbtrun("--completions", "fish").stdout
    assert dbtrun("--completions", "tcsh").returncode == 2


def test_help_version_and_bad_options():
    assert "usage: dbtrun" in dbtrun("--help").stdout
    assert dbtrun("--version").stdout.startswith("dbtrun ")
    r = dbtrun("--nope")
    assert r.returncode == 2 and "unknown option '--nope'" in r.stderr


def sanitized():
    ldd = subprocess.run(["ldd", DBTRUN], capture_output=True, text=True).stdout
    return "libasan" in ldd


@pytest.mark.skipif(not shutil.which("valgrind"), reason="valgrind is not installed")
@pytest.mark.skipif(sanitized(), reason="n/a: valgrind cannot run an AddressSanitizer build")
def test_list_has_no_definite_leaks(project):
    d = project('-- doc\ntask("t", { params = { "A=1" } }, function() end)\n')
    r = subprocess.run(
        ["valgrind", "--leak-check=full", "--errors-for-leak-kinds=definite", "--error-exitcode=99", DBTRUN, "--list"],
        cwd=d, capture_output=True, text=True, timeout=120,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert "definitely lost: 0 bytes" in r.stderr or "no leaks are possible" in r.stderr


def test_list_and_process_tasks_do_not_load_curl_openssl_or_aws_config(project, tmp_path):
    """Lazy costs: nothing of libcurl/OpenSSL is loaded and no AWS file is read
    unless a primitive needs them. The AWS files are FIFOs: reading one would hang."""
    d = project('task("t", function() run { "true" } end)\n')
    aws = tmp_path / "aws"
    aws.mkdir()
    for name in ("config", "credentials"):
        os.mkfifo(aws / name)
    env = {
        "LD_DEBUG": "files",
        "AWS_CONFIG_FILE": str(aws / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(aws / "credentials"),
        "HOME": str(tmp_path),
    }
    for args in (["--list"], ["t"]):
        r = dbtrun(*args, cwd=d, env=env, timeout=10)
        assert r.returncode == 0
        loaded = [line for line in r.stderr.splitlines() if "file=" in line]
        assert loaded, "LD_DEBUG gave no output"
        assert not any("libcurl" in l or "libssl" in l or "libcrypto" in l for l in loaded), loaded


def test_script_receives_all_its_arguments(tmp_path):
    (tmp_path / "s.lua").write_text('print(select("#", ...), ...)\nreturn 3\n')
    r = dbtrun("--script", str(tmp_path / "s.lua"), "one", "two words", cwd=tmp_path)
    assert r.returncode == 3 and r.stdout == "2\tone\ttwo words\n", r.stderr


def test_a_start_loads_pipes_and_native_aws_json_only_when_used(project):
    # io.popen / os.execute (lua/pipes.lua) and native.aws, .json, .plan,
    # .github are loaded on first use: a task that does not use them finds
    # them unloaded, and they work once called
    d = project(
        'task("probe", function()\n'
        '  local native = require("dbtrun.native")\n'
        '  print(package.loaded["dbtrun.pipes"], rawget(native, "aws"), rawget(native, "json"),\n'
        '        rawget(native, "plan"), rawget(native, "github"))\n'
        '  local f = io.popen("echo piped")\n'
        '  print(io.type(f), f:read("l"), f:close())\n'
        '  print(os.execute("exit 3"))\n'
        '  print(type(native.json.encode), type(native.aws), rawget(native, "json") == native.json)\n'
        'end)\n'
    )
    r = dbtrun("-q", "probe", cwd=d)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "nil\tnil\tnil\tnil\tnil\nfile\tpiped\ttrue\texit\t0\nnil\texit\t3\nfunction\ttable\ttrue\n"


def test_math_utf8_coroutine_and_debug_open_on_first_use_and_behave_as_luas(project):
    # opened when a global of theirs is first read (src/lua/host.c): unloaded
    # until then, the same tables whichever way they are reached afterwards
    d = project(
        'local top = math.max(2, 3)\n'
        'task("probe", function()\n'
        '  print(top, rawget(_G, "utf8"), package.loaded.coroutine)\n'
        '  print(require("utf8") == utf8, utf8.char(233), utf8.len("\\u{e9}t\\u{e9}"))\n'
        '  print(coroutine.wrap(function() coroutine.yield("yielded") end)())\n'
        '  print(debug.getinfo(1, "l").currentline, require("debug") == debug, package.loaded.debug == debug)\n'
        '  print(math.type(1), math.floor(-2.5), select(2, pcall(function() return nothing_here end)) ~= nil)\n'
        'end)\n'
    )
    r = dbtrun("-q", "probe", cwd=d)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "3\tnil\tnil"
    assert lines[1] == "true\té\t3"
    assert lines[2] == "yielded"
    assert lines[3] == "6\ttrue\ttrue"
    assert lines[4] == "integer\t-3\ttrue"
