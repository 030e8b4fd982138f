-- wrk script: POST /v1/decide with a realistic change envelope per service.
-- The requests are built once, so wrk spends its time sending, not formatting.
-- The token comes from the BEARING_TOKEN environment variable.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("BEARING_TOKEN") or "")
local services = {"checkout", "payments-api", "search", "catalog", "auth", "web-frontend"}
local requests = {}
for i, s in ipairs(services) do
  requests[i] = wrk.format(nil, "/v1/decide", nil, string.format(
    '{"service":"%s","environment":"production","version":"1.42.%d","commit":"3f2a9c1d8b7e6f5a4c3b2a1908f7e6d5c4b3a291","author":"ci-bot","labels":["feature"],"change_size":%d,"strategy":"direct","checks":{"tests":"passed","scan":"passed"}}',
    s, i, 40 * i))
end
local n = 0
request = function()
  n = n + 1
  return requests[(n % #requests) + 1]
end
