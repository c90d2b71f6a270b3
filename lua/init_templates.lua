-- init_templates: the text of the files `dbtrun init` writes — dbtrun.lua,
-- a profile template per adapter, the CI schema macros, the GitHub
-- workflows (uv or pip), the pinned requirements file — and the next steps
-- it prints. Each is a function of what init found (tasks/init.lua, ctx).
-- Loaded only when init runs.

local M = {}

-- Per adapter: the Secrets Manager secret the workflows read (its JSON keys
-- become PREFIX_KEY variables), and the key holding a key file, if any.
M.ADAPTERS = {
  duckdb = { title = "DuckDB" },
  postgres = { title = "Postgres", prefix = "POSTGRES", keys = "host, port, user, password, dbname" },
  redshift = { title = "Redshift", prefix = "REDSHIFT", keys = "host, port, user, password, dbname" },
  snowflake = { title = "Snowflake", prefix = "SNOWFLAKE", keys = "account, user, role, warehouse, private_key",
    private_key = "SNOWFLAKE_PRIVATE_KEY" },
  bigquery = { title = "BigQuery", prefix = "BIGQUERY", keys = "keyfile_json (the service account's JSON key)",
    private_key = "BIGQUERY_KEYFILE_JSON" },
  databricks = { title = "Databricks", prefix = "DATABRICKS", keys = "host, http_path, token" },
}

for name, a in pairs(M.ADAPTERS) do
  a.secret_id = a.prefix and ("dbt/" .. name .. "-credentials")
end

local HEADER = [==[
# profiles.yml for `dbtrun ci`, `dbtrun deploy` and `dbtrun docs` (%s),
# written by `dbtrun init`. dbtrun writes it with mode 0600 into a private
# folder (DBT_PROFILES_DIR) that is removed when the task ends; `dbtrun dev`
# keeps your own profiles.yml. ${NAME} is the variable NAME (the environment,
# the secrets configured in dbtrun.lua, DBT_CI_SCHEMA = CI_PR_<n> and
# DBT_PRIVATE_KEY_PATH set by dbtrun); ${NAME:-default} falls back to
# default; in double quotes values are escaped for YAML. dbt's
# {{ env_var('NAME') }} works too and keeps a value off the disk.
]==]

-- ":-value" when the project's profile has a plain value for the field.
local function default(ctx, field, fallback)
  local v = ctx.plain(field) or fallback
  return v and (":-" .. v) or ""
end

local function outputs(ctx, body)
  local t = { HEADER:format(M.ADAPTERS[ctx.adapter].title), ctx.note or "", ctx.profile_name, ":\n",
    "  target: ci\n  outputs:\n" }
  for _, target in ipairs({ "ci", "prod" }) do
    t[#t + 1] = "    " .. target .. ":\n"
    t[#t + 1] = body(target)
  end
  return table.concat(t)
end

-- The schema of each target: the PR's for ci, a production one for prod.
local function schema(ctx, target, key, prod_default)
  if target == "ci" then
    return ('      %s: "${DBT_CI_SCHEMA:-ci}"\n'):format(key)
  end
  return ('      %s: "${DBT_PROD_SCHEMA:-%s}"\n'):format(key, prod_default)
end

local PROFILES = {}

-- DuckDB: the same database file as the developer's profile (deferral needs
-- the production relations in the file dev opens), production in its own
-- schema. The output is copied as written, only the schema differs.
function PROFILES.duckdb(ctx)
  ctx.note = "# DuckDB: the file of your profile's output, copied; production is schema\n"
    .. "# DBT_PROD_SCHEMA (default prod), CI the PR's schema, so `dbtrun dev` defers to\n"
    .. "# production relations in the same file.\n"
  return outputs(ctx, function(target)
    local lines = ctx.output_lines("      ")
    if not lines then -- not copyable: the path alone, as written when it can be
      local path = ctx.raw("path") or ('"${DBT_DUCKDB_PATH:-%s}"'):format((ctx.project_name or "dbt") .. ".duckdb")
      lines = { "      path: " .. path, "      threads: 4" }
    end
    return "      type: duckdb\n" .. table.concat(lines, "\n") .. "\n" .. schema(ctx, target, "schema", "prod")
  end)
end

local function pg_like(kind, prefix, port)
  return function(ctx)
    return outputs(ctx, function(target)
      return table.concat({
        "      type: " .. kind,
        ('      host: "${%s_HOST%s}"'):format(prefix, default(ctx, "host")),
        ("      port: ${%s_PORT%s}"):format(prefix, default(ctx, "port", port)),
        ('      user: "${%s_USER}"'):format(prefix),
        ('      password: "${%s_PASSWORD}"'):format(prefix),
        ('      dbname: "${%s_DBNAME%s}"'):format(prefix, default(ctx, "dbname")),
        "      threads: " .. (target == "ci" and 4 or 8),
        "",
      }, "\n") .. schema(ctx, target, "schema", "analytics")
    end)
  end
end

PROFILES.postgres = pg_like("postgres", "POSTGRES", "5432")
PROFILES.redshift = pg_like("redshift", "REDSHIFT", "5439")

-- The seed's two Snowflake outputs (key-pair authentication).
function PROFILES.snowflake(ctx)
  ctx.note = [==[
# Only for an emulator or a private endpoint (the defaults are Snowflake's own):
#   SNOWFLAKE_HOST, SNOWFLAKE_PORT, SNOWFLAKE_PROTOCOL   e.g. 127.0.0.1, 8080, http
#   SNOWFLAKE_PROD_SCHEMA   the seed's ANALYTICS (the fakesnow emulator cannot
#                           tell the database ANALYTICS from a schema ANALYTICS)
]==]
  return outputs(ctx, function(target)
    local ci = target == "ci"
    return table.concat({
      "      type: snowflake",
      '      account: "${SNOWFLAKE_ACCOUNT}"',
      '      user: "${SNOWFLAKE_USER}"',
      '      private_key_path: "${DBT_PRIVATE_KEY_PATH}"',
      '      role: "${SNOWFLAKE_ROLE}"',
      '      warehouse: "${SNOWFLAKE_WAREHOUSE}"',
      "      database: " .. (ci and "ANALYTICS_DEV" or "ANALYTICS"),
      ci and '      schema: "${DBT_CI_SCHEMA:-CI}"' or '      schema: "${SNOWFLAKE_PROD_SCHEMA:-ANALYTICS}"',
      "      threads: " .. (ci and 4 or 8),
      '      host: "${SNOWFLAKE_HOST:-}"',
      "      port: ${SNOWFLAKE_PORT:-443}",
      '      protocol: "${SNOWFLAKE_PROTOCOL:-https}"',
      "",
    }, "\n")
  end)
end

-- BigQuery: a service account key from the secret, written to a 0600 file.
function PROFILES.bigquery(ctx)
  return outputs(ctx, function(target)
    return table.concat({
      "      type: bigquery",
      "      method: service-account",
      '      keyfile: "${DBT_PRIVATE_KEY_PATH}"',
      ('      project: "${BIGQUERY_PROJECT%s}"'):format(default(ctx, "project")),
      ('      location: "${BIGQUERY_LOCATION%s}"'):format(default(ctx, "location", "EU")),
      "      threads: " .. (target == "ci" and 4 or 8),
      "",
    }, "\n") .. schema(ctx, target, "dataset", "analytics")
  end)
end

function PROFILES.databricks(ctx)
  return outputs(ctx, function(target)
    return table.concat({
      "      type: databricks",
      ('      host: "${DATABRICKS_HOST%s}"'):format(default(ctx, "host")),
      ('      http_path: "${DATABRICKS_HTTP_PATH%s}"'):format(default(ctx, "http_path")),
      '      token: "${DATABRICKS_TOKEN}"',
      ('      catalog: "${DATABRICKS_CATALOG%s}"'):format(default(ctx, "catalog", "main")),
      "      threads: " .. (target == "ci" and 4 or 8),
      "",
    }, "\n") .. schema(ctx, target, "schema", "analytics")
  end)
end

-- The profile template for ctx.adapter (nil: none for that adapter).
function M.profile(ctx)
  local make = PROFILES[ctx.adapter]
  return make and make(ctx)
end

--- dbtrun.lua ---------------------------------------------------------------------

function M.starter(ctx)
  local a = M.ADAPTERS[ctx.adapter] or {}
  local secrets
  if a.prefix then
    secrets = ('  -- secrets = { { prefix = "%s", id = "%s" } },  -- keys: %s\n'):format(a.prefix, a.secret_id,
      a.keys)
    if a.private_key then
      secrets = secrets .. ('  -- private_key = "%s",  -- written to a 0600 file: DBT_PRIVATE_KEY_PATH\n')
        :format(a.private_key)
    end
  else
    secrets = '  -- secrets = { { prefix = "MOTHERDUCK", id = "dbt/motherduck-credentials" } },  -- none for a local file\n'
  end
  local profile
  if ctx.template then
    profile = '  profile = "ci/profiles.yml",\n'
  else
    profile = "  -- profile = \"ci/profiles.yml\",  -- ci/deploy/docs: your profiles.yml's ci and prod targets\n"
  end
  return ([==[
-- dbtrun.lua: this project's tasks (written by `dbtrun init` for a %s project,
-- profile %s). `dbtrun --list` shows them; the built-in dbt tasks
-- (fetch-manifest, dev, dev-select, ci, deploy, docs, clean-artifacts, plan)
-- read the settings below. Override one for a run with --set KEY=VALUE or
-- DBTRUN_<KEY> (DBTRUN_AWS__REGION for aws.region).
config {
  -- Production artifacts (manifest.json, for deferral) and the docs site stay
  -- in the local store (.dbtrun/store/artifacts/ and .../docs/) until you set
  -- S3 locations; then `dbtrun dev` on every laptop defers to production:
  -- artifacts  = "s3://your-org-dbt-artifacts/artifacts/",
  -- docs       = "s3://your-org-dbt-artifacts/docs/",   -- false: not published
  -- cloudfront = "YOUR_DISTRIBUTION_ID",                 -- invalidated (/*) after each publish
  -- aws = {
  --   region   = "eu-west-1",
  --   -- laptops use a profile; GitHub Actions assumes role_arn with the job's OIDC token
  --   profile  = env.get("GITHUB_ACTIONS") ~= "true" and "data-engineer" or nil,
  --   role_arn = "arn:aws:iam::YOUR_ACCOUNT_ID:role/TerraformGitHubActionsRole",
  -- },
  -- ci, deploy and docs: each secret's JSON keys become PREFIX_KEY variables
%s  -- ci, deploy and docs write profiles.yml (0600, private folder) from this template
%s  targets = { ci = "ci", prod = "prod" },  -- targets.dev: --target of dev
  ci = { schema = "CI_PR_{pr}" },           -- the PR schema (and CI_PR_<n>_*), dropped after every run
  -- state = "merge-base",                  -- ci compares with the PR's branch point (deploy's history)
  -- history_keep = 200,                    -- deploy's history/<commit>/ entries kept (also history_days)
  -- favor_state = true,                    -- add --favor-state to deferred builds
  -- threads = 8,                           -- --threads for every build
}

-- A team's own task (it replaces the built-in dev-select and still calls it):
-- task("dev-select", { deps = { "fetch-manifest" }, params = { "SELECTION" } }, function(a)
--   builtin("dev-select")(a)
-- end)
]==]):format(a.title or ctx.adapter or "dbt", ctx.profile_name, secrets, profile)
end

--- The CI schema macros ---------------------------------------------------------

M.DROP_SCHEMA = [==[
{% macro drop_schema(schema_name, database_name=target.database) %}
{% set drop_query %}
drop schema if exists {{ database_name }}.{{ schema_name }} cascade
{% endset %}
{% do run_query(drop_query) %}
{{ log("Dropped schema: " ~ database_name ~ "." ~ schema_name, info=True) }}
{% endmacro %}
]==]

M.DROP_CI_SCHEMAS = [==[
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

-- ci-cleanup's list of the CI schemas (examples/*/macros/list_ci_schemas.sql).
M.LIST_CI_SCHEMAS = [==[
{#- Lists the CI schemas of every pull request for `dbtrun ci-cleanup`: the
    schemas of one database whose names start with `prefix` (the part of
    config ci.schema before {pr}, CI_PR_), compared case-insensitively, one
    line each on stdout:
      dbtrun-ci-schema {"name": "CI_PR_12_staging", "created": "2026-12-01T09:30:00-08:00"}
    Adapter-neutral, like drop_ci_schemas: the adapter's list_schemas() rows,
    whatever their columns; a row's name is its value with the prefix, its
    creation time a value that is a date-time (Snowflake's show terse schemas
    has created_on; DuckDB, Postgres and others give names only: "created"
    is then empty and only the closed-pull-request rule applies). ci-cleanup
    drops what it chooses with drop_ci_schemas.
      dbt run-operation list_ci_schemas --args '{"prefix": "CI_PR_"}' --target ci -#}
{% macro list_ci_schemas(prefix, database_name=target.database) %}
{% set wanted = prefix | lower %}
{% set seen = [] %}
{% for row in list_schemas(database_name) %}
  {% set found = namespace(name=none, created="") %}
  {% for value in row %}
    {% if value is string %}
      {% if found.name is none and (value | lower).startswith(wanted) %}
        {% set found.name = value %}
      {% endif %}
    {% elif value.isoformat is defined %}
      {% set found.created = value.isoformat() %}
    {% endif %}
  {% endfor %}
  {% if found.name is not none and found.name not in seen %}
    {% do seen.append(found.name) %}
    {% do print("dbtrun-ci-schema " ~ tojson({"name": found.name, "created": found.created})) %}
  {% endif %}
{% endfor %}
{% endmacro %}
]==]

--- Installing dbt and dbtrun in the workflows --------------------------------

M.REQUIREMENTS = "requirements-dbtrun.txt"
M.PYTHON = "3.11" -- the seed's

-- requirements-dbtrun.txt: dbtrun pinned to this version; dbt too when the
-- project has no requirements.txt of its own (pinned to the .venv's versions
-- when known).
function M.requirements(ctx)
  local t = { "# Installed by the GitHub workflows dbtrun init wrote (.github/workflows/),",
    "# with requirements.txt when the project has one. Pinned: CI runs what you ran.",
    "dbtrun==" .. ctx.version }
  if not ctx.project_requirements then
    for _, dist in ipairs({ "dbt-core", "dbt-" .. ctx.adapter }) do
      local v = ctx.installed(dist)
      t[#t + 1] = v and (dist .. "==" .. v) or (dist .. "  # pin the version you use: " .. dist .. "==X.Y.Z")
    end
  end
  return table.concat(t, "\n") .. "\n"
end

local function install_steps(ctx)
  if ctx.installer == "uv" then
    return ([==[
      - name: Install uv
        uses: astral-sh/setup-uv@v5
        with:
          enable-cache: true
      - name: Set up Python
        run: uv python install %s
      - name: Install dbt and dbtrun (pyproject.toml)
        run: uv sync --python %s%s
      - name: Add the venv to PATH
        run: echo "$GITHUB_WORKSPACE/%s.venv/bin" >> "$GITHUB_PATH"
]==]):format(M.PYTHON, M.PYTHON, ctx.uv_locked and " --locked" or "", ctx.workdir and (ctx.workdir .. "/") or "")
  end
  local files = { M.REQUIREMENTS }
  if ctx.project_requirements then
    table.insert(files, 1, ctx.project_requirements)
  end
  local paths, args = {}, {}
  for _, f in ipairs(files) do
    paths[#paths + 1] = "            " .. (ctx.workdir and (ctx.workdir .. "/") or "") .. f
    args[#args + 1] = "-r " .. f
  end
  return ([==[
      - name: Set up Python
        uses: actions/setup-python@v5
        with:
          python-version: "%s"
          cache: pip
          cache-dependency-path: |
%s
      - name: Install dbt and dbtrun
        run: python -m pip install %s
]==]):format(M.PYTHON, table.concat(paths, "\n"), table.concat(args, " "))
end

-- The nightly ci-cleanup workflow's head (see M.workflow).
local CLEANUP_HEAD = [==[
name: dbt CI schema clean-up
on:
  schedule:
    - cron: "17 3 * * *"   # nightly, 03:17 UTC
  workflow_dispatch:
permissions:
  id-token: write   # OIDC: dbtrun exchanges the job's token for vars.AWS_ROLE_ARN
  contents: read
  pull-requests: read   # which pull requests are closed
concurrency:
  group: dbt-ci-cleanup
  cancel-in-progress: false
jobs:
  dbt-ci-cleanup:
    name: Drop CI schemas of closed pull requests
    runs-on: ubuntu-latest
    timeout-minutes: 30
    env:
      AWS_ROLE_ARN: ${{ vars.AWS_ROLE_ARN }}
      AWS_REGION: ${{ vars.AWS_REGION }}
      # ci-cleanup asks GitHub which pull requests are closed
      GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}
]==]

-- The checkout step. ci with config state = "merge-base" needs the pull
-- request's own commit (GitHub's merge commit already holds main's changes)
-- and the history down to the branch point: fetch-depth 0.
local function checkout(kind, ctx)
  local step = "      - name: Checkout\n        uses: actions/checkout@v4\n"
  if kind ~= "ci" then
    return step
  elseif ctx.merge_base then
    return step .. "        with:\n"
      .. "          # config state = \"merge-base\": the PR's own commit and the history to its branch point\n"
      .. "          ref: ${{ github.event.pull_request.head.sha }}\n          fetch-depth: 0\n"
  end
  return step .. "        # config state = \"merge-base\" needs: with: ref: (the PR's head sha) and fetch-depth: 0\n"
end

-- A workflow: kind "ci" (pull requests), "deploy" (main) or "cleanup" (nightly ci-cleanup).
function M.workflow(kind, ctx)
  local ci = kind == "ci"
  local head
  if kind == "cleanup" then
    head = CLEANUP_HEAD
  elseif ci then
    head = [==[
name: dbt CI
on:
  pull_request:
    branches:
      - main
permissions:
  id-token: write   # OIDC: dbtrun exchanges the job's token for vars.AWS_ROLE_ARN
  contents: read
  pull-requests: write   # the plan's comment on the pull request
# one run per pull request: a new push cancels the run it makes obsolete
concurrency:
  group: dbt-ci-${{ github.event.pull_request.number }}
  cancel-in-progress: true
jobs:
  dbt-ci:
    name: Slim CI
    runs-on: ubuntu-latest
    timeout-minutes: 60
    env:
      AWS_ROLE_ARN: ${{ vars.AWS_ROLE_ARN }}
      AWS_REGION: ${{ vars.AWS_REGION }}
      # the plan's pull-request comment (dbtrun plan), updated on each push
      GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}
]==]
  else
    head = [==[
name: dbt Production Deploy
on:
  push:
    branches:
      - main
  workflow_dispatch:
permissions:
  id-token: write   # OIDC: dbtrun exchanges the job's token for vars.AWS_ROLE_ARN
  contents: read
# deploys run one at a time, never cancelled half-way (a newer pending one
# replaces an older pending one: the newest main wins)
concurrency:
  group: dbt-deploy
  cancel-in-progress: false
jobs:
  dbt-deploy:
    name: Production Run
    runs-on: ubuntu-latest
    timeout-minutes: 120
    env:
      AWS_ROLE_ARN: ${{ vars.AWS_ROLE_ARN }}
      AWS_REGION: ${{ vars.AWS_REGION }}
]==]
  end
  if ctx.workdir then -- the dbt project is a folder of the repository
    head = head .. ("    defaults:\n      run:\n        working-directory: %s\n"):format(ctx.workdir)
  end
  local last = ({ ci = "      - name: Slim CI\n        run: dbtrun ci\n",
    deploy = "      - name: Production Run\n        run: dbtrun deploy\n",
    cleanup = "      - name: Drop CI schemas of closed pull requests\n        run: dbtrun ci-cleanup\n" })[kind]
  return head .. "    steps:\n" .. checkout(kind, ctx)
    .. install_steps(ctx)
    .. "      - name: dbtrun --version\n        run: dbtrun --version\n"
    .. last
end

--- Next steps ------------------------------------------------------------------------

function M.next_steps(ctx)
  local a = M.ADAPTERS[ctx.adapter] or {}
  local t = { "", "Next steps", "" }
  local function add(s)
    t[#t + 1] = s
  end
  if ctx.adapter == "duckdb" then
    add("1. Try the loop here, no AWS needed (production state in .dbtrun/store/):")
    add("     dbtrun deploy && dbtrun dev")
  else
    add("1. Try the loop here: `dbtrun deploy && dbtrun dev` (production state in .dbtrun/store/);")
    add("   deploy needs the warehouse credentials the profile template reads (step 4).")
  end
  add("2. Share production state: in dbtrun.lua uncomment artifacts and docs (S3 locations),")
  add("   aws.region, aws.profile (laptops) and aws.role_arn, and cloudfront for the docs site.")
  add("3. GitHub repository variables (Settings > Secrets and variables > Actions > Variables)")
  add("   read by .github/workflows/ci.yml, deploy.yml and ci-cleanup.yml:")
  add("     AWS_ROLE_ARN   the IAM role the workflows assume with OIDC (id-token: write)")
  add("     AWS_REGION     the region of the bucket and the secrets")
  add("   No repository secret is needed: GITHUB_TOKEN (the plan's PR comment) is automatic.")
  if a.prefix then
    add(("4. Warehouse credentials: a Secrets Manager secret %s with JSON keys %s;"):format(a.secret_id, a.keys))
    add("   then uncomment secrets" .. (a.private_key and " and private_key" or "") .. " in dbtrun.lua.")
  else
    add("4. Warehouse credentials: none for a local DuckDB file (a secret only for MotherDuck or attached stores).")
  end
  add("5. IAM permissions of that role (the seed's DbtArtifactsAccess statement, and what dbtrun calls):")
  add("     s3:GetObject, s3:PutObject, s3:ListBucket, s3:DeleteObject")
  add("       on arn:aws:s3:::your-org-dbt-artifacts and arn:aws:s3:::your-org-dbt-artifacts/*")
  if a.prefix then
    add("     secretsmanager:GetSecretValue on the secret " .. a.secret_id)
  end
  add("     cloudfront:CreateInvalidation (and cloudfront:GetInvalidation) on the docs distribution")
  add("   and a trust policy letting token.actions.githubusercontent.com assume it for this repository.")
  if ctx.installer == "uv" then
    add("6. The workflows install dbt and dbtrun with `uv sync` (dbtrun is in pyproject.toml"
      .. (ctx.uv_locked and "/uv.lock)." or "; commit uv.lock for --locked installs)."))
  else
    add(("6. The workflows install dbtrun==%s from %s%s with pip; commit it."):format(ctx.version, M.REQUIREMENTS,
      ctx.project_requirements and (" and dbt from " .. ctx.project_requirements) or " (dbt too)"))
    add("   With uv instead: `uv add --dev dbtrun`, delete the two workflows and run `dbtrun init` again.")
  end
  return table.concat(t, "\n") .. "\n"
end

return M
