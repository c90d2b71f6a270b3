-- The built-in ci task: the seed's ci.yml after checkout — dbt deps, the
-- warehouse credentials from Secrets Manager, the production manifest, the
-- plan (nothing modified: the warehouse is not touched), source freshness
-- (a warning), the slim build in CI_PR_<n> with --fail-fast, the
-- dbt_project_evaluator when installed, and the CI schemas dropped always.

task("ci", {
  group = "dbt",
  deps = { "fetch-manifest" },
  doc = "Slim CI for a pull request: build state:modified+ in schema CI_PR_<n>, then drop its schemas",
}, function()
  -- loaded when the task runs, not for --list
  local dbt = require("dbtrun.dbt")
  local artifacts = require("dbtrun.artifacts")
  local profile = require("dbtrun.profile")
  local github = require("dbtrun.github")
  local target = dbt.target("ci")
  local on_target = target and { "--target", target } or {}
  local schema = dbt.ci_schema(config.get("ci.schema"), dbt.ci_pr())
  dbt.deps()
  profile.connect("ci", { DBT_CI_SCHEMA = schema, DBT_TARGET = target })
  artifacts.use_merge_base() -- config state = "merge-base": the PR's branch point, not the latest
  local state = artifacts.state()
  local plan = require("dbtrun.plan").before_build({ dbt_target = target })
  if plan and plan.selected == 0 then
    local note = ("nothing is modified against production: no build, schema %s not created"):format(schema)
    log("ci: " .. note)
    github.annotate("notice", note, { title = "dbtrun ci" })
    require("dbtrun.summary").done("ci", { note = "nothing modified: nothing built" })
    return
  end
  always(function()
    dbt.drop_ci_schemas(schema, target)
  end)
  local code = dbt.step("dbt source freshness", { "source", "freshness", on_target }, { check = false })
  if code ~= 0 then
    local note = ("dbt source freshness exited %d: sources are stale (CI goes on)"):format(code)
    warn(note)
    github.annotate("warning", note, { title = "source freshness" })
  end
  if not state then
    warn("no production manifest: building everything in " .. schema)
  end
  dbt.step("dbt build", dbt.build({
    target = target,
    select = state and "state:modified+",
    state = state,
    fail_fast = true,
  }), { results = true })
  local built = require("dbtrun.summary").results() -- before the evaluator rewrites run_results.json
  if dbt.has_evaluator() then
    dbt.step("dbt_project_evaluator", { "build", on_target, "--select", "package:dbt_project_evaluator" },
      { results = true })
  end
  require("dbtrun.summary").done("ci", { results = built, plan = plan })
end)
