// Settings and helpers shared by the k6 scenarios in loadtest/: where the origin is, how to get
// past its guard (the CDN's secret header), which Origins CORS allows, the thresholds every
// scenario passes or fails on, and small response checks.
//
// Everything comes from the environment (`k6 run -e NAME=value`, or an exported variable); the
// defaults fit an origin started with loadtest/origin.toml on this machine.

import http from 'k6/http';

/** An environment variable, or `fallback` when unset or empty. */
export function env(name, fallback) {
  const value = __ENV[name];
  return value === undefined || value === '' ? fallback : value;
}

/** An integer from the environment; a typo stops the test instead of silently using 0. */
export function envInt(name, fallback) {
  const value = env(name, undefined);
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed)) throw new Error(`${name} must be an integer, got "${value}"`);
  return parsed;
}

/** A number from the environment. */
export function envFloat(name, fallback) {
  const value = env(name, undefined);
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed <= 0) throw new Error(`${name} must be a positive number, got "${value}"`);
  return parsed;
}

/** A boolean from the environment: true, 1, yes, or false, 0, no. */
export function envBool(name, fallback) {
  const value = env(name, undefined);
  if (value === undefined) return fallback;
  if (/^(true|1|yes)$/i.test(value)) return true;
  if (/^(false|0|no)$/i.test(value)) return false;
  throw new Error(`${name} must be true or false, got "${value}"`);
}

/** The origin (or the CloudFront distribution) under test, without a trailing slash. */
export const BASE_URL = env('BASE_URL', 'https://localhost:8443').replace(/\/+$/, '');
/** The header CloudFront adds to origin requests (`access.header`). */
export const SECRET_HEADER = env('SECRET_HEADER', 'X-Origin-Verify');
/**
 * Its value (`access.secrets` in loadtest/origin.toml). Set `SECRET=` (empty) to send none, e.g.
 * through CloudFront, which adds the header itself.
 */
export const SECRET = __ENV.SECRET === undefined ? 'loadtest-secret-not-for-production' : __ENV.SECRET;
/** A page origin the CORS rules allow. */
export const ORIGIN = env('ORIGIN', 'https://player.example.com');
/** A page origin no CORS rule allows. */
export const DISALLOWED_ORIGIN = env('DISALLOWED_ORIGIN', 'https://evil.example.net');

/** `http.expectedStatuses` for requests whose right answer is a refusal (not an `http_req_failed`). */
export const EXPECT_403 = http.expectedStatuses(403);

/** The full URL of a path on BASE_URL. */
export function url(path) {
  return BASE_URL + (path.startsWith('/') ? path : `/${path}`);
}

/** Request headers: the secret (unless SECRET is empty) plus `extra`. */
export function headers(extra) {
  const all = {};
  if (SECRET) all[SECRET_HEADER] = SECRET;
  return Object.assign(all, extra || {});
}

/**
 * k6 options: the scenarios, and the thresholds every scenario is judged by. `p95`, `p99` are
 * the default latency limits in milliseconds (P95_MS, P99_MS override them); `kinds` are the
 * request kinds (the `kind` tag) to break `http_req_duration` down by in the summary; `extra`
 * adds thresholds.
 */
export function options({ scenarios, p95, p99, kinds, extra }) {
  const thresholds = {
    // Transport errors and unexpected statuses. Refusals a script expects (403 to a disallowed
    // origin) are declared with EXPECT_403 and do not count.
    http_req_failed: ['rate<0.01'],
    http_req_duration: [`p(95)<${envInt('P95_MS', p95)}`, `p(99)<${envInt('P99_MS', p99)}`],
    // Statuses, Content-Range, lengths, CORS headers: what the origin answered, not only how fast.
    checks: ['rate>0.99'],
  };
  // Always-true thresholds on tagged sub-metrics: they make the summary show each kind's
  // latency without adding a way to fail.
  for (const kind of kinds || []) thresholds[`http_req_duration{kind:${kind}}`] = ['max>=0'];
  // From VU 0's init contexts only (options, setup), not from every VU's.
  if (__VU === 0 && envBool('K6_INSECURE_SKIP_TLS_VERIFY', false)) {
    console.warn('certificate checks are OFF (K6_INSECURE_SKIP_TLS_VERIFY): the origin is not authenticated');
  }
  return {
    scenarios,
    thresholds: Object.assign(thresholds, extra || {}),
    summaryTrendStats: ['avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'],
  };
}

/** A response header, whatever its case (k6 canonicalises names: `Etag`, not `ETag`). */
export function header(res, name) {
  const wanted = name.toLowerCase();
  for (const key of Object.keys(res.headers)) {
    if (key.toLowerCase() === wanted) return res.headers[key];
  }
  return undefined;
}

/** Whether a comma-separated header (Vary, Access-Control-Expose-Headers...) lists `token`. */
export function listsToken(value, token) {
  if (value === undefined) return false;
  const wanted = token.toLowerCase();
  return value.split(',').some((part) => part.trim().toLowerCase() === wanted);
}

/** Bytes of body received (requests made with `responseType: 'binary'`). */
export function bodyLength(res) {
  if (res.body === null || res.body === undefined) return 0;
  return typeof res.body === 'string' ? res.body.length : res.body.byteLength;
}

/** An integer in [min, max]. */
export function randomInt(min, max) {
  return min + Math.floor(Math.random() * (max - min + 1));
}

/** HEAD of an object, with the checks setup() needs: returns its size and ETag, or stops the test. */
export function headObject(path) {
  const res = http.head(url(path), { headers: headers(), tags: { kind: 'head' } });
  const size = Number(header(res, 'Content-Length'));
  if (res.status !== 200 || !Number.isInteger(size) || size < 1) {
    throw new Error(`HEAD ${url(path)}: status ${res.status} ${res.error || ''}, Content-Length ${size}: ` +
      'is the origin up, the secret right (SECRET, SECRET_HEADER), the object seeded (loadtest/seed.sh)?');
  }
  return { size, etag: header(res, 'ETag') };
}

/**
 * The checks for a 206 answer to a single range: the Content-Range the range selects, the
 * Content-Length, the bytes actually received, and the ETag seen in setup().
 */
export function rangeChecks(object, start, end) {
  const length = end - start + 1;
  return {
    '206': (r) => r.status === 206,
    'Content-Range matches': (r) => header(r, 'Content-Range') === `bytes ${start}-${end}/${object.size}`,
    'Content-Length matches': (r) => Number(header(r, 'Content-Length')) === length,
    'body is whole': (r) => bodyLength(r) === length,
    'ETag unchanged': (r) => object.etag === undefined || header(r, 'ETag') === object.etag,
  };
}
