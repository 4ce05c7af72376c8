-- wrk script for scripts/bench-proxy: POSTs the real 5.6 KB Python SDK error envelope of the
-- harness captures, with a fresh event id in every request so that no two bodies are the same
-- (identical payloads would be stored once and skip the insert).
local template = nil
local key = os.getenv("BENCH_KEY")
local project = os.getenv("BENCH_PROJECT")
local template_path = os.getenv("BENCH_ENVELOPE")
local old_id = "f86061c800e640538b67067ad209a674"

local function read_template()
  local f = assert(io.open(template_path, "rb"))
  local data = f:read("*a")
  f:close()
  return data
end

function setup(thread)
  thread:set("seed", math.random(1, 1e9))
end

function init(args)
  math.randomseed(seed or os.time())
  template = read_template()
  wrk.method = "POST"
  wrk.path = "/api/" .. project .. "/envelope/"
  wrk.headers["Content-Type"] = "application/x-sentry-envelope"
  wrk.headers["X-Sentry-Auth"] = "Sentry sentry_key=" .. key .. ", sentry_version=7, sentry_client=wrk/1.0"
end

local function new_id()
  return string.format("%08x%08x%08x%08x", math.random(0, 0x7fffffff), math.random(0, 0x7fffffff),
                       math.random(0, 0x7fffffff), math.random(0, 0x7fffffff))
end

function request()
  local body = template:gsub(old_id, new_id())
  return wrk.format(nil, nil, nil, body)
end

local statuses = {}
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  io.write(string.format("RESULT requests=%d duration_s=%.2f rps=%.0f p50_ms=%.2f p99_ms=%.2f max_ms=%.2f errors_status=%d errors_socket=%d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
