-- etcd_range.lua — etcd v3 JSON gateway: POST /v3/kv/range of one key:
--   wrk -s etcd_range.lua http://HOST:PORT -- KEY [serializable]
-- "serializable" answers from the member's own state (no read index): the
-- fastest read etcd offers; without it the read is linearizable.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local C = dofile(dir .. "common.lua")

function init(args)
  local extra = args[2] == "serializable" and ',"serializable":true' or ""
  wrk.method = "POST"
  wrk.path = "/v3/kv/range"
  wrk.headers["Content-Type"] = "application/json"
  wrk.body = '{"key":"' .. C.base64(args[1] or "bench/hot") .. '"' .. extra .. '}'
end
