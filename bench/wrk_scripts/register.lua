-- A registration flood: POST /users, each with a name never used before.
--   wrk ... -s register.lua URL/users -- PASSWORD NAME_PREFIX
-- Counts the responses by status and prints one "status CODE COUNT" line per status when done.

local threads = {}
counts = {} -- global, so that done() can read each thread's copy with thread:get

local password = ""
local prefix = ""
local sent = 0

function setup(thread)
  table.insert(threads, thread)
end

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
