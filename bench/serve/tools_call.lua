-- wrk script of the MCP benchmark (bench/serve/run.sh): POSTs tools/call echo_echo requests to a
-- Streamable HTTP MCP endpoint on sessions created beforehand, or (MCP_ERA=2026-07-28) as
-- stateless requests of that revision.
--
--   MCP_SESSION_IDS=id1,id2,... wrk -t1 -c1 -d10s --latency -s tools_call.lua http://HOST:PORT/mcp
--   MCP_ERA=2026-07-28 wrk -t1 -c50 -d10s --latency -s tools_call.lua http://HOST:PORT/mcp
--
-- Requests go to the sessions in turn (with as many sessions as connections, each session sees
-- about one request at a time); JSON-RPC ids are unique per run (thread number + counter), since
-- a session refuses an id that is still in flight. Every response must be 200 and carry a
-- "result" without "isError":true; done() prints one line
--   MCPBENCH {"requests":..,"rps":..,"p50_us":..,"p99_us":..,"non200":..,"bad":..,...}
-- that run.sh reads (and fails on non200/bad/socket errors).

local sessions = {}
for id in string.gmatch(os.getenv("MCP_SESSION_IDS") or "", "[^,]+") do
  sessions[#sessions + 1] = id
end
local tool = os.getenv("MCP_TOOL") or "echo_echo"
local arguments = os.getenv("MCP_ARGUMENTS") or '{"message":"hello","n":42}'
-- MCP_ERA=2026-07-28: stateless requests (no sessions; the revision in _meta and in the routing
-- headers MCP-Protocol-Version, Mcp-Method and Mcp-Name).
local era = os.getenv("MCP_ERA") or "2025-11-25"
local stateless = era == "2026-07-28"

-- JSON-RPC ids are "<thread>-<counter>" with the counter in a fixed width.
id_width = 12
id_format = "%0" .. id_width .. "d"

local threads = {}
local next_thread = 0

function setup(thread)
  thread:set("thread_no", next_thread)
  next_thread = next_thread + 1
  table.insert(threads, thread)
end

function init(args)
  if #sessions == 0 and not stateless then
    error("MCP_SESSION_IDS is empty: create sessions with initialize first")
  end
  counter = 0
  non200 = 0
  bad = 0
  first_bad = ""
  prefix = '{"jsonrpc":"2.0","id":"' .. tostring(thread_no) .. "-"
  local meta = ""
  if stateless then
    meta = ',"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28",' ..
           '"io.modelcontextprotocol/clientCapabilities":{},' ..
           '"io.modelcontextprotocol/clientInfo":{"name":"mcp-bench","version":"1.0.0"}}'
  end
  suffix = '","method":"tools/call","params":{"name":"' .. tool .. '","arguments":' .. arguments .. meta .. "}}"
  -- The request line and headers are formatted once (per session): the id's counter has a fixed
  -- width, so every body has the same length, and request() only joins strings. (Building a
  -- header table and calling wrk.format per request made the load generator, not the server,
  -- the limit at 50 connections.)
  local body_length = #prefix + id_width + #suffix
  local function head(headers)
    local r = wrk.format("POST", nil, headers, string.rep("x", body_length))
    return string.sub(r, 1, #r - body_length)
  end
  local common = {
    ["Content-Type"] = "application/json",
    ["Accept"] = "application/json, text/event-stream",
    ["MCP-Protocol-Version"] = era,
  }
  heads = {}
  if stateless then
    common["Mcp-Method"] = "tools/call"
    common["Mcp-Name"] = tool
    heads[1] = head(common)
  else
    for i, id in ipairs(sessions) do
      common["Mcp-Session-Id"] = id
      heads[i] = head(common)
    end
  end
  -- Each thread starts at a different session.
  turn = thread_no
end

function request()
  counter = counter + 1
  turn = turn % #heads + 1
  return heads[turn] .. prefix .. string.format(id_format, counter) .. suffix
end

function response(status, headers, body)
  if status ~= 200 then
    non200 = non200 + 1
    if first_bad == "" then first_bad = tostring(status) .. " " .. string.sub(body or "", 1, 300) end
  elseif not string.find(body, '"result"', 1, true) or string.find(body, '"isError":true', 1, true) then
    bad = bad + 1
    if first_bad == "" then first_bad = "200 " .. string.sub(body or "", 1, 300) end
  end
end

local function json_string(s)
  return '"' .. string.gsub(s, '[%c"\\]', function(c) return string.format("\\u%04x", string.byte(c)) end) .. '"'
end

function done(summary, latency, requests)
  local n200, nbad, first = 0, 0, ""
  for _, t in ipairs(threads) do
    n200 = n200 + (t:get("non200") or 0)
    nbad = nbad + (t:get("bad") or 0)
    local f = t:get("first_bad") or ""
    if first == "" then first = f end
  end
  local e = summary.errors
  local seconds = summary.duration / 1e6
  io.write(string.format(
    'MCPBENCH {"requests":%d,"duration_s":%.3f,"rps":%.1f,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
    '"max_us":%d,"mean_us":%.1f,"non200":%d,"bad":%d,"socket_errors":%d,"first_bad":%s}\n',
    summary.requests, seconds, summary.requests / seconds,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean,
    n200, nbad, e.connect + e.read + e.write + e.timeout, json_string(first)))
end
