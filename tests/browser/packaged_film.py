"""A 10-minute H.264 + AAC film packaged on the fly, from the local folder and from S3, played in
headless Chromium and decoded by ffprobe.

For each store (the local folder; s3s-fs, `examples/s3-dev-server`, behind the edge cache) the
origin runs with `cargo run`'s development defaults (the demo page, CORS for localhost) and the
film under `films/`. The demo page opened with `?mp4=films/film.mp4` plays the packaged HLS
(hls.js) and DASH (dash.js): each must start, seek to its last seconds, play to the end, and
report the film's duration. Then every video and audio segment is fetched as the HLS playlists
name them, and ffprobe decodes each track: as many frames as the film's track has.

    python3 tests/browser/packaged_film.py [--origin-bin target/debug/vod-origin]
        [--s3s-bin target/debug/examples/s3-dev-server] [--minutes 10]

Needs what demo_page.py needs, and Debian's ffmpeg. `cargo test` builds both binaries.
"""

import argparse
import contextlib
import pathlib
import ssl
import subprocess
import sys
import tempfile
import urllib.request

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))

from demo_page import PLAY_TIMEOUT_MS, launch, players  # noqa: E402
from rig import film, s3  # noqa: E402
from rig import origin as rig_origin  # noqa: E402

KEY = "films/film.mp4"


def start_origin(args, workdir, media, store, stack):
    """The origin on `store` ("local" or "s3"), with the development defaults and the demo;
    it, and the S3 server, are stopped when `stack` closes."""
    settings = rig_origin.base_settings(workdir, media, secret=False)
    settings.update({"demo.listen": "127.0.0.1:0", "demo.root": str(REPO / "demo")})
    env = None
    if store == "s3":
        server = s3.S3sFsServer(pathlib.Path(workdir), args.s3s_bin).seed_with(media)
        stack.callback(server.stop)
        server.start()
        del settings["storage.root"]
        settings.update(server.settings("on"))
        env = s3.CREDENTIALS
    origin = rig_origin.Origin(args.origin_bin, workdir, f"film-{store}", settings, env=env, without_file=True)
    stack.callback(origin.stop)
    return origin.start()


def play(page, demo_port, minutes):
    """The packaged players start, seek to the end, and end with the film's duration."""
    page.goto(f"https://localhost:{demo_port}/?mp4={KEY}")
    page.wait_for_function("['packagedHls', 'packagedDash'].every(p => demo[p].time > 1)", timeout=PLAY_TIMEOUT_MS)
    for player in ("packagedHls", "packagedDash"):
        duration = page.evaluate(f"demo.{player}.duration")
        # Each repeat of the film's minute keeps its AAC priming: audio ends a few ms after video.
        assert abs(duration - minutes * 60) < 0.5, f"{player}: duration {duration}"
        page.evaluate(f"document.getElementById('{player}').currentTime = demo.{player}.duration - 3")
        page.wait_for_function(f"demo.{player}.ended", timeout=PLAY_TIMEOUT_MS)
    # The folder HLS player finds no sample in this folder; a player's request aborted by its
    # seek shows as status 0. What must not be there is an error answered to a packaged player.
    packaged = [r for r in page.evaluate("demo.requests") if r["player"] in ("hls.js (packaged)", "dash.js")]
    failed = [r for r in packaged if r["status"] >= 400]
    assert packaged and not failed, f"requests that failed: {failed[:5]}"


def fetch(origin, path):
    context = ssl.create_default_context(cafile=str(origin.ca))
    with urllib.request.urlopen(origin.base_url() + path, context=context, timeout=120) as answer:
        return answer.read()


def decode(origin, workdir, expected):
    """Every track as the HLS playlists name it, decoded: its frames, against the film's."""
    master = fetch(origin, f"/hls/{KEY}/master.m3u8").decode()
    playlists = sorted({line.split('URI="')[1].split('"')[0] if 'URI="' in line else line
                        for line in master.splitlines() if line and (not line.startswith("#") or 'URI="' in line)})
    frames = []
    for playlist in playlists:
        track = playlist.split("/")[0]
        media = fetch(origin, f"/hls/{KEY}/{playlist}").decode()
        names = [line.split('"')[1] if "URI=" in line else line
                 for line in media.splitlines() if line and (not line.startswith("#") or "EXT-X-MAP" in line)]
        path = pathlib.Path(workdir) / f"track-{track}.mp4"
        with open(path, "wb") as out:
            for name in names:
                out.write(fetch(origin, f"/hls/{KEY}/{track}/{name}"))
        frames.append(count_frames(path)[0])
    assert sorted(frames) == sorted(expected), f"decoded frames {frames}, the film has {expected}"
    return frames


def count_frames(path):
    done = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-show_entries", "stream=nb_read_frames",
                           "-of", "csv=p=0", str(path)], capture_output=True, text=True, check=True, timeout=600)
    return [int(line) for line in done.stdout.split()]


def film_frames(path):
    """The film's samples per track (its tables' counts): what each packaged track must decode to."""
    done = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=nb_frames", "-of", "csv=p=0", str(path)],
                          capture_output=True, text=True, check=True, timeout=120)
    return [int(line) for line in done.stdout.split()]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--origin-bin", default=str(REPO / "target/debug/vod-origin"))
    parser.add_argument("--s3s-bin", default=str(REPO / "target/debug/examples/s3-dev-server"))
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--minutes", type=int, default=10)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="vod-film-") as workdir:
        media = pathlib.Path(workdir) / "media"
        path = film.make(media / KEY, args.minutes)
        expected = film_frames(path)
        for store in ("local", "s3"):
            with contextlib.ExitStack() as stack:
                origin = start_origin(args, workdir, media, store, stack)
                with sync_playwright() as playwright:
                    browser = launch(playwright, args.chromium, workdir)
                    page = browser.new_page()
                    try:
                        play(page, origin.demo[1], args.minutes)
                    except Exception:
                        print("the players:", players(page))
                        print("the last requests:", page.evaluate("window.demo && JSON.stringify(demo.requests.slice(-8))"))
                        raise
                    browser.close()
                frames = decode(origin, workdir, expected)
                print(f"{store}: the {args.minutes}-minute film played to its end as packaged HLS and DASH; "
                      f"ffprobe decoded {frames} frames, as many as the film has")
    return 0


if __name__ == "__main__":
    sys.exit(main())
