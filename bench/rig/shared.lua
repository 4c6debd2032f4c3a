-- What every wrk script of the benchmarks shares, loaded by ranges.lua and list.lua with dofile:
-- an id per thread, so each thread draws its own random sequence and the same one for every
-- server; and the RESULT line (bench/rig/clients.py parses it: wrk's own summary rounds too much).

function setup(thread)
  setup_count = (setup_count or 0) + 1
  thread:set("id", setup_count)
end

-- Called from each script's init: this thread's sequence.
function seed_thread()
  math.randomseed(tonumber(wrk.thread:get("id") or 1))
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d bytes=%d p50_us=%d p99_us=%d errors=%d\n",
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.status + e.timeout))
end
