// A seek storm on one hot object: a popular video just published (or a CDN cache flushed), and
// many viewers' range requests reaching the origin for the same file at once. The arrival rate
// ramps from 0 to RATE, holds, and ramps down; half the requests go to a few hot spots (the
// start, chapter marks) so identical ranges are in flight together.
//
//   SSL_CERT_FILE=certs/dev-ca.pem k6 run loadtest/seek-storm.js
//   SSL_CERT_FILE=certs/dev-ca.pem k6 run -e RATE=2000 -e MAX_VUS=3000 loadtest/seek-storm.js
//
// Parameters (besides BASE_URL, SECRET... in lib/common.js):
//   RATE=500             requests per second at the peak, held for DURATION (default 2m)
//   RAMP=30s RAMP_DOWN=10s  time to reach RATE, and to come back to 0
//   VUS=200 MAX_VUS=1000 virtual users allocated up front / at most; watch dropped_iterations
//   OBJECT=/hot.mp4
//   RANGE_MAX=262144     bytes per range (at least 1 KiB each)
//   HOT_SPOTS=8          offsets shared by half of the requests
//   P95_MS=1000 P99_MS=2000

import http from 'k6/http';
import { check } from 'k6';
import { options as testOptions, env, envInt, url, headers, headObject, rangeChecks, randomInt }
  from './lib/common.js';

const OBJECT = env('OBJECT', '/hot.mp4');
const RANGE_MAX = envInt('RANGE_MAX', 256 * 1024);
const HOT_SPOTS = envInt('HOT_SPOTS', 8);
const RATE = envInt('RATE', 500);
const RAMP = env('RAMP', '30s');
/** Smallest range: a player never asks for less than a few packets. */
const RANGE_MIN = 1024;

export const options = testOptions({
  scenarios: {
    storm: {
      executor: 'ramping-arrival-rate',
      startRate: 0,
      timeUnit: '1s',
      preAllocatedVUs: envInt('VUS', 200),
      maxVUs: envInt('MAX_VUS', 1000),
      stages: [
        { duration: RAMP, target: RATE },
        { duration: env('DURATION', '2m'), target: RATE },
        { duration: env('RAMP_DOWN', '10s'), target: 0 },
      ],
    },
  },
  p95: 1000,
  p99: 2000,
  kinds: ['hot_spot', 'random'],
});

export function setup() {
  const object = headObject(OBJECT);
  const longest = Math.min(RANGE_MAX, object.size);
  // Spread over the object, the first at byte 0 (everyone presses play).
  object.hotSpots = [];
  for (let i = 0; i < HOT_SPOTS; i++) {
    object.hotSpots.push(Math.floor((i * (object.size - longest)) / Math.max(1, HOT_SPOTS - 1)));
  }
  object.longest = longest;
  return object;
}

export default function (object) {
  const hot = Math.random() < 0.5;
  const length = hot ? object.longest : randomInt(Math.min(RANGE_MIN, object.longest), object.longest);
  const start = hot ? object.hotSpots[randomInt(0, HOT_SPOTS - 1)] : randomInt(0, object.size - length);
  const end = start + length - 1;
  const res = http.get(url(OBJECT), {
    headers: headers({ Range: `bytes=${start}-${end}` }),
    responseType: 'binary',
    tags: { kind: hot ? 'hot_spot' : 'random' },
  });
  check(res, rangeChecks(object, start, end));
}
