-- wrk: PUT today's check-in for one of many patients, round robin, each with its own bearer token.
-- BENCH_TOKENS holds "token:date" pairs separated by commas (the date is the patient's local today).
local pairs_env = os.getenv("BENCH_TOKENS")
local targets = {}
for pair in string.gmatch(pairs_env, "([^,]+)") do
  local token, day = string.match(pair, "([^:]+):(.+)")
  table.insert(targets, {token = token, day = day})
end
local counter = 0

request = function()
  counter = counter + 1
  local target = targets[(counter % #targets) + 1]
  local body = string.format('{"mood": %d, "note": "bench %d"}', counter % 11, counter)
  return wrk.format("PUT", "/api/v1/checkins/" .. target.day, {
    ["Authorization"] = "Bearer " .. target.token,
    ["Content-Type"] = "application/json",
  }, body)
end
