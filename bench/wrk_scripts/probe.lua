-- A light probe (a load balancer's health check): each connection waits 50 ms between
-- requests, so the probe measures latency without adding load of its own.

function delay()
  return 50
end
