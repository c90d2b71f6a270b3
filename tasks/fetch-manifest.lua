-- The built-in fetch-manifest task: the seed's `just fetch-manifest`, with
-- the manifest checked and not downloaded again when unchanged; --at REF
-- fetches the manifest deploy stored for a commit or tag (its history).

local USAGE = "fetch-manifest [--at REF]"

task("fetch-manifest", {
  group = "dbt",
  params = { "*ARGS" },
  doc = "Fetch the production manifest (config artifacts) into .artifacts/ for deferral "
    .. "(--at REF: the one deployed at a commit or tag)",
}, function(a)
  local words, at = a.ARGS or {}, nil
  local i = 1
  while i <= #words do
    local w = words[i]
    if w == "--at" then
      at, i = words[i + 1], i + 1
      if not at or at == "" then
        error("fetch-manifest: --at needs a commit or tag (" .. USAGE .. ")", 0)
      end
    elseif w:match("^%-%-at=") then
      at = w:sub(6)
    else
      error(("fetch-manifest: unknown argument %s (%s)"):format(w, USAGE), 0)
    end
    i = i + 1
  end
  local artifacts = require("dbtrun.artifacts") -- loaded when the task runs, not for --list
  if at then
    artifacts.fetch_manifest_at(at)
  else
    artifacts.fetch_manifest()
  end
end)
