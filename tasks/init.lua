-- The built-in init task: writes the starter files of a dbtrun project.
-- Existing files are kept (say which); --force replaces them.

local STARTER = [==[
-- dbtrun.lua: this project's tasks. `dbtrun --list` shows them all; the
-- built-in dbt tasks (fetch-manifest, dev, dev-select, ci, deploy, docs,
-- clean-artifacts) read the settings below. Override any value for one run
-- with --set KEY=VALUE or DBTRUN_<KEY>.
config {
  -- where production artifacts (manifest.json) and the docs site live
  artifacts = "s3://your-org-dbt-artifacts/artifacts/",
  docs      = "s3://your-org-dbt-artifacts/docs/",
  aws = {
    region   = "eu-west-1",
    -- profile = "data-engineer",    -- for laptops
    -- role_arn = "arn:aws:iam::YOUR_ACCOUNT_ID:role/TerraformGitHubActionsRole", -- CI (GitHub OIDC)
  },
  -- secrets to put in the environment, as aws-secretsmanager-get-secrets does
  secrets = { { prefix = "SNOWFLAKE", id = "dbt/snowflake-credentials" } },
  cloudfront = "YOUR_DISTRIBUTION_ID",
}

-- Run a specific selection with deferral (an example of a team's own task:
-- it replaces the built-in dev-select and still calls it)
-- task("dev-select", { deps = { "fetch-manifest" }, params = { "SELECTION" } }, function(a)
--   builtin("dev-select")(a)
-- end)
]==]

local DROP_SCHEMA = [==[
{% macro drop_schema(schema_name, database_name=target.database) %}
{% set drop_query %}
drop schema if exists {{ database_name }}.{{ schema_name }} cascade
{% endset %}
{% do run_query(drop_query) %}
{{ log("Dropped schema: " ~ database_name ~ "." ~ schema_name, info=True) }}
{% endmacro %}
]==]

local function workflow(name, trigger, permissions, job, title, command)
  return ([==[
name: %s
on:
%s
permissions:
%s
jobs:
  %s:
    name: %s
    runs-on: ubuntu-latest
    env:
      # dbtrun exchanges the workflow's OIDC token for this role's credentials
      AWS_ROLE_ARN: ${{ vars.AWS_ROLE_ARN }}
      AWS_REGION: ${{ vars.AWS_REGION }}
    steps:
      - name: Checkout
        uses: actions/checkout@v4
      - name: Install dbt
        run: |
          python3 -m venv .venv
          .venv/bin/pip install -r requirements.txt
      - name: Install dbtrun
        # Replace with your team's way of getting the binary (a release
        # download, a package, or a build from source with `make install`).
        run: ${{ vars.DBTRUN_INSTALL_COMMAND }}
      - name: %s
        run: %s
]==]):format(name, trigger, permissions, job, title, title, command)
end

local CI = workflow("dbt CI", "  pull_request:\n    branches:\n      - main",
  "  id-token: write\n  contents: read\n  pull-requests: write",
  "dbt-ci", "Slim CI", "dbtrun ci")

local DEPLOY = workflow("dbt Production Deploy", "  push:\n    branches:\n      - main",
  "  id-token: write\n  contents: read",
  "dbt-deploy", "Production Run", "dbtrun deploy")

task("init", {
  params = { "*FLAGS" },
  doc = "Write a starter dbtrun.lua, macros/drop_schema.sql and GitHub workflows (--force replaces)",
}, function(a)
  local force = false
  for _, flag in ipairs(a.FLAGS) do
    if flag == "--force" then
      force = true
    else
      error(("init: unknown flag %s (only --force)"):format(flag), 0)
    end
  end
  local files = {
    { "dbtrun.lua", STARTER },
    { "macros/drop_schema.sql", DROP_SCHEMA },
    { ".github/workflows/ci.yml", CI },
    { ".github/workflows/deploy.yml", DEPLOY },
  }
  for _, f in ipairs(files) do
    local path, text = f[1], f[2]
    if fs.exists(path) and not force then
      log("kept     " .. path .. " (exists; --force replaces it)")
    else
      local dir = path:match("^(.*)/[^/]*$")
      if dir then
        fs.mkdir(dir)
      end
      fs.write(path, text)
      log("wrote    " .. path)
    end
  end
end)
