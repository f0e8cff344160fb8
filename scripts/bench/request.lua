-- wrk script for scripts/bench-serving.sh.
--   BODY_FILE  request body (JSON); when unset or empty the request is a GET (e.g. /healthz)
--   INFERENCE_HEADER_LENGTH  optional: the body is OIP binary (JSON header of that many bytes + raw tensors)
--   DEPOT_TOKEN  optional: sent as `Authorization: Bearer <token>` (GET requests too)
-- Prints one machine-readable line at the end:
--   RESULT requests=N duration_us=D rps=R p50_us=.. p90_us=.. p99_us=.. max_us=.. non2xx=.. connect=.. read=.. write=.. timeout=..
-- (wrk's latency is in microseconds; "non2xx" is wrk's "Non-2xx or 3xx responses").
local path = os.getenv("BODY_FILE")
if path ~= nil and path ~= "" then
  local f = assert(io.open(path, "rb"))
  wrk.method = "POST"
  wrk.body = f:read("*a")
  f:close()
  wrk.headers["Content-Type"] = "application/json"
  -- Open Inference Protocol binary tensors: the JSON header's length (the body is that JSON
  -- followed by the raw little-endian tensor bytes).
  local hlen = os.getenv("INFERENCE_HEADER_LENGTH")
  if hlen ~= nil and hlen ~= "" then
    wrk.headers["Content-Type"] = "application/octet-stream"
    wrk.headers["Inference-Header-Content-Length"] = hlen
  end
else
  wrk.method = "GET"
end
local token = os.getenv("DEPOT_TOKEN")
if token ~= nil and token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d rps=%.1f p50_us=%d p90_us=%d p99_us=%d max_us=%d non2xx=%d connect=%d read=%d write=%d timeout=%d\n",
    summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.status, e.connect, e.read, e.write, e.timeout))
end
