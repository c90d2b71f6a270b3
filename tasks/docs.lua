-- The built-in docs task: the docs part of deploy alone — generate the site
-- against production and publish it.

task("docs", {
  group = "dbt",
  doc = "Generate the docs site (target prod) and publish it (config docs, cloudfront)",
}, function()
  local dbt = require("dbtrun.dbt") -- loaded when the task runs, not for --list
  local target = dbt.target("prod")
  dbt.deps(true)
  dbt.connect("deploy", { DBT_TARGET = target })
  dbt.step("dbt docs generate", { "docs", "generate", target and { "--target", target } or {} })
  local docs = dbt.docs_location()
  if docs then
    dbt.publish_docs(docs)
  end
  require("dbtrun.summary").done("docs")
end)
