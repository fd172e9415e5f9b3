-- wrk script of the session bench: `wrk ... -s session.lua <url> -- <METHOD> <path> [cookie file]`.
-- Every request is built once in init(); request() hands them out in turn, one cookie (session) after another, so
-- concurrent writes go to different sessions. done() prints one JSON line the bench parses.

local requests = {}
local next_request = 0

function init(args)
  local method, path, cookies = args[1], args[2], args[3]
  local headers = {}
  if method == "POST" then headers["Content-Length"] = "0" end
  if cookies ~= nil and cookies ~= "" then
    for line in io.lines(cookies) do
      if line ~= "" then
        local with_cookie = { Cookie = line }
        for name, value in pairs(headers) do with_cookie[name] = value end
        requests[#requests + 1] = wrk.format(method, path, with_cookie)
      end
    end
  end
  if #requests == 0 then requests[1] = wrk.format(method, path, headers) end
end

function request()
  next_request = next_request % #requests + 1
  return requests[next_request]
end

function done(summary, latency, _)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"durationUs":%d,"connectErrors":%d,"readErrors":%d,"writeErrors":%d,' ..
    '"statusErrors":%d,"timeouts":%d,"p50Us":%d,"p90Us":%d,"p99Us":%d,"maxUs":%d,"meanUs":%.1f}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
