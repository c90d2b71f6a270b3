-- The built-in dev task: the seed's `just dev *ARGS` — what changed against
-- production (state:modified+) built with deferral, after the plan says why.

task("dev", {
  group = "dbt",
  deps = { "fetch-manifest" },
  params = { "*ARGS" },
  doc = "Build what changed (state:modified+), deferring the rest to production; ARGS go to dbt build",
}, function(a)
  -- loaded when the task runs, not for --list
  local dbt = require("dbtrun.dbt")
  local state, plan = require("dbtrun.artifacts").state(), nil
  -- the plan's parse with the build's parse settings: the build's own parse is
  -- then a partial-parse hit, and the manifest it writes the next plan's
  local plan_opts = { comment = false, dbt_target = dbt.target("dev"), parse_args = dbt.parse_words(a.ARGS) }
  local build = dbt.build({
    target = dbt.target("dev"),
    select = state and "state:modified+",
    state = state,
    args = a.ARGS,
  })
  -- the plan's parse and the build in one dbt process when dbt is dbt-core's
  -- Python script (config one_process): one start-up, one parse
  local pending = state and dbt.fusable() and require("dbtrun.plan").pending_parse(plan_opts)
  local fused = false
  if pending then
    local note = "plan: " .. pending.why .. ": running dbt parse"
    fused = dbt.fused_step("dbt build", pending.words, build, { results = true, note = note }, function(code)
      local o = {}
      for k, v in pairs(plan_opts) do
        o[k] = v
      end
      o.parsed = code
      plan = require("dbtrun.plan").before_build(o)
      return true
    end) ~= nil
  end
  if not fused then
    if state then
      plan = require("dbtrun.plan").before_build(plan_opts)
    else
      warn("no production manifest in " .. config.get("state_dir") .. "/: a full build, without deferral")
    end
    dbt.step("dbt build", build, { results = true })
  end
  if state then
    require("dbtrun.plan").after_build(plan_opts)
  end
  require("dbtrun.summary").done("dev", { results = true, plan = plan })
end)
