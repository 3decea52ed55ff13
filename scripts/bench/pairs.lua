-- wrk script: each request carries the next pair from PAIRS (one "ACCESS ID" per line): the access token as the
-- bearer and, unless COMPANION is "off", its ID token as the X-AiDial-ID-Token companion.
local pairs_ = {}
local i = 0
local companion = os.getenv("COMPANION") ~= "off"
init = function(args)
  for line in io.lines(os.getenv("PAIRS")) do
    local access, id = line:match("^(%S+) (%S+)$")
    if access then pairs_[#pairs_ + 1] = { access, id } end
  end
end
request = function()
  i = i % #pairs_ + 1
  local headers = { ["Authorization"] = "Bearer " .. pairs_[i][1] }
  if companion then headers["X-AiDial-ID-Token"] = pairs_[i][2] end
  return wrk.format("GET", wrk.path, headers)
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT rps=%.0f p50_ms=%.2f p99_ms=%.2f errors=%d non2xx=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
end
