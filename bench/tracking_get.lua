-- wrk script for bench/tracking.py: GET tracking URLs in turn, as mail clients do.
-- TRACKING_PATHS holds the paths (real signed tokens), separated by spaces; each wrk
-- thread cycles through them. wrk never follows a redirect: a click is one 302.

local paths = {}
local headers = {
  -- A mail client's agent: an empty or scanner agent would count as a machine.
  ["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Thunderbird/128.0",
  ["Accept"] = "image/avif,image/webp,*/*",
}

function init(args)
  for path in string.gmatch(os.getenv("TRACKING_PATHS") or "/", "%S+") do
    paths[#paths + 1] = path
  end
  sent = 0
end

function request()
  sent = sent + 1
  return wrk.format("GET", paths[(sent - 1) % #paths + 1], headers)
end
