// Cluster mode (issue 15, docs/deploy.md): which node the signaling socket goes to. Pure: no
// DOM, no network, no clock. Unit-tested in Node by tests/browser/cluster-logic.test.js.
//
// The *entry* is the page's own origin (`signalingUrl` in api.js). In cluster mode the room lives
// on one node: `GET /api/rooms/{id}` may name its socket (`ws_url`), and a socket that reaches
// another node is answered `{"type":"moved","url":…}` and closed. The page follows at most
// MAX_MOVES moves in a row, only to ws:/wss: URLs (never wss: to ws:) without user info, query or
// fragment, whose path ends /api/rooms/<room id>/ws; when the room's node cannot be reached (a
// dead owner) it goes back to the entry once per walk, which sends it on to the new owner.

/** Moves followed in a row before giving up (like the core's `route::MAX_MOVES`). */
export const MAX_MOVES = 3;

const ROOM_ID = /^[A-Za-z0-9_-]{22}$/u;

/**
 * Checks a `moved` (or `ws_url`) URL reached from `fromUrl` (the socket's own URL). Resolves to
 * `{ok: true, url, base}` (`base`: everything before /api/rooms/<id>/ws) or
 * `{ok: false, reason}`.
 */
export function checkMovedUrl(url, fromUrl) {
  if (typeof url !== 'string' || url.length === 0 || url.length > 2048) {
    return { ok: false, reason: 'not a URL' };
  }
  let parsed;
  try {
    parsed = new URL(url);
  } catch {
    return { ok: false, reason: 'not a URL' };
  }
  if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:') return { ok: false, reason: 'not ws: or wss:' };
  const fromSecure = typeof fromUrl === 'string' && /^wss:/iu.test(fromUrl);
  if (fromSecure && parsed.protocol !== 'wss:') return { ok: false, reason: 'wss: to ws: (no longer encrypted)' };
  if (parsed.username || parsed.password) return { ok: false, reason: 'user name or password in it' };
  if (!parsed.hostname) return { ok: false, reason: 'no host' };
  if (parsed.search || parsed.hash || url.includes('#') || url.includes('?')) {
    return { ok: false, reason: 'a query or fragment' };
  }
  const match = /^(.*)\/api\/rooms\/([^/]+)\/ws$/u.exec(parsed.pathname);
  if (!match) return { ok: false, reason: 'path is not /api/rooms/<id>/ws' };
  let id;
  try {
    id = decodeURIComponent(match[2]);
  } catch {
    return { ok: false, reason: 'invalid room id' };
  }
  if (!ROOM_ID.test(id)) return { ok: false, reason: 'invalid room id' };
  const base = `${parsed.protocol}//${parsed.host}${match[1]}`.replace(/\/+$/u, '');
  return { ok: true, url: parsed.href, base };
}

/** The signaling URL of room `roomId` on the node at `base`. */
export function nodeSignalingUrl(base, roomId) {
  return `${base}/api/rooms/${encodeURIComponent(roomId)}/ws`;
}

/**
 * Where the page's signaling socket goes: the entry, or the room's node once known. Methods
 * return what to do next: `{connect: url}`, or `{fail: reason}`.
 */
export class SignalRoute {
  constructor() {
    /** The room's node (base URL), or null: use the entry. */
    this.node = null;
    this.moves = 0;
    this.fellBack = false;
  }

  /** The URL to open next for `roomId`, whose entry URL is `entry`. */
  url(entry, roomId) {
    return this.node ? nodeSignalingUrl(this.node, roomId) : entry;
  }

  /** `GET /api/rooms/{id}` said where the room lives (`ws_url`); ignored when not acceptable. */
  fromRoomInfo(info, entry) {
    if (!info || typeof info.ws_url !== 'string') return false;
    const checked = checkMovedUrl(info.ws_url, entry);
    if (!checked.ok) return false;
    this.node = checked.base;
    return true;
  }

  /** In (joined or waiting): a new walk starts from here. */
  arrived() {
    this.moves = 0;
    this.fellBack = false;
  }

  /**
   * The server answered `moved` to `to` on the socket to `from`. `newWalk`: the room's node gave
   * the room up while we were in (not an answer to our join), which starts counting again.
   */
  moved(to, from, { newWalk = false } = {}) {
    if (newWalk) this.arrived();
    if (this.moves >= MAX_MOVES) {
      return { fail: `the servers sent this call on more than ${MAX_MOVES} times in a row` };
    }
    const checked = checkMovedUrl(to, from);
    if (!checked.ok) {
      // Back to the entry, which knows the room's owner.
      this.node = null;
      return { fail: `the server sent this call to an invalid address (${checked.reason})` };
    }
    this.moves += 1;
    this.node = checked.base;
    return { connect: checked.url };
  }

  /**
   * The socket to `url` could not be opened. A node (not the entry) is forgotten and, once per
   * walk, the entry tried at once; else `{fail}` (the page backs off as for any lost connection).
   */
  unreachable(url, entry) {
    if (url === entry || !this.node) return { fail: 'unreachable' };
    this.node = null;
    if (this.fellBack) return { fail: 'unreachable' };
    this.fellBack = true;
    return { connect: entry };
  }
}
