-- scripts/bench session, phase (b): wrk sends GET /api/v1/session with a
-- random token of the working set, as the direct phase does.
-- Arguments (after "--"): working-set size, sessions loaded, stride; the
-- token of working-set member k is bench-token-<(k * stride) % sessions + 1>.
-- done() prints one machine-readable line for scripts/bench.

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_no", threads)
end

local ws, sessions, stride
function init(args)
  ws, sessions, stride = tonumber(args[1]), tonumber(args[2]), tonumber(args[3])
  assert(ws and sessions and stride, "usage: wrk ... -- WORKING_SET SESSIONS STRIDE")
  math.randomseed(os.time() * 1000 + (thread_no or 0))
end

function request()
  local n = (math.random(1, ws) * stride) % sessions + 1
  return wrk.format("GET", "/api/v1/session", {
    ["Authorization"] = string.format("Bearer bench-token-%d", n),
    ["User-Agent"] = "bench/1.0",
  })
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d p50_us=%d p99_us=%d non2xx3xx=%d connect=%d read=%d write=%d timeout=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.connect, e.read, e.write, e.timeout))
end
