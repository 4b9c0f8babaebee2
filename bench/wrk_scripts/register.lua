-- A registration flood: POST /users, each with a name never used before.
--   wrk ... -s register.lua URL/users -- PASSWORD NAME_PREFIX
-- Counts the responses by status and prints one "status CODE COUNT" line per status when done.

-- Counting the responses by status, and the report of them: statuses.lua beside this file.
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "statuses.lua")

local password = ""
local prefix = ""
local sent = 0

function init(args)
  password = args[1]
  prefix = args[2]
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  sent = sent + 1
  local body = string.format('{"username":"%s%d","password":"%s"}', prefix, sent, password)
  return wrk.format(nil, nil, nil, body)
end
