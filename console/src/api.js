// The console's one way to talk to ordo: fetch on the same origin with the
// tab's admin token. The token and operator name live in sessionStorage only
// (gone with the tab; never in a URL or a cookie).

const TOKEN = 'ordo.token';
const OPERATOR = 'ordo.operator';

/** {operator, token} of this tab, or null before login. */
export function session() {
  const token = sessionStorage.getItem(TOKEN);
  return token ? { token, operator: sessionStorage.getItem(OPERATOR) || '' } : null;
}

export function saveSession(operator, token) {
  sessionStorage.setItem(OPERATOR, operator);
  sessionStorage.setItem(TOKEN, token);
}

export function clearSession() {
  sessionStorage.removeItem(TOKEN);
  sessionStorage.removeItem(OPERATOR);
}

/** An answer other than 2xx: the API's {error, message} and the status. */
class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const sinks = { unauthorized: () => {}, error: () => {} };

/** fn() runs when the server refuses the tab's current token (401). */
export function onUnauthorized(fn) {
  sinks.unauthorized = fn;
}

/** fn(ApiError) runs for every failed call not made with {quiet: true}. */
export function onApiError(fn) {
  sinks.error = fn;
}

/**
 * Calls `method path` with the token (and, for a change, the operator's name
 * in X-Ordo-Operator); resolves to the parsed JSON (or the text with
 * {text: true}); rejects with an ApiError, which also goes to the error
 * banner unless {quiet: true}.
 */
async function request(method, path, { body, text = false, quiet = false } = {}) {
  const s = session();
  const headers = {};
  if (s) {
    headers.Authorization = `Bearer ${s.token}`;
    if (method !== 'GET') {
      headers['X-Ordo-Operator'] = s.operator;
    }
  }
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
  }
  let error;
  try {
    const res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
    });
    const raw = await res.text();
    if (res.ok) {
      return text ? raw : raw ? JSON.parse(raw) : null;
    }
    let j = {};
    try {
      j = JSON.parse(raw);
    } catch {
      // not the API's JSON error (e.g. a proxy's page): status text below
    }
    error = new ApiError(res.status, j.error || `http_${res.status}`, j.message || res.statusText);
  } catch (e) {
    error = new ApiError(0, 'network', `${method} ${path}: ${e.message}`);
  }
  if (error.status === 401 && s && session()?.token === s.token) {
    sinks.unauthorized();
  } else if (!quiet) {
    sinks.error(error);
  }
  throw error;
}

export const get = (path, opts) => request('GET', path, opts);
export const post = (path, body, opts) => request('POST', path, { ...opts, body });
export const del = (path, opts) => request('DELETE', path, opts);

/** `strings` joined with each value URI-encoded: path`/v1/orders/${id}`. */
export function path(strings, ...values) {
  return strings.reduce((acc, s, i) => acc + encodeURIComponent(values[i - 1]) + s);
}

/**
 * `path` (an API path or a hash route, with or without a query) asked of
 * node `node` of the cluster: `?node=ID` added (`&node=ID` after a query).
 * Without `node`, `path` as it is: the node serving the console answers.
 */
export function onNode(path, node) {
  return node ? `${path}${path.includes('?') ? '&' : '?'}node=${encodeURIComponent(node)}` : path;
}
