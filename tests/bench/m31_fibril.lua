-- m31_fibril.lua — POST /fibrils by fingerprint: a trivial fibril per
-- request (code registered once with POST /code by run.sh):
--   wrk -s m31_fibril.lua http://HOST:PORT -- FINGERPRINT FN
-- Against bare_mhd the same request is sent (and answered with its bytes).
function init(args)
  wrk.method = "POST"
  wrk.path = "/fibrils"
  wrk.headers["Content-Type"] = "application/json"
  wrk.body = '{"code":"' .. (args[1] or "sha256:") .. '","fn":"' .. (args[2] or "f") .. '"}'
end
