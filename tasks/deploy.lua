-- The built-in deploy task: the seed's deploy.yml after checkout — a full
-- production build, the manifest published for deferral, the docs site
-- generated and published (the site's files and docs_include, not all of target/),
-- and the CloudFront cache invalidated. CI runs it: it never asks.

task("deploy", {
  group = "dbt",
  doc = "Production: full build (--fail-fast), publish the manifest, then the docs site and CloudFront",
}, function()
  -- loaded when the task runs, not for --list
  local dbt = require("dbtrun.dbt")
  local artifacts = require("dbtrun.artifacts")
  local profile = require("dbtrun.profile")
  local target = dbt.target("prod")
  local on_target = target and { "--target", target } or {}
  dbt.deps()
  profile.connect("deploy", { DBT_TARGET = target })
  dbt.step("dbt build", dbt.build({ target = target, fail_fast = true }), { results = true })
  local built = require("dbtrun.summary").results() -- before dbt docs generate rewrites run_results.json
  artifacts.publish_manifest()
  artifacts.publish_run_results()
  artifacts.publish_history() -- history/<commit>/: manifest.json, run_results.json (before docs rewrites it)
  local docs = artifacts.docs_location()
  if docs then
    dbt.step("dbt docs generate", { "docs", "generate", on_target })
    artifacts.publish_docs(docs)
  end
  require("dbtrun.summary").done("deploy", { results = built })
end)
