"""The rig every benchmark runs on: the servers it measures, started and ended the same way.

Every server binds a port the kernel chose, every wait has a deadline, and every child runs in
its own process group that is killed on any way out (an exception, Ctrl-C, SIGTERM, `sys.exit`).

# Layout

- `processes`: spawning children in their own process groups, ending them, waits with deadlines.
- `scratch`: the scratch folder (removed unless kept) and the random media in it.
- `origin`: one vod-origin on port 0, from a generated TOML file.
- `nginx`: Debian's nginx beside it, from `nginx.conf.in`.
- `s3`: the one S3 stand-in (moto), seeded through the S3 API; `moto_serve` is its process.
- `sampler`: what a server costs, read from /proc (CPU, page faults, memory, descriptors).
- `clients`: the load: curl (whole objects, first bytes), wrk (`ranges.lua`), byte checks.
- `idle_client`: keep-alive TLS connections opened and held idle, in a process of their own.
- `pairs`: interleaved A/B pairs, their ratios (median, min–max) and the markdown table.
- `machine`: what a reader of the numbers needs to know about where they came from.
"""
