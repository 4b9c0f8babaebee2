-- Failing logins from 5 addresses, as a crowd that wants to keep the login queue full:
--   wrk ... -s crowd.lua URL/token -- ADDRESS_PREFIX
-- Each login names a user that does not exist, with a wrong password, from one of the
-- addresses ADDRESS_PREFIX1 to ADDRESS_PREFIX5 (X-Forwarded-For; the benchmark's server
-- trusts 127.0.0.1 as its proxy). A new prefix each run keeps each run's crowd clear of the
-- throttling windows of the one before. A crowd does not wait for Retry-After. Counts the
-- responses by status and prints one "status CODE COUNT" line per status when done.

-- Counting the responses by status, and the report of them: statuses.lua beside this file.
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "statuses.lua")
local counter = 0

function init(args)
  prefix = args[1]
  wrk.method = "POST"
end

function request()
  counter = counter + 1
  local headers = {["Content-Type"] = "application/x-www-form-urlencoded"}
  headers["X-Forwarded-For"] = prefix .. (counter % 5 + 1)
  local body = "grant_type=password&username=crowd" .. counter .. "&password=not-the-password"
  return wrk.format(nil, nil, headers, body)
end
