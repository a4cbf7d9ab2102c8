-- One wrk script for every scenario of bench/run.py.
-- Arguments (after `--`): scenario, users file ("<access token> <username>" per line), path.
-- Scenarios: transfer, deposit, withdraw (POST, random user and amount), get (GET `path` as a
-- random user of the file), anonymous (GET `path` without a token).
-- done() prints one line "BENCH_JSON {...}" that run.py parses.

local threads = {}

function setup(thread)
  thread:set("thread_id", #threads + 1)
  table.insert(threads, thread)
end

-- Globals (not locals) so that done() can read them from each thread with thread:get().
ok, client_errors, server_errors, other_status = 0, 0, 0, 0

local scenario, path
local users = {}

function init(args)
  scenario, path = args[1], args[3]
  for line in io.lines(args[2]) do
    local token, name = line:match("^(%S+)%s+(%S+)$")
    if token then
      users[#users + 1] = { auth = "Bearer " .. token, name = name }
    end
  end
  -- Each thread draws its own sequence of users and amounts.
  math.randomseed(os.time() * 100 + thread_id)
end

local function amount()
  return string.format("%d.%02d", math.random(0, 9), math.random(1, 99))
end

local function pick()
  return users[math.random(#users)]
end

function request()
  if scenario == "anonymous" then
    return wrk.format("GET", path)
  end
  local user = pick()
  local headers = { ["Authorization"] = user.auth }
  if scenario == "get" then
    return wrk.format("GET", path, headers)
  end
  headers["Content-Type"] = "application/json"
  local body
  if scenario == "transfer" then
    local recipient = pick()
    while recipient == user do
      recipient = pick()
    end
    body = string.format('{"recipient": "%s", "amount": "%s"}', recipient.name, amount())
  else
    body = string.format('{"amount": "%s", "description": "bench"}', amount())
  end
  return wrk.format("POST", "/api/balance/v1/" .. scenario .. "/", headers, body)
end

function response(status, headers, body)
  if status >= 200 and status < 300 then
    ok = ok + 1
  elseif status >= 400 and status < 500 then
    client_errors = client_errors + 1
  elseif status >= 500 then
    server_errors = server_errors + 1
  else
    other_status = other_status + 1
  end
end

function done(summary, latency, requests)
  local counts = { ok = 0, client_errors = 0, server_errors = 0, other_status = 0 }
  for _, thread in ipairs(threads) do
    for name, _ in pairs(counts) do
      counts[name] = counts[name] + (thread:get(name) or 0)
    end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
    '"ok": %d, "client_errors": %d, "server_errors": %d, "other_status": %d, ' ..
    '"socket_errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d}, ' ..
    '"latency_us": {"mean": %.1f, "max": %d, "p50": %d, "p90": %d, "p95": %d, "p99": %d}}\n',
    summary.requests, summary.duration, summary.bytes,
    counts.ok, counts.client_errors, counts.server_errors, counts.other_status,
    e.connect, e.read, e.write, e.timeout,
    latency.mean, latency.max, latency:percentile(50), latency:percentile(90),
    latency:percentile(95), latency:percentile(99)))
end
