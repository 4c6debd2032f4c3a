// Viewers seeking in a progressive MP4: Range requests at random offsets of one large object,
// arriving at a steady RATE, as players send them when a viewer drags the scrubber. Most are
// closed ranges (`bytes=X-Y`, as browsers and CloudFront send them), some carry If-Range with
// the object's ETag (Safari), some are open-ended (`bytes=X-`, near the end so the answer stays
// small) or suffix ranges (`bytes=-N`, a player reading the `moov` box at the end of a file).
// setup() finds the object's size and ETag with a HEAD; every answer must be a 206 with the
// exact Content-Range, Content-Length, body length and ETag.
//
//   SSL_CERT_FILE=certs/dev-ca.pem k6 run loadtest/progressive-seeks.js
//   SSL_CERT_FILE=certs/dev-ca.pem k6 run -e RATE=500 -e VUS=200 loadtest/progressive-seeks.js
//
// Parameters (besides BASE_URL, SECRET... in lib/common.js):
//   RATE=50              seeks per second, for DURATION (default 5m)
//   VUS=50 MAX_VUS=4xVUS virtual users allocated up front / at most, to keep RATE up
//   OBJECT=/progressive.mp4
//   RANGE_MIN=65536 RANGE_MAX=1048576  bytes per range
//   P95_MS=500 P99_MS=1000

import http from 'k6/http';
import { check } from 'k6';
import { options as testOptions, env, envInt, url, headers, headObject, rangeChecks, randomInt }
  from './lib/common.js';

const OBJECT = env('OBJECT', '/progressive.mp4');
const RANGE_MIN = envInt('RANGE_MIN', 64 * 1024);
const RANGE_MAX = envInt('RANGE_MAX', 1024 * 1024);
const VUS = envInt('VUS', 50);

export const options = testOptions({
  scenarios: {
    seeks: {
      executor: 'constant-arrival-rate',
      rate: envInt('RATE', 50),
      timeUnit: '1s',
      duration: env('DURATION', '5m'),
      preAllocatedVUs: VUS,
      maxVUs: envInt('MAX_VUS', VUS * 4),
    },
  },
  p95: 500,
  p99: 1000,
  kinds: ['range', 'range_if_range', 'range_open', 'range_suffix'],
});

export function setup() {
  return headObject(OBJECT);
}

/** A range to ask for: the Range header, what it selects, and the kind to tag it with. */
function pickRange(size) {
  const longest = Math.min(RANGE_MAX, size);
  const length = randomInt(Math.min(RANGE_MIN, longest), longest);
  const dice = Math.random();
  if (dice < 0.55 || dice >= 0.85) {
    const start = randomInt(0, size - length);
    const end = start + length - 1;
    const kind = dice < 0.55 ? 'range' : 'range_if_range';
    return { value: `bytes=${start}-${end}`, start, end, kind };
  }
  if (dice < 0.7) {
    const start = size - length;
    return { value: `bytes=${start}-`, start, end: size - 1, kind: 'range_open' };
  }
  return { value: `bytes=-${length}`, start: size - length, end: size - 1, kind: 'range_suffix' };
}

export default function (object) {
  const range = pickRange(object.size);
  const extra = { Range: range.value };
  if (range.kind === 'range_if_range' && object.etag) extra['If-Range'] = object.etag;
  const res = http.get(url(OBJECT), {
    headers: headers(extra),
    responseType: 'binary',
    tags: { kind: range.kind },
  });
  check(res, rangeChecks(object, range.start, range.end));
}
