-- parallel: dependencies that run at once (deps = { parallel = {...} }).
-- Lua has no threads, so each dependency runs in a coroutine (a branch); a
-- command it runs (run, sh, capture, dbt) starts a child without waiting
-- (proc.start) and yields, and the scheduler waits on every child at once
-- (proc.wait_any), relaying their output line by line with a "[task] "
-- prefix, and resumes the branch whose child ended. The commands run side
-- by side; the Lua between them runs one branch at a time.

local native = require("dbtrun.native")
local errors = require("dbtrun.errors")

local M = {}

-- While parallel deps run: { branches = {...}, by_co = {coroutine -> branch},
-- failure = the first error }. A branch: { co, label, parent, child (a
-- running proc.start handle), wait (a function: may it go on?), join (it
-- waits for its own branches and goes on waiting when stopped), done,
-- cancelled }.
local sched

-- The branch the running code belongs to, or nil outside parallel deps.
function M.branch()
  return sched and sched.by_co[coroutine.running()]
end

-- Is `holder` (a branch, or true for the main line) the branch `b` or one
-- it was started from? Then `b` reaching a task `holder` runs is a cycle.
function M.on_path(holder, b)
  if holder == true then
    return true
  end
  while b do
    if b == holder then
      return true
    end
    b = b.parent
  end
  return false
end

local function stopped()
  return errors.new("stopped", { message = "stopped: a parallel dependency failed" })
end

-- Yields the current branch until ready() says it may go on; raises when
-- the run is being stopped (unless `join`: then it still waits, so that the
-- branches it started end before it unwinds).
function M.wait_until(ready, join)
  local b = M.branch()
  while not ready() do
    if b.cancelled and not join then
      error(stopped(), 0)
    end
    b.wait, b.join = ready, join
    coroutine.yield()
    b.wait, b.join = nil, nil
  end
  if b.cancelled then
    error(stopped(), 0)
  end
end

-- proc.run's contract from inside a branch: the child starts, the branch
-- yields until the scheduler hands back its result.
function M.run_child(argv, opts)
  local b = M.branch()
  if b.cancelled then
    error(stopped(), 0)
  end
  local o = { env = opts.env, cwd = opts.cwd, capture = opts.capture, prefix = "[" .. b.label .. "] " }
  local child, msg, code = native.proc.start(argv, o)
  if not child then
    return nil, msg, code
  end
  b.child = child
  local r = table.pack(coroutine.yield())
  if b.cancelled then
    error(stopped(), 0)
  end
  return table.unpack(r, 1, r.n)
end

-- The label its commands' output lines get: the task whose body runs.
-- Returns a function that puts the previous label back.
function M.enter(name)
  local b = M.branch()
  if not b then
    return function() end
  end
  local previous = b.label
  b.label = name
  return function()
    b.label = previous
  end
end

-- The first failure stops every branch. After an interrupt the signal has
-- already reached every child, with its own grace period (proc.c): a
-- SIGTERM on top would cut short what the child does about that signal.
local function fail(err)
  if sched.failure then
    return
  end
  sched.failure = err
  local interrupted = type(err) == "table" and err.kind == "interrupt"
  for _, b in ipairs(sched.branches) do
    b.cancelled = true
    if b.child and not interrupted then
      b.child:stop()
    end
  end
end

local function resume(b, ...)
  local ok, err = coroutine.resume(b.co, ...)
  if coroutine.status(b.co) == "dead" then
    b.done = true
    if not ok then
      fail(err)
    end
  end
end

-- May branch b be resumed now (it is not waiting for a child)?
local function runnable(b)
  if b.done or b.child then
    return false
  end
  if not b.started or not b.wait then
    return true
  end
  return b.wait() or (b.cancelled and not b.join)
end

-- Resumes every branch that can go on, then waits for one child.
-- Returns true when every branch is done.
local function step()
  local again = true
  while again do
    again = false
    for _, b in ipairs(sched.branches) do -- branches may be added meanwhile
      if coroutine.status(b.co) == "dead" then
        b.done = true
      elseif runnable(b) then
        b.started = true
        resume(b)
        again = true
      end
    end
  end
  local kids, owners, busy = {}, {}, false
  for _, b in ipairs(sched.branches) do
    busy = busy or not b.done
    if b.child then
      kids[#kids + 1], owners[#owners + 1] = b.child, b
    end
  end
  if #kids == 0 then
    if busy then -- each waits for a task another one runs
      fail(errors.new("taskfile", { message = "dependency cycle between parallel dependencies" }))
    end
    return not busy
  end
  local b = owners[native.proc.wait_any(kids)]
  local child = b.child
  b.child = nil
  resume(b, child:collect())
  return false
end

-- Runs jobs ({ label =, fn = }, ...) at once and returns when all have
-- ended; raises the first failure after stopping the others (SIGTERM, then
-- SIGKILL after --kill-after). From inside a branch, the jobs join the
-- running scheduler and this branch waits for them.
function M.run(jobs)
  local parent = M.branch()
  local top = sched == nil
  if top then
    sched = { branches = {}, by_co = setmetatable({}, { __mode = "k" }) }
  end
  local mine = {}
  for i, job in ipairs(jobs) do
    local b = { label = job.label, parent = parent, co = coroutine.create(job.fn) }
    sched.by_co[b.co] = b
    sched.branches[#sched.branches + 1] = b
    mine[i] = b
  end
  if not top then
    M.wait_until(function()
      for _, b in ipairs(mine) do
        if not b.done then
          return false
        end
      end
      return true
    end, true)
    return
  end
  local finished = false
  while not finished do
    -- An interrupt is raised here by the signal hook: it becomes the failure,
    -- and the loop goes on until every child has ended.
    local ok, err = pcall(step)
    if ok then
      finished = err
    elseif sched.failure and not (type(err) == "table" and err.kind == "interrupt") then
      -- the scheduler itself failed twice: a bug; end the children, not the loop
      for _, b in ipairs(sched.branches) do
        if b.child then
          b.child:close()
        end
      end
      sched = nil
      error(err, 0)
    else
      fail(err)
    end
  end
  local failure = sched.failure
  sched = nil
  if failure then
    error(failure, 0)
  end
end

return M
