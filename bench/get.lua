-- wrk: GET with a bearer token (BENCH_TOKEN), e.g. a cached chart.
local token = os.getenv("BENCH_TOKEN")
request = function()
  return wrk.format("GET", nil, {["Authorization"] = "Bearer " .. token})
end
