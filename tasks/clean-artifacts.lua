-- The built-in clean-artifacts task, as in the seed's justfile.

-- Remove downloaded artifacts (.artifacts/)
task("clean-artifacts", { group = "dbt" }, function()
  fs.rm(".artifacts")
end)
