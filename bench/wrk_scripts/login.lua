-- POST /token with the OAuth2 password grant, cycling through the users named after "--":
--   wrk ... -s login.lua URL/token -- PASSWORD USER1 [USER2 ...]
-- Each login comes from an address of its own (X-Forwarded-For, from a TEST-NET range; the
-- benchmark's server trusts 127.0.0.1 as its proxy), as many people's logins would: keygate
-- counts every attempt in per-address windows before it checks it, so one address sending
-- them all would measure throttling instead of logins.
-- A client turned away (503) waits as long as Retry-After says before its next login, as
-- well-behaved clients do. Counts the responses by status and prints one
-- "status CODE COUNT" line per status when done.

-- Counting the responses by status, and the report of them: statuses.lua beside this file.
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "statuses.lua")

local bodies = {}
local next_body = 1
local next_address = 0
-- 503s whose Retry-After has not been waited yet: each delays one next request. (wrk keeps
-- script state per thread, not per connection, so the wait may fall on another connection of
-- the thread; the number and length of the waits are the same.)
local backoffs = 0
local retry_after_ms = 1000

function init(args)
  local password = args[1]
  for i = 2, #args do
    table.insert(bodies, "grant_type=password&username=" .. args[i] .. "&password=" .. password)
  end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end

function request()
  local body = bodies[next_body]
  next_body = next_body % #bodies + 1
  next_address = next_address % 500 + 1
  local address
  if next_address <= 250 then
    address = "198.51.100." .. next_address
  else
    address = "203.0.113." .. (next_address - 250)
  end
  local headers = {["Content-Type"] = "application/x-www-form-urlencoded"}
  headers["X-Forwarded-For"] = address
  return wrk.format(nil, nil, headers, body)
end

function delay()
  if backoffs > 0 then
    backoffs = backoffs - 1
    return retry_after_ms
  end
  return 0
end

local count = response -- statuses.lua's

function response(status, headers, body)
  count(status, headers, body)
  if status == 503 then
    backoffs = backoffs + 1
    local seconds = tonumber(headers["Retry-After"] or headers["retry-after"])
    retry_after_ms = (seconds or 1) * 1000
  end
end
