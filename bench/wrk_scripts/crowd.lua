-- Failing logins from 5 addresses, as a crowd that wants to keep the login queue full:
--   wrk ... -s crowd.lua URL/token -- ADDRESS_PREFIX
-- Each login names a user that does not exist, with a wrong password, from one of the
-- addresses ADDRESS_PREFIX1 to ADDRESS_PREFIX5 (X-Forwarded-For; the benchmark's server
-- trusts 127.0.0.1 as its proxy). A new prefix each run keeps each run's crowd clear of the
-- throttling windows of the one before. A crowd does not wait for Retry-After. Counts the
-- responses by status and prints one "status CODE COUNT" line per status when done.

local threads = {}
counts = {} -- global, so that done() can read each thread's copy with thread:get
local counter = 0

function setup(thread)
  table.insert(threads, thread)
end

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

function response(status, headers, body)
  counts[status] = (counts[status] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("counts")) do
      total[status] = (total[status] or 0) + count
    end
  end
  for status, count in pairs(total) do
    io.write(string.format("status %d %d\n", status, count))
  end
end
