-- wrk script for the benchmarks (bench/rig/clients.py): requests drawn at random from a list, one
-- per line in LIST_FILE as "PATH" or "PATH RANGE" (RANGE a `bytes=` value), then the same RESULT
-- line as ranges.lua. Used to ask for packaged segments and for plain ranges of the same bytes.
--
--   LIST_FILE=requests.txt wrk -t2 -c16 -d10s -s bench/rig/list.lua https://localhost:8443

local list = {}

function init(args)
  for line in io.lines(os.getenv("LIST_FILE")) do
    local path, range = line:match("^(%S+)%s+(%S+)$")
    if path then
      list[#list + 1] = wrk.format(nil, path, { ["Range"] = range })
    elseif line:match("%S") then
      list[#list + 1] = wrk.format(nil, line)
    end
  end
  seed_thread()
end

function request()
  return list[math.random(1, #list)]
end

-- setup, seed_thread and done (the RESULT line), from shared.lua beside this script.
dofile(debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "shared.lua")
