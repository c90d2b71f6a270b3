"""Secret masking: values given to secret() never appear in what dbtrun
prints or relays, and reach children through the environment, not argv."""
import os
import subprocess
from pathlib import Path

import pytest

from conftest import DBTRUN, dbtrun

SECRET = "s3cr3t-Value-9f8e7d"

TASKS = f"""
task("leak", function()
  local pw = secret("{SECRET}")
  print("print:", pw)
  log("log: " .. pw)
  run {{ "sh", "-c", 'printf "out: %s\\n" "$PW"; printf "err: [%s]\\n" "$PW" >&2', env = {{ PW = pw }} }}
  -- two writes that split the value, then the value inside a longer line
  run {{ "sh", "-c", 'printf "%s" "${{PW%%Value*}}"; sleep 0.2; printf "%s tail\\n" "Value${{PW#*Value}}"', env = {{ PW = pw }} }}
  run {{ "sh", "-c", 'echo "prefix-${{PW}}-suffix and more"', env = {{ PW = pw }} }}
end)

task("fail", function()
  local pw = secret("{SECRET}")
  error("could not connect with password " .. pw)
end)

task("multi", function()
  secret("line-one-abc\\nline-two-def")
  run {{ "sh", "-c", "echo line-two-def; echo line-one-abc" }}
end)

task("cmdline", function()
  local pw = secret("{SECRET}")
  fs.write("started", "x")
  run {{ "sh", "-c", "sleep 1", env = {{ PW = pw }} }}
end)
"""


def test_child_output_print_and_log_are_masked(project):
    d = project(TASKS)
    r = dbtrun("leak", cwd=d)
    assert r.returncode == 0, r.stderr
    out = r.stdout + r.stderr
    assert SECRET not in out
    assert "s3cr3t-" not in out and "-9f8e7d" not in out  # no half of it either
    assert "print:\t***" in r.stdout
    assert "out: ***" in r.stdout
    assert "err: [***]" in r.stderr
    assert "*** tail" in r.stdout
    assert "prefix-***-suffix and more" in r.stdout
    assert "log: ***" in r.stderr


def test_error_messages_are_masked(project):
    d = project(TASKS)
    r = dbtrun("fail", cwd=d)
    assert r.returncode == 1
    assert SECRET not in r.stderr and "password ***" in r.stderr


def test_dry_run_masks_env(project):
    d = project(TASKS)
    r = dbtrun("-n", "leak", cwd=d)
    assert r.returncode == 0
    assert SECRET not in r.stdout + r.stderr
    assert "PW=***" in r.stderr


def test_multi_line_secret_masked_line_by_line(project):
    d = project(TASKS)
    r = dbtrun("multi", cwd=d)
    assert r.stdout == "***\n***\n"


def test_github_actions_add_mask(project):
    d = project(TASKS)
    r = dbtrun("multi", cwd=d, env={"GITHUB_ACTIONS": "true"})
    assert r.stdout.count("::add-mask::") == 2  # one per line: a multi-line mask does not work there
    assert "::add-mask::line-one-abc\n" in r.stdout


def test_secret_never_on_a_command_line(project):
    d = project(TASKS)
    p = subprocess.Popen([DBTRUN, "cmdline"], cwd=d, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    seen = []
    try:
        while p.poll() is None:
            for pid in os.listdir("/proc"):
                if pid.isdigit():
                    try:
                        seen.append(Path(f"/proc/{pid}/cmdline").read_bytes())
                    except OSError:
                        pass
    finally:
        out, err = p.communicate(timeout=20)
    assert p.returncode == 0
    assert any(b"sleep 1" in c for c in seen), "the child was never seen"
    assert not any(SECRET.encode() in c for c in seen)
    assert SECRET.encode() not in out + err


# Every way a task file can write to the terminal: each must be masked.
STDIO_TASKS = f"""
task("io_write", function()
  io.write("io.write: ", secret("{SECRET}"), "\\n")
end)

task("stdout_write", function()
  io.stdout:write("stdout: ", secret("{SECRET}"), "\\n")
end)

task("stderr_write", function()
  io.stderr:write("stderr: ", secret("{SECRET}"), "\\n")
end)

task("split_write", function()
  local pw = secret("{SECRET}")
  io.write("split: ", pw:sub(1, 6))
  io.write(pw:sub(7), "\\n")
end)

task("execute", function()
  env.set("SECRET", secret("{SECRET}"))
  local ok, how, code = os.execute("echo $SECRET; echo err $SECRET >&2; exit 3")
  print("execute:", ok, how, code)
end)

task("popen", function()
  env.set("SECRET", secret("{SECRET}"))
  local f = io.popen("echo popen $SECRET; echo popen-err $SECRET >&2")
  local text = f:read("a")
  print("read:", text == "popen {SECRET}\\n", f:close())
  io.write(text)
end)

task("popen_w", function()
  env.set("SECRET", secret("{SECRET}"))
  local f = io.popen("cat; echo tail $SECRET", "w")
  f:write("fed ", os.getenv("SECRET"), "\\n")
  print("closed:", f:close())
end)

task("order", {{ params = {{ "MASK" }} }}, function(a)
  if a.MASK == "yes" then
    secret("{SECRET}") -- child output is relayed through the mask
  end
  io.write("a\\n")
  run {{ "echo", "b" }}
  io.write("c\\n")
  print("d")
  run {{ "echo", "e" }}
  io.stdout:write("f\\n")
end)
"""


def test_io_write_is_masked(project):
    r = dbtrun("io_write", cwd=project(STDIO_TASKS))
    assert r.returncode == 0, r.stderr
    assert r.stdout == "io.write: ***\n"


def test_io_stdout_write_is_masked(project):
    r = dbtrun("stdout_write", cwd=project(STDIO_TASKS))
    assert r.returncode == 0, r.stderr
    assert r.stdout == "stdout: ***\n"


def test_io_stderr_write_is_masked(project):
    r = dbtrun("stderr_write", cwd=project(STDIO_TASKS))
    assert r.returncode == 0, r.stderr
    assert "stderr: ***\n" in r.stderr and SECRET not in r.stderr


def test_secret_split_between_two_io_writes_is_masked(project):
    r = dbtrun("split_write", cwd=project(STDIO_TASKS))
    assert r.returncode == 0, r.stderr
    assert r.stdout == "split: ***\n"


def test_os_execute_output_is_masked(project):
    r = dbtrun("execute", cwd=project(STDIO_TASKS))
    assert r.returncode == 0, r.stderr
    assert SECRET not in r.stdout + r.stderr
    assert r.stdout == "***\nexecute:\tnil\texit\t3\n"
    assert "err ***\n" in r.stderr


def test_io_popen_output_read_back_and_printed_is_masked(project):
    r = dbtrun("popen", cwd=project(STDIO_TASKS))
    assert r.returncode == 0, r.stderr
    assert SECRET not in r.stdout + r.stderr
    assert r.stdout == "read:\ttrue\ttrue\texit\t0\npopen ***\n"  # Lua sees the value itself
    assert "popen-err ***\n" in r.stderr


def test_io_popen_write_mode_output_is_masked(project):
    r = dbtrun("popen_w", cwd=project(STDIO_TASKS))
    assert r.returncode == 0, r.stderr
    assert r.stdout == "fed ***\ntail ***\nclosed:\ttrue\texit\t0\n"


@pytest.mark.parametrize("mask", ["no", "yes"])
def test_lua_writes_and_child_output_keep_their_order_on_a_pipe(project, mask):
    r = dbtrun("order", mask, cwd=project(STDIO_TASKS))  # stdout is a pipe: fully buffered by stdio
    assert r.returncode == 0, r.stderr
    assert r.stdout == "a\nb\nc\nd\ne\nf\n"
