"""Dotenv (config.dotenv, --dotenv): variables reach children, the real
environment wins, secret-named values are masked, malformed lines are errors
with file:line, and nothing is read unless a task runs."""
import json

import pytest

from conftest import dbtrun

PASSWORD = "hunter2-Pa55word-77"

# The child writes its environment to a file, so what it received is checked
# apart from what dbtrun's mask lets through to the terminal.
TASKS = """
config { dotenv = ".env" }
task("env", function()
  run { "python3", "-c", [[
import json, os
names = ["PLAIN", "EXPORTED", "SINGLE", "DOUBLE", "EMPTY", "SPACED", "HASHED", "DB_PASSWORD", "REAL"]
json.dump({n: os.environ.get(n) for n in names}, open("seen.json", "w"))
print("password is " + os.environ["DB_PASSWORD"])
]] }
end)
task("hello", function() print("hi") end)
"""

DOTENV = f"""# a comment

PLAIN=value with spaces   # trailing comment
export EXPORTED=1
SINGLE='literal $x \\n # not a comment'
DOUBLE="a\\tb\\n\\"q\\" \\\\ \\$ \\d"
EMPTY=
  SPACED = around  
HASHED=a#b
DB_PASSWORD="{PASSWORD}"
REAL=from-file
"""


def test_values_reach_the_child_exactly(project):
    d = project(TASKS)
    (d / ".env").write_text(DOTENV)
    r = dbtrun("env", cwd=d, env={"REAL": "from-environment"})
    assert r.returncode == 0, r.stderr
    seen = json.loads((d / "seen.json").read_text())
    assert seen == {
        "PLAIN": "value with spaces",
        "EXPORTED": "1",
        "SINGLE": "literal $x \\n # not a comment",
        "DOUBLE": 'a\tb\n"q" \\ $ \\d',
        "EMPTY": "",
        "SPACED": "around",
        "HASHED": "a#b",
        "DB_PASSWORD": PASSWORD,
        "REAL": "from-environment",  # the real environment wins
    }


def test_secret_named_values_are_masked(project):
    d = project(TASKS)
    (d / ".env").write_text(DOTENV + "API_TOKEN=tok-abcdef-123\n")
    r = dbtrun("env", cwd=d)
    assert r.returncode == 0, r.stderr
    assert "password is ***" in r.stdout
    assert PASSWORD not in r.stdout + r.stderr
    assert json.loads((d / "seen.json").read_text())["DB_PASSWORD"] == PASSWORD


@pytest.mark.parametrize(
    "name",
    ["DB_PASSWORD", "GITHUB_TOKEN", "APP_SECRET", "STRIPE_KEY", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "password"],
)
def test_each_secret_suffix_is_masked(project, name):
    d = project('config { dotenv = ".env" }\ntask("p", function() sh "echo v=$' + name + '" end)\n')
    (d / ".env").write_text(f"{name}=masked-value-xyz\n")
    r = dbtrun("p", cwd=d)
    assert r.returncode == 0, r.stderr
    assert "v=***" in r.stdout
    assert "masked-value-xyz" not in r.stdout + r.stderr


def test_other_names_are_not_masked(project):
    d = project('config { dotenv = ".env" }\ntask("p", function() sh "echo v=$KEYRING_PATH $MONKEY" end)\n')
    (d / ".env").write_text("KEYRING_PATH=/plain/path\nMONKEY=banana\n")
    r = dbtrun("p", cwd=d)
    assert "v=/plain/path banana" in r.stdout, r.stdout + r.stderr


@pytest.mark.parametrize(
    "line, message",
    [
        ("JUST TEXT", ".env:3: expected KEY=VALUE (this line has no '=')"),
        ("1ABC=x", ".env:3: '1ABC' is not a variable name"),
        ("MY VAR=x", ".env:3: 'MY VAR' is not a variable name"),
        ('DB_PASSWORD="open-secret-value', ".env:3: DB_PASSWORD: the double quote is not closed on this line"),
        ("DB_PASSWORD='open-secret-value", ".env:3: DB_PASSWORD: the single quote is not closed on this line"),
        ('DB_PASSWORD="closed"open-secret-value', ".env:3: DB_PASSWORD: only a # comment may follow the closing quote"),
    ],
)
def test_malformed_line_is_an_error_with_file_and_line(project, line, message):
    d = project(TASKS)
    (d / ".env").write_text(f"# first\nOK=1\n{line}\nLATER=2\n")
    r = dbtrun("hello", cwd=d)
    assert r.returncode == 2
    assert f"error: {message}" in r.stderr
    assert "open-secret-value" not in r.stderr  # a value is never quoted
    assert "hi" not in r.stdout  # the task did not run


def test_list_and_summary_never_read_the_file(project):
    d = project(TASKS)
    (d / ".env").write_text("this is not a dotenv file\n")
    for args in (["--list"], ["--summary"], ["--json"], []):
        r = dbtrun(*args, cwd=d)
        assert r.returncode == 0, (args, r.stderr)


def test_missing_config_file_is_skipped_but_missing_option_file_is_an_error(project):
    d = project(TASKS)
    r = dbtrun("-v", "hello", cwd=d)
    assert r.returncode == 0, r.stderr
    assert "dotenv: .env not found, skipped" in r.stderr
    r = dbtrun("--dotenv", "nope.env", "hello", cwd=d)
    assert r.returncode == 2
    assert "error: dotenv file not found: nope.env" in r.stderr


def test_option_wins_and_is_relative_to_the_start_folder(project, tmp_path):
    d = project('config { dotenv = ".env" }\ntask("p", function() sh "echo v=$WHICH" end)\n')
    (d / ".env").write_text("WHICH=config\n")
    sub = d / "sub"
    sub.mkdir()
    (sub / "local.env").write_text("WHICH=option\n")
    r = dbtrun("--dotenv", "local.env", "p", cwd=sub)  # the task file is found upward
    assert r.returncode == 0, r.stderr
    assert "v=option" in r.stdout
    r = dbtrun("p", cwd=sub)
    assert "v=config" in r.stdout


def test_dbtrun_settings_in_the_file_apply_below_the_real_environment(project):
    d = project('config { dotenv = ".env", greeting = "default" }\ntask("p", function() print("g=" .. config.greeting) end)\n')
    (d / ".env").write_text("DBTRUN_GREETING=from-file\n")
    assert "g=from-file" in dbtrun("p", cwd=d).stdout
    assert "g=real" in dbtrun("p", cwd=d, env={"DBTRUN_GREETING": "real"}).stdout
