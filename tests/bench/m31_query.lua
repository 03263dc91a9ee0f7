-- m31_query.lua — a selective indexed search: GET /fs/SPACE?grp=G with G
-- spread over GROUPS values (each matching about 10 objects):
--   wrk -s m31_query.lua http://HOST:PORT -- SPACE GROUPS
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local C = dofile(dir .. "common.lua")
setup = C.setup

local space, groups, n = "big", 100000, 0

function init(args)
  space = args[1] or space
  groups = tonumber(args[2]) or groups
  n = (thread_id or 0) * 104729
end

function request()
  n = n + 7919
  return wrk.format("GET", "/fs/" .. space .. "?grp=" .. (n % groups))
end
