-- wrk script: POST /v1/orders with a fresh Idempotency-Key per request.
-- Usage: wrk -t2 -c64 -d10s -s bench/create.lua http://127.0.0.1:8080
-- Users: ORDO_BENCH_USERS=N cycles through N users (default 997; run the
-- node with --rate-limit off --captcha-after 0, or most creates get 429);
-- ORDO_BENCH_USERS=0 makes every request a new user (the limiter admits
-- each, so its cost is measured with the default limits).
local users = tonumber(os.getenv("ORDO_BENCH_USERS") or "997")
local threads = {}
function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end
local n = 0
function request()
  n = n + 1
  local key = tid .. "-" .. n
  local user = users > 0 and tostring(n % users) or key
  local body = '{"user_id":"u' .. user .. '","items":[{"sku":"A","quantity":1}]}'
  return wrk.format("POST", "/v1/orders",
    {["Idempotency-Key"] = key, ["Content-Type"] = "application/json"}, body)
end
function done(summary, latency, requests)
  io.write(string.format("status errors: %d non-2xx of %d\n",
    summary.errors.status, summary.requests))
end
