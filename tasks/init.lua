-- The built-in init task: writes the starter files of a dbtrun project.
-- Existing files are kept (say which); --force replaces them.

local STARTER = [==[
-- dbtrun.lua: this project's tasks. `dbtrun --list` shows them all; the
-- built-in dbt tasks (fetch-manifest, dev, dev-select, ci, deploy, docs,
-- clean-artifacts, plan) read the settings below. Override any value for one
-- run with --set KEY=VALUE or DBTRUN_<KEY> (DBTRUN_AWS__REGION for aws.region).
config {
  -- where production artifacts (manifest.json) and the docs site live
  -- (default: file://.dbtrun/store/artifacts/ and .../docs/; docs = false: not published)
  artifacts = "s3://your-org-dbt-artifacts/artifacts/",
  docs      = "s3://your-org-dbt-artifacts/docs/",
  cloudfront = "YOUR_DISTRIBUTION_ID",   -- invalidated (/*) after each docs publish
  aws = {
    region   = "eu-west-1",
    -- laptops use a profile; GitHub Actions assumes role_arn with the workflow's OIDC token
    profile  = env.get("GITHUB_ACTIONS") ~= "true" and "data-engineer" or nil,
    role_arn = "arn:aws:iam::YOUR_ACCOUNT_ID:role/TerraformGitHubActionsRole",
  },
  -- ci, deploy and docs: each secret's JSON keys become PREFIX_KEY variables
  -- (aws-secretsmanager-get-secrets with parse-json-secrets)...
  secrets = { { prefix = "SNOWFLAKE", id = "dbt/snowflake-credentials" } },
  -- ...this one is written to a 0600 file named by DBT_PRIVATE_KEY_PATH...
  private_key = "SNOWFLAKE_PRIVATE_KEY",
  -- ...and profiles.yml is written (0600, private folder, DBT_PROFILES_DIR)
  -- from this template: ${NAME} and ${NAME:-default} are replaced
  profile = "ci/profiles.yml",
  targets = { ci = "ci", prod = "prod" },  -- targets.dev: --target of dev
  ci = { schema = "CI_PR_{pr}" },           -- the PR schema (and CI_PR_<n>_*), dropped after every run
  -- favor_state = true,                    -- add --favor-state to deferred builds
  -- threads = 8,                           -- --threads for every build
}

-- Run a specific selection with deferral (an example of a team's own task:
-- it replaces the built-in dev-select and still calls it)
-- task("dev-select", { deps = { "fetch-manifest" }, params = { "SELECTION" } }, function(a)
--   builtin("dev-select")(a)
-- end)
]==]

-- The seed's profiles.yml steps of ci.yml and deploy.yml, as one template.
local PROFILE = [==[
# profiles.yml for `dbtrun ci`, `dbtrun deploy` and `dbtrun docs`, written
# with mode 0600 into a private folder (DBT_PROFILES_DIR) that is removed when
# the task ends. ${NAME} is the variable NAME — the secrets' SNOWFLAKE_*, and
# DBT_CI_SCHEMA (CI_PR_<n>) and DBT_PRIVATE_KEY_PATH set by dbtrun;
# ${NAME:-default} falls back to default; in double quotes values are escaped
# for YAML. dbt's {{ env_var('NAME') }} works too and keeps a value off the disk.
%s:
  target: ci
  outputs:
    ci:
      type: snowflake
      account: "${SNOWFLAKE_ACCOUNT}"
      user: "${SNOWFLAKE_USER}"
      private_key_path: "${DBT_PRIVATE_KEY_PATH}"
      role: "${SNOWFLAKE_ROLE}"
      warehouse: "${SNOWFLAKE_WAREHOUSE}"
      database: ANALYTICS_DEV
      schema: "${DBT_CI_SCHEMA:-CI}"
      threads: 4
    prod:
      type: snowflake
      account: "${SNOWFLAKE_ACCOUNT}"
      user: "${SNOWFLAKE_USER}"
      private_key_path: "${DBT_PRIVATE_KEY_PATH}"
      role: "${SNOWFLAKE_ROLE}"
      warehouse: "${SNOWFLAKE_WAREHOUSE}"
      database: ANALYTICS
      schema: ANALYTICS
      threads: 8
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

local DROP_CI_SCHEMAS = [==[
{#- Drops a CI schema and every schema it prefixes (CI_PR_12, CI_PR_12_staging,
    ... but never CI_PR_123) through drop_schema. `dbtrun ci` calls it when
    it ends, also after a failure or Ctrl-C:
      dbt run-operation drop_ci_schemas --args '{"prefix": "CI_PR_12"}' --target ci -#}
{% macro drop_ci_schemas(prefix, database_name=target.database) %}
{% set wanted = prefix | lower %}
{% for row in list_schemas(database_name) %}
  {% set name = row[0] %}
  {% if name | lower == wanted or (name | lower).startswith(wanted ~ '_') %}
    {% do drop_schema(name, database_name) %}
  {% endif %}
{% endfor %}
{% endmacro %}
]==]

local function workflow(name, trigger, permissions, job, title, command, extra_env)
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
%s    steps:
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
]==]):format(name, trigger, permissions, job, title, extra_env or "", title, command)
end

local CI = workflow("dbt CI", "  pull_request:\n    branches:\n      - main",
  "  id-token: write\n  contents: read\n  pull-requests: write",
  "dbt-ci", "Slim CI", "dbtrun ci",
  "      # the plan's pull-request comment (dbtrun plan), updated on each push\n"
    .. "      GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}\n")

local DEPLOY = workflow("dbt Production Deploy", "  push:\n    branches:\n      - main",
  "  id-token: write\n  contents: read",
  "dbt-deploy", "Production Run", "dbtrun deploy")

task("init", {
  params = { "*FLAGS" },
  doc = "Write a starter dbtrun.lua, profile template, CI schema macros and GitHub workflows (--force replaces)",
}, function(a)
  local force = false
  for _, flag in ipairs(a.FLAGS) do
    if flag == "--force" then
      force = true
    else
      error(("init: unknown flag %s (only --force)"):format(flag), 0)
    end
  end
  local project = fs.isfile("dbt_project.yml") and fs.read("dbt_project.yml") or ""
  local profile_name = ("\n" .. project):match("\n%s*profile%s*:%s*[\"']?([%w_%-]+)") or "dbt_transform"
  local files = {
    { "dbtrun.lua", STARTER },
    { "ci/profiles.yml", PROFILE:format(profile_name) },
    { "macros/drop_schema.sql", DROP_SCHEMA },
    { "macros/drop_ci_schemas.sql", DROP_CI_SCHEMAS },
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
