-- wrk script for bench/signup.py: POST the signup form, a new address every request.
-- Each wrk thread numbers its own requests; the run prefix keeps runs apart.

local counter = 1
local threads = {}

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

function init(args)
  prefix = os.getenv("SIGNUP_PREFIX") or "bench"
  list_id = os.getenv("SIGNUP_LIST_ID") or "1"
  sent = 0
end

function request()
  sent = sent + 1
  local body = string.format(
    "email=%s-%d-%d%%40example.nl&name=Lezer+%d&lists=%s",
    prefix, id, sent, sent, list_id
  )
  return wrk.format("POST", "/subscribe", {
    ["Content-Type"] = "application/x-www-form-urlencoded",
  }, body)
end
