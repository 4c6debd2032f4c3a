-- wrk script for the benchmarks (bench/rig/clients.py): 1 MiB ranges at random MiB-aligned offsets of an object of
-- OBJECT_MIB MiB, then one machine-readable RESULT line (wrk's own summary rounds too much).
--
--   OBJECT_MIB=1024 wrk -t2 -c64 -d10s -s bench/rig/ranges.lua https://localhost:8443/big.bin

local MIB = 1048576
local object_mib = tonumber(os.getenv("OBJECT_MIB") or "1")

function init(args)
  seed_thread()
end

function request()
  local offset = math.random(0, object_mib - 1) * MIB
  return wrk.format(nil, nil, { ["Range"] = "bytes=" .. offset .. "-" .. (offset + MIB - 1) })
end

-- setup, seed_thread and done (the RESULT line), from shared.lua beside this script.
dofile(debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "shared.lua")
