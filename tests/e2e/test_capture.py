"""End-to-end tests of capture{} (issue 14): a command's stdout as a value,
the trailing newline trimmed, a failure always raised — just's backticks."""
from conftest import dbtrun


def test_capture_returns_stdout_without_the_trailing_newline(project):
    d = project(
        'task("c", function()\n'
        '  print("[" .. capture { "printf", "one\\\\ntwo\\\\n\\\\n" } .. "]")\n'
        '  print("[" .. capture { "sh", "-c", "printf \\"$X\\"", env = { X = "no newline" } } .. "]")\n'
        '  print("[" .. capture { "pwd", cwd = "sub" }:match("[^/]*$") .. "]")\n'
        "end)\n"
    )
    (d / "sub").mkdir()
    r = dbtrun("-q", "c", cwd=d)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "[one\ntwo\n]\n[no newline]\n[sub]\n"


def test_capture_raises_on_failure_with_the_command_and_line(project):
    d = project('task("f", function()\n  local v = capture { "sh", "-c", "echo partial; exit 3" }\n  print("after", v)\nend)\n')
    r = dbtrun("f", cwd=d)
    assert (r.returncode, r.stdout) == (3, "")
    assert r.stderr.endswith(
        "error: task 'f' failed: dbtrun.lua:2: command failed with exit code 3: sh -c 'echo partial; exit 3'\n"
    )


def test_capture_of_a_missing_program_fails(project):
    d = project('task("m", function() capture { "dbtrun-no-such-tool" } end)\n')
    r = dbtrun("m", cwd=d)
    assert r.returncode == 127
    assert "dbtrun-no-such-tool: command not found" in r.stderr


def test_capture_output_is_masked_and_secret_values_stay_hidden(project):
    d = project('task("s", function()\n  secret("hunter2-value")\n  print(capture { "echo", "pw=hunter2-value" })\nend)\n')
    r = dbtrun("-q", "s", cwd=d)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "pw=***\n"


def test_capture_in_a_dry_run_runs_nothing_and_returns_empty(project):
    d = project('task("d", function()\n  print("[" .. capture { "touch", "made" } .. "]")\nend)\n')
    r = dbtrun("-n", "d", cwd=d)
    assert (r.returncode, r.stdout) == (0, "[]\n")
    assert r.stderr == "touch made\n"
    assert not (d / "made").exists()


def test_capture_misuse(project):
    cases = [
        ('capture "git rev-parse HEAD"',
         'capture takes a table of words: capture { "git", "rev-parse", "HEAD" }, not string'),
        ('capture { "echo", check = false }',
         "capture: no check or capture option: it always captures and raises on failure"),
        ('capture { "echo", nil, "x" }', "capture: argument 2 is nil (a hole in the list: a nil value or a misspelled name?)"),
        ("capture {}", "capture: empty command"),
    ]
    for call, message in cases:
        d = project(f'task("t", function()\n  {call}\nend)\n')
        r = dbtrun("t", cwd=d)
        assert r.returncode == 2, call
        assert r.stderr == f"error: dbtrun.lua:2: {message}\n"
