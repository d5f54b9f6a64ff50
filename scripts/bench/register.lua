-- wrk: POST a registration with a fresh eventId each time (BENCH_KEY: a public key).
local key = os.getenv("BENCH_KEY") or "rm_pub_bench"
local counter = 0
local prefix

function init(args)
  math.randomseed(os.time() + math.floor(os.clock() * 1e6) + tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 1e6)
  prefix = string.format("%08x-%04x-4%03x", math.random(0, 0x7fffffff), math.random(0, 0xffff), math.random(0, 0xfff))
end

function request()
  counter = counter + 1
  local id = string.format("%s-%04x-%012x", prefix, 0x8000 + math.random(0, 0x3fff), counter)
  local body = '{"event":"webcodec-conversion","apiKey":"' .. key ..
    '","host":"https://customer.com","succeeded":true,"eventId":"' .. id .. '"}'
  return wrk.format("POST", "/api/track/register-usage-point", { ["Content-Type"] = "application/json" }, body)
end
