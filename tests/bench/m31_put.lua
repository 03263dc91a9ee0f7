-- m31_put.lua — durable PUT of a distinct new object per request:
--   wrk -s m31_put.lua http://HOST:PORT -- SPACE RUNTAG
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local C = dofile(dir .. "common.lua")
setup = C.setup

local space, tag, n = "bench", "r", 0
local headers = { ["Content-Type"] = "application/json" }

function init(args)
  space = args[1] or space
  tag = (args[2] or tag) .. "-t" .. tostring(thread_id or 0)
end

function request()
  n = n + 1
  return wrk.format("PUT", "/fs/" .. space .. "/" .. tag .. "-" .. n, headers, C.body(n))
end
