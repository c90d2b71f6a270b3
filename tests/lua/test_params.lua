-- Parameter parsing and argument binding (lua/params.lua).
local t = require("harness")
local params = require("dbtrun.params")

local function bind(specs, words)
  local list = assert(params.parse(specs))
  return params.bind(list, words)
end

return t.run("test_params", {
  { "parse kinds", function()
    local list = assert(params.parse({ "SELECTION", "TARGET=dev", "*ARGS" }))
    t.eq(#list, 3)
    t.eq(list[1].kind, "required")
    t.eq(list[2].kind, "default")
    t.eq(list[2].default, "dev")
    t.eq(list[3].kind, "star")
    t.eq(assert(params.parse({ "+FILES" }))[1].kind, "plus")
    t.eq(assert(params.parse({ "EMPTY=" }))[1].default, "")
    t.eq(assert(params.parse({ "X=a=b" }))[1].default, "a=b")
  end },
  { "parse rejects bad lists", function()
    local cases = {
      { { "*A", "B" }, "variadic" },
      { { "A=1", "B" }, "follows a parameter with a default" },
      { { "A", "A" }, "twice" },
      { { "1A" }, "invalid parameter" },
      { { "*A=1" }, "invalid parameter" },
      { { "A B" }, "invalid parameter" },
      { { 3 }, "must be a string" },
    }
    for _, c in ipairs(cases) do
      local list, err = params.parse(c[1])
      t.check(list == nil and err:find(c[2], 1, true), c[2] .. " / " .. tostring(err))
    end
  end },
  { "bind required, default and star", function()
    local a = bind({ "SELECTION", "TARGET=dev", "*ARGS" }, { "fct_contacts" })
    t.eq(a.SELECTION, "fct_contacts")
    t.eq(a.TARGET, "dev")
    t.eq(#a.ARGS, 0)
    a = bind({ "SELECTION", "TARGET=dev", "*ARGS" }, { "x", "prod", "--fail-fast", "a b" })
    t.eq(a.TARGET, "prod")
    t.eq(a.ARGS[1], "--fail-fast")
    t.eq(a.ARGS[2], "a b")
  end },
  { "bind errors", function()
    local a, err = bind({ "SELECTION" }, {})
    t.check(a == nil and err:find("missing argument for SELECTION"), err)
    a, err = bind({ "+FILES" }, {})
    t.check(a == nil and err:find("one or more"), err)
    a, err = bind({ "A" }, { "1", "2", "3" })
    t.check(a == nil and err:find("2 extra, first '2'"), err)
    a, err = bind({}, { "x" })
    t.check(a == nil and err:find("too many"), err)
  end },
  { "plus takes all the rest", function()
    local a = bind({ "+FILES" }, { "a", "b" })
    t.eq(#a.FILES, 2)
  end },
  { "signature", function()
    local list = assert(params.parse({ "SELECTION", "TARGET=dev", "*ARGS" }))
    t.eq(params.signature("dev-select", list), 'dev-select SELECTION TARGET="dev" *ARGS')
    t.eq(params.signature("x", {}), "x")
  end },
})
