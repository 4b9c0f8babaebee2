-- Password reset requests: POST /users/password-reset, cycling through names.
--   wrk ... -s reset.lua URL/users/password-reset -- NAME...
-- Counts the responses by status and prints one "status CODE COUNT" line per status when done.

-- Counting the responses by status, and the report of them: statuses.lua beside this file.
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "statuses.lua")

local names = {}
local sent = 0

function init(args)
  names = args
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  sent = sent + 1
  local body = string.format('{"username":"%s"}', names[(sent % #names) + 1])
  return wrk.format(nil, nil, nil, body)
end
