-- Mixed traffic for the memory soak, in turn: bearer and Basic on /users/me, bearer on
-- /products, and /health.
--   wrk ... -s soak.lua URL -- ACCESS_TOKEN BASIC_CREDENTIALS

local requests = {}
local turn = 0

function init(args)
  local bearer = { Authorization = "Bearer " .. args[1] }
  local basic = { Authorization = "Basic " .. args[2] }
  requests = {
    wrk.format("GET", "/users/me", bearer),
    wrk.format("GET", "/users/me", basic),
    wrk.format("GET", "/products", bearer),
    wrk.format("GET", "/health"),
  }
end

function request()
  turn = turn % #requests + 1
  return requests[turn]
end
