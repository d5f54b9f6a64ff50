-- wrk: POST a registration with a fresh eventId each time (BENCH_KEY: a public key).
local key = os.getenv("BENCH_KEY") or "rm_pub_bench"
local counter = 0
local prefix

function init(args)
  math.randomseed(os.time() + math.floor(os.clock() * 1e6) + tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 1e6)
  prefix = string.format("%08x-%04x-4%03x", math.random(0, 0x7fffffff), math.random(0, 0xffff), math.random(0, 0xfff))
end

-- BENCH_IDS=v7: UUID v7 ids (the wall clock's milliseconds, then random bits), as this
-- module makes them; otherwise random (v4-shaped) ids, as @remotion/licensing clients send.
local time_ordered = os.getenv("BENCH_IDS") == "v7"
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock, bench_timespec *now);
]]
local now = ffi.new("bench_timespec")

local function v7_id()
  ffi.C.clock_gettime(0, now) -- CLOCK_REALTIME
  local ms = string.format("%012x", tonumber(now.tv_sec) * 1000 + math.floor(tonumber(now.tv_nsec) / 1e6))
  return string.format("%s-%s-7%03x-%04x-%04x%08x", ms:sub(1, 8), ms:sub(9, 12), math.random(0, 0xfff),
    0x8000 + math.random(0, 0x3fff), math.random(0, 0xffff), math.random(0, 0x7fffffff))
end

function request()
  counter = counter + 1
  local id = time_ordered and v7_id() or string.format("%s-%04x-%012x", prefix, 0x8000 + math.random(0, 0x3fff), counter)
  local body = '{"event":"webcodec-conversion","apiKey":"' .. key ..
    '","host":"https://customer.com","succeeded":true,"eventId":"' .. id .. '"}'
  return wrk.format("POST", "/api/track/register-usage-point", { ["Content-Type"] = "application/json" }, body)
end
