// Same-origin JSON requests to the escrow. Every path is a fixed, relative "/v1/…"
// path: the SDK never talks to another origin (key servers are reached through the
// escrow's proxy), and a path that is not same-origin-relative is refused before any
// request. The session travels in the escrow's HttpOnly, SameSite=Strict cookie, which
// is what protects cookie-authenticated writes from cross-site requests (the escrow asks
// for no CSRF header, see src/notalone/web/security.py).
import {
  ConflictError,
  EncodingError,
  InputError,
  LimitError,
  UnavailableError,
  VerificationError,
} from '../protocol/errors.js';
import { defaultRng, toHex } from '../protocol/bytes.js';

const SAFE_PATH = /^\/v1\/[A-Za-z0-9._~\-/]*(?:\?[A-Za-z0-9=&._-]*)?$/;

export function newIdempotencyKey(rng = defaultRng) {
  return toHex(rng(16));
}

/**
 * `request(method, path, body, {idempotencyKey, what})` → parsed JSON object ({} for 204).
 * Errors carry a fixed user-facing message, `code` and `status`; the server's problem
 * title travels in `problemTitle` for logs (problem details never hold secrets).
 */
export function createHttp({ fetch: fetchImpl }) {
  if (typeof fetchImpl !== 'function') throw new InputError('a fetch implementation is required');
  return async function request(method, path, body, { idempotencyKey, what = 'request' } = {}) {
    if (!SAFE_PATH.test(path) || path.includes('..')) {
      throw new InputError('refusing a request that is not to this site');
    }
    const headers = { Accept: 'application/json' };
    if (body !== undefined && body !== null) headers['Content-Type'] = 'application/json';
    if (idempotencyKey) headers['Idempotency-Key'] = idempotencyKey;
    let response;
    try {
      response = await fetchImpl(path, {
        method,
        headers,
        body: body === undefined || body === null ? undefined : JSON.stringify(body),
        credentials: 'same-origin',
        cache: 'no-store',
        redirect: 'error',
        referrerPolicy: 'no-referrer',
      });
    } catch {
      // The cause is dropped: a browser's network error can carry the request.
      throw new UnavailableError('the server could not be reached; check your connection and try again', { code: 'network' });
    }
    if (response.status >= 300) throw await refusal(response, what);
    if (response.status === 204) return {};
    let parsed;
    try {
      const text = await response.text();
      parsed = text ? JSON.parse(text) : {};
    } catch {
      throw new EncodingError(`the server sent an unreadable ${what}`, { code: 'bad_response' });
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new EncodingError(`the server sent an unreadable ${what}`, { code: 'bad_response' });
    }
    return parsed;
  };
}

async function refusal(response, what) {
  const status = response.status;
  let title = '';
  let type = '';
  try {
    const problem = await response.json();
    if (problem && typeof problem === 'object') {
      title = typeof problem.title === 'string' ? problem.title.slice(0, 200) : '';
      type = typeof problem.type === 'string' ? problem.type.slice(0, 200) : '';
    }
  } catch {
    // Not a problem document: the status alone says enough.
  }
  let error;
  if (status >= 500) error = new UnavailableError('the server had a problem; try again in a moment', { code: 'server_error' });
  else if (status === 401) error = new VerificationError('you are not logged in, or the login was refused', { code: 'unauthorized' });
  else if (status === 404) error = new InputError(`this ${what} was not found`, { code: 'not_found' });
  else if (status === 409) error = new ConflictError(`this ${what} conflicts with what is stored`, { code: 'conflict' });
  else if (status === 413) error = new InputError('this is too large to send', { code: 'too_large' });
  else if (status === 429) {
    const header = response.headers?.get?.('retry-after');
    error = new LimitError('too many attempts; wait a little and try again', { code: 'rate_limited' });
    error.retryAfterSeconds = header && /^\s*\d+\s*$/.test(header) ? Number(header) : null;
  } else error = new InputError(`the server refused this ${what}`, { code: 'refused' });
  error.status = status;
  error.problemTitle = title;
  error.problemType = type;
  return error;
}

// ------------------------------------------------------------------ response field checks

export function field(body, name, check, what) {
  const value = body?.[name];
  try {
    return check(value);
  } catch (e) {
    if (e instanceof EncodingError || e instanceof TypeError) {
      throw new EncodingError(`the server sent a malformed ${what}`, { code: 'bad_response' });
    }
    throw e;
  }
}

export const isInt = (v) => {
  if (!Number.isSafeInteger(v)) throw new TypeError('not an integer');
  return v;
};
export const isStr = (v) => {
  if (typeof v !== 'string') throw new TypeError('not text');
  return v;
};
export const isList = (v) => {
  if (!Array.isArray(v)) throw new TypeError('not a list');
  return v;
};
