-- Counts the responses by status and prints one "status CODE COUNT" line per status when done
-- (bench/loadgen.py reads them): the outage figure tells its 503s from any other answer.

local threads = {}
counts = {} -- global, so that done() can read each thread's copy with thread:get

function setup(thread)
  table.insert(threads, thread)
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
