-- proc.start/wait_any (src/lua/l_proc.c) and the scheduler of parallel deps
-- (lua/parallel.lua), driven directly.
local t = require("harness")
local native = require("dbtrun.native")
local parallel = require("dbtrun.parallel")
local run = require("dbtrun.run")
local ui = require("dbtrun.ui")
ui.quiet = true

return t.run("test_parallel", {
  { "start, wait_any, collect", function()
    local a = native.proc.start({ "sh", "-c", "echo out; exit 5" }, { capture = true })
    t.eq(native.proc.wait_any({ a }), 1)
    local code, out, signal = a:collect()
    t.eq(code, 5)
    t.eq(out, "out\n")
    t.eq(signal, nil)
    t.raises(function() a:collect() end, "already collected")
    t.raises(function() native.proc.wait_any({ a }) end, "already collected")
    t.raises(function() native.proc.wait_any({}) end, "1 to 32 children")
    local missing, msg, why = native.proc.start({ "dbtrun-no-such-program" })
    t.eq(missing, nil)
    t.check(msg:find("command not found", 1, true), msg)
    t.eq(why, 127)
  end },
  { "proc.run's control channel: fd 3 in the child, a line each way", function()
    local heard = {}
    local script = 'echo hello >&3; read -r a <&3; echo "parsed $a" >&3; read -r b <&3; echo "got $a $b"; '
      .. 'echo bye >&3; if read -r c <&3; then echo more; else echo eof; fi'
    local code, out = native.proc.run({ "sh", "-c", script }, { capture = true, control = function(line)
      heard[#heard + 1] = line
      if line == "hello" then
        return '{"words": ["a b"]}'
      elseif #heard == 2 then
        return "go"
      end
      -- nil closes the channel: the child reads its end
    end })
    t.eq(code, 0)
    t.eq(table.concat(heard, "|"), "hello|parsed {\"words\": [\"a b\"]}|bye")
    t.eq(out, 'got {"words": ["a b"]} go\neof\n')
    -- nothing answers a child without a channel: fd 3 is not open there
    code, out = native.proc.run({ "sh", "-c", "{ echo x >&3; } 2>/dev/null || echo closed" }, { capture = true })
    t.eq(out, "closed\n")
  end },
  { "an error in the control function closes the channel and is raised after the child", function()
    local dir = t.tmpdir()
    local ok, err = pcall(native.proc.run, { "sh", "-c", "echo hello >&3; read -r a <&3 || touch " .. dir
      .. "/eof" }, { control = function() error("plan failed", 0) end })
    t.eq(ok, false)
    t.eq(err, "plan failed")
    t.eq(native.fs.stat(dir .. "/eof"), "file")
  end },
  { "close kills a running child", function()
    local dir = t.tmpdir()
    local c = native.proc.start({ "sh", "-c", "sleep 0.5; touch " .. dir .. "/left" })
    c:close()
    c:close() -- idempotent
    native.proc.run({ "sleep", "0.7" })
    t.eq(native.fs.stat(dir .. "/left") ~= nil, false)
  end },
  { "jobs run at once and each gets its own label", function()
    local dir = t.tmpdir()
    local seen = {}
    local function job(me, other)
      return {
        label = me,
        fn = function()
          local _, out = run.sh({ ("touch %s/%s; i=0; while [ ! -f %s/%s ] && [ $i -lt 200 ]; do sleep 0.05; "
            .. "i=$((i+1)); done; echo $i"):format(dir, me, dir, other), capture = true })
          seen[me] = parallel.branch().label .. ":" .. tostring(tonumber(out) < 200)
        end,
      }
    end
    parallel.run({ job("a", "b"), job("b", "a") })
    t.eq(seen.a, "a:true")
    t.eq(seen.b, "b:true")
    t.eq(parallel.branch(), nil)
  end },
  { "a Lua error stops the other branch's command", function()
    local dir = t.tmpdir()
    local ok, err = pcall(parallel.run, {
      { label = "bad", fn = function()
        run.sh("i=0; while [ ! -f " .. dir .. "/up ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done")
        error("broken", 0)
      end },
      { label = "slow", fn = function()
        run.sh("touch " .. dir .. "/up; sleep 20; touch " .. dir .. "/marker")
        run.sh("touch " .. dir .. "/second")
      end },
    })
    t.eq(ok, false)
    t.eq(err, "broken")
    t.eq(native.fs.stat(dir .. "/marker") ~= nil, false)
    t.eq(native.fs.stat(dir .. "/second") ~= nil, false)
  end },
})
