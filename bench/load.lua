-- wrk script: sends pre-built HTTP requests, round robin, closed-loop or at a fixed rate.
--
-- wrk -s load.lua URL -- REQUESTS_FILE RATE_PER_THREAD MAX_REQUESTS_PER_THREAD
--   REQUESTS_FILE  raw HTTP/1.1 requests, each preceded by a line holding its length in bytes
--   RATE           requests per second per thread; 0 sends each request as soon as the last answered
--   MAX_REQUESTS   the thread stops after this many requests, whatever the duration
--
-- At a fixed rate, request slots follow an absolute schedule (slot k at start + k / RATE) shared
-- by the thread's connections, so a slow answer does not slow the offered rate down: the next free
-- connection takes the slot. A slot taken more than 1 ms after its time (every connection was
-- busy) counts as late; wrk measures latency from the actual send, so a run with late slots would
-- understate latency (coordinated omission) and the bench reports the count.

local ffi = require("ffi")
ffi.cdef([[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock_id, bench_timespec *tp);
]])
local CLOCK_MONOTONIC = 1
local clock = ffi.new("bench_timespec")

local function now_ms()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, clock)
  return tonumber(clock.tv_sec) * 1000 + tonumber(clock.tv_nsec) / 1e6
end

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

local requests = {}
local index = 0
local cap = 0
sent = 0
late = 0

local interval = 0
local next_slot = nil

local function paced_delay()
  local now = now_ms()
  if next_slot == nil then
    next_slot = now
  end
  local slot = next_slot
  next_slot = next_slot + interval
  if slot < now - 1 then
    late = late + 1
  end
  local wait = slot - now
  if wait <= 0 then
    return 0
  end
  return math.floor(wait + 0.5)
end

function init(args)
  local file = assert(io.open(args[1], "rb"))
  while true do
    local length = file:read("*l")
    if not length then
      break
    end
    table.insert(requests, file:read(tonumber(length)))
  end
  file:close()
  local rate = tonumber(args[2])
  cap = tonumber(args[3])
  if rate > 0 then
    interval = 1000 / rate
    delay = paced_delay
  end
end

function request()
  sent = sent + 1
  if sent > cap then
    wrk.thread:stop()
  end
  index = index % #requests + 1
  return requests[index]
end

function done(summary, latency, _)
  local total_late, total_sent = 0, 0
  for _, thread in ipairs(threads) do
    total_late = total_late + thread:get("late")
    total_sent = total_sent + thread:get("sent")
  end
  local errors = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,'
      .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},"late":%d,"sent":%d}\n',
    summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    errors.connect, errors.read, errors.write, errors.status, errors.timeout, total_late, total_sent
  ))
end
