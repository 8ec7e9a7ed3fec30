-- scripts/bench session, phases (b) and (c): wrk sends GET /api/v1/session
-- to the gateway or to the floor (scripts/bench.d/floor) with a random token
-- of the working set, as the direct phase does.
-- Arguments (after "--"): working-set size, sessions loaded, stride; the
-- token of working-set member k is bench-token-<(k * stride) % sessions + 1>.
-- done() prints one machine-readable line for scripts/bench.

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_no", threads)
end

-- Requests are formatted once in init(): wrk shares the two cores with the
-- gateway and PostgreSQL, and formatting one per call in Lua would spend
-- load-generator CPU that pgbench (in C) does not.
local reqs = {}
function init(args)
  local ws, sessions, stride = tonumber(args[1]), tonumber(args[2]), tonumber(args[3])
  assert(ws and sessions and stride, "usage: wrk ... -- WORKING_SET SESSIONS STRIDE")
  math.randomseed(os.time() * 1000 + (thread_no or 0))
  for k = 1, ws do
    reqs[k] = wrk.format("GET", "/api/v1/session", {
      ["Authorization"] = string.format("Bearer bench-token-%d", (k * stride) % sessions + 1),
      ["User-Agent"] = "bench/1.0",
    })
  end
end

function request()
  return reqs[math.random(1, #reqs)]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d p50_us=%d p99_us=%d non2xx3xx=%d connect=%d read=%d write=%d timeout=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.connect, e.read, e.write, e.timeout))
end
