-- The closing summary of the built-in tasks (lua/summary.lua): what
-- run_results.json says was built, split by the plan, and what went to a store.
local t = require("harness")
local summary = require("dbtrun.summary")
local store = require("dbtrun.store")
local native = require("dbtrun.native")
local ui = require("dbtrun.ui")

local RESULTS = [[{"results": [
  {"unique_id": "model.p.a", "status": "success"},
  {"unique_id": "model.p.b", "status": "success"},
  {"unique_id": "seed.p.s", "status": "success"},
  {"unique_id": "model.p.skipped", "status": "skipped"},
  {"unique_id": "test.p.not_null_a_id.1234567890", "status": "pass"},
  {"unique_id": "test.p.unique_b_id.1234567890", "status": "warn"},
  {"unique_id": "unit_test.p.a.t1", "status": "pass"}
]}]]

return t.run("test_summary", {
  { "results", function()
    local tmp = t.tmpdir()
    t.write(tmp .. "/rr.json", RESULTS)
    local r = summary.results(tmp .. "/rr.json")
    t.eq(table.concat(r.nodes, " "), "model.p.a model.p.b seed.p.s")
    t.eq(r.passed, 2)
    t.eq(r.warned, 1)
    t.eq(summary.results(tmp .. "/missing.json"), nil)
    t.write(tmp .. "/bad.json", "{not json")
    t.eq(summary.results(tmp .. "/bad.json"), nil)
  end },
  { "line", function()
    local tmp = t.tmpdir()
    t.write(tmp .. "/rr.json", RESULTS)
    local r = summary.results(tmp .. "/rr.json")
    ui.commands, ui.started = 3, native.term.clock() - 12.44
    store.published = {}
    t.eq(summary.line("dev", { results = r, plan = { modified_ids = { ["model.p.a"] = true } } }),
      "dev: 3 steps in 12.4s; built 3 nodes (1 modified, 2 downstream), 2 tests passed, 1 warning")
    ui.commands, ui.started = 1, native.term.clock() - 125.2
    t.eq(summary.line("dev-select", { results = { nodes = { "model.p.a" }, passed = 1, warned = 0 } }),
      "dev-select: 1 step in 2m05s; built 1 node, 1 test passed")
    store.published = {
      { name = "manifest.json", location = "s3://b/artifacts/", changed = false },
      { name = "run_results.json", location = "s3://b/artifacts/", changed = true },
      { name = "history/abc123/manifest.json", location = "s3://b/artifacts/", changed = true },
      { name = "history/abc123/run_results.json", location = "s3://b/artifacts/", changed = true },
      { src = "target/", dst = "s3://b/site/", files = 4, copied = 1 },
    }
    t.eq((summary.line("deploy", { note = "done" }):gsub(" in 2m0%ds", "")),
      "deploy: 1 step; published manifest.json (unchanged), run_results.json, history/abc123/ to s3://b/artifacts/, "
        .. "target/ (4 files, 1 uploaded) to s3://b/site/; done")
    store.published = {}
  end },
})
