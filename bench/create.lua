-- wrk script: POST /v1/orders with a fresh Idempotency-Key per request.
-- Usage: wrk -t2 -c64 -d10s -s bench/create.lua http://127.0.0.1:8080
local threads = {}
function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end
local n = 0
function request()
  n = n + 1
  local key = tid .. "-" .. n
  local body = '{"user_id":"u' .. (n % 997) .. '","items":[{"sku":"A","quantity":1}]}'
  return wrk.format("POST", "/v1/orders",
    {["Idempotency-Key"] = key, ["Content-Type"] = "application/json"}, body)
end
function done(summary, latency, requests)
  io.write(string.format("status errors: %d non-2xx of %d\n",
    summary.errors.status, summary.requests))
end
