-- jaffle_contacts: the seed's workflow with dbtrun's built-in tasks
-- (`dbtrun --list`): fetch-manifest, dev, dev-select, ci, deploy, docs,
-- clean-artifacts, plan. Production artifacts and the docs site live in a
-- local store folder (.dbtrun/store/), so the whole loop runs on a laptop
-- with no cloud. A team on AWS sets the commented values instead.
config {
  -- artifacts  = "s3://your-org-dbt-artifacts/artifacts/",
  -- docs       = "s3://your-org-dbt-artifacts/docs/",
  -- cloudfront = "E2QWRUHEXAMPLE",
  -- aws        = { region = "eu-west-1", profile = "data-engineer" },
  -- secrets    = { { prefix = "JAFFLE", id = "dbt/jaffle-credentials" } },

  -- ci, deploy and docs write profiles.yml from this template (dev keeps
  -- profiles.yml next to dbt_project.yml, target dev)
  profile = "ci/profiles.yml",
}

-- Our dev: the built-in one, then the models it rebuilt
task("dev", { deps = { "fetch-manifest" }, params = { "*ARGS" } }, function(a)
  builtin("dev")(a)
  local rebuilt = {}
  for _, r in ipairs(json.read("target/run_results.json").results) do
    if r.unique_id:match("^model%.") then
      rebuilt[#rebuilt + 1] = r.unique_id:match("[^.]+$")
    end
  end
  table.sort(rebuilt)
  log(("rebuilt %d model(s): %s"):format(#rebuilt, table.concat(rebuilt, ", ")))
end)

-- Models dbt itself selects with state:modified+ (to cross-check `dbtrun plan`)
task("changed", { deps = { "fetch-manifest" } }, function()
  if not fs.exists(".artifacts/manifest.json") then
    warn("no production manifest: everything is new")
    return
  end
  run { "dbt", "ls", "--quiet", "--resource-type", "model", "--select", "state:modified+", "--state", ".artifacts/" }
end)
