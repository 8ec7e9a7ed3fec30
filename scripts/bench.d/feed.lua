-- scripts/bench feed, gateway phase: wrk sends GET /api/v1/activities (the
-- home feed's first page, 20 items), as feed-first.pgbench calls it directly.
-- done() prints one machine-readable line for scripts/bench, as session.lua.

local req
function init(args)
  req = wrk.format("GET", "/api/v1/activities", { ["User-Agent"] = "bench/1.0" })
end

function request()
  return req
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d p50_us=%d p99_us=%d non2xx3xx=%d connect=%d read=%d write=%d timeout=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.connect, e.read, e.write, e.timeout))
end
