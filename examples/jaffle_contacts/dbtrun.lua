-- The seed's local deferral loop, written with dbtrun's core primitives.
-- (The built-in dbt tasks will replace most of this file; it stays as an
-- example of a team's own task file.) Production artifacts live in a local
-- store folder, so the loop runs on a laptop with no cloud at all.

local STORE = ".dbtrun/store/artifacts"

-- Copy a file atomically (the destination is never half-written).
local function copy(from, to)
  fs.write(to, fs.read(from))
end

-- Fetch the production manifest for deferral
task("fetch-manifest", function()
  fs.mkdir(".artifacts")
  if fs.exists(STORE .. "/manifest.json") then
    copy(STORE .. "/manifest.json", ".artifacts/manifest.json")
  else
    warn("no production manifest found: running without deferral")
  end
end)

-- Run dbt with deferral to production (only changed models)
task("dev", { deps = { "fetch-manifest" }, params = { "*ARGS" } }, function(a)
  if fs.exists(".artifacts/manifest.json") then
    run { "dbt", "build", "--select", "state:modified+", "--defer", "--state", ".artifacts/", a.ARGS }
  else
    run { "dbt", "build", a.ARGS }
  end
end)

-- Run a specific selection with deferral
task("dev-select", { deps = { "fetch-manifest" }, params = { "SELECTION" } }, function(a)
  if fs.exists(".artifacts/manifest.json") then
    run { "dbt", "build", "--select", a.SELECTION, "--defer", "--state", ".artifacts/" }
  else
    run { "dbt", "build", "--select", a.SELECTION }
  end
end)

-- Production build, then publish its manifest to the store
task("deploy", { group = "prod" }, function()
  run { "dbt", "build", "--target", "prod", "--fail-fast" }
  fs.mkdir(STORE)
  copy("target/manifest.json", STORE .. "/manifest.json")
end)

-- What would dev build? (dbt's own state selection, nothing is run)
task("changed", function()
  if not fs.exists(".artifacts/manifest.json") then
    warn("no .artifacts/manifest.json: run `dbtrun fetch-manifest` first")
    return
  end
  run { "dbt", "ls", "--quiet", "--resource-type", "model", "--select", "state:modified+", "--state", ".artifacts/" }
end)
