"""A film for the packaging benchmarks: ffmpeg's test pattern, H.264 + AAC, as long as asked.

One minute is encoded (640x360, 25 fps, 2 s GOPs, about 1.2 Mb/s video and 96 kb/s AAC), then
repeated without re-encoding to the length asked, with the `moov` first (faststart): a 2-hour
film is about 1.1 GB and takes well under a minute to make. Needs Debian's ffmpeg."""

import shutil

from . import processes

# Encoding a minute of the pattern takes a few seconds; repeating it is a copy.
DEADLINE_S = 600


def make(path, minutes):
    """Writes a `minutes`-long film to `path` (a pathlib.Path) and returns it."""
    if shutil.which("ffmpeg") is None:
        raise RuntimeError("missing ffmpeg: apt-get install -y ffmpeg")
    path.parent.mkdir(parents=True, exist_ok=True)
    clip = path.with_name(path.stem + "-clip.mp4")
    processes.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
                   "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25",
                   "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "60",
                   "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-g", "50", "-keyint_min", "50",
                   "-sc_threshold", "0", "-b:v", "1200k", "-maxrate", "1400k", "-bufsize", "2400k",
                   "-c:a", "aac", "-b:a", "96k", str(clip)], DEADLINE_S, "ffmpeg (the clip)")
    processes.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-stream_loop", str(max(0, minutes - 1)),
                   "-i", str(clip), "-c", "copy", "-movflags", "+faststart", str(path)], DEADLINE_S,
                  "ffmpeg (the film)")
    clip.unlink()
    return path


def samples(path):
    """The film's sample count, all tracks together, as its sample tables say (no decoding)."""
    done = processes.run(["ffprobe", "-v", "error", "-show_entries", "stream=nb_frames", "-of", "csv=p=0",
                          str(path)], 120, "ffprobe")
    return sum(int(line) for line in done.stdout.split() if line.strip().isdigit())
