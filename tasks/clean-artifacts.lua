-- The built-in clean-artifacts task, as in the seed's justfile.

task("clean-artifacts", { group = "dbt", doc = "Remove downloaded artifacts (.artifacts/)" }, function()
  local dir = tostring(config.get("state_dir")):gsub("/+$", "")
  if dir == "" or dir == "." or dir:sub(1, 1) == "/" or ("/" .. dir .. "/"):find("/%.%./") then
    error(("clean-artifacts: state_dir %q is not a folder inside the project"):format(dir), 0)
  end
  fs.rm(dir)
end)
