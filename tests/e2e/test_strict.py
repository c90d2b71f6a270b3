"""End-to-end tests of strictness (issue 14): mistakes in a task file or on
the command line fail loudly, at the line that made them, with the exact
message and exit status 2 — never a silent nil or a raw binding's message."""
import os
import subprocess

import pytest

from conftest import DBTRUN, dbtrun


def error_of(r):
    """The one error line dbtrun printed (nothing else may be on stderr)."""
    assert r.stderr.count("error: ") == 1, r.stderr
    return r.stderr


# ---- parameters -----------------------------------------------------------


def test_reading_an_undeclared_parameter_fails_at_the_reading_line(project):
    d = project(
        'task("x", { params = { "SELECTION" } }, function(a)\n'
        '  local s = a.SELECTION\n'
        '  run { "touch", "ran", a.SELECTOIN }\n'
        "end)\n"
    )
    r = dbtrun("x", "state:modified+", cwd=d)
    assert r.returncode == 2
    assert error_of(r) == "error: dbtrun.lua:3: task 'x' has no parameter 'SELECTOIN' (it has SELECTION)\n"
    assert not (d / "ran").exists()


def test_a_task_without_parameters_says_so(project):
    d = project('task("y", function(a)\n  print(a.TARGET)\nend)\n')
    r = dbtrun("y", cwd=d)
    assert (r.returncode, r.stdout) == (2, "")
    assert error_of(r) == "error: dbtrun.lua:2: task 'y' has no parameter 'TARGET' (it has none)\n"


def test_declared_parameters_and_builtin_calls_still_work(project):
    d = project(
        'task("z", { params = { "A", "B=dflt", "*REST" } }, function(a)\n'
        '  print(a.A, a.B, #a.REST)\n'
        "end)\n"
        'task("clean-artifacts", function(a) builtin("clean-artifacts")(a) print("ok") end)\n'
    )
    r = dbtrun("z", "one", cwd=d)
    assert (r.returncode, r.stdout) == (0, "one\tdflt\t0\n"), r.stderr
    r = dbtrun("clean-artifacts", cwd=d)
    assert (r.returncode, r.stdout) == (0, "ok\n"), r.stderr


# ---- task declarations ----------------------------------------------------


@pytest.mark.parametrize(
    "decl, message",
    [
        ('task("bad name", function() end)', "task: invalid task name bad name"),
        ("task(5, function() end)", "task: invalid task name 5"),
        ('task("-x", function() end)', "task: invalid task name -x"),
        ('task("a.b", function() end)', "task: invalid task name a.b"),
        ('task("", function() end)', "task: invalid task name "),
        ('task("t\\0x", function() end)', "task: invalid task name t\0x"),
        ('task("x")', "task 'x': expected task(name, {options}, function(a) ... end)"),
        ('task("x", "doc", function() end)', "task 'x': expected task(name, {options}, function(a) ... end)"),
        ('task("x", { parmas = {} }, function() end)', "task 'x': unknown option 'parmas'"),
        ('task("x", { deps = { paralel = {} } }, function() end)',
         "task 'x': deps: unknown key 'paralel' (a list of task names, and parallel = { ... })"),
        ('task("x", { params = { 3 } }, function() end)', "task 'x': parameter 1 must be a string"),
        ('task("x", { params = { "A", "1B" } }, function() end)', "task 'x': invalid parameter '1B'"),
        ('task("x", { params = { "*A=1" } }, function() end)', "task 'x': invalid parameter '*A=1'"),
        ('task("x", { params = { "A", "A=1" } }, function() end)', "task 'x': parameter 'A' appears twice"),
        ('task("x", { params = { "*A", "B" } }, function() end)', "task 'x': a variadic parameter must be the last one"),
        ('task("x", { params = { "A=1", "B" } }, function() end)',
         "task 'x': required parameter 'B' follows a parameter with a default"),
        ('task("x", function() end)\ntask("x", function() end)', "task 'x' is defined twice in this file"),
        ('task("y", function() end)\ntask("x", { alias = { "z", "y" } }, function() end)',
         "task 'x': alias 'y' is already a task name"),
    ],
)
def test_a_bad_declaration_fails_at_its_line_with_the_exact_message(project, decl, message):
    # the good tasks above it parse the same parameter texts first (parsed
    # texts are shared between tasks): the checks of the list still run
    d = project(f'task("ok", {{ params = {{ "A", "B" }} }}, function() end)\n'
                f'task("ok2", {{ params = {{ "A=1" }} }}, function() end)\n'
                f'task("ok3", {{ params = {{ "*A" }} }}, function() end)\n{decl}\n')
    line = 4 + decl.count("\n")
    for args in ([], ["--list"], ["ok"]):
        r = dbtrun(*args, cwd=d)
        assert (r.returncode, r.stdout) == (2, ""), r.stderr
        assert error_of(r) == f"error: dbtrun.lua:{line}: {message}\n"


def test_tasks_sharing_a_parameter_text_list_and_bind_it_each(project):
    d = project(
        'task("a", { params = { "TARGET=dev" } }, function(x) print("a", x.TARGET) end)\n'
        'task("b", { params = { "SEL", "TARGET=dev" } }, function(x) print("b", x.SEL, x.TARGET) end)\n'
        'task("c", { params = { "TARGET=dev" } }, function(x) print("c", x.TARGET) end)\n'
    )
    r = dbtrun("--list", cwd=d)
    assert '    a TARGET="dev"\n    b SEL TARGET="dev"\n    c TARGET="dev"\n' in r.stdout
    assert dbtrun("a", "prod", cwd=d).stdout == "a\tprod\n"
    assert dbtrun("b", "m", cwd=d).stdout == "b\tm\tdev\n"
    assert dbtrun("c", cwd=d).stdout == "c\tdev\n"


# ---- run{} and sh{} --------------------------------------------------------


@pytest.mark.parametrize(
    "call, message",
    [
        ('run { "echo", nil, "--defer" }',
         "run: argument 2 is nil (a hole in the list: a nil value or a misspelled name?)"),
        ('run { "echo", { "a", true } }', "run: argument 2.2 is a boolean; pass strings"),
        ('run { "echo", print }', "run: argument 2 is a function; pass strings"),
        ('run "echo hi"',
         'run takes a table of words: run { "prog", "arg" }; for a shell command line use sh "echo hi"'),
        ('run("echo", nil, "x")', "run: argument 2 is nil"),
        ('run {}', "run: empty command"),
        ('run { "echo", cwd = 5 }', "run: option cwd must be a string, got number"),
        ('run { "echo", env = { X = {} } }',
         'run: option env: X = table; a variable is NAME = "text" (or false to remove it)'),
        ('sh(5)', "sh: argument 1 (script) must be a string, got number 5"),
        ('sh { "a", "b" }', "sh: expects one script string, got string at position 2"),
    ],
)
def test_run_and_sh_refuse_malformed_commands(project, call, message):
    d = project(f'task("t", function()\n  {call}\nend)\n')
    r = dbtrun("t", cwd=d)
    assert r.returncode == 2
    assert error_of(r) == f"error: dbtrun.lua:2: {message}\n"


def test_numbers_are_words(project):
    d = project('task("t", function() run { "echo", "--threads", 4 } end)\n')
    r = dbtrun("-q", "t", cwd=d)
    assert (r.returncode, r.stdout) == (0, "--threads 4\n"), r.stderr


# ---- primitives ------------------------------------------------------------


@pytest.mark.parametrize(
    "call, message",
    [
        ('store.get("file://store/", "manifest.json", nil)',
         "store.get: argument 3 (path) must be a string, got nil"),
        ('store.put(5, "a", "b")', "store.put: argument 1 (location) must be a string, got number 5"),
        ('store.get("s3:/bucket/key", "m.json", "m.json")',
         "store.get: argument 1 (location) 's3:/bucket/key' is not an S3 URL (expected s3://bucket/key)"),
        ('store.sync("file:/x", "out")',
         "store.sync: argument 1 (src) 'file:/x' is not a file URL (expected file://folder/)"),
        ('aws.s3.sync("target", "s3:/bucket/docs/")',
         "aws.s3.sync: argument 2 (dst) 's3:/bucket/docs/' is not an S3 URL (expected s3://bucket/key)"),
        ('store.sync("out", "file://x/", { filters = { "exclude" } })',
         'store.sync: option filters: entry 1 must be { "exclude" or "include", "pattern" }'),
        ('aws.s3.sync("out", "s3://b/", { exclude = { "*.json", 5 } })',
         "aws.s3.sync: option exclude must be a pattern or a list of them, got number at position 2"),
        ('store.sync("out", "file://x/", { include = true })',
         "store.sync: option include must be a pattern or a list of them, got boolean"),
        ('aws.s3.get("s3://b/k", "p", 5)', "aws.s3.get: argument 3 (options) must be a table or nil, got number 5"),
        ('aws.s3.get(nil, "p")', "aws.s3.get: argument 1 (url) must be a string, got nil"),
        ('aws.s3.put("p", "s3://b/k", { content_type = 5 })',
         "aws.s3.put: option content_type must be a string, got number"),
        ('aws.s3.list("s3://b/", { delim = "/" })', "aws.s3.list: unknown option 'delim' (delimiter)"),
        ('aws.s3.rm("s3://b/k", true)', "aws.s3.rm: argument 2 (options) must be a table or nil, got boolean"),
        ('aws.s3.presign("s3://b/k", "1h")',
         'aws.s3.presign: argument 2 (seconds) must be a number or nil, got string "1h"'),
        ('aws.secrets.get(nil)', "aws.secrets.get: argument 1 (id) must be a string, got nil"),
        ('aws.secrets.env("id", 5)', "aws.secrets.env: argument 2 (prefix) must be a string or nil, got number 5"),
        ('aws.cloudfront.invalidate("E1", { 5 })',
         "aws.cloudfront.invalidate: argument 2 (paths): path 1 must be a string, got number"),
        ('aws.client{ regoin = "x" }',
         "aws.client: unknown option 'regoin' (connect_timeout, endpoint, max_attempts, profile, read_timeout, region)"),
        ('fs.read(5)', "fs.read: argument 1 (path) must be a string, got number 5"),
        ('fs.exists(nil)', "fs.exists: argument 1 (path) must be a string, got nil"),
        ('fs.write("x", nil)', "fs.write: argument 2 (data) must be a string or a number, got nil"),
        ('fs.write("x", "y", "0600")', 'fs.write: argument 3 (options) must be a table or nil, got string "0600"'),
        ('env.get()', "env.get: argument 1 (name) must be a string, got nil"),
        ('env.set("X", {})', "env.set: argument 2 (value) must be a string, a number or nil, got table"),
        ('json.decode(nil)', "json.decode: argument 1 (text) must be a string, got nil"),
        ('json.encode(print)', "json.encode: argument 1 (value) cannot be a function"),
        ('json.encode({ f = print })', "json.encode: cannot encode a function"),
        ('config.get(5)', "config.get: argument 1 (key) must be a string, got number 5"),
        ('secret(42)', "secret: argument 1 (value) must be a string, got number 42"),
        ('log(nil)', "log: argument 1 (message) must be a string or a number, got nil"),
        ('quote(nil)', "quote: argument 1 (word) must be a string or a number, got nil"),
        ('always("x")', 'always: argument 1 (fn) must be a function, got string "x"'),
        ('builtin("nope")', "builtin: there is no built-in task 'nope'"),
    ],
)
def test_a_misused_primitive_names_itself_and_the_argument(project, call, message):
    d = project(f'task("t", function()\n  local x = 1\n  {call}\nend)\n')
    r = dbtrun("t", cwd=d)
    assert r.returncode == 2
    assert error_of(r) == f"error: dbtrun.lua:3: {message}\n"
    assert "bad argument" not in r.stderr and "?:-1" not in r.stderr
    assert not (d / "s3:").exists() and not (d / "file:").exists()


def test_misuse_inside_a_helper_function_names_the_calling_line(project):
    d = project('local function fetch(p)\n  local got = store.get(nil, "m.json", p)\n  return got\nend\n'
                'task("t", function()\n  fetch(nil)\nend)\n')
    r = dbtrun("t", cwd=d)
    assert r.returncode == 2
    assert error_of(r) == "error: dbtrun.lua:2: store.get: argument 3 (path) must be a string, got nil\n"


# ---- deps ------------------------------------------------------------------


def test_a_dep_on_a_missing_task_fails_when_the_file_loads(project):
    d = project('task("build", function() end)\n\ntask("ship", { deps = { "biuld" } }, function() end)\n')
    for args in ([], ["--list"], ["build"]):
        r = dbtrun(*args, cwd=d)
        assert (r.returncode, r.stdout) == (2, "")
        assert error_of(r) == (
            "error: dbtrun.lua:3: task 'ship' depends on 'biuld', which is not a task. Did you mean 'build'?\n"
        )


def test_a_dep_with_arguments_on_a_missing_task_fails_too(project):
    d = project('task("ship", { deps = { { "zzz", "x" } } }, function() end)\n')
    r = dbtrun("--list", cwd=d)
    assert r.returncode == 2
    assert error_of(r) == "error: dbtrun.lua:1: task 'ship' depends on 'zzz', which is not a task\n"


# ---- --set -----------------------------------------------------------------


@pytest.mark.parametrize(
    "setting, message",
    [
        ("threds=8", "--set threds=8: unknown config key 'threds'. Did you mean 'threads'?"),
        ("aws.regoin=eu-west-1", "--set aws.regoin=eu-west-1: unknown config key 'aws.regoin'. Did you mean 'aws.region'?"),
        ("threads=abc", "--set threads=abc: 'threads' is a number, not 'abc'"),
        ("favor_state=yes", "--set favor_state=yes: 'favor_state' is a boolean: true or false, not 'yes'"),
        ("strict_mode=1", "--set strict_mode=1: 'strict_mode' is a boolean: true or false, not '1'"),
        ("aws=x", "--set aws=x: 'aws' is a table: set one of its keys (aws.KEY=VALUE)"),
    ],
)
def test_set_rejects_unknown_keys_and_values_of_the_wrong_type(project, setting, message):
    d = project('config { strict_mode = false }\ntask("show", function() print("ran") end)\n')
    r = dbtrun("--set", setting, "show", cwd=d)
    assert (r.returncode, r.stdout) == (2, "")
    assert error_of(r) == f"error: {message}\n"


def test_set_accepts_known_keys_of_the_right_type(project):
    d = project(
        'config { strict_mode = false, name = "x" }\n'
        'task("show", function() print(config.threads, config.favor_state, config.strict_mode, config.name,'
        ' config.pr, config.get("aws.region")) end)\n'
    )
    r = dbtrun("--set", "threads=8", "--set", "favor_state=true", "--set", "strict_mode=true",
               "--set", "name=y", "--set", "pr=42", "--set", "aws.region=eu-west-1", "show", cwd=d)
    assert (r.returncode, r.stdout) == (0, "8\ttrue\ttrue\ty\t42\teu-west-1\n"), r.stderr


# ---- options after the task name, --usage -----------------------------------


def test_an_option_after_the_task_is_an_error_with_a_hint(project):
    d = project('task("ci", function() print("ran") end)\n')
    r = dbtrun("ci", "--set", "pr=42", cwd=d)
    assert (r.returncode, r.stdout) == (2, "")
    assert error_of(r) == (
        "error: '--set' after the task name would be an argument of task 'ci'; "
        "dbtrun's options go before the task: dbtrun --set pr=42 ci\n"
        "usage: dbtrun ci\n"
    )


def test_an_option_filling_a_named_parameter_is_an_error(project):
    d = project('task("sel", { params = { "SELECTION" } }, function(a) print(a.SELECTION) end)\n')
    r = dbtrun("sel", "-n", cwd=d)
    assert (r.returncode, r.stdout) == (2, "")
    assert "dbtrun's options go before the task: dbtrun -n sel\n" in error_of(r)


def test_an_option_taken_by_a_variadic_parameter_passes_with_a_warning(project):
    d = project('task("dev", { params = { "*ARGS" } }, function(a) print(table.concat(a.ARGS, " ")) end)\n')
    r = dbtrun("dev", "--fail-fast", "--dry-run", cwd=d)
    assert (r.returncode, r.stdout) == (0, "--fail-fast --dry-run\n")
    assert r.stderr == (
        "warning: '--dry-run' is passed to task 'dev' as an argument; "
        "dbtrun's options go before the task: dbtrun --dry-run dev --fail-fast\n"
    )
    r = dbtrun("dev", "--fail-fast", "-q", cwd=d)  # dbt's own flags are not dbtrun's business
    assert (r.returncode, r.stderr) == (0, "")


def test_usage_prints_one_task(project):
    d = project(
        'task("a", function() end)\n'
        "-- Build one selection,\n-- deferring to production.\n"
        'task("sel", { params = { "SELECTION", "TARGET=dev", "*ARGS" }, deps = { "a" }, alias = "s" },'
        " function() end)\n"
    )
    r = dbtrun("--usage", "s", cwd=d)
    assert r.returncode == 0, r.stderr
    assert r.stdout == (
        'usage: dbtrun sel SELECTION TARGET="dev" *ARGS\n'
        "\n"
        "Build one selection, deferring to production.\n"
        "\n"
        "parameters:\n"
        "    SELECTION  required\n"
        '    TARGET     default "dev"\n'
        "    *ARGS      zero or more words\n"
        "\n"
        "runs first: a\n"
        "aliases: s\n"
    )
    assert dbtrun("--usage", "a", cwd=d).stdout == "usage: dbtrun a\n"
    r = dbtrun("--usage", "sle", cwd=d)
    assert r.returncode == 2
    assert error_of(r) == "error: no task named 'sle'. Did you mean 'sel'?\n"


def test_usage_of_a_builtin(tmp_path):
    r = dbtrun("--usage", "dev-select", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("usage: dbtrun dev-select SELECTION\n\n")
    assert "    SELECTION  required\n" in r.stdout
    assert "runs first: fetch-manifest\n" in r.stdout


def test_usage_completes_task_names(project, tmp_path):
    d = project('task("deploy-docs", function() end)\n')
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "dbtrun").symlink_to(DBTRUN)
    script = dbtrun("--completions", "bash").stdout
    probe = script + '\nCOMP_WORDS=(dbtrun --usage deploy-d); COMP_CWORD=2; _dbtrun; echo "${COMPREPLY[*]}"\n'
    env = dict(os.environ, PATH=f"{bindir}:{os.environ['PATH']}")
    r = subprocess.run(["bash", "-c", probe], cwd=d, env=env, capture_output=True, text=True)
    assert r.stdout.split() == ["deploy-docs"], r.stderr
    # zsh and fish ask the same `--complete` protocol the bash script does
    r = dbtrun("--complete", "--", "--usage", "deploy-d", cwd=d)
    assert r.stdout.split("\n")[:2] == ["words", "deploy-docs"], r.stdout
