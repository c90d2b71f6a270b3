-- The pure parts of deploy's history (lua/artifacts.lua), the store's
-- listing and removal below a prefix (lua/store.lua, file://), and
-- ci-cleanup's decisions (lua/ci_cleanup.lua).
local t = require("harness")
local artifacts = require("dbtrun.artifacts")
local store = require("dbtrun.store")
local cleanup = require("dbtrun.ci_cleanup")
local native = require("dbtrun.native")

local tmp = t.tmpdir()

local result = t.run("test_history", {
  { "history entries, newest first, and what retention drops", function()
    local list = {
      { name = "history/aaa/manifest.json", mtime = 100 }, { name = "history/aaa/run_results.json", mtime = 101 },
      { name = "history/bbb/manifest.json", mtime = 300 }, { name = "history/ccc/manifest.json", mtime = 200 },
      { name = "history/stray.json", mtime = 999 },
    }
    local e = artifacts.history_entries(list)
    t.eq(#e, 3)
    t.eq(e[1].sha .. e[2].sha .. e[3].sha, "bbbcccaaa")
    t.eq(#e[3].names, 2)
    t.eq(e[3].time, 101)
    local function shas(x)
      local out = {}
      for i, v in ipairs(x) do
        out[i] = v.sha
      end
      return table.concat(out, ",")
    end
    t.eq(shas(artifacts.history_expired(e, 1, nil, 1000)), "ccc,aaa")
    t.eq(shas(artifacts.history_expired(e, nil, 1, 86400 + 150)), "aaa")
    t.eq(shas(artifacts.history_expired(e, 1, nil, 1000, "ccc")), "aaa") -- never the one just deployed
    t.eq(shas(artifacts.history_expired(e, nil, nil, 1000)), "")
  end },
  { "store.list and store.remove stay below their prefix", function()
    local loc = "file://" .. tmp .. "/store/"
    for _, name in ipairs({ "history/a/manifest.json", "history/b/x/run_results.json", "historyish.json",
      "other/history/c.json" }) do
      local path = tmp .. "/store/" .. name
      native.fs.mkdir(path:match("^(.*)/[^/]*$"))
      t.write(path, "{}")
    end
    local names = {}
    for _, e in ipairs(store.list(loc, "history/")) do
      names[#names + 1] = e.name
      t.check(e.mtime and e.mtime > 0 and e.size == 2, e.name)
    end
    table.sort(names)
    t.eq(table.concat(names, " "), "history/a/manifest.json history/b/x/run_results.json")
    t.eq(#store.list(loc, "nothing/"), 0)
    t.raises(function() store.remove(loc, "history/", { "historyish.json" }) end, "is not below prefix")
    t.raises(function() store.remove(loc, "history/", { "history/../other/history/c.json" }) end, "is not below")
    t.raises(function() store.list(loc, "../") end, "must stay below the location")
    t.eq(store.remove(loc, "history/", { "history/b/x/run_results.json" }), 1)
    t.eq(native.fs.stat(tmp .. "/store/history/b"), nil) -- the emptied folders go
    t.eq(native.fs.stat(tmp .. "/store/history/a/manifest.json"), "file")
    t.eq(native.fs.stat(tmp .. "/store/historyish.json"), "file")
  end },
  { "ci-cleanup: arguments, times, schemas by pull request, reasons", function()
    t.eq(cleanup.parse_args({ "--older-than", "7", "--dry-run" }).older_than, 7)
    t.eq(cleanup.parse_args({ "--older-than=1.5" }).older_than, 1.5)
    t.raises(function() cleanup.parse_args({ "--older-than" }) end, "needs a number of days")
    t.eq(cleanup.prefix("CI_PR_{pr}"), "CI_PR_")
    t.raises(function() cleanup.prefix("{pr}_ci") end, "text before {pr}")
    t.eq(cleanup.epoch("1970-01-02T00:00:00"), 86400)
    t.eq(cleanup.epoch("2026-12-01T09:30:00.123000-08:00"), cleanup.epoch("2026-12-01T17:30:00+00:00"))
    t.eq(cleanup.epoch("2000-03-01 00:00:00"), 951868800)
    t.eq(cleanup.epoch(""), nil)
    local listing = cleanup.parse_listing('12:00:00  noise\ndbtrun-ci-schema {"name": "CI_PR_1", "created": ""}\n'
      .. 'x dbtrun-ci-schema {"name": "ci_pr_1_staging", "created": "1970-01-01T00:00:10"}\n'
      .. 'dbtrun-ci-schema {"name": "CI_PR_12", "created": "1970-01-01T00:00:05"}\n'
      .. 'dbtrun-ci-schema {"name": "CI_PR_notes", "created": ""}\n')
    t.eq(#listing, 4)
    local groups = cleanup.group(listing, "CI_PR_{pr}")
    t.eq(#groups, 2)
    t.eq(groups[1].schema .. " " .. table.concat(groups[1].names, ","), "CI_PR_1 CI_PR_1,ci_pr_1_staging")
    t.eq(groups[1].created, 10)
    t.eq(groups[2].schema, "CI_PR_12")
    local asked = {}
    local function state(pr)
      asked[#asked + 1] = pr
      return pr == 1 and "closed" or "open"
    end
    t.eq(cleanup.reason(groups[1], nil, 1000, state), "pull request #1 is closed")
    t.eq(cleanup.reason(groups[2], nil, 1000, state), nil)
    t.eq(cleanup.reason(groups[2], 0.001, 1000, state), "created 1970-01-01, more than 0.001 days ago")
    t.eq(#asked, 2) -- old enough: GitHub is not asked
  end },
})

native.fs.rm(tmp)
return result
