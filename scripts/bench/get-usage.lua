-- wrk: POST get-usage with the secret key BENCH_SECRET (this month).
local body = '{"apiKey":"' .. (os.getenv("BENCH_SECRET") or "") .. '","since":null}'
function request()
  return wrk.format("POST", "/api/track/get-usage", { ["Content-Type"] = "application/json" }, body)
end
