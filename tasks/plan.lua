-- The built-in plan task: dbt's state:modified+ computed natively from the
-- production manifest and the current one, with the reason for every change
-- (the work is in lua/plan.lua and src/dbt/plan.c).

task("plan", {
  group = "dbt",
  params = { "*ARGS" },
  doc = "What state:modified+ selects against production, and why "
    .. "([--state DIR] [--target-manifest PATH] [--format text|json|markdown] [--explain [NODE...]])",
}, function(a)
  local plan = require("dbtrun.plan") -- loaded when the task runs, not for --list
  plan.run(plan.parse_args(a.ARGS or {}))
end)
