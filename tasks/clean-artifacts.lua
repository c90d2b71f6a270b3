-- The built-in clean-artifacts task, as in the seed's justfile.

task("clean-artifacts", { group = "dbt", doc = "Remove downloaded artifacts (.artifacts/)" }, function()
  fs.rm(".artifacts")
end)
