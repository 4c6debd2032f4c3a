-- The RESULT line every wrk script of the benchmarks ends with (bench/rig/clients.py parses it):
-- wrk's own summary rounds too much. Loaded by ranges.lua and list.lua with dofile.

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d bytes=%d p50_us=%d p99_us=%d errors=%d\n",
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.status + e.timeout))
end
