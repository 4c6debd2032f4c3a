-- wrk script for the benchmarks (bench/rig/clients.py): 1 MiB ranges at random MiB-aligned offsets of an object of
-- OBJECT_MIB MiB, then one machine-readable RESULT line (wrk's own summary rounds too much).
--
--   OBJECT_MIB=1024 wrk -t2 -c64 -d10s -s bench/rig/ranges.lua https://localhost:8443/big.bin

local MIB = 1048576
local object_mib = tonumber(os.getenv("OBJECT_MIB") or "1")

function init(args)
  -- Each thread draws its own sequence; the same sequence for both servers.
  math.randomseed(tonumber(wrk.thread:get("id") or 1))
end

function setup(thread)
  setup_count = (setup_count or 0) + 1
  thread:set("id", setup_count)
end

function request()
  local offset = math.random(0, object_mib - 1) * MIB
  return wrk.format(nil, nil, { ["Range"] = "bytes=" .. offset .. "-" .. (offset + MIB - 1) })
end

-- The RESULT line, from result.lua beside this script.
dofile(debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "result.lua")
