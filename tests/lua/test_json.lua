-- json.encode / json.decode (src/lua/l_json.c) through the task-file API.
local t = require("harness")
local json = require("dbtrun.api").json

return t.run("test_json", {
  { "round trip", function()
    local text = '{"a":[1,2.5,"x",true,false,null],"b":{"c":"é ✓"},"empty":[],"obj":{}}'
    local v = json.decode(text)
    t.eq(v.a[1], 1)
    t.eq(math.type(v.a[1]), "integer")
    t.eq(v.a[2], 2.5)
    t.eq(v.a[6], json.null)
    t.eq(v.b.c, "é ✓")
    t.eq(json.encode(v), '{"a":[1,2.5,"x",true,false,null],"b":{"c":"é ✓"},"empty":[],"obj":{}}')
  end },
  { "keys are sorted, sequences are arrays", function()
    t.eq(json.encode({ b = 1, a = { 3, 2, 1 } }), '{"a":[3,2,1],"b":1}')
    t.eq(json.encode(json.array()), "[]")
    t.eq(json.encode({}), "{}")
    t.eq(json.encode("quote\"and\n"), '"quote\\"and\\n"')
  end },
  { "encode refuses what JSON cannot hold", function()
    t.raises(function() json.encode({ f = print }) end, "cannot encode a function")
    local cycle = {}
    cycle.self = cycle
    t.raises(function() json.encode(cycle) end, "cycle")
    t.raises(function() json.encode({ [1] = "a", x = "b" }) end, "mixed")
    t.raises(function() json.encode(0 / 0) end, "NaN")
  end },
  { "decode errors are raised with a position", function()
    local msg = t.raises(function() json.decode('{"a": [1, 2,') end, "invalid JSON")
    t.check(msg:find("json.decode"), msg)
    local ok, err = pcall(json.decode, "nope")
    t.check(not ok and err.op == "json.decode", tostring(err))
  end },
})
