-- The built-in docs task: the docs part of deploy alone — generate the site
-- against production and publish it. Outside CI it is a person at a laptop
-- publishing what production users read: it warns about uncommitted changes
-- and asks first (--yes answers for them).

task("docs", {
  group = "dbt",
  doc = "Generate the docs site (target prod) and publish it (config docs, cloudfront)",
}, function()
  -- loaded when the task runs, not for --list
  local dbt = require("dbtrun.dbt")
  local artifacts = require("dbtrun.artifacts")
  local profile = require("dbtrun.profile")
  local target = dbt.target("prod")
  local docs = artifacts.docs_location()
  if docs and not require("dbtrun.github").ci() then
    artifacts.warn_uncommitted()
    if not confirm(("Publish the docs site to %s?"):format(docs)) then
      log("docs: not published (not confirmed); the site is generated in target/")
      docs = nil
    end
  end
  dbt.deps(true)
  profile.connect("deploy", { DBT_TARGET = target })
  dbt.step("dbt docs generate", { "docs", "generate", target and { "--target", target } or {} })
  if docs then
    artifacts.publish_docs(docs)
  end
  require("dbtrun.summary").done("docs")
end)
