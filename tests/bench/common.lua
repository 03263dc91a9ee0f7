-- common.lua — helpers shared by the wrk scripts of this folder (loaded with
-- dofile from the script's own directory). wrk runs LuaJIT: `bit` is there.

local M = {}

local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local enc = {}
for i = 1, 64 do enc[i - 1] = alphabet:sub(i, i) end

-- Standard base64 (RFC 4648, with padding), as etcd's JSON gateway wants
-- for its bytes fields.
function M.base64(s)
  local out, n = {}, #s
  for i = 1, n, 3 do
    local a, b, c = s:byte(i, i + 2)
    local v = a * 65536 + (b or 0) * 256 + (c or 0)
    out[#out + 1] = enc[bit.rshift(v, 18) % 64] .. enc[bit.rshift(v, 12) % 64] ..
      (b and enc[bit.rshift(v, 6) % 64] or "=") .. (c and enc[v % 64] or "=")
  end
  return table.concat(out)
end

-- The value every write benchmark stores (the same bytes on both servers).
function M.body(n)
  return string.format('{"attrs":{"n":%d,"s":"bench-value-%08d"}}', n, n)
end

-- wrk calls setup() once per thread in the main state: number the threads
-- so each one writes its own keys.
local next_id = 0
function M.setup(thread)
  thread:set("thread_id", next_id)
  next_id = next_id + 1
end

return M
