"""End-to-end tests of parallel dependencies (issue 14): deps = { parallel =
{...} } runs them at once — proved by ordering, never by timing: each side
waits (boundedly) for a file the other writes, which only works when both
run together — each task still once, every output line prefixed and whole,
a failure stopping the others, masking, dry runs and Ctrl-C."""
import json
import signal
import subprocess
import time

from conftest import DBTRUN, dbtrun

# A shell function for the task files: waits up to 10 s for a file, fails
# when it never comes (a bounded wait, so a broken run fails, never hangs).
WAIT = 'w() { i=0; while [ ! -f "$1" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done; [ -f "$1" ]; }; '


def sh(script):
    """A Lua string literal of sh code with the wait helper in front."""
    return '"' + (WAIT + script).replace("\\", "\\\\").replace('"', '\\"') + '"'


def test_parallel_deps_run_at_once_even_as_sequences_of_commands(project):
    # Each dep is a Lua function running two commands in turn; each command
    # waits for the other dep's matching step: only concurrency passes.
    d = project(
        "task('a', function()\n"
        f"  sh {sh('touch a1; w b1 && echo a-saw-b1')}\n"
        "  local v = capture { 'echo', 'captured' }\n"
        f"  sh {sh('touch a2; w b2 && echo a-saw-b2-after-')}\n"
        "  print('a got ' .. v)\n"
        "end)\n"
        "task('b', function()\n"
        f"  sh {sh('touch b1; w a1 && echo b-saw-a1')}\n"
        f"  sh {sh('touch b2; w a2 && echo b-saw-a2')}\n"
        "end)\n"
        "task('both', { deps = { parallel = { 'a', 'b' } } }, function() print('body after both') end)\n"
    )
    r = dbtrun("-q", "both", cwd=d)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert sorted(lines[:-1]) == sorted(
        ["[a] a-saw-b1", "[a] a-saw-b2-after-", "[b] b-saw-a1", "[b] b-saw-a2", "a got captured"]
    )
    assert lines[-1] == "body after both"


def test_a_task_reached_twice_runs_once_and_the_other_branch_waits_for_it(project):
    # a and b both depend on c; c is slow: whichever branch reaches it
    # second must wait for it to end, not run it again nor skip ahead.
    d = project(
        "task('c', function() sh " + sh("echo c-start >> order; w go; echo c-end >> order") + " end)\n"
        "task('a', { deps = { 'c' } }, function() sh 'echo a >> order' end)\n"
        "task('b', { deps = { 'c' } }, function() sh 'echo b >> order' end)\n"
        "task('go', function() sh " + sh("w order && touch go") + " end)\n"
        "task('top', { deps = { parallel = { 'a', 'b', 'go' } } }, function() end)\n"
    )
    r = dbtrun("-q", "top", cwd=d)
    assert r.returncode == 0, r.stderr
    order = (d / "order").read_text().splitlines()
    assert order[:2] == ["c-start", "c-end"]
    assert sorted(order[2:]) == ["a", "b"]


def test_listed_deps_run_first_then_the_parallel_group(project):
    d = project(
        "task('x', function() sh 'echo x >> order' end)\n"
        "task('a', function() sh " + sh("touch a; w b; echo a >> order") + " end)\n"
        "task('b', function() sh " + sh("touch b; w a; echo b >> order") + " end)\n"
        "task('top', { deps = { 'x', parallel = { 'a', 'b' } } }, function() sh 'echo top >> order' end)\n"
    )
    r = dbtrun("-q", "top", cwd=d)
    assert r.returncode == 0, r.stderr
    order = (d / "order").read_text().splitlines()
    assert order[0] == "x" and sorted(order[1:3]) == ["a", "b"] and order[3] == "top"


def test_every_line_is_prefixed_and_whole(project):
    # Both children write partial lines, then wait for the other to have
    # written its own partial line: unbuffered relaying would interleave.
    d = project(
        "task('a', function() sh "
        + sh("printf 'a-one '; touch a; w b; printf 'a-two\\n'; printf 'a-err ' >&2; sleep 0.1; "
             "echo a-err-end >&2; printf a-tail")
        + " end)\n"
        "task('b', function() sh "
        + sh("printf 'b-one '; touch b; w a; printf 'b-two\\nb-three\\n'")
        + " end)\n"
        "task('top', { deps = { parallel = { 'a', 'b' } } }, function() end)\n"
    )
    r = dbtrun("-q", "top", cwd=d)
    assert r.returncode == 0, r.stderr
    assert sorted(r.stdout.splitlines()) == ["[a] a-one a-two", "[a] a-tail", "[b] b-one b-two", "[b] b-three"]
    assert r.stdout.endswith("\n")
    assert r.stderr == "[a] a-err a-err-end\n"


def test_commands_are_echoed_with_their_task(project):
    d = project(
        "task('a', function() run { 'true' } end)\n"
        "task('top', { deps = { parallel = { 'a' } } }, function() run { 'true' } end)\n"
    )
    r = dbtrun("top", cwd=d)
    assert r.returncode == 0, r.stderr
    assert r.stderr == "[a] true\ntrue\n"


def test_a_failure_stops_the_others_and_sets_the_exit_code(project):
    # `slow` leaves a marker only if it is not stopped; `fail` fails once
    # slow is surely running.
    d = project(
        "task('fail', function() sh " + sh("w started; echo failing; exit 7") + " end)\n"
        "task('slow', function()\n"
        "  always(function() print('slow cleanup ran') end)\n"
        "  sh " + sh("touch started; sleep 30; touch marker") + "\n"
        "  sh 'touch second-command'\n"
        "end)\n"
        "task('top', { deps = { parallel = { 'fail', 'slow' } } }, function() sh 'touch body' end)\n"
    )
    r = dbtrun("-q", "top", cwd=d, timeout=20)
    assert r.returncode == 7, r.stderr
    assert "[fail] failing\n" in r.stdout and "slow cleanup ran\n" in r.stdout
    assert "error: task 'fail' failed: dbtrun.lua:1: command failed with exit code 7" in r.stderr
    for name in ("marker", "second-command", "body"):
        assert not (d / name).exists(), name


def test_a_stopped_dep_that_ignores_sigterm_is_killed_after_the_grace_period(project):
    d = project(
        "task('fail', function() sh " + sh("w started; exit 3") + " end)\n"
        "task('stubborn', function() sh "
        + sh("trap 'echo ignoring-term' TERM; touch started; i=0; while [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done; touch marker")
        + " end)\n"
        "task('top', { deps = { parallel = { 'fail', 'stubborn' } } }, function() end)\n"
    )
    r = dbtrun("-q", "--kill-after", "0.5", "top", cwd=d, timeout=20)
    assert r.returncode == 3, r.stderr
    assert "[stubborn] ignoring-term\n" in r.stdout
    assert not (d / "marker").exists()


def test_secrets_are_masked_in_prefixed_output(project):
    d = project(
        "task('s', function()\n"
        "  secret('hunter2-value')\n"
        "  sh \"printf 'pw=hunter2'; sleep 0.1; echo '-value done'; echo err=hunter2-value >&2\"\n"
        "end)\n"
        "task('top', { deps = { parallel = { 's' } } }, function() end)\n"
    )
    r = dbtrun("-q", "top", cwd=d)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "[s] pw=*** done\n"
    assert r.stderr == "[s] err=***\n"


def test_dry_run_prints_the_commands_and_runs_nothing(project):
    d = project(
        "task('a', function() run { 'touch', 'a' } end)\n"
        "task('b', function() run { 'touch', 'b' } end)\n"
        "task('top', { deps = { parallel = { 'a', 'b' } } }, function() end)\n"
    )
    r = dbtrun("--dry-run", "top", cwd=d)
    assert r.returncode == 0, r.stderr
    assert r.stderr == "[a] touch a\n[b] touch b\n"
    assert not (d / "a").exists() and not (d / "b").exists()


def test_ctrl_c_reaches_every_parallel_dep(project):
    d = project(
        "task('a', function() sh \"trap 'touch a-int; exit 130' INT; touch a-up; sleep 30 & wait\" end)\n"
        "task('b', function() sh \"trap 'touch b-int; exit 130' INT; touch b-up; sleep 30 & wait\" end)\n"
        "task('top', { deps = { parallel = { 'a', 'b' } } }, function() end)\n"
    )
    p = subprocess.Popen([DBTRUN, "-q", "top"], cwd=d, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 10
        while not ((d / "a-up").exists() and (d / "b-up").exists()) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert (d / "a-up").exists() and (d / "b-up").exists()
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=20)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 130, err
    assert (d / "a-int").exists() and (d / "b-int").exists()
    assert "interrupted by SIGINT" in err


def test_unknown_parallel_dep_and_bad_deps_key_fail_when_the_file_loads(project):
    d = project("task('top', { deps = { parallel = { 'no-such-thing' } } }, function() end)\n")
    r = dbtrun("--list", cwd=d)
    assert r.returncode == 2
    assert r.stderr == "error: dbtrun.lua:1: task 'top' depends on 'no-such-thing', which is not a task\n"
    d = project("task('top', { deps = { paralel = { 'top' } } }, function() end)\n")
    r = dbtrun("--list", cwd=d)
    assert r.returncode == 2
    assert "task 'top': deps: unknown key 'paralel'" in r.stderr


def test_a_cycle_through_a_parallel_dep_is_reported(project):
    d = project(
        "task('one', { deps = { 'two' } }, function() end)\n"
        "task('two', { deps = { parallel = { 'one' } } }, function() end)\n"
    )
    r = dbtrun("one", cwd=d)
    assert r.returncode == 2
    assert "dependency cycle through task 'one'" in r.stderr


def test_usage_and_json_show_the_parallel_deps(project):
    d = project(
        "task('x', function() end)\ntask('a', function() end)\ntask('b', function() end)\n"
        "task('top', { deps = { 'x', parallel = { 'a', 'b' } } }, function() end)\n"
        "task('par', { deps = { parallel = { 'a', 'b' } } }, function() end)\n"
    )
    r = dbtrun("--usage", "top", cwd=d)
    assert r.stdout == "usage: dbtrun top\n\nruns first: x\nthen at once: a, b\n", r.stderr
    r = dbtrun("--usage", "par", cwd=d)
    assert r.stdout == "usage: dbtrun par\n\nruns first, at once: a, b\n", r.stderr
    tasks = {t["name"]: t for t in json.loads(dbtrun("--json", cwd=d).stdout)["tasks"]}
    assert (tasks["top"]["deps"], tasks["top"]["parallel_deps"]) == (["x"], ["a", "b"])
    assert "parallel_deps" not in tasks["x"]
