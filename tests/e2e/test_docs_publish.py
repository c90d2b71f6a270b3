"""The docs rule and the confirmation, with real dbt (dbt-core + dbt-duckdb)
on copies of the example project and the embedded local store
(file://.dbtrun/store/docs/): deploy and docs publish exactly the docs site —
index.html, catalog.json, manifest.json, run_results.json — and delete
everything else there; docs_include widens it; `dbtrun docs` outside CI asks
first (refused without a terminal, --yes answers, y/n typed on a
pseudo-terminal), warns about uncommitted changes; and confirm() in a team's
own task behaves the same way."""
import os
import select
import shutil
import signal
import subprocess
import time

import pytest

from conftest import DBTRUN, ROOT, dbtrun

VENV_BIN = ROOT / ".venv" / "bin"
EXAMPLE = ROOT / "examples" / "jaffle_contacts"
SITE = {"index.html", "catalog.json", "manifest.json", "run_results.json"}
QUESTION = "Publish the docs site to file://.dbtrun/store/docs/?"
NO_TERMINAL = (f'error: cannot ask "{QUESTION}" without a terminal: run with --yes (-y) to answer yes\n')
# Outside CI: the suite itself may run under CI=true or on GitHub Actions.
ENV = {"PATH": f"{VENV_BIN}:{os.environ['PATH']}", "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "CI": "",
       "GITHUB_ACTIONS": "", "GITHUB_EVENT_PATH": "", "GITHUB_STEP_SUMMARY": "", "GITHUB_TOKEN": "",
       "NO_COLOR": "1"}

def store_files(project):
    """Every path under the docs store, folders as "name/"."""
    root = project / ".dbtrun" / "store" / "docs"
    return {str(p.relative_to(root)) + ("/" if p.is_dir() else "") for p in root.rglob("*")}


def on_terminal(args, cwd, env, answer, timeout=240):
    """Runs dbtrun on a pseudo-terminal, types `answer` once the question is
    on the screen, and returns (exit code, everything the terminal showed)."""
    import pty
    pid, master = pty.fork()
    if pid == 0:
        os.chdir(cwd)
        os.execve(DBTRUN, [DBTRUN, *args], {**os.environ, **env})
    out, sent = b"", False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        try:
            if select.select([master], [], [], 0.05)[0]:
                out += os.read(master, 65536)
        except OSError:
            pass
        if not sent and b"[y/N] " in out:
            os.write(master, answer)
            sent = True
        if done:
            os.close(master)
            return os.waitstatus_to_exitcode(status), out.decode(errors="replace")
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    raise AssertionError(f"dbtrun did not end: {out!r}")


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    """`dbtrun deploy` of the example after an earlier publish left the seed's
    extras in the docs store (compiled SQL, graph.gpickle)."""
    if not (VENV_BIN / "dbt").exists():
        pytest.skip("dbt is not installed (tools/venv.sh)")
    project = tmp_path_factory.mktemp("docs") / "jaffle_contacts"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("target", "logs", "*.duckdb*", ".artifacts",
                                                                    ".dbtrun"))
    docs = project / ".dbtrun" / "store" / "docs"
    (docs / "compiled" / "jaffle_contacts" / "models").mkdir(parents=True)
    (docs / "compiled" / "jaffle_contacts" / "models" / "gone.sql").write_text("select 1\n")
    (docs / "graph.gpickle").write_bytes(b"\x80\x04old")
    r = dbtrun("deploy", cwd=project, env=ENV, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr
    return project, r


@pytest.fixture
def work(deployed, tmp_path):
    dst = tmp_path / "jaffle_contacts"
    shutil.copytree(deployed[0], dst)
    return dst


def test_deploy_publishes_exactly_the_site_and_deletes_the_rest(deployed):
    project, r = deployed
    assert store_files(project) == SITE
    assert "delete: .dbtrun/store/docs/compiled/jaffle_contacts/models/gone.sql" in r.stdout
    assert "delete: .dbtrun/store/docs/graph.gpickle" in r.stdout
    assert "docs: 4 copied, 2 deleted, 0 unchanged in file://.dbtrun/store/docs/" in r.stderr
    # what the seed's rule would have sent is there in target/, and stayed there
    assert (project / "target" / "graph.gpickle").exists() and (project / "target" / "compiled").is_dir()
    assert "dbt docs generate --target prod" in r.stderr  # deploy never asks: no question on a pipe
    assert "[y/N]" not in r.stderr


def test_docs_include_widens_the_site_and_its_removal_narrows_it_again(work):
    r = dbtrun("--yes", "--set", "docs_include=compiled/*,graph.gpickle", "docs", cwd=work, env=ENV, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr
    assert f"{QUESTION} [y/N] yes (--yes)" in r.stderr
    files = store_files(work)
    assert SITE | {"graph.gpickle"} <= files
    assert "compiled/jaffle_contacts/models/marts/fct_contacts.sql" in files
    assert not {f for f in files if f.startswith("run/") or f.endswith(".msgpack")}
    # a list in the task file works the same way; without it the extras go again
    (work / "dbtrun.lua").write_text((work / "dbtrun.lua").read_text() + '\nconfig { docs_include = { "graph.gpickle" } }\n')
    r = dbtrun("-y", "docs", cwd=work, env=ENV, timeout=300)
    assert r.returncode == 0, r.stderr
    assert store_files(work) == SITE | {"graph.gpickle"}
    (work / "dbtrun.lua").write_text((work / "dbtrun.lua").read_text().replace('"graph.gpickle"', ""))
    r = dbtrun("-y", "docs", cwd=work, env=ENV, timeout=300)
    assert r.returncode == 0, r.stderr
    assert store_files(work) == SITE


def test_docs_without_a_terminal_refuses_before_running_dbt(work):
    (work / ".dbtrun" / "store" / "docs" / "index.html").unlink()
    r = dbtrun("docs", cwd=work, env=ENV, timeout=120, stdin=subprocess.DEVNULL)
    assert r.returncode == 2, r.stderr
    assert r.stderr.endswith(NO_TERMINAL), r.stderr
    assert "dbt docs generate" not in r.stderr
    assert "index.html" not in store_files(work)


def test_docs_in_ci_publishes_without_asking(work):
    (work / ".dbtrun" / "store" / "docs" / "index.html").unlink()
    r = dbtrun("docs", cwd=work, env={**ENV, "CI": "true"}, timeout=300, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    assert "[y/N]" not in r.stderr
    assert store_files(work) == SITE


def test_docs_dry_run_answers_no_without_asking(work):
    r = dbtrun("--dry-run", "docs", cwd=work, env=ENV, timeout=120, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    assert f"{QUESTION} [y/N] no (dry run)" in r.stderr
    assert "docs: not published (not confirmed); the site is generated in target/" in r.stderr
    assert "store sync" not in r.stderr


@pytest.mark.parametrize("answer, published", [(b"y\r", True), (b"yes\r", True), (b"n\r", False), (b"\r", False)])
def test_docs_on_a_terminal_publishes_only_after_yes(work, answer, published):
    (work / ".dbtrun" / "store" / "docs" / "index.html").unlink()
    code, out = on_terminal(["docs"], work, ENV, answer)
    assert code == 0, out
    assert f"{QUESTION} [y/N] " in out
    assert "dbt docs generate --target prod" in out  # generated either way
    if published:
        assert store_files(work) == SITE
        assert "copy: target/index.html to .dbtrun/store/docs/index.html" in out
    else:
        assert "index.html" not in store_files(work)
        assert "docs: not published (not confirmed)" in out


def test_docs_warns_about_uncommitted_changes(work):
    def git(*args):
        subprocess.run(["git", *args], cwd=work, check=True, capture_output=True,
                       env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
                            "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"})
    if not shutil.which("git"):
        pytest.skip("git is not installed")
    (work / ".gitignore").write_text("target/\nlogs/\n.dbtrun/\n.artifacts/\n*.duckdb*\ndbt_packages/\n")
    git("init", "-q")
    git("add", "-A")
    git("commit", "-qm", "base")
    r = dbtrun("-n", "docs", cwd=work, env=ENV, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "uncommitted" not in r.stderr
    model = work / "models" / "marts" / "fct_contacts.sql"
    model.write_text(model.read_text() + "\n-- not committed\n")
    r = dbtrun("-n", "docs", cwd=work, env=ENV, timeout=120)
    assert r.returncode == 0, r.stderr
    assert ("warning: the git working tree has 1 uncommitted change(s) (models/marts/fct_contacts.sql): "
            "the docs site is built from them, not from what is committed") in r.stderr
    assert r.stderr.index("uncommitted") < r.stderr.index("[y/N]")


# ---- confirm() in a team's own task ----------------------------------------------

TASKS = """
task("drop", {}, function()
  if confirm("Drop schema X?") then
    fs.write("answer.txt", "yes")
  else
    fs.write("answer.txt", "no")
  end
end)
"""


def test_confirm_without_a_terminal_names_the_task_file_line(project):
    d = project(TASKS)
    r = dbtrun("drop", cwd=d, env=ENV, stdin=subprocess.DEVNULL)
    assert r.returncode == 2
    assert r.stderr == ('error: dbtrun.lua:3: cannot ask "Drop schema X?" without a terminal: '
                        "run with --yes (-y) to answer yes\n")
    assert not (d / "answer.txt").exists()


def test_confirm_yes_and_dry_run_answer_without_asking(project):
    d = project(TASKS)
    r = dbtrun("--yes", "drop", cwd=d, env=ENV, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    assert r.stderr == "Drop schema X? [y/N] yes (--yes)\n"
    assert (d / "answer.txt").read_text() == "yes"
    (d / "answer.txt").unlink()
    r = dbtrun("-n", "-y", "drop", cwd=d, env=ENV, stdin=subprocess.DEVNULL)  # a dry run never says yes
    assert r.returncode == 0, r.stderr
    assert r.stderr.startswith("Drop schema X? [y/N] no (dry run)\n")
    assert not (d / "answer.txt").exists()


@pytest.mark.parametrize("typed, answer", [(b"y\r", "yes"), (b"Yes\r", "yes"), (b"n\r", "no"), (b"\r", "no"),
                                           (b"maybe\ry\r", "yes")])
def test_confirm_on_a_terminal(project, typed, answer):
    d = project(TASKS)
    code, out = on_terminal(["drop"], d, ENV, typed, timeout=30)
    assert code == 0, out
    assert out.startswith("Drop schema X? [y/N] "), out
    assert (d / "answer.txt").read_text() == answer
    if typed.startswith(b"maybe"):
        assert "please answer y or n" in out


def test_confirm_wants_a_question(project):
    d = project('task("t", {}, function() confirm(42) end)\n')
    r = dbtrun("-y", "t", cwd=d, env=ENV)
    assert r.returncode == 1
    assert "dbtrun.lua:1: confirm expects a question (a string), got number" in r.stderr


def test_ctrl_c_at_the_question_interrupts_the_task(project):
    d = project('task("drop", {}, function()\n  always(function() fs.write("always.txt", "ran") end)\n'
                '  fs.write("answer.txt", tostring(confirm("Drop schema X?")))\nend)\n')
    code, out = on_terminal(["drop"], d, ENV, b"\x03", timeout=30)
    assert code == 130, out
    assert "error: interrupted by SIGINT" in out
    assert (d / "always.txt").read_text() == "ran"
    assert not (d / "answer.txt").exists()
