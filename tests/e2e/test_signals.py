"""Interrupts: SIGINT/SIGTERM reach every process of the running command,
cleanup handlers still run, and dbtrun exits 128+N."""
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import DBTRUN


def processes_with(marker):
    """Live (non-zombie) processes whose command line contains marker."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        if marker in cmdline and state != "Z":
            found.append(pid)
    return found


def wait_for(predicate, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupt_leaves_no_process_and_runs_always(project, sig, code):
    marker = f"{37 + sig}.{os.getpid() % 1000}"  # a unique sleep duration
    d = project(
        'task("slow", function()\n'
        '  always(function() run { "sh", "-c", "echo cleaned > always.txt" } end)\n'
        f'  sh "sleep {marker} & sleep {marker}"\n'
        '  fs.write("not-reached.txt", "x")\nend)\n'
    )
    p = subprocess.Popen([DBTRUN, "slow"], cwd=d, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert wait_for(lambda: len(processes_with(f"sleep {marker}")) >= 2), "the command did not start"
    p.send_signal(sig)
    _, err = p.communicate(timeout=20)
    assert p.returncode == code, err
    assert wait_for(lambda: not processes_with(f"sleep {marker}"), timeout=5), "a process survived"
    assert (d / "always.txt").read_text() == "cleaned\n"
    assert not (d / "not-reached.txt").exists()
    assert "interrupted by" in err


def test_interrupt_while_lua_runs(project):
    d = project(
        'task("spin", function()\n'
        '  always(function() fs.write("always.txt", "x") end)\n'
        '  fs.write("started.txt", "x")\n'
        '  while true do end\nend)\n'
    )
    p = subprocess.Popen([DBTRUN, "spin"], cwd=d, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert wait_for(lambda: (d / "started.txt").exists())
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=20)
    assert p.returncode == 143, err
    assert (d / "always.txt").exists()


def test_signal_to_child_alone_is_its_failure(project):
    """A child that dies of a signal dbtrun did not receive is an ordinary failure (128+N)."""
    d = project('task("t", function() sh "kill -TERM $$" end)\n')
    p = subprocess.run([DBTRUN, "t"], cwd=d, capture_output=True, text=True, timeout=20)
    assert p.returncode == 143
    assert "exit code 143" in p.stderr


def hanging_task(marker):
    """A task whose command (and its grandchild) ignores every polite signal."""
    return (
        'task("hang", {}, function()\n'
        '  always(function() fs.write("always.txt", "ran") end)\n'
        f'  run {{ "sh", "-c", "trap \'\' TERM INT HUP; sleep {marker} & wait" }}\nend)\n'
    )


def start_hanging(project, args=(), env=None):
    marker = f"{300 + os.getpid() % 1000}.{time.monotonic_ns() % 100000}"
    d = project(hanging_task(marker))
    p = subprocess.Popen([DBTRUN, *args, "hang"], cwd=d, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})})
    assert wait_for(lambda: processes_with(f"sleep {marker}")), "the command did not start"
    time.sleep(0.2)  # let sh install its traps
    return d, p, f"sleep {marker}"


@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_command_ignoring_signals_is_killed_after_grace(project, sig, code):
    d, p, marker = start_hanging(project, ["--kill-after", "1"])
    start = time.monotonic()
    p.send_signal(sig)
    _, err = p.communicate(timeout=30)
    assert time.monotonic() - start < 10, "the grace period was not applied"
    assert p.returncode == code, err
    assert wait_for(lambda: not processes_with(marker), timeout=5), "a process survived"
    assert (d / "always.txt").read_text() == "ran"


def test_second_sigint_kills_at_once(project):
    d, p, marker = start_hanging(project, ["--kill-after", "300"])
    p.send_signal(signal.SIGINT)
    time.sleep(0.3)
    assert p.poll() is None, "dbtrun ended before the grace period"
    start = time.monotonic()
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=30)
    assert time.monotonic() - start < 10
    assert p.returncode == 130, err
    assert wait_for(lambda: not processes_with(marker), timeout=5), "a process survived"
    assert (d / "always.txt").read_text() == "ran"


def test_kill_after_from_environment(project):
    d, p, marker = start_hanging(project, env={"DBTRUN_KILL_AFTER": "0.5"})
    start = time.monotonic()
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=30)
    assert time.monotonic() - start < 10
    assert p.returncode == 143, err
    assert wait_for(lambda: not processes_with(marker), timeout=5), "a process survived"


@pytest.mark.parametrize("args,env", [(["--kill-after", "abc"], {}), (["--kill-after=-1"], {}),
                                      ([], {"DBTRUN_KILL_AFTER": "soon"})])
def test_bad_kill_after_is_usage_error(project, args, env):
    d = project('task("t", {}, function() fs.write("ran.txt", "x") end)\n')
    r = subprocess.run([DBTRUN, *args, "t"], cwd=d, capture_output=True, text=True, timeout=20,
                       env={**os.environ, **env})
    assert r.returncode == 2, r.stderr
    assert "seconds" in r.stderr
    assert not (d / "ran.txt").exists()


def test_help_lists_kill_after():
    r = subprocess.run([DBTRUN, "--help"], capture_output=True, text=True, timeout=20)
    assert r.returncode == 0
    assert "--kill-after" in r.stdout and "DBTRUN_KILL_AFTER" in r.stdout


def start_on_terminal(project, args=(), task=None):
    """dbtrun on a pseudo-terminal it controls, so the command holds the
    terminal and Ctrl-C (a \\x03 typed on the master) goes to its group."""
    import pty
    marker = f"{300 + os.getpid() % 1000}.{time.monotonic_ns() % 100000}"
    d = project(task(marker) if task else hanging_task(marker))
    pid, master = pty.fork()
    if pid == 0:  # the child: a new session with the pty as its terminal
        os.chdir(d)
        os.execv(DBTRUN, [DBTRUN, *args, "hang"])
    assert wait_for(lambda: processes_with(f"sleep {marker}")), "the command did not start"
    time.sleep(0.3)  # let sh install its traps
    return d, pid, master, f"sleep {marker}"


def end_of(pid, master, timeout=30):
    """Reads the terminal until dbtrun exits; returns (exit code, output)."""
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        try:
            import select
            if select.select([master], [], [], 0.05)[0]:
                out += os.read(master, 65536)
        except OSError:
            pass
        if done:
            os.close(master)
            return os.waitstatus_to_exitcode(status), out.decode(errors="replace")
    ps = subprocess.run(["ps", "-o", "pid,pgid,tpgid,stat,wchan:20,cmd", "-s", str(pid)],
                        capture_output=True, text=True).stdout
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    raise AssertionError(f"dbtrun did not end: {out!r}\n{ps}")


def test_ctrl_c_on_the_terminal_applies_the_grace_period(project):
    # The command holds the terminal, so Ctrl-C reaches its group, not dbtrun;
    # dbtrun must still end it after the grace period, run always() and exit 130.
    d, pid, master, marker = start_on_terminal(project, ["--kill-after", "1"])
    start = time.monotonic()
    os.write(master, b"\x03")
    code, out = end_of(pid, master)
    assert time.monotonic() - start < 15, "the grace period was not applied"
    assert code == 130, out
    assert wait_for(lambda: not processes_with(marker), timeout=5), "a process survived"
    assert (d / "always.txt").read_text() == "ran"


def test_second_ctrl_c_on_the_terminal_kills_at_once(project):
    d, pid, master, marker = start_on_terminal(project, ["--kill-after", "300"])
    os.write(master, b"\x03")
    time.sleep(0.5)
    assert os.waitpid(pid, os.WNOHANG)[0] == 0, "dbtrun ended before the grace period"
    start = time.monotonic()
    os.write(master, b"\x03")
    code, out = end_of(pid, master)
    assert time.monotonic() - start < 15
    assert code == 130, out
    assert wait_for(lambda: not processes_with(marker), timeout=5), "a process survived"
    assert (d / "always.txt").read_text() == "ran"


def test_command_on_the_terminal_can_read_it(project):
    # The command still holds the terminal: it reads what is typed there.
    def reader(marker):
        return (
            'task("hang", {}, function()\n'
            f'  run {{ "sh", "-c", "sleep {marker} & read line; echo got:$line > typed.txt; kill $!" }}\n'
            'end)\n'
        )
    d, pid, master, _ = start_on_terminal(project, task=reader)
    os.write(master, b"hello\r")
    code, out = end_of(pid, master)
    assert code == 0, out
    assert (d / "typed.txt").read_text() == "got:hello\n"
