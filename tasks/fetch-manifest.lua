-- The built-in fetch-manifest task: the seed's `just fetch-manifest`, with
-- the manifest checked and not downloaded again when unchanged.

task("fetch-manifest", {
  group = "dbt",
  doc = "Fetch the production manifest (config artifacts) into .artifacts/ for deferral",
}, function()
  require("dbtrun.artifacts").fetch_manifest() -- loaded when the task runs, not for --list
end)
