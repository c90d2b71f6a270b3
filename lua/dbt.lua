-- dbt: how dbtrun finds dbt (the project's .venv, else PATH) and the
-- production state folder.

local native = require("dbtrun.native")
local config = require("dbtrun.config")

local M = {}

config.default({ state_dir = ".artifacts" })

-- The dbt executable: config.dbt, else the project's .venv, else PATH.
function M.executable()
  if config.get("dbt") then
    return config.get("dbt")
  end
  for _, candidate in ipairs({ ".venv/bin/dbt", "venv/bin/dbt" }) do
    if native.fs.stat(candidate) == "file" then
      return candidate
    end
  end
  return "dbt"
end

-- The folder that holds the production state, when it has a manifest.
function M.manifest()
  local dir = config.get("state_dir")
  if native.fs.stat(dir .. "/manifest.json") == "file" then
    return dir .. "/"
  end
  return nil
end

return M
