-- The plan task's Lua side (lua/plan.lua) and its native binding: options,
-- the project inputs that make a manifest stale, and plan.compare's values.
local t = require("harness")
local plan = require("dbtrun.plan")
local native = require("dbtrun.native")

local tmp = t.tmpdir()
local write = t.write

local function manifest(raw)
  return ([[{"metadata": {"dbt_version": "1.11.0"}, "nodes": {
    "model.p.a": {"resource_type": "model", "raw_code": "%s", "unrendered_config": {}},
    "model.p.b": {"resource_type": "model", "raw_code": "x", "unrendered_config": {}}},
    "child_map": {"model.p.a": ["model.p.b"], "model.p.b": []}}]]):format(raw)
end

local result = t.run("test_plan", {
  { "parse_args", function()
    local o = plan.parse_args({ "--state", "prod", "--target-manifest=t/m.json", "--format", "json", "--no-parse" })
    t.eq(o.state, "prod")
    t.eq(o.target, "t/m.json")
    t.eq(o.format, "json")
    t.eq(o.parse, false)
    o = plan.parse_args({ "--max-bytes=100" })
    t.eq(o.max_bytes, 100)
    t.eq(o.format, "text")
    t.raises(function() plan.parse_args({ "--format", "yaml" }) end, "text, json or markdown")
    t.raises(function() plan.parse_args({ "--state" }) end, "needs a value")
    t.raises(function() plan.parse_args({ "extra" }) end, "unknown argument 'extra'")
    t.raises(function() plan.parse_args({ "--max-bytes", "lots" }) end, "must be a number")
  end },
  { "parse_args --explain takes the node names after it", function()
    t.eq(plan.parse_args({ "--explain" }).explain, true)
    local o = plan.parse_args({ "--explain", "a", "model.p.b", "--no-parse" })
    t.eq(table.concat(o.explain, ","), "a,model.p.b")
    t.eq(o.parse, false)
    t.eq(plan.parse_args({ "--no-parse", "--explain" }).explain, true)
    t.eq(plan.parse_args({}).explain, nil)
    t.raises(function() plan.parse_args({ "a", "--explain" }) end, "unknown argument 'a'")
  end },
  { "compare explains and estimates", function()
    write(tmp .. "/ex_state.json", manifest("select 1"))
    write(tmp .. "/ex_cur.json", manifest("select 2"))
    write(tmp .. "/ex_rr.json", [[{"results": [{"unique_id": "model.p.a", "execution_time": 3},
      {"unique_id": "model.p.b", "execution_time": 4}]}]])
    local text, s = native.plan.compare(tmp .. "/ex_state.json", tmp .. "/ex_cur.json",
      { explain = { "model.p.b" }, run_results = tmp .. "/ex_rr.json", threads = 2 })
    t.check(text, s)
    t.eq(s.explained, 1)
    t.check(text:find("  model.p.b (unchanged)\n      not modified: selected as a child of model.p.a\n", 1, true), text)
    t.eq(s.estimate.seconds, 7)
    t.eq(s.estimate.threads, 2)
    local _, msg, why = native.plan.compare(tmp .. "/ex_state.json", tmp .. "/ex_cur.json", { explain = { "zz" } })
    t.check(msg:find("no node 'zz'", 1, true), msg)
    t.eq(why, "explain")
    write(tmp .. "/ex_bad.json", "[]")
    text, s = native.plan.compare(tmp .. "/ex_state.json", tmp .. "/ex_cur.json", { run_results = tmp .. "/ex_bad.json" })
    t.check(text and not text:find("Estimated build time", 1, true), text)
    t.check(s.estimate == nil and s.estimate_warning:find("not a run_results.json", 1, true), s.estimate_warning)
  end },
  { "inputs follow dbt_project.yml paths", function()
    local list = table.concat(plan.inputs("name: x\nmodel-paths: [\"transform\", 'more']\n"), ",")
    t.check(list:find("transform", 1, true), list)
    t.check(list:find("more", 1, true), list)
    t.check(not list:find("models", 1, true), list)
    t.check(list:find("macros", 1, true), list)
    t.check(list:find("dbt_project.yml", 1, true), list)
  end },
  { "the parse key follows what decides dbt's parse", function()
    -- a SHA-256: the settings may hold a profile's password
    t.eq(native.plan.fingerprint("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    local base = plan.parse_key({ "parse" })
    t.eq(plan.parse_key({ "parse" }), base)
    t.check(plan.parse_key({ "parse", "--vars", "{x: 1}" }) ~= base, "vars")
    t.check(plan.parse_key({ "parse", "--target", "ci" }) ~= base, "target")
    native.env.set("_", "/usr/bin/something-else") -- the shell's last command
    t.eq(plan.parse_key({ "parse" }), base)
    native.env.set("DBTRUN_TEST_PARSE_KEY", "1") -- any file may read an env_var
    t.check(plan.parse_key({ "parse" }) ~= base, "environment")
    native.env.set("DBTRUN_TEST_PARSE_KEY", nil)
    t.eq(plan.parse_key({ "parse" }), base)
    t.eq(plan.target_manifest({}), "target/manifest.json")
    t.eq(plan.target_manifest({ parse_args = { "--target-path", "out/" } }), "out/manifest.json")
    t.eq(plan.target_manifest({ target = "m.json", parse_args = { "--target-path", "out" } }), "m.json")
  end },
  { "compare returns the report and a summary", function()
    write(tmp .. "/state.json", manifest("x"))
    write(tmp .. "/current.json", manifest("y"))
    local text, s = native.plan.compare(tmp .. "/state.json", tmp .. "/current.json",
      { format = "json", markdown = true, markdown_max = 2000, state_label = "S" })
    t.check(type(text) == "string" and text:find('"path": "S"', 1, true), text)
    t.eq(s.modified, 1)
    t.eq(s.new, 0)
    t.eq(s.selected, 2)
    t.eq(s.selected_models, 2)
    t.eq(s.downstream, 1)
    t.eq(s.breaking, false)
    t.eq(s.selected_ids[1], "model.p.a")
    t.check(s.markdown:find("### dbtrun plan", 1, true))
    t.eq(s.comment, nil)
    -- each Markdown form has its own bound
    local _, small = native.plan.compare(tmp .. "/state.json", tmp .. "/current.json",
      { max_bytes = 10, markdown = true, markdown_max = 200, comment_max = 260 })
    t.check(#s.markdown > 260, #s.markdown)
    t.check(#small.markdown <= 200 and #small.markdown > 50, #small.markdown)
    t.check(#small.comment <= 260 and #small.comment > #small.markdown, #small.comment)
    local same = native.plan.compare(tmp .. "/state.json", tmp .. "/state.json")
    t.check(same:find("No changes", 1, true), same)
  end },
  { "compare failures are values", function()
    local text, msg = native.plan.compare(tmp .. "/missing.json", tmp .. "/current.json")
    t.eq(text, nil)
    t.check(msg:find("missing.json", 1, true), msg)
    write(tmp .. "/broken.json", '{"nodes": {')
    text, msg = native.plan.compare(tmp .. "/broken.json", tmp .. "/current.json")
    t.eq(text, nil)
    t.check(msg:find("broken.json", 1, true), msg)
    t.raises(function() native.plan.compare(tmp .. "/state.json", tmp .. "/current.json", { format = "xml" }) end,
      "invalid option")
  end },
  { "stale", function()
    t.eq((native.plan.stale(tmp .. "/nothing.json", {})), true)
    t.eq((native.plan.stale(tmp .. "/current.json", { tmp .. "/no-such-folder" })), false)
  end },
})
native.fs.rm(tmp)
return result
