-- dbt_driver: the Python program of dev's one-process dbt (lua/dbt.lua
-- M.fused_step). It runs with the interpreter of the project's dbt script
-- and talks to dbtrun on fd 3 (proc.run's control channel), one line each way:
--   driver: hello                 dbtrun: {"argv0": ..., "parse": [...], "build": [...]}
--   driver: parsed CODE           dbtrun: go | stop   (the plan ran between)
-- The words come over the channel, never argv. The parse's stdout is held
-- back as dbtrun's own `dbt parse` capture holds it, and shown on stderr when
-- the parse fails; the build then runs on the parsed manifest (a failed parse:
-- parsing again, failing as dbt build would). Exit codes are dbt's CLI's: 0
-- success, 1 failures in the build, 2 an error; stop: 0 without building.
-- Kept as Lua text so that it is embedded with the library.

return [==[
import json, os, sys

CTL = 3
os.set_inheritable(CTL, False)  # dbt's own subprocesses never see the channel
if sys.path and sys.path[0] in ("", os.getcwd()):
    del sys.path[0]  # -c puts the project folder first; dbt's script has its bin/ there


def say(line):
    data = (line + "\n").encode()
    while data:
        data = data[os.write(CTL, data):]


def hear():
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = os.read(CTL, 65536)
        if not chunk:
            return None  # dbtrun closed the channel: stop
        buf += chunk
    return buf[:-1].decode()


def code_of(res):
    # dbt's CLI: ResultExit (failures) 1, ExceptionExit and usage errors 2
    if res.success:
        return 0
    return 1 if res.exception is None else 2


def interrupted(res):
    return isinstance(res.exception, KeyboardInterrupt)


def parse(runner, words):
    # stdout (dbt's log lines) goes to a file while parsing, as dbtrun's
    # capture of `dbt parse` held it; shown on stderr if the parse fails
    import tempfile
    held = tempfile.TemporaryFile()
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(held.fileno(), 1)
    try:
        res = runner.invoke(words)
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
    if not res.success and not interrupted(res):
        held.seek(0)
        sys.stderr.flush()
        while True:
            chunk = held.read(65536)
            if not chunk:
                break
            os.write(2, chunk)
    held.close()
    return res


def main():
    say("hello")
    words = json.loads(hear() or "null")
    if not words:
        return 0
    from dbt.cli.main import dbtRunner
    sys.argv = [words["argv0"]] + words["parse"]  # dbt logs its command line from argv
    res = parse(dbtRunner(), words["parse"])
    if interrupted(res):
        return 130
    say("parsed %d" % code_of(res))
    if hear() != "go":
        return 0
    sys.argv = [words["argv0"]] + words["build"]
    runner = dbtRunner(manifest=res.result if res.success else None)
    return code_of(runner.invoke(words["build"]))


try:
    code = main()
except KeyboardInterrupt:
    code = 130
sys.exit(code)
]==]
