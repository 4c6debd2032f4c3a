"""The demo player page in a real browser: headless Chromium (Debian's) driven by Playwright.

Starts the origin (a built binary, default target/debug/vod-origin) without a configuration
file, so with `cargo run`'s development defaults (the demo listener, the CORS rules for pages
served from localhost), its listeners moved to kernel-chosen ports by VOD_ORIGIN_* variables, opens https://localhost:<demo>/ and checks
that both players play, that seeking the MP4 moves it, and that the request table fills with
what the origin answered (statuses, Content-Range, ETag); the HLS and DASH packaged on the fly
from the MP4 play, seek to their last seconds and reach the end. Then opens the same page from
https://127.0.0.1:<demo>/, an origin the rules refuse, and checks that both players fail and
the table shows refused requests. Chromium trusts the run's development certificate by its
public key (--ignore-certificate-errors-spki-list), nothing else.

    python3 tests/browser/demo_page.py [--origin-bin target/debug/vod-origin] [--chromium /usr/bin/chromium]

Needs: pip install -r tests/browser/requirements.txt (Playwright; Chromium is Debian's), apt-get install chromium.
"""

import argparse
import base64
import hashlib
import pathlib
import sys
import tempfile

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))

from rig import origin as rig_origin  # noqa: E402

# Generous: a debug build on a shared 2-core machine, and a browser starting cold.
PLAY_TIMEOUT_MS = 90_000


def spki_pin(certificate):
    """base64(SHA-256(SubjectPublicKeyInfo)) of a PEM certificate, as Chromium's flag wants it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    key = x509.load_pem_x509_certificate(certificate.read_bytes()).public_key()
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


def launch(playwright, chromium, workdir):
    """Debian's Chromium, headless, trusting the run's development certificate by its key, and
    allowed to autoplay."""
    pin = spki_pin(pathlib.Path(workdir) / "certs" / "localhost.pem")
    return playwright.chromium.launch(
        executable_path=chromium,
        args=[f"--ignore-certificate-errors-spki-list={pin}", "--autoplay-policy=no-user-gesture-required"])


def players(page):
    """The players' states, as JSON, for a failure's report."""
    return page.evaluate(
        "window.demo && JSON.stringify(Object.fromEntries(Object.entries(demo).filter(([k]) => k !== 'requests')))")


def check_allowed_origin(page, url):
    page.goto(url)
    page.wait_for_function("window.demo && ['hls', 'packagedHls', 'packagedDash', 'mp4'].every(p => demo[p].time > 1)",
                           timeout=PLAY_TIMEOUT_MS)
    page.evaluate("document.getElementById('mp4').currentTime = 5")
    page.wait_for_function("demo.mp4.time >= 5", timeout=PLAY_TIMEOUT_MS)
    requests = page.evaluate("demo.requests")
    by_path = {}
    for request in requests:
        by_path.setdefault(request["path"], []).append(request)
    playlist = by_path.get("/sample/hls/index.m3u8", [])
    assert playlist and playlist[0]["status"] == 200, f"the playlist row: {playlist}"
    segments = [r for path, rs in by_path.items() if path.endswith(".ts") for r in rs]
    assert segments and all(r["status"] == 200 for r in segments), f"segment rows: {segments}"
    mp4 = by_path.get("/sample/sample.mp4", [])
    assert mp4, f"no MP4 row among {sorted(by_path)}"
    headers = mp4[0]["headers"]
    assert mp4[0]["status"] == 206 and headers.get("content-range", "").startswith("bytes 0-1023/"), mp4[0]
    assert headers.get("etag", "").startswith('"') and headers.get("access-control-allow-origin") == page.url.rstrip("/"), headers
    check_packaged(page, by_path)
    print(f"allowed origin: four players played, the MP4 seeked to 5 s, the packaged HLS and DASH "
          f"reached their ends, {len(requests)} requests listed")


def check_packaged(page, by_path):
    """The packaged players' requests were answered, and both play through to the end after a seek."""
    for path in ("/hls/sample/sample.mp4/master.m3u8", "/dash/sample/sample.mp4/manifest.mpd"):
        rows = by_path.get(path, [])
        assert rows and rows[0]["status"] == 200, f"the {path} row: {rows}"
    for prefix in ("/hls/", "/dash/"):
        segments = [r for path, rs in by_path.items() if path.startswith(prefix) and path.endswith(".m4s") for r in rs]
        assert segments and all(r["status"] == 200 for r in segments), f"{prefix} segment rows: {segments}"
    for player in ("packagedHls", "packagedDash"):
        page.evaluate(f"document.getElementById('{player}').currentTime = demo.{player}.duration - 3")
        page.wait_for_function(f"demo.{player}.ended", timeout=PLAY_TIMEOUT_MS)
        duration = page.evaluate(f"demo.{player}.duration")
        # The sample is 10 s: a packaging that lost or added a segment shows in the duration.
        assert 9.9 <= duration <= 10.1, f"{player}: duration {duration}"


def check_refused_origin(page, url):
    page.goto(url)
    page.wait_for_function("window.demo && ['hls', 'packagedHls', 'packagedDash', 'mp4']"
                           ".every(p => demo[p].state.startsWith('failed'))", timeout=PLAY_TIMEOUT_MS)
    page.wait_for_function("demo.requests.some(r => r.player.startsWith('fetch'))", timeout=PLAY_TIMEOUT_MS)
    requests = page.evaluate("demo.requests")
    assert requests and all(r["status"] == 0 for r in requests), f"refused requests show as refused: {requests}"
    print(f"refused origin: all four players failed, {len(requests)} refused requests listed")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--origin-bin", default=str(REPO / "target/debug/vod-origin"))
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="vod-demo-") as workdir:
        settings = rig_origin.base_settings(workdir, REPO / "media", secret=False)
        settings.update({"demo.listen": "127.0.0.1:0", "demo.root": str(REPO / "demo")})
        # No configuration file: the built-in development defaults (the CORS rules for pages from
        # localhost, the demo) are what is tested; the variables only move the listeners.
        server = rig_origin.Origin(args.origin_bin, workdir, "demo-origin", settings, without_file=True)
        server.start()
        try:
            with sync_playwright() as playwright:
                browser = launch(playwright, args.chromium, workdir)
                page = browser.new_page()
                # The refused origin fills the console with CORS errors on purpose: shown only
                # when a check fails.
                console = []
                page.on("console", lambda message: console.append(message.text))
                try:
                    check_allowed_origin(page, f"https://localhost:{server.demo[1]}/")
                    check_refused_origin(page, f"https://127.0.0.1:{server.demo[1]}/")
                except Exception:
                    print("the page's console:", *console, sep="\n  ")
                    print("the players:", players(page))
                    raise
                browser.close()
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
