-- The built-in ci-cleanup task: drops the CI schemas (CI_PR_<n> and its
-- CI_PR_<n>_*) whose pull request is closed, or older than --older-than
-- days where the warehouse knows when a schema was created. For a nightly
-- workflow (dbtrun init writes .github/workflows/ci-cleanup.yml); the work
-- is in lua/ci_cleanup.lua.

task("ci-cleanup", {
  group = "dbt",
  params = { "*ARGS" },
  doc = "Drop CI_PR_<n> schemas of closed pull requests (--older-than DAYS, --dry-run)",
}, function(a)
  local cleanup = require("dbtrun.ci_cleanup") -- loaded when the task runs, not for --list
  cleanup.run(cleanup.parse_args(a.ARGS or {}))
end)
