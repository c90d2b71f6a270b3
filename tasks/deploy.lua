-- The built-in deploy task: the seed's deploy.yml after checkout — a full
-- production build, the manifest published for deferral, the docs site
-- generated and synced with the seed's include/exclude rule, and the
-- CloudFront cache invalidated.

task("deploy", {
  group = "dbt",
  doc = "Production: full build (--fail-fast), publish the manifest, then the docs site and CloudFront",
}, function()
  local dbt = require("dbtrun.dbt") -- loaded when the task runs, not for --list
  local target = dbt.target("prod")
  local on_target = target and { "--target", target } or {}
  dbt.deps()
  dbt.connect("deploy", { DBT_TARGET = target })
  dbt.step("dbt build", dbt.build({ target = target, fail_fast = true }), { results = true })
  local built = require("dbtrun.summary").results() -- before dbt docs generate rewrites run_results.json
  dbt.publish_manifest()
  local docs = dbt.docs_location()
  if docs then
    dbt.step("dbt docs generate", { "docs", "generate", on_target })
    dbt.publish_docs(docs)
  end
  require("dbtrun.summary").done("deploy", { results = built })
end)
