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
# Only for an emulator or a private endpoint (the defaults are Snowflake's own):
#   SNOWFLAKE_HOST, SNOWFLAKE_PORT, SNOWFLAKE_PROTOCOL   e.g. 127.0.0.1, 8080, http
#   SNOWFLAKE_PROD_SCHEMA   the seed's ANALYTICS (the fakesnow emulator cannot
#                           tell the database ANALYTICS from a schema ANALYTICS)
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
      host: "${SNOWFLAKE_HOST:-}"
      port: ${SNOWFLAKE_PORT:-443}
      protocol: "${SNOWFLAKE_PROTOCOL:-https}"
    prod:
      type: snowflake
      account: "${SNOWFLAKE_ACCOUNT}"
      user: "${SNOWFLAKE_USER}"
      private_key_path: "${DBT_PRIVATE_KEY_PATH}"
      role: "${SNOWFLAKE_ROLE}"
      warehouse: "${SNOWFLAKE_WAREHOUSE}"
      database: ANALYTICS
      schema: "${SNOWFLAKE_PROD_SCHEMA:-ANALYTICS}"
      threads: 8
      host: "${SNOWFLAKE_HOST:-}"
      port: ${SNOWFLAKE_PORT:-443}
      protocol: "${SNOWFLAKE_PROTOCOL:-https}"
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
    ... but never CI_PR_123) in one database, so schemas of models removed
    since are dropped too. Adapter-neutral: the candidates are the schemas
    this project's nodes use and every value of the adapter's list_schemas()
    that matches, whatever its column (row[0] of Snowflake's `show terse
    schemas` is created_on, not the name; adapter.list_schemas, which gives
    names, is not callable from Jinja); names match case-insensitively
    (Snowflake upper-cases them); adapter.check_schema_exists and the
    adapter's own drop_schema(relation) do the rest, quoting as the adapter
    does (called through dispatch: the seed's drop_schema(schema_name,
    database_name) shadows the name, so adapter.drop_schema would call it
    with the wrong arguments; hence the commit it would do, which DuckDB
    needs). Names are kept as spelled (Postgres may hold both CI_PR_1 and
    ci_pr_1); a spelling that is gone already is skipped by the check. A
    schema still there afterwards is an error: a clean-up is never silently
    undone.
    `dbtrun ci` calls it when it ends, also after a failure or Ctrl-C (and
    turns an error into a warning):
      dbt run-operation drop_ci_schemas --args '{"prefix": "CI_PR_12"}' --target ci -#}
{% macro drop_ci_schemas(prefix, database_name=target.database) %}
{% set wanted = prefix | lower %}
{% set names = [] %}
{% set seen = [] %}
{% set candidates = [] %}
{% for node in graph.nodes.values() %}
  {% do candidates.append(node.schema) %}
{% endfor %}
{% for row in list_schemas(database_name) %}
  {% for value in row %}
    {% do candidates.append(value) %}
  {% endfor %}
{% endfor %}
{% for name in candidates %}
  {% if name is string and (name | lower == wanted or (name | lower).startswith(wanted ~ '_'))
        and name not in seen %}
    {% do seen.append(name) %}
    {% do names.append(name) %}
  {% endif %}
{% endfor %}
{% set dropped = [] %}
{% for name in names %}
  {% if adapter.check_schema_exists(database_name, name) %}
    {% do adapter.dispatch('drop_schema', 'dbt')(api.Relation.create(database=database_name, schema=name)) %}
    {% do adapter.commit() %}
    {% do dropped.append(name) %}
  {% endif %}
{% endfor %}
{% set left = [] %}
{% for name in dropped %}
  {% if adapter.check_schema_exists(database_name, name) %}
    {% do left.append(name) %}
  {% endif %}
{% endfor %}
{% if left %}
  {% do exceptions.raise_compiler_error("drop_ci_schemas: still in " ~ database_name ~ " after the drop: " ~ left | join(", ")) %}
{% endif %}
{{ log("Dropped " ~ dropped | length ~ " schema(s) of " ~ prefix ~ " in " ~ database_name ~ (": " ~ dropped | join(", ") if dropped else ""), info=True) }}
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
