// Players on web pages: CORS preflights and cross-origin GETs from an allowed page origin
// (ORIGIN) mixed with ones from a page no rule allows (DISALLOWED_ORIGIN), plus same-origin
// requests without an Origin header, at a steady RATE. Checks what the origin answers, with S3's
// semantics as vod-origin implements them:
//
//   preflight, allowed origin            200, Access-Control-Allow-Origin: ORIGIN (or *),
//                                        Access-Control-Allow-Methods with GET, Vary: Origin
//   preflight, disallowed origin/method  403, no Access-Control-Allow-Origin, Vary: Origin
//   GET, allowed origin                  200/206, Access-Control-Allow-Origin, Expose-Headers with
//                                        Content-Range, Accept-Ranges, Content-Length, ETag
//   GET, disallowed origin               403 with no CORS headers (CORS_ENFORCE=false, for
//                                        `cors.enforce = false`: 200 with no CORS headers)
//   GET, no Origin                       200, no CORS headers
//
// and Vary: Origin on every answer, so a CDN never serves one page origin's answer to another.
//
//   SSL_CERT_FILE=certs/dev-ca.pem k6 run loadtest/cors-mix.js
//
// Parameters (besides BASE_URL, SECRET, ORIGIN, DISALLOWED_ORIGIN in lib/common.js):
//   RATE=100             requests per second, for DURATION (default 2m)
//   VUS=20 MAX_VUS=4xVUS
//   PLAYLIST=/vod/playlist.m3u8  SEGMENT=/vod/seg_00000.ts   the objects asked for
//   CORS_ENFORCE=true
//   CHECK_VARY=true      false when a CDN in between rewrites Vary (the origin's own is checked
//                        by tests/cors.rs)
//   P95_MS=200 P99_MS=500

import http from 'k6/http';
import { check } from 'k6';
import { options as testOptions, env, envInt, envBool, url, headers, header, listsToken, ORIGIN,
  DISALLOWED_ORIGIN, EXPECT_403 } from './lib/common.js';

const PLAYLIST = env('PLAYLIST', '/vod/playlist.m3u8');
const SEGMENT = env('SEGMENT', '/vod/seg_00000.ts');
const CORS_ENFORCE = envBool('CORS_ENFORCE', true);
const CHECK_VARY = envBool('CHECK_VARY', true);
const VUS = envInt('VUS', 20);

/** What a player reads from a cross-origin answer, beyond the CORS-safelisted headers. */
const PLAYER_HEADERS = ['Content-Range', 'Accept-Ranges', 'Content-Length', 'ETag'];

export const options = testOptions({
  scenarios: {
    cors: {
      executor: 'constant-arrival-rate',
      rate: envInt('RATE', 100),
      timeUnit: '1s',
      duration: env('DURATION', '2m'),
      preAllocatedVUs: VUS,
      maxVUs: envInt('MAX_VUS', VUS * 4),
    },
  },
  p95: 200,
  p99: 500,
  kinds: ['preflight_allowed', 'preflight_denied', 'get_allowed', 'get_denied', 'get_no_origin'],
});

const varyOrigin = (r) => !CHECK_VARY || listsToken(header(r, 'Vary'), 'Origin');
const noAllowOrigin = (r) => header(r, 'Access-Control-Allow-Origin') === undefined;
const allowsOrigin = (r) => [ORIGIN, '*'].includes(header(r, 'Access-Control-Allow-Origin'));

function preflight(kind, origin, method) {
  const params = {
    headers: headers({ Origin: origin, 'Access-Control-Request-Method': method,
      'Access-Control-Request-Headers': 'range' }),
    tags: { kind },
  };
  // Set only when a refusal is expected: `responseCallback: undefined` would count nothing at
  // all in http_req_failed for the request.
  if (kind === 'preflight_denied') params.responseCallback = EXPECT_403;
  const res = http.options(url(PLAYLIST), null, params);
  if (kind === 'preflight_allowed') {
    check(res, {
      'preflight allowed: 200/204': (r) => r.status === 200 || r.status === 204,
      'preflight allowed: Allow-Origin': allowsOrigin,
      'preflight allowed: Allow-Methods has GET': (r) => listsToken(header(r, 'Access-Control-Allow-Methods'), 'GET'),
      'preflight allowed: Allow-Headers has range': (r) =>
        listsToken(header(r, 'Access-Control-Allow-Headers'), 'range') || header(r, 'Access-Control-Allow-Headers') === '*',
      'preflight allowed: Vary: Origin': varyOrigin,
    });
  } else {
    check(res, {
      'preflight denied: 403': (r) => r.status === 403,
      'preflight denied: no Allow-Origin': noAllowOrigin,
      'preflight denied: Vary: Origin': varyOrigin,
    });
  }
}

function get(kind, origin) {
  const extra = { Range: 'bytes=0-1023' };
  if (origin) extra.Origin = origin;
  const refused = kind === 'get_denied' && CORS_ENFORCE;
  const params = { headers: headers(extra), tags: { kind } };
  if (refused) params.responseCallback = EXPECT_403;
  const res = http.get(url(SEGMENT), params);
  if (kind === 'get_allowed') {
    check(res, {
      'GET allowed: 206': (r) => r.status === 206,
      'GET allowed: Allow-Origin': allowsOrigin,
      'GET allowed: Expose-Headers for players': (r) =>
        PLAYER_HEADERS.every((h) => listsToken(header(r, 'Access-Control-Expose-Headers'), h)),
      'GET allowed: Vary: Origin': varyOrigin,
    });
  } else {
    const label = kind === 'get_denied' ? 'GET denied' : 'GET without Origin';
    check(res, {
      [`${label}: ${refused ? 403 : 206}`]: (r) => r.status === (refused ? 403 : 206),
      [`${label}: no Allow-Origin`]: noAllowOrigin,
      [`${label}: no Expose-Headers`]: (r) => header(r, 'Access-Control-Expose-Headers') === undefined,
      [`${label}: Vary: Origin`]: varyOrigin,
    });
  }
}

export default function () {
  const dice = Math.random();
  if (dice < 0.25) preflight('preflight_allowed', ORIGIN, 'GET');
  else if (dice < 0.35) preflight('preflight_denied', DISALLOWED_ORIGIN, 'GET');
  else if (dice < 0.4) preflight('preflight_denied', ORIGIN, 'DELETE');
  else if (dice < 0.7) get('get_allowed', ORIGIN);
  else if (dice < 0.85) get('get_denied', DISALLOWED_ORIGIN);
  else get('get_no_origin', null);
}
