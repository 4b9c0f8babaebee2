-- Password reset requests: POST /users/password-reset, cycling through names.
--   wrk ... -s reset.lua URL/users/password-reset -- NAME...
-- Counts the responses by status and prints one "status CODE COUNT" line per status when done.

local threads = {}
counts = {} -- global, so that done() can read each thread's copy with thread:get

local names = {}
local sent = 0

function setup(thread)
  table.insert(threads, thread)
end

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
