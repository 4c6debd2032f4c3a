// Viewers watching an HLS VOD: each virtual user is one viewer who loads the playlist (a master
// playlist is followed to its first variant), fetches a start-up buffer of segments back to back,
// then one segment per segment duration, as a player does once its buffer is full. A viewing
// session is WATCH_SEGMENTS segments; then the viewer starts over, like a new viewer.
//
//   SSL_CERT_FILE=certs/dev-ca.pem k6 run loadtest/vod-viewing.js
//   SSL_CERT_FILE=certs/dev-ca.pem k6 run -e VUS=500 -e DURATION=10m loadtest/vod-viewing.js
//
// Parameters (besides BASE_URL, SECRET... in lib/common.js):
//   VUS=50               viewers at once, reached over RAMP (default 30s), held for DURATION (5m)
//   PLAYLIST=/vod/playlist.m3u8
//   WATCH_SEGMENTS=20    segments per session (0: to the end)
//   BUFFER_SEGMENTS=3    segments fetched back to back at start-up
//   RANDOM_START=false   start sessions at a random segment (viewers resuming or skipping)
//   SPEED=1              playback speed: 10 plays ten times faster (smoke runs)
//   SEGMENT_BYTES        when set, every segment must have exactly this length
//   P95_MS=1000 P99_MS=2000  latency thresholds over all requests

import http from 'k6/http';
import { check, sleep } from 'k6';
import { Rate, Trend } from 'k6/metrics';
import { options as testOptions, env, envInt, envFloat, envBool, url, headers, header, bodyLength, randomInt }
  from './lib/common.js';

const PLAYLIST = env('PLAYLIST', '/vod/playlist.m3u8');
const WATCH_SEGMENTS = envInt('WATCH_SEGMENTS', 20);
const BUFFER_SEGMENTS = envInt('BUFFER_SEGMENTS', 3);
const RANDOM_START = envBool('RANDOM_START', false);
const SPEED = envFloat('SPEED', 1);
const SEGMENT_BYTES = envInt('SEGMENT_BYTES', 0);

/** From loading the playlist to having the first segment: the viewer's start-up delay. */
const startup = new Trend('vod_startup_time', true);
/** Segments that took longer to download than they play: with a full buffer, a stall is near. */
const late = new Rate('vod_segment_late');

export const options = testOptions({
  scenarios: {
    viewers: {
      executor: 'ramping-vus',
      startVUs: 0,
      stages: [
        { duration: env('RAMP', '30s'), target: envInt('VUS', 50) },
        { duration: env('DURATION', '5m'), target: envInt('VUS', 50) },
      ],
      // A viewer stopped mid-session is no failure; do not wait out their sleeps.
      gracefulRampDown: '0s',
      gracefulStop: '5s',
    },
  },
  p95: 1000,
  p99: 2000,
  kinds: ['playlist', 'segment'],
  extra: { vod_segment_late: ['rate<0.01'] },
});

/** Resolves a URI from a playlist against the playlist's URL. */
function resolve(base, uri) {
  if (/^https?:\/\//i.test(uri)) return uri;
  if (uri.startsWith('/')) return base.match(/^https?:\/\/[^/]+/i)[0] + uri;
  return base.replace(/[^/]*([?#].*)?$/, '') + uri;
}

/** Gets a playlist and checks it is one. */
function getPlaylist(playlistUrl) {
  const res = http.get(playlistUrl, { headers: headers(), tags: { kind: 'playlist' } });
  const ok = check(res, {
    'playlist 200': (r) => r.status === 200,
    'playlist is HLS': (r) => typeof r.body === 'string' && r.body.startsWith('#EXTM3U'),
  });
  return ok ? res.body : null;
}

/** The segments of a media playlist: absolute URL and duration in seconds. */
function parseMedia(playlistUrl, text) {
  const segments = [];
  let duration = 0;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#EXTINF:')) duration = parseFloat(line.slice(8));
    else if (line !== '' && !line.startsWith('#')) {
      segments.push({ url: resolve(playlistUrl, line), duration });
    }
  }
  return segments;
}

/** Loads the playlist (following a master playlist to its first variant) and lists the segments. */
function loadSegments() {
  let playlistUrl = url(PLAYLIST);
  let text = getPlaylist(playlistUrl);
  if (text !== null && text.includes('#EXT-X-STREAM-INF')) {
    // The URI line after the first #EXT-X-STREAM-INF.
    const lines = text.split('\n').map((l) => l.trim());
    const tag = lines.findIndex((l) => l.startsWith('#EXT-X-STREAM-INF'));
    const variant = lines.slice(tag + 1).find((l) => l !== '' && !l.startsWith('#'));
    if (!check(variant, { 'master playlist names a variant': (v) => v !== undefined })) return [];
    playlistUrl = resolve(playlistUrl, variant);
    text = getPlaylist(playlistUrl);
  }
  if (text === null) return [];
  const segments = parseMedia(playlistUrl, text);
  check(segments, { 'playlist lists segments': (s) => s.length > 0 });
  return segments;
}

export default function () {
  const began = Date.now();
  const segments = loadSegments();
  if (segments.length === 0) {
    sleep(1);
    return;
  }
  const first = RANDOM_START ? randomInt(0, segments.length - 1) : 0;
  const last = WATCH_SEGMENTS > 0 ? Math.min(segments.length, first + WATCH_SEGMENTS) : segments.length;
  // One metric series for all segments, not one per URL.
  const name = segments[0].url.replace(/[^/]*$/, '*');
  for (let i = first; i < last; i++) {
    const segment = segments[i];
    const requested = Date.now();
    const res = http.get(segment.url, {
      headers: headers(),
      responseType: 'binary',
      tags: { kind: 'segment', name },
    });
    const length = Number(header(res, 'Content-Length'));
    check(res, {
      'segment 200': (r) => r.status === 200,
      'segment body is whole': (r) => bodyLength(r) === length,
      'segment has the seeded length': () => SEGMENT_BYTES === 0 || length === SEGMENT_BYTES,
    });
    // Wall time, connection set-up included: what the viewer's buffer pays for.
    const downloadSeconds = (Date.now() - requested) / 1000;
    const playSeconds = segment.duration / SPEED;
    if (i === first) startup.add(Date.now() - began);
    late.add(downloadSeconds > playSeconds);
    // The buffer is full once BUFFER_SEGMENTS are in: from then on, one segment per segment played.
    if (i - first + 1 >= BUFFER_SEGMENTS) sleep(Math.max(0, playSeconds - downloadSeconds));
  }
}
