-- The built-in dev-select task: the seed's `just dev-select SELECTION`.

task("dev-select", {
  group = "dbt",
  deps = { "fetch-manifest" },
  params = { "SELECTION" },
  doc = "Build a selection (dbt --select syntax), deferring everything else to production",
}, function(a)
  -- loaded when the task runs, not for --list
  local dbt = require("dbtrun.dbt")
  local state = require("dbtrun.artifacts").state()
  if not state then
    warn("no production manifest in " .. config.get("state_dir") .. "/: building the selection without deferral")
  end
  dbt.step("dbt build", dbt.build({ target = dbt.target("dev"), select = a.SELECTION, state = state }),
    { results = true })
  require("dbtrun.summary").done("dev-select", { results = true })
end)
