-- HTTP announce load for wrk (used by benches/scripts/tracker_http_vs_opentracker.sh).
--
--   wrk -t1 -c32 -d10s -s announce.lua http://127.0.0.1:PORT -- warmup [FIRST_PEER]
--   wrk -t1 -c32 -d10s -s announce.lua http://127.0.0.1:PORT -- measure
--   TRACKER_BENCH_WHITELIST=FILE wrk -t1 -c1 -d1s -s announce.lua http://127.0.0.1:9
--
-- The swarms: 10,000 torrents and 100,000 peers, 10 peers per torrent. Info-hashes and peer ids are
-- drawn from a fixed MINSTD stream (seed 1), so every run and every tracker sees the same ones; the
-- bytes go out percent-encoded (%XX for every byte). Peer k (0-based) is in torrent k % 10000, its
-- port is 1024 + k % 64511 (distinct within a torrent: opentracker tells peers apart by ip:port
-- and every peer here is 127.0.0.1), and it is a seeder (left=0) when k % 3 == 0, about a third.
-- Every request has compact=1 and no numwant (the tracker's default).
--
-- warmup: each thread walks its share of the 100,000 peers in order with event=started, from
-- FIRST_PEER (default 0) on, so after 100,000 answers every peer is present (exactly so with one
-- thread; a warm-up cut short is resumed by the next one from where it stopped); then it goes on as
-- measure does. Every answer is checked:
-- HTTP 200 and a bencoded dictionary with `interval` and `peers` and no `failure reason`.
-- measure: each request picks a torrent and one of its 10 peers at random (a fixed seed per
-- thread); one request in ten carries event=started, the others no event. No body is looked at
-- (wrk skips the lua response hook), so the load generator does as little as it can.
--
-- done() prints one line that the script reads:
--   wrk-summary requests=N duration_us=N connect=N read=N write=N status=N timeout=N
--     checked=N bad=N
-- (status = answers with an HTTP status above 399, as wrk counts them; bad = answers that failed
-- the warm-up check; checked = answers looked at).
--
-- With TRACKER_BENCH_WHITELIST set, the script writes the 10,000 info-hashes as lower-case hex,
-- one a line, to that file and makes wrk exit before it connects (opentracker's whitelist).

local TORRENTS = 10000
local PEERS = 100000
local STARTED_ONE_IN = 10

local minstd = 1
local function next_byte()
  -- MINSTD (Park-Miller): products stay below 2^47, exact in a double.
  minstd = (minstd * 48271) % 2147483647
  return math.floor(minstd / 256) % 256
end

local function draw(n)
  local bytes = {}
  for i = 1, n do bytes[i] = next_byte() end
  return bytes
end

local function percent(bytes)
  local out = {}
  for i = 1, #bytes do out[i] = string.format("%%%02X", bytes[i]) end
  return table.concat(out)
end

local function hex(bytes)
  local out = {}
  for i = 1, #bytes do out[i] = string.format("%02x", bytes[i]) end
  return table.concat(out)
end

-- The info-hashes first (20 bytes each, in torrent order), then the peer ids' 12 random bytes.
local function generate_hashes()
  local hashes = {}
  for t = 0, TORRENTS - 1 do hashes[t] = draw(20) end
  return hashes
end

local whitelist = os.getenv("TRACKER_BENCH_WHITELIST")
if whitelist then
  local hashes = generate_hashes()
  local file = assert(io.open(whitelist, "w"))
  for t = 0, TORRENTS - 1 do file:write(hex(hashes[t]), "\n") end
  file:close()
  os.exit(0)
end

-- One prefix per peer: everything in the query but the event.
local prefixes = nil
local function generate_prefixes()
  local hashes = generate_hashes()
  local encoded = {}
  for t = 0, TORRENTS - 1 do encoded[t] = percent(hashes[t]) end
  prefixes = {}
  for k = 0, PEERS - 1 do
    local id = "-SB0001-" .. percent(draw(12))
    local left = (k % 3 == 0) and "0" or "1048576"
    prefixes[k] = "/announce?info_hash=" .. encoded[k % TORRENTS] .. "&peer_id=" .. id
      .. "&port=" .. (1024 + k % 64511) .. "&uploaded=0&downloaded=0&left=" .. left
      .. "&compact=1"
  end
end

-- Per thread state (each wrk thread has its own lua state).
local mode = "measure"
local thread_index = 0
local thread_count = 1
local first_peer = 0
local sequential = 0 -- warm-up: peers announced so far by this thread
checked = 0
bad = 0

local threads = {}
local counter = 0
function setup(thread)
  thread:set("thread_index", counter)
  counter = counter + 1
  table.insert(threads, thread)
  for _, t in ipairs(threads) do t:set("thread_count", counter) end
end

local function check(status, headers, body)
  checked = checked + 1
  if status ~= 200 or body:sub(1, 1) ~= "d" or not body:find("8:interval", 1, true)
    or not body:find("5:peers", 1, true) or body:find("failure reason", 1, true) then
    bad = bad + 1
    if bad <= 3 then io.stderr:write("bad answer (HTTP " .. status .. "): " .. body:sub(1, 200) .. "\n") end
  end
end

function init(args)
  mode = args[1] or "measure"
  first_peer = tonumber(args[2] or "0") or error("FIRST_PEER must be a number")
  if mode ~= "warmup" and mode ~= "measure" then error("mode must be warmup or measure, not " .. mode) end
  thread_index = tonumber(wrk.thread:get("thread_index")) or 0
  thread_count = tonumber(wrk.thread:get("thread_count")) or 1
  generate_prefixes()
  math.randomseed(12345 + thread_index)
  if mode == "warmup" then response = check end
end

function request()
  local k = first_peer + thread_index + sequential * thread_count
  if mode == "warmup" and k < PEERS then
    sequential = sequential + 1
    return wrk.format(nil, prefixes[k] .. "&event=started")
  end
  k = math.random(0, TORRENTS - 1) + TORRENTS * math.random(0, PEERS / TORRENTS - 1)
  if math.random(1, STARTED_ONE_IN) == 1 then
    return wrk.format(nil, prefixes[k] .. "&event=started")
  end
  return wrk.format(nil, prefixes[k])
end

function done(summary, latency, requests)
  local c, b = 0, 0
  for _, t in ipairs(threads) do
    c = c + (tonumber(t:get("checked")) or 0)
    b = b + (tonumber(t:get("bad")) or 0)
  end
  local e = summary.errors
  io.write(string.format(
    "wrk-summary requests=%d duration_us=%d connect=%d read=%d write=%d status=%d timeout=%d checked=%d bad=%d\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout, c, b))
end
