-- wrk script for scripts/bench-scale-out.sh: POSTs BODY_FILE (JSON) with the admin token, and
-- counts the answers by replica (HAProxy's `depot-lb-server` header), version
-- (`depot-served-by`, e.g. iris/2) and status.
--   BODY_FILE    request body (JSON)
--   DEPOT_TOKEN  optional: sent as `Authorization: Bearer <token>`
-- Prints at the end (wrk also prints them when stopped with SIGINT):
--   RESULT requests=N duration_us=D rps=R p50_us=.. p90_us=.. p99_us=.. max_us=.. non2xx=.. connect=.. read=.. write=.. timeout=..
--   COUNT <replica> <model/version> <status> <n>     (one line each; "-" where a header was absent)
-- (wrk's latency is in microseconds; "non2xx" is wrk's "Non-2xx or 3xx responses").
local f = assert(io.open(assert(os.getenv("BODY_FILE"), "BODY_FILE is required"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
local token = os.getenv("DEPOT_TOKEN")
if token ~= nil and token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  counts = {}
end

function response(status, headers, body)
  local key = (headers["depot-lb-server"] or "-") .. " " .. (headers["depot-served-by"] or "-") .. " " .. status
  counts[key] = (counts[key] or 0) + 1
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d rps=%.1f p50_us=%d p90_us=%d p99_us=%d max_us=%d non2xx=%d connect=%d read=%d write=%d timeout=%d\n",
    summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.status, e.connect, e.read, e.write, e.timeout))
  local total = {}
  for _, thread in ipairs(threads) do
    for key, n in pairs(thread:get("counts") or {}) do
      total[key] = (total[key] or 0) + n
    end
  end
  local keys = {}
  for key in pairs(total) do table.insert(keys, key) end
  table.sort(keys)
  for _, key in ipairs(keys) do
    io.write(string.format("COUNT %s %d\n", key, total[key]))
  end
end
