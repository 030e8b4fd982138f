-- wrk script: POST /v1/events with a small JSONL batch of new deployments.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-ndjson"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("BEARING_TOKEN") or "")
local thread_id = 0
local counter = 0
setup = function(thread)
  thread:set("tid", thread_id)
  thread_id = thread_id + 1
end
request = function()
  counter = counter + 1
  local lines = {}
  for i = 1, 10 do
    lines[i] = string.format(
      '{"id":"load:%d:%d:%d","source":"wrk","time":"2026-11-20T12:00:00Z","service":"catalog","environment":"staging","kind":"deployment","data":{"deployment_id":"load-%d-%d-%d","status":"success","version":"9.9.%d"}}',
      tid, counter, i, tid, counter, i, i)
  end
  return wrk.format(nil, "/v1/events", nil, table.concat(lines, "\n"))
end
