-- What init reads from a project (lua/scaffold.lua): the small YAML reader,
-- profiles, the output copied for DuckDB, .gitignore merging, the installer.
local t = require("harness")
local scaffold = require("dbtrun.scaffold")

local PROFILES = [[
# comment
base: &base
  type: postgres
  host: "db.internal"   # a comment after a quoted value
shop:
  target: "{{ env_var('DBT_TARGET', 'dev') }}"
  outputs:
    dev:
      <<: *base
      port: 5433
    ci:
      type: duckdb
      path: 'ci.duckdb'
"quoted":
  target: prod
  outputs:
    other:
      type: "Snowflake"
local:
  target: dev
  outputs:
    dev:
      type: duckdb
      path: "{{ env_var('DB', 'x.duckdb') }}"
      schema: dev
      settings:
        schema: not_the_output_schema
      extensions:
        - httpfs
      threads: 2
    next:
      type: duckdb
]]

return t.run("test_scaffold", {
  { "profiles: env_var targets, anchors, merge keys, quoted keys", function()
    local p = scaffold.read_profile(PROFILES, "shop")
    t.eq(p.target, "dev")
    t.eq(p.type, "postgres")
    t.eq(scaffold.plain(p, "host"), "db.internal")
    t.eq(scaffold.plain(p, "port"), "5433")
    local q = scaffold.read_profile(PROFILES, "quoted")
    t.eq(q.target, "other") -- prod is not an output: the first one
    t.eq(q.type, "snowflake")
    t.eq(scaffold.read_profile(PROFILES, "missing"), nil)
    t.eq(scaffold.read_profile("shop:\n  target: dev\n", "shop").type, nil)
  end },
  { "plain values only become defaults", function()
    local p = scaffold.read_profile(PROFILES, "local")
    t.eq(scaffold.plain(p, "path"), nil) -- Jinja
    t.eq(scaffold.plain(p, "threads"), "2")
  end },
  { "the output block, without its own schema and type", function()
    local p = scaffold.read_profile(PROFILES, "local")
    local lines = scaffold.output_lines(p, "  ")
    t.eq(table.concat(lines, "\n"), table.concat({
      [[  path: "{{ env_var('DB', 'x.duckdb') }}"]],
      "  settings:",
      "    schema: not_the_output_schema",
      "  extensions:",
      "    - httpfs",
      "  threads: 2",
    }, "\n"))
    t.eq(scaffold.output_lines(scaffold.read_profile(PROFILES, "shop"), "  "), nil) -- merges an anchor
  end },
  { "credentials are recognised", function()
    t.check(scaffold.secretish("      password: hunter2"))
    t.check(scaffold.secretish("  s3_secret_access_key: abc"))
    t.check(scaffold.secretish("  motherduck_token: abc"))
    t.check(scaffold.secretish("path: md:db?motherduck_token=abc"))
    t.check(not scaffold.secretish([[  password: "{{ env_var('PW') }}"]]))
    t.check(not scaffold.secretish("  path: shop.duckdb"))
    t.check(not scaffold.secretish("  settings:"))
  end },
  { "dbt_project.yml", function()
    local p = scaffold.project("name: shop\nprofile: 'wh'  # the profile\nmacro-paths: [\"m\", \"n\"]\n")
    t.eq(p.name, "shop")
    t.eq(p.profile, "wh")
    t.eq(p.macro_dir, "m")
    t.eq(scaffold.project("name: x\n").macro_dir, "macros")
  end },
  { ".gitignore", function()
    local all = scaffold.IGNORED
    local text, added = scaffold.gitignore(nil, all)
    t.eq(text, "# dbtrun: fetched production state, local store, local secrets\n.artifacts/\n.dbtrun/\n.env\n")
    t.eq(#added, 3)
    t.eq((scaffold.gitignore("target/", all)),
      "target/\n\n# dbtrun: fetched production state, local store, local secrets\n.artifacts/\n.dbtrun/\n.env\n")
    t.eq((scaffold.gitignore("a\n", { ".env" })), "a\n\n# dbtrun: fetched production state, local store, local secrets\n.env\n")
    t.eq(scaffold.gitignore("/.artifacts\r\n.dbtrun\n  .env  \n", all), nil)
    t.eq(select(2, scaffold.gitignore(".envrc\n.env.local\n", all))[3], ".env")
    t.eq(scaffold.gitignore(text, all), nil)
  end },
})
