-- m31_patch.lua — durable PATCH {"n": {"$incr": 1}} on 1,000 counters, each
-- thread walking them from its own offset:
--   wrk -s m31_patch.lua http://HOST:PORT -- SPACE
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local C = dofile(dir .. "common.lua")
setup = C.setup

local space, n = "bench", 0
local headers = { ["Content-Type"] = "application/json" }
local body = '{"attrs":{"n":{"$incr":1}}}'

function init(args)
  space = args[1] or space
  n = (thread_id or 0) * 500
end

function request()
  n = n + 1
  return wrk.format("PATCH", "/fs/" .. space .. "/ctr-" .. (n % 1000), headers, body)
end
