// The HTTP API (docs/api.md) and the signaling URL. Every failure becomes an ApiError whose
// `code` is the server's error code, or `unreachable` when the server could not be reached.

export class ApiError extends Error {
  constructor(code, message, status = 0) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.status = status;
  }
}

const UNREACHABLE = "Can't reach the Salon server. Check your connection and try again.";

async function request(path, init = {}) {
  let response;
  try {
    response = await fetch(path, { ...init, headers: { Accept: 'application/json', ...init.headers } });
  } catch {
    throw new ApiError('unreachable', UNREACHABLE);
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    // Not JSON: a proxy's error page, or the server went away mid-answer.
  }
  if (!response.ok) {
    const error = body?.error;
    if (error?.code) throw new ApiError(error.code, error.message ?? error.code, response.status);
    if (response.status >= 500) throw new ApiError('unreachable', UNREACHABLE, response.status);
    throw new ApiError('http_' + response.status, `The server answered ${response.status}.`, response.status);
  }
  if (body === null) throw new ApiError('unreachable', UNREACHABLE, response.status);
  return body;
}

/**
 * Creates a room (end-to-end encrypted unless `e2ee` is false). Resolves to
 * {id, name, url, host_key, created_at, e2ee}. The room secret is never part of the request.
 */
export function createRoom(name, { e2ee = true } = {}) {
  const trimmed = (name ?? '').trim();
  const body = trimmed ? { name: trimmed } : {};
  if (e2ee) body.e2ee = true;
  return request('/api/rooms', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
}

/** Room summary {id, name, participants, max_participants, full}; `room_not_found` if none. */
export function getRoom(id) {
  return request(`/api/rooms/${encodeURIComponent(id)}`);
}

/**
 * The owner sets the door of a room (docs/api.md): `change` may hold `door` ('open', 'closed',
 * 'auto'), `until` (Unix seconds) and `show_names`; an empty change reads the current state.
 * Resolves to {door, until, show_names, door_open, people}.
 */
export function setDoor(id, hostKey, change = {}) {
  return request(`/api/rooms/${encodeURIComponent(id)}/door`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ host_key: hostKey, ...change }),
  });
}

/** ws(s)://host/api/rooms/{id}/ws for the page's own origin. */
export function signalingUrl(id, location = window.location) {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/api/rooms/${encodeURIComponent(id)}/ws`;
}

/** The room id in a /r/{id} path, or '' when the path has none. */
export function roomIdFromPath(pathname) {
  const match = /^\/r\/([^/]+)\/?$/u.exec(pathname);
  return match ? decodeURIComponent(match[1]) : '';
}
