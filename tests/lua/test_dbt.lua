-- The helpers of the built-in dbt tasks (lua/dbt.lua, lua/profile.lua,
-- lua/artifacts.lua, lua/github.lua): the seed's command lines, secrets
-- settings, profile templates, manifest checks, CI schema names and matching,
-- run_results summaries and annotations, and the modules' one-way order.
local t = require("harness")
local dbt = require("dbtrun.dbt")
-- dbt.lua loads neither the plan nor the artifacts (no cycle: they use it)
local loaded_with_dbt = { plan = package.loaded["dbtrun.plan"], artifacts = package.loaded["dbtrun.artifacts"] }
local artifacts = require("dbtrun.artifacts")
local profile = require("dbtrun.profile")
local github = require("dbtrun.github")
local config = require("dbtrun.config")
local native = require("dbtrun.native")

local tmp = t.tmpdir()
local write = t.write

local function words(list)
  return table.concat(list, " ")
end

local function env_of(vars)
  return function(name)
    return vars[name]
  end
end

local result = t.run("test_dbt", {
  { "a build's parse flags go to the parse before it", function()
    t.eq(words(dbt.parse_words({ "--vars", "{x: 1}", "--select", "a", "--target=ci", "--full-refresh",
      "--no-partial-parse", "--profiles-dir", "p", "--threads", "4", "-t", "dev", "--target-path", "out" })),
      "--vars {x: 1} --target=ci --no-partial-parse --profiles-dir p -t dev --target-path out")
    t.eq(words(dbt.parse_words(nil)), "")
    t.eq(words(dbt.parse_words({ "--vars" })), "--vars") -- dbt's own error, not ours
    t.eq(dbt.flag({ "--target-path", "a", "--target-path=b" }, "--target-path"), "b")
    t.eq(dbt.flag({ "--target-pathx", "a" }, "--target-path"), nil)
  end },
  { "one dbt process only for dbt-core's Python script (read, not run)", function()
    local script = "# -*- coding: utf-8 -*-\nimport re\nimport sys\nfrom dbt.cli.main import cli\n"
    local cases = {
      { "#!/p/.venv/bin/python\n" .. script, "/p/.venv/bin/python" },
      { "#!/usr/bin/python3.12\n" .. script, "/usr/bin/python3.12" },
      { "#!/usr/bin/env python3\n" .. script, nil }, -- through env: not read further
      { "#!/p/bin/python -E\n" .. script, nil }, -- interpreter options
      { "#!/bin/sh\nexec uv run dbt \"$@\"\n", nil }, -- a wrapper
      { "#!/p/bin/python\nfrom other.cli import main\n", nil }, -- not dbt-core's
      { "\127ELF\2\1\1", nil }, -- the dbt Fusion binary
    }
    for i, c in ipairs(cases) do
      write(tmp .. "/dbt" .. i, c[1])
      t.eq(dbt.python(tmp .. "/dbt" .. i), c[2], c[1])
    end
    t.eq(dbt.python(tmp .. "/no-such-dbt"), nil)
  end },
  { "dbt.lua sits below plan and artifacts", function()
    t.eq(loaded_with_dbt.plan, nil)
    t.eq(loaded_with_dbt.artifacts, nil)
  end },
  { "the seed's command lines", function()
    t.eq(words(dbt.build_args({ select = "state:modified+", state = ".artifacts/", args = { "--fail-fast" } })),
      "build --select state:modified+ --defer --state .artifacts/ --fail-fast")
    t.eq(words(dbt.build_args({ target = "ci", select = "state:modified+", state = ".artifacts/", fail_fast = true })),
      "build --target ci --select state:modified+ --defer --state .artifacts/ --fail-fast")
    t.eq(words(dbt.build_args({ target = "prod", fail_fast = true })), "build --target prod --fail-fast")
    t.eq(words(dbt.build_args({ select = "fct_contacts", state = ".artifacts/", favor_state = true, threads = 8 })),
      "build --select fct_contacts --defer --state .artifacts/ --favor-state --threads 8")
    -- favor_state only with deferral; a blank target adds nothing
    t.eq(words(dbt.build_args({ target = "", favor_state = true })), "build")
  end },
  { "dbt{} of task files: the builds' target and threads, after the subcommand", function()
    t.eq(words(dbt.with_settings({ "build", "-s", "x" }, "dev")), "build --target dev -s x")
    assert(config.override("threads", "3"))
    t.eq(words(dbt.with_settings({ "docs", "generate", "--no-compile" }, "prod")),
      "docs generate --target prod --threads 3 --no-compile")
    t.eq(words(dbt.with_settings({ "run-operation", "m", "--args", "{}" }, nil)), "run-operation m --threads 3 --args {}")
    -- ls takes no --threads; what the words give wins
    t.eq(words(dbt.with_settings({ "ls", "-s", "x" }, "dev")), "ls --target dev -s x")
    t.eq(words(dbt.with_settings({ "build", "-t", "ci", "--threads=1" }, "dev")), "build -t ci --threads=1")
    t.eq(words(dbt.with_settings({ "seed", "--target=ci" }, "dev")), "seed --threads 3 --target=ci")
    assert(config.override("threads", ""))
    t.eq(words(dbt.with_settings({ "build" }, "")), "build")
  end },
  { "config defaults", function()
    t.eq(config.get("artifacts"), "file://.dbtrun/store/artifacts/")
    t.eq(config.get("docs"), "file://.dbtrun/store/docs/")
    t.eq(config.get("state_dir"), ".artifacts")
    t.eq(config.get("ci.schema"), "CI_PR_{pr}")
    t.eq(dbt.target("ci"), "ci")
    t.eq(dbt.target("prod"), "prod")
    t.eq(dbt.target("dev"), nil)
    t.eq(config.get("favor_state"), false)
    t.eq(config.get("docs_include")[1], nil)
  end },
  { "the docs rule: the site, widened by docs_include", function()
    local function text(filters)
      local out = {}
      for _, f in ipairs(filters) do
        out[#out + 1] = f[1] .. " " .. f[2]
      end
      return table.concat(out, ", ")
    end
    t.eq(text(artifacts.docs_filters()), "exclude *, include index.html, include catalog.json, "
      .. "include manifest.json, include run_results.json")
    t.eq(text(artifacts.docs_filters({ "compiled/*" })):match("[^,]*$"), " include compiled/*")
    t.eq(table.concat(artifacts.docs_include({ "compiled/*", "graph.gpickle" }), "|"), "compiled/*|graph.gpickle")
    t.eq(table.concat(artifacts.docs_include(" compiled/*, run/* "), "|"), "compiled/*|run/*")
    t.eq(#artifacts.docs_include(""), 0)
    t.eq(#artifacts.docs_include({}), 0)
  end },
  { "secrets settings", function()
    local s = profile.parse_secrets({ { prefix = "SNOWFLAKE", id = "dbt/snowflake-credentials" } })
    t.eq(#s, 1)
    t.eq(s[1].prefix, "SNOWFLAKE")
    t.eq(s[1].id, "dbt/snowflake-credentials")
    s = profile.parse_secrets("SNOWFLAKE, dbt/snowflake-credentials\nOTHER=team/other; plain/id")
    t.eq(#s, 3)
    t.eq(s[1].prefix, "SNOWFLAKE")
    t.eq(s[1].id, "dbt/snowflake-credentials")
    t.eq(s[2].prefix, "OTHER")
    t.eq(s[2].id, "team/other")
    t.eq(s[3].prefix, nil)
    t.eq(s[3].id, "plain/id")
    s = profile.parse_secrets({ ["2"] = { id = "b" }, ["1"] = { "A", "a" } }) -- --set secrets.1.id=...
    t.eq(s[1].id, "a")
    t.eq(s[1].prefix, "A")
    t.eq(s[2].id, "b")
    t.eq(#profile.parse_secrets({}), 0)
    t.eq(#profile.parse_secrets(""), 0)
    t.raises(function() profile.parse_secrets({ { prefix = "X" } }) end, "prefix = ..., id = ...")
  end },
  { "profile templates", function()
    local vars = { ACCOUNT = "acme-eu", SCHEMA = "CI_PR_7", EMPTY = "", PASSWORD = 'p"a\\ss\nword' }
    t.eq(profile.render_profile("account: ${ACCOUNT}\nschema: \"${SCHEMA}\"\n", env_of(vars), "p.yml"),
      "account: acme-eu\nschema: \"CI_PR_7\"\n")
    t.eq(profile.render_profile("a: ${MISSING:-4}\nb: ${EMPTY:-x}\nc: ${EMPTY}\n", env_of(vars)), "a: 4\nb: x\nc: \n")
    t.eq(profile.render_profile("cost: $$5 and $HOME\n", env_of(vars)), "cost: $5 and $HOME\n")
    -- in double quotes a value is escaped for YAML; bare, it is written as is
    t.eq(profile.render_profile('password: "${PASSWORD}"', env_of(vars)), 'password: "p\\"a\\\\ss\\nword"')
    -- comment lines keep their placeholders, unset or not
    t.eq(profile.render_profile("# ${NAME} is a placeholder\n  # ${X:-y}\nk: ${ACCOUNT}\n", env_of(vars)),
      "# ${NAME} is a placeholder\n  # ${X:-y}\nk: acme-eu\n")
    t.raises(function() profile.render_profile("a: 1\nb: ${NOPE}\n", env_of(vars), "ci/profiles.yml") end,
      "ci/profiles.yml:2: %${NOPE} is not set")
    t.raises(function() profile.render_profile("a: ${1X}", env_of(vars), "p") end, "bad placeholder")
    t.raises(function() profile.render_profile("a: ${X", env_of(vars), "p") end, "unterminated")
  end },
  { "where dbt finds its profile", function()
    t.eq(profile.project_profile("name: x\nprofile: 'shop'  # the warehouse\n"), "shop")
    t.eq(profile.project_profile('profile: "shop"\nname: x\n'), "shop")
    t.eq(profile.project_profile("name: x\n"), nil)
    t.eq(profile.project_profile("profile: \"{{ env_var('P') }}\"\n"), nil) -- templated: dbt alone can tell
    t.eq(table.concat(profile.profile_names("a:\n  target: dev\nconfig:\n  x: 1\n\"b-c\":\n  t: 1\n'd.e': {}\n# f:\n"),
      ","), "a,b-c,d.e")
    local cwd = native.fs.cwd()
    native.fs.mkdir(tmp .. "/prof/home/.dbt")
    write(tmp .. "/prof/dbt_project.yml", "name: p\nprofile: shop\n")
    write(tmp .. "/prof/home/.dbt/profiles.yml", "shop:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\nnext:\n  x: 1\n")
    local home = native.env.get("HOME")
    native.env.set("HOME", tmp .. "/prof/home")
    assert(native.fs.chdir(tmp .. "/prof"))
    local ok_home = pcall(profile.check, { "build" })
    local adapter = profile.adapter()
    local ok_flag, err_flag = pcall(profile.check, { "build", { "--profile", "other" } })
    local ok_deps = pcall(profile.check, { "build", "--project-dir", "elsewhere" })
    write(tmp .. "/prof/profiles.yml", "mine:\n  target: dev\n")
    local ok_here, err_here = pcall(profile.check, { "build" })
    assert(native.fs.chdir(cwd))
    native.env.set("HOME", home)
    t.check(ok_home, "found in ~/.dbt")
    t.eq(adapter, "duckdb")
    t.check(not ok_flag and tostring(err_flag):find("dbt profile 'other' (--profile) not found", 1, true), tostring(err_flag))
    t.check(ok_deps, "another project folder: not judged")
    t.check(not ok_here and tostring(err_here):find("/prof/profiles.yml (it has mine)\n", 1, true), tostring(err_here))
  end },
  { "manifest checks", function()
    local head = '{"metadata": {"dbt_schema_version": "https://schemas.getdbt.com/dbt/manifest/v12.json", '
      .. '"dbt_version": "1.11.2", "generated_at": "x"}, "nodes": {'
    t.eq(#artifacts.check_manifest(head, "1.11.16", "m"), 0)
    t.eq(#artifacts.check_manifest(head, nil, "m"), 0)
    local w = artifacts.check_manifest(head, "1.10.4", ".artifacts/manifest.json")
    t.eq(#w, 1)
    t.check(w[1]:find("written by dbt 1.11.2, the local dbt is 1.10.4", 1, true), w[1])
    w = artifacts.check_manifest(head:gsub("v12", "v13"), "1.11.0", "m")
    t.check(w[1] and w[1]:find("v13, newer than v12", 1, true), w[1])
    t.raises(function() artifacts.check_manifest('{"results": []}', nil, "x.json") end,
      "x.json is not a dbt manifest %(metadata.dbt_schema_version: missing%)")
    t.raises(function()
      artifacts.check_manifest('{"metadata": {"dbt_schema_version": "https://schemas.getdbt.com/dbt/run-results/v6.json"}}')
    end, "not a dbt manifest")
  end },
  { "the local dbt version from its package metadata", function()
    native.fs.mkdir(tmp .. "/venv/bin")
    native.fs.mkdir(tmp .. "/venv/lib/python3.11/site-packages/dbt_core-1.11.16.dist-info")
    write(tmp .. "/venv/bin/python", "")
    write(tmp .. "/venv/bin/dbt", "#!" .. tmp .. "/venv/bin/python\nimport sys\n")
    assert(config.override("dbt", tmp .. "/venv/bin/dbt"))
    t.eq(dbt.local_version(), "1.11.16")
  end },
  { "CI schemas", function()
    t.eq(dbt.ci_schema("CI_PR_{pr}", 12), "CI_PR_12")
    t.eq(dbt.ci_schema("pr_{pr}_ci", 3), "pr_3_ci")
    t.raises(function() dbt.ci_schema("CI PR {pr}", 1) end, "not a plain schema name")
    t.raises(function() dbt.ci_schema("x;drop", 1) end, "not a plain schema name")
    t.check(dbt.schema_matches("CI_PR_12", "CI_PR_12"))
    t.check(dbt.schema_matches("ci_pr_12_staging", "CI_PR_12"))
    t.check(not dbt.schema_matches("CI_PR_123", "CI_PR_12"), "CI_PR_1 must never take CI_PR_12")
    t.check(not dbt.schema_matches("CI_PR_1", "CI_PR_12"))
    t.check(not dbt.schema_matches("prod", "CI_PR_12"))
    local text = '{"nodes": {"a": {"database": "example", "schema": "CI_PR_12_staging", "name": "a"}, '
      .. '"b": {"database": "example", "schema": "CI_PR_12", "name": "b"}, '
      .. '"c": {"database": "example", "schema": "CI_PR_123", "name": "c"}, '
      .. '"d": {"database": null, "schema": "CI_PR_12_x", "name": "d"}, '
      .. '"e": {"database": "example", "schema": "raw_airbyte"}}}'
    local found = dbt.manifest_schemas(text, "CI_PR_12")
    t.eq(found.CI_PR_12_staging, "example")
    t.eq(found.CI_PR_12, "example")
    t.eq(found.CI_PR_123, nil)
    t.eq(found.raw_airbyte, nil)
    t.eq(found.CI_PR_12_x, false)
  end },
  { "project paths and macros", function()
    t.eq(dbt.packages_dir("name: x\n"), "dbt_packages")
    t.eq(dbt.packages_dir("name: x\npackages-install-path: \"vendor/pkgs\"\nother: 1\n"), "vendor/pkgs")
    local cwd = native.fs.cwd()
    native.fs.mkdir(tmp .. "/proj/sql/nested")
    write(tmp .. "/proj/dbt_project.yml", "name: p\nmacro-paths: [\"sql\"]\n")
    write(tmp .. "/proj/sql/nested/drop.sql", "{%  macro   drop_ci_schemas (prefix) %}{% endmacro %}\n")
    write(tmp .. "/proj/sql/other.sql", "{% macro drop_schema(schema_name) %}{% endmacro %}\n")
    assert(native.fs.chdir(tmp .. "/proj"))
    local has, has_not = dbt.has_macro("drop_ci_schemas"), dbt.has_macro("nothing_here")
    assert(native.fs.chdir(cwd))
    t.check(has, "found in a nested folder of macro-paths")
    t.check(not has_not)
  end },
  { "run_results summaries", function()
    local path = tmp .. "/run_results.json"
    write(path, [[{"metadata": {"dbt_schema_version": "x", "invocation_id": "inv-1"}, "results": [
      {"unique_id": "model.p.a", "status": "success", "message": "OK", "execution_time": 0.5, "failures": null},
      {"unique_id": "test.p.not_null_a_id.f79facb348", "status": "fail", "message": "Got 3 results, configured to fail if != 0", "failures": 3},
      {"unique_id": "test.p.warned", "status": "warn", "message": "Got 1 result"},
      {"unique_id": "model.p.b", "status": "skipped", "message": null},
      {"unique_id": "model.p.c", "status": "error", "message": "Runtime Error | boom"}]}]])
    t.eq(dbt.invocation_id(path), "inv-1")
    t.eq(dbt.read_results(path, "inv-1"), nil) -- still the previous run's
    local results = dbt.read_results(path, "inv-0")
    t.eq(#results, 5)
    t.eq(results[2].kind, "test")
    t.eq(results[2].name, "not_null_a_id")
    t.eq(results[3].name, "warned")
    t.eq(results[1].name, "a")
    t.eq(results[1].execution_time, 0.5)
    t.eq(results[1].failures, nil)
    t.eq(results[2].failures, 3)
    local counts = github.tally(results)
    t.eq(counts.built, 1)
    t.eq(counts.warned, 1)
    t.eq(counts.skipped, 1)
    t.eq(counts.failed, 2)
    local md = github.summary_markdown("dbt build", results)
    t.check(md:find("| 1 | 1 | 1 | 2 |", 1, true), md)
    t.check(md:find("- `test.p.not_null_a_id.f79facb348` (fail): Got 3 results, configured to fail if != 0", 1, true), md)
    t.check(md:find("Runtime Error \\| boom", 1, true), "a | in a message does not break the table")
    t.check(md:find("<details open><summary>Failed (2)</summary>", 1, true), md)
    t.eq(dbt.read_results(tmp .. "/none.json"), nil)
  end },
  { "what a run learns from GitHub Actions", function()
    local saved = native.env.all()
    local function restore()
      for _, name in ipairs({ "GITHUB_ACTIONS", "CI", "AWS_ROLE_ARN", "GITHUB_EVENT_PATH" }) do
        native.env.set(name, saved[name])
      end
    end
    native.env.set("GITHUB_ACTIONS", nil)
    native.env.set("CI", nil)
    native.env.set("AWS_ROLE_ARN", nil)
    assert(config.override("aws.role_arn", "arn:aws:iam::123456789012:role/Deploy"))
    github.aws_role()
    local on_laptop = native.env.get("AWS_ROLE_ARN")
    local ci_laptop = github.ci()
    native.env.set("CI", "false")
    local ci_false = github.ci()
    native.env.set("CI", "true")
    local ci_true = github.ci()
    native.env.set("CI", nil)
    native.env.set("GITHUB_ACTIONS", "true")
    github.aws_role()
    local on_actions = native.env.get("AWS_ROLE_ARN")
    native.env.set("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/FromTheJob")
    github.aws_role()
    local kept = native.env.get("AWS_ROLE_ARN")
    local ci_actions = github.ci()
    write(tmp .. "/event.json", '{"action": "synchronize", "pull_request": {"number": 7}}')
    native.env.set("GITHUB_EVENT_PATH", tmp .. "/event.json")
    local from_event = github.pull_request()
    write(tmp .. "/issue.json", '{"issue": {"number": 9}}')
    native.env.set("GITHUB_EVENT_PATH", tmp .. "/issue.json")
    local from_issue = github.pull_request()
    native.env.set("GITHUB_EVENT_PATH", tmp .. "/none.json")
    local none = github.pull_request()
    restore()
    t.eq(on_laptop, nil)
    t.eq(on_actions, "arn:aws:iam::123456789012:role/Deploy")
    t.eq(kept, "arn:aws:iam::123456789012:role/FromTheJob")
    t.eq(ci_laptop, false)
    t.eq(ci_false, false)
    t.eq(ci_true, true)
    t.eq(ci_actions, true)
    t.eq(from_event, 7)
    t.eq(from_issue, 9)
    t.eq(none, nil)
  end },
  { "GitHub workflow commands", function()
    t.eq(github.command("error", { title = "test a: fail", file = "models/x.yml" }, "Got 3 results\n100% wrong"),
      "::error file=models/x.yml,title=test a%3A fail::Got 3 results%0A100%25 wrong")
    t.eq(github.command("notice", nil, "a,b"), "::notice::a,b")
    t.eq(github.escape_property("a,b:c"), "a%2Cb%3Ac")
  end },
})

native.fs.rm(tmp)
return result
