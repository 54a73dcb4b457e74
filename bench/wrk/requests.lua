-- wrk script: GET or POST one path, rotating over signed-in sessions.
--   wrk ... -s bench/wrk/requests.lua URL -- SESSIONS_FILE METHOD PATH
-- SESSIONS_FILE has one "cookie<TAB>csrf-token" line per user ("-" for none).
local sessions = {}
local counter = 0
local method = "GET"
local path = "/"

function init(args)
  local file = args[1]
  method = args[2] or "GET"
  path = args[3] or "/"
  if file and file ~= "-" then
    for line in io.lines(file) do
      local cookie, token = line:match("^([^\t]+)\t(.*)$")
      if cookie then table.insert(sessions, {cookie, token}) end
    end
  end
  counter = math.random(0, math.max(#sessions, 1) - 1)
end

function request()
  local headers = {["User-Agent"] = "wrk"}
  local body = nil
  if #sessions > 0 then
    counter = counter % #sessions + 1
    headers["Cookie"] = "__Host-session=" .. sessions[counter][1]  -- SITE_URL is https in the bench
    if method == "POST" then headers["X-CSRFToken"] = sessions[counter][2] end
  end
  if method == "POST" then
    headers["Content-Type"] = "application/json"
    body = "{}"
  end
  return wrk.format(method, path, headers, body)
end
