-- The built-in docs task: the docs part of deploy alone — generate the site
-- against production and publish it.

task("docs", {
  group = "dbt",
  doc = "Generate the docs site (target prod) and publish it (config docs, cloudfront)",
}, function()
  -- loaded when the task runs, not for --list
  local dbt = require("dbtrun.dbt")
  local artifacts = require("dbtrun.artifacts")
  local profile = require("dbtrun.profile")
  local target = dbt.target("prod")
  dbt.deps(true)
  profile.connect("deploy", { DBT_TARGET = target })
  dbt.step("dbt docs generate", { "docs", "generate", target and { "--target", target } or {} })
  local docs = artifacts.docs_location()
  if docs then
    artifacts.publish_docs(docs)
  end
end)
