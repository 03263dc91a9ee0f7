-- etcd_put.lua — etcd v3 JSON gateway: POST /v3/kv/put of a distinct new key
-- per request, the value being the same bytes M31's PUT stores:
--   wrk -s etcd_put.lua http://HOST:PORT -- RUNTAG
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local C = dofile(dir .. "common.lua")
setup = C.setup

local tag, n = "r", 0
local headers = { ["Content-Type"] = "application/json" }

function init(args)
  tag = "bench/" .. (args[1] or tag) .. "-t" .. tostring(thread_id or 0)
end

function request()
  n = n + 1
  local body = '{"key":"' .. C.base64(tag .. "-" .. n) .. '","value":"' ..
    C.base64(C.body(n)) .. '"}'
  return wrk.format("POST", "/v3/kv/put", headers, body)
end
