-- wrk script for GraphQL load: POSTs the JSON body in the file named by BODY, with
-- Content-Type application/json and, when TOKEN is set, "Authorization: Bearer <TOKEN>" (a TOKEN
-- that already names its scheme, e.g. "Basic abc", is sent as it is). Each thread counts its
-- responses and the failed ones: a status other than 200, or a body with an "errors" key (GraphQL
-- errors arrive with 200). done() adds the threads' counts and prints two lines:
--   errors <n>
--   responses <n>
--
--   BODY=body.json wrk -t2 -c32 -d10s --latency -s bench/wrk/graphql.lua http://127.0.0.1:4000/graphql
--
-- Socket errors and timeouts produce no response; wrk reports them itself ("Socket errors").

local path = os.getenv("BODY")
if not path or path == "" then
  error("set BODY to the file holding the JSON request body")
end
local file = assert(io.open(path, "rb"))
local body = file:read("*a")
file:close()

wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
local token = os.getenv("TOKEN")
if token and token ~= "" then
  if not token:find("^%S+ ") then
    token = "Bearer " .. token
  end
  wrk.headers["Authorization"] = token
end

-- Per thread (each wrk thread runs its own copy of this script).
errors = 0
responses = 0

function response(status, headers, body)
  responses = responses + 1
  if status ~= 200 or (body and body:find('"errors"', 1, true)) then
    errors = errors + 1
  end
end

-- In the main Lua state: setup() sees every thread before it starts, done() after all finished.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function done(summary, latency, requests)
  local total_errors, total_responses = 0, 0
  for _, thread in ipairs(threads) do
    total_errors = total_errors + (thread:get("errors") or 0)
    total_responses = total_responses + (thread:get("responses") or 0)
  end
  io.write(string.format("errors %d\n", total_errors))
  io.write(string.format("responses %d\n", total_responses))
end
