// Pure decisions of the guest page: no DOM, no network, no clock. Everything here takes its
// inputs as arguments and is unit-tested in Node (tests/browser/logic.test.js).

/** Delay before reconnect attempt number `attempt` (0-based): 1 s, 2 s, 4 s … capped at 15 s. */
export function reconnectDelay(attempt) {
  const exponent = Math.max(0, Math.min(attempt, 10));
  return Math.min(1000 * 2 ** exponent, 15000);
}

/**
 * Error codes after which reconnecting by ourselves cannot help (or must not happen: a host
 * removed us, turned us away or ended the call).
 */
export function isFatalForRetry(code) {
  return code === 'room_not_found' || code === 'room_full' || code === 'unsupported_version'
    || code === 'removed' || code === 'knock_denied' || code === 'room_ended' || code === 'e2ee_required';
}

const ERROR_WORDS = {
  room_not_found: ['Room not found', "This link doesn't lead to a room. Check the link, or ask whoever sent it for a new one."],
  room_full: ['This room is full', 'Everyone who fits is already in. Try again in a little while.'],
  unreachable: ["Can't reach the server", 'Check your internet connection and try again.'],
  unsupported_version: ['This page is out of date', 'Reload the page to get the current version.'],
  removed: ['You were removed from this room', "A host removed you. You can't come back unless a host lifts the ban."],
  knock_denied: ["The host didn't let you in.", 'You can knock again if you think it was a mistake.'],
  room_ended: ['The host ended the call', 'The room is still there: you can join again later.'],
  ended_by_you: ['You ended the call for everyone', 'The room stays, with its lock and bans: come back whenever you like.'],
  // End-to-end encryption (docs/adr/0003-e2ee.md §5, §7): the sentences are the ADR's own.
  e2ee_required: ["Can't join this room", 'This room is end-to-end encrypted. Update Salon, or use a current browser.'],
  e2ee_unsupported: ["Can't join this room", "This room is end-to-end encrypted and this browser can't encrypt calls. Use a current Chrome, Edge, Firefox or Safari, or the Salon app."],
  e2ee_missing_key: ["Can't join this room", 'This link is missing its key (the part after #). Ask for the whole link.'],
  e2ee_downgrade: ["Can't join this room", 'The server says this room is not encrypted, but your link says it is. Not joining.'],
};

/**
 * [title, sentence] telling a person what went wrong. `message` is the server's own words: used
 * when we have none for `code`, or when it says more than our title (e.g. "denied twice").
 */
export function errorWords(code, message) {
  const words = ERROR_WORDS[code];
  if (!words) return ['Something went wrong', message || 'Please try again.'];
  const [title, detail] = words;
  const norm = (text) => String(text ?? '').trim().replace(/[.!]+$/u, '').toLowerCase();
  const saysMore = code === 'knock_denied' && message && norm(message) !== norm(title);
  return [title, saysMore ? message : detail];
}

// --- identity ----------------------------------------------------------------------------------

/** URL-safe base64 without padding (16 bytes give the 22 characters of a device id). */
export function base64Url(bytes) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = (value << 8) | (byte & 0xff);
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += alphabet[(value >> bits) & 63];
    }
    value &= (1 << bits) - 1;
  }
  if (bits > 0) out += alphabet[(value << (6 - bits)) & 63];
  return out;
}

/** Whether a stored device id has the shape the server accepts (16–64 URL-safe characters). */
export function isDeviceId(value) {
  return typeof value === 'string' && /^[A-Za-z0-9_-]{16,64}$/u.test(value);
}

/**
 * The remembered-rooms list (landing page, newest first) after a host rotated the link of
 * `oldId` to `newId`: the entry keeps its place and name, with the new id and link.
 */
export function renameRoom(rooms, oldId, newId, origin) {
  return rooms.map((room) => (room.id === oldId
    ? { ...room, id: newId, url: `${origin}/r/${encodeURIComponent(newId)}` }
    : room));
}

// --- roles and host controls ---------------------------------------------------------------------

const RANK = { guest: 0, cohost: 1, owner: 2 };

export function isHost(role) {
  return role === 'owner' || role === 'cohost';
}

/** Hosts act only on people of a lower role (docs/protocol.md, "Roles"). */
export function outranks(actor, target) {
  return isHost(actor) && (RANK[actor] ?? 0) > (RANK[target] ?? 0);
}

/**
 * What I (of `myRole`) may do to someone of `theirRole`, in menu order. Empty: no menu at all.
 * `cohost` is "Make co-host" / "Remove co-host", for the owner only.
 */
export function tileActions(myRole, theirRole) {
  if (!outranks(myRole, theirRole)) return [];
  const actions = ['ask_mute', 'mute', 'mute_video'];
  if (myRole === 'owner') actions.push('cohost');
  actions.push('remove');
  return actions;
}

/** The small label on a tile: "host" for the owner, "co-host", or nothing. */
export function roleLabel(role) {
  if (role === 'owner') return 'host';
  if (role === 'cohost') return 'co-host';
  return '';
}

/** During panic a guest cannot switch the microphone or camera on. */
export function mediaLocked(role, room) {
  return !!room?.panic && !isHost(role);
}

/** What the lobby says while a locked room keeps you waiting. */
export function waitingText(hostPresent) {
  return hostPresent
    ? 'A host has been told you are here.'
    : "No host is here yet; you'll get in when one arrives and admits you";
}

/** The note next to a knock: the hosts should know someone is trying a second time. */
export function knockNote(knock) {
  return knock?.denied_before > 0 ? 'denied once already' : '';
}

/** Knock list after one more knock (a knock id appears once; newest last). */
export function addKnock(knocks, knock) {
  return [...knocks.filter((k) => k.id !== knock.id), knock];
}

/**
 * What the local devices must do after the server says my media is `server` (after a host mute,
 * or a refused unmute during panic): turn off what it has off. Never turns anything on.
 */
export function devicesToTurnOff(local, server) {
  const off = [];
  if (server && local.audio && server.audio === false) off.push('audio');
  if (server && local.video && server.video === false) off.push('video');
  return off;
}

/** "2 min ago"-style words for a ban's time (Unix seconds), relative to `nowMs`. */
export function agoText(atSeconds, nowMs) {
  const seconds = Math.max(0, Math.round(nowMs / 1000 - atSeconds));
  if (seconds < 60) return 'just now';
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 48) return `${hours} h ago`;
  return `${Math.round(hours / 24)} days ago`;
}

/** Up to two initials of a display name, for the camera-off placeholder. */
export function initials(name) {
  const words = String(name ?? '').trim().split(/\s+/u).filter(Boolean);
  if (words.length === 0) return '?';
  const first = (word) => Array.from(word)[0] ?? '';
  const letters = words.length === 1 ? first(words[0]) : first(words[0]) + first(words[words.length - 1]);
  return letters.toLocaleUpperCase();
}

/** A display name as the server will accept it: trimmed, no control characters, 1–64 chars. */
export function cleanName(raw) {
  // eslint-disable-next-line no-control-regex
  const name = String(raw ?? '').replace(/[\u0000-\u001f\u007f-\u009f]/gu, '').trim();
  return Array.from(name).slice(0, 64).join('').trim();
}

function fmtpParams(line) {
  const params = {};
  for (const part of String(line ?? '').split(';')) {
    const [key, value] = part.split('=');
    if (key) params[key.trim().toLowerCase()] = (value ?? '').trim().toLowerCase();
  }
  return params;
}

function codecRank(codec) {
  const mime = codec.mimeType.toLowerCase();
  if (mime === 'video/h264') {
    const params = fmtpParams(codec.sdpFmtpLine);
    if (params['packetization-mode'] === '1') {
      // Constrained baseline first: every native decoder handles it.
      if (params['profile-level-id'] === '42e01f') return 0;
      return 1;
    }
  }
  if (mime === 'video/vp8') return 2;
  return 3;
}

/**
 * Orders video codec capabilities for `setCodecPreferences`: H.264 (constrained baseline,
 * packetization-mode 1 first) so native clients can decode it, then VP8, then everything else in
 * the browser's order (RTX, RED and FEC stay in the list). Returns null when neither H.264 nor
 * VP8 is available, meaning "leave the browser's defaults alone".
 */
export function orderVideoCodecs(codecs) {
  if (!codecs.some((codec) => codecRank(codec) < 3)) return null;
  return codecs
    .map((codec, index) => ({ codec, index, rank: codecRank(codec) }))
    .sort((a, b) => a.rank - b.rank || a.index - b.index)
    .map((entry) => entry.codec);
}

/**
 * How many columns and how large tiles should be so that `count` tiles of aspect `aspect`
 * (width / height) fill a `width` × `height` area best. Tiles never get narrower than `minWidth`:
 * beyond that the grid scrolls vertically (never horizontally).
 */
export function gridShape(count, width, height, { gap = 8, aspect = 16 / 9, minWidth = 140 } = {}) {
  const n = Math.max(1, count);
  let best = null;
  for (let cols = 1; cols <= n; cols += 1) {
    const rows = Math.ceil(n / cols);
    const maxW = (width - gap * (cols - 1)) / cols;
    const maxH = (height - gap * (rows - 1)) / rows;
    const tileW = Math.min(maxW, maxH * aspect);
    if (!best || tileW > best.tileWidth + 0.5) best = { cols, rows, tileWidth: tileW };
  }
  if (best.tileWidth < minWidth) {
    // Too many people for one screen: keep tiles readable and let the grid scroll.
    const cols = Math.max(1, Math.floor((width + gap) / (minWidth + gap)));
    const tileWidth = Math.min((width - gap * (cols - 1)) / cols, width);
    best = { cols, rows: Math.ceil(n / cols), tileWidth };
  }
  const tileWidth = Math.max(0, Math.floor(best.tileWidth));
  return { cols: best.cols, rows: best.rows, tileWidth, tileHeight: Math.floor(tileWidth / aspect) };
}

/**
 * Words for what the browser gave us. `result` is {audio, video} booleans (a track was
 * obtained) and `errors` the DOMException names of what failed, e.g. {video: 'NotAllowedError'}.
 */
export function mediaNotice(result, errors = {}) {
  const why = (name) => {
    if (name === 'NotAllowedError' || name === 'SecurityError') return 'blocked';
    if (name === 'NotFoundError' || name === 'OverconstrainedError') return 'not found';
    if (name === 'NotReadableError') return 'in use by another app';
    if (name === 'Unsupported') return 'not supported by this browser';
    return 'unavailable';
  };
  if (result.audio && result.video) return null;
  if (result.audio) {
    return `Camera ${why(errors.video)} — you'll join with audio only.`;
  }
  if (result.video) {
    return `Microphone ${why(errors.audio)} — others will see you but not hear you.`;
  }
  const reason = errors.audio && errors.audio === errors.video ? why(errors.audio) : 'unavailable';
  return `Camera and microphone ${reason} — you can still join to see and hear everyone.`;
}

/** "Nobody is here yet", "1 person is here", "3 people are here". */
/** What a room's door shows: "Door open · 2 inside: Ada, Bo" or "Door closed". */
export function doorText(room) {
  if (!room || !room.door_open) return 'Door closed';
  const count = room.participants ?? room.people ?? 0;
  const names = Array.isArray(room.names) && room.names.length ? `: ${room.names.join(', ')}` : '';
  return `Door open · ${count} inside${names}`;
}

export function presenceText(count) {
  if (!count) return 'Nobody is here yet';
  return count === 1 ? '1 person is here' : `${count} people are here`;
}

/** Speaking detection with a short hold so the highlight does not flicker between syllables. */
export function speakingNow(level, lastLoudAt, now, { threshold = 0.02, holdMs = 600 } = {}) {
  const loudAt = level >= threshold ? now : lastLoudAt;
  return { speaking: loudAt != null && now - loudAt < holdMs, lastLoudAt: loudAt };
}

// --- the grid of a big room: pages, speaker view, what the page shows the server ----------------

/** At most this many tiles (your own included) on one page of the grid: 5 × 5 on a desktop. */
export const MAX_PAGE_TILES = 25;
/** Largest tile width or height a `view` may state (docs/protocol.md). */
export const MAX_TILE_PIXELS = 16384;
/** At most this many tiles in one `view`. */
export const MAX_VIEW_TILES = 50;

/** A screen share's media stream id is its publisher's id with this suffix (docs/protocol.md). */
export const SCREEN_STREAM_SUFFIX = '|screen';

/**
 * Whose media a forwarded stream carries, and which: {participantId, source: 'camera'|'screen'}
 * from its media stream id (the publisher's id, `|screen` for a share). Null for nothing usable.
 */
export function splitStreamId(streamId) {
  if (typeof streamId !== 'string' || !streamId) return null;
  if (streamId.endsWith(SCREEN_STREAM_SUFFIX)) {
    const participantId = streamId.slice(0, -SCREEN_STREAM_SUFFIX.length);
    return participantId ? { participantId, source: 'screen' } : null;
  }
  return { participantId: streamId, source: 'camera' };
}

/**
 * Who presents now, from what we know of everyone ({id, screen} each): the first sharer in the
 * list (the server lets one share at a time), or null.
 */
export function presenterOf(participants) {
  for (const p of participants) if (p?.screen === true && typeof p.id === 'string') return p.id;
  return null;
}

function clamp(value, low, high) {
  return Math.max(low, Math.min(high, value));
}

/**
 * How many columns and rows one page of the grid may have in a `width` × `height` area (CSS
 * pixels): tiles stay readable (at least about 160 × 80, 140 × 100 on a phone) and a page never
 * holds more than 5 × 5. A phone-sized area (narrower than 560 px) gets at most 2 columns and 3
 * rows, so a phone never decodes more than 5 videos at once. Always at least 2 tiles: yours and
 * one other.
 */
export function pageShape(width, height, { gap = 8 } = {}) {
  const phone = width < 560;
  const minW = phone ? 140 : 160;
  const minH = phone ? 100 : 80;
  const cols = clamp(Math.floor((width + gap) / (minW + gap)), 1, phone ? 2 : 5);
  let rows = clamp(Math.floor((height + gap) / (minH + gap)), 1, phone ? 3 : 5);
  if (cols * rows < 2) rows = 2;
  return { cols, rows, size: cols * rows };
}

/**
 * Paging of the others (`count` of them) when a page holds `pageSize` tiles: your own tile takes
 * one place on every page. `page` is clamped to the pages there are (people leave). Returns
 * {pages, page, start, end}: the others shown are those at [start, end) in join order.
 */
export function paging(count, pageSize, page) {
  const perPage = Math.max(1, pageSize - 1);
  const pages = Math.max(1, Math.ceil(count / perPage));
  const current = clamp(Math.floor(Number(page) || 0), 0, pages - 1);
  return { pages, page: current, start: current * perPage, end: Math.min(count, (current + 1) * perPage) };
}

/** "2 / 3" for the pager, and the words a screen reader hears. */
export function pageLabel(page, pages) {
  return { text: `${page + 1} / ${pages}`, label: `Page ${page + 1} of ${pages}` };
}

/**
 * Who has the large tile in the speaker view. `others` lists the other participants in join
 * order; `speakers` is the server's latest `speakers` list (loudest first, may include me). A pin
 * wins; otherwise the main tile stays on `current` while they still speak or while nobody else
 * does (it does not flicker back and forth, nor go blank in a pause) and moves to the loudest
 * other speaker when `current` has stopped. With nobody ever speaking: the first of the others.
 * null: nobody else is here.
 */
export function chooseMain({ pinned = null, current = null, speakers = [], selfId = null, others = [] }) {
  const present = new Set(others);
  if (pinned && present.has(pinned)) return pinned;
  const candidates = speakers.filter((id) => id !== selfId && present.has(id));
  if (current && present.has(current) && (candidates.length === 0 || candidates.includes(current))) return current;
  if (candidates.length > 0) return candidates[0];
  return others[0] ?? null;
}

/**
 * Whether shown tiles count as `large` for the server: the main tile of the speaker view (or a
 * pinned tile), or every tile of a grid page of at most 4 tiles (yours included).
 */
export function isLargeTile({ layout, main, id, pageTiles }) {
  if (layout === 'speaker') return id === main;
  return pageTiles <= 4;
}

/**
 * The `view` message for the tiles shown ([{id, large, width, height, source}], width and height
 * in device pixels, `source: 'screen'` for a share): each participant's camera once, at most 50,
 * and the share, sizes rounded and within the protocol's bounds (0 = unknown is left out).
 */
export function buildView(tiles) {
  const seen = new Set();
  const out = [];
  let cameras = 0;
  for (const tile of tiles) {
    const screen = tile?.source === 'screen';
    const key = `${tile?.id}${screen ? SCREEN_STREAM_SUFFIX : ''}`;
    if (!tile?.id || seen.has(key) || (!screen && cameras >= MAX_VIEW_TILES)) continue;
    seen.add(key);
    if (!screen) cameras += 1;
    const entry = { participant_id: tile.id, size: tile.large ? 'large' : 'thumbnail' };
    if (screen) entry.source = 'screen';
    const width = clamp(Math.round(Number(tile.width) || 0), 0, MAX_TILE_PIXELS);
    const height = clamp(Math.round(Number(tile.height) || 0), 0, MAX_TILE_PIXELS);
    if (width > 0 && height > 0) {
      entry.width = width;
      entry.height = height;
    }
    out.push(entry);
  }
  return { type: 'view', tiles: out };
}

/**
 * Whether two views differ enough to send the new one: other people, another size class, or a
 * tile whose size changed by more than 10% either way (a scrollbar coming and going is not worth
 * a message).
 */
export function viewChanged(before, after) {
  if (!before) return true;
  if (before.tiles.length !== after.tiles.length) return true;
  const near = (a = 0, b = 0) => Math.abs(a - b) <= Math.max(a, b) * 0.1;
  return after.tiles.some((tile, i) => {
    const old = before.tiles[i];
    return old.participant_id !== tile.participant_id || old.size !== tile.size
      || (old.source ?? 'camera') !== (tile.source ?? 'camera')
      || !near(old.width, tile.width) || !near(old.height, tile.height);
  });
}

/** The speaking ring: which ids change, from the last `speakers` list to this one. */
export function speakingChanges(before, after) {
  const was = new Set(before);
  const now = new Set(after);
  return {
    on: [...now].filter((id) => !was.has(id)),
    off: [...was].filter((id) => !now.has(id)),
  };
}

// --- the camera's simulcast layers and dynacast ------------------------------------------------

/** A capture at least this high is sent in three layers; a smaller one in two. */
export const THREE_LAYER_MIN_HEIGHT = 540;

/**
 * The camera's simulcast encodings for a capture `height` lines high, lowest first (the server's
 * rule). The rid names the layer's place, not its size: `q` the lowest, `h` the middle, `f` the
 * full capture. A 720p capture goes out as q/h/f (180, 360 and 720 lines); a smaller one (the data
 * saver's 360p, or a camera that gives less) as q/f (half and full size), since browsers send at
 * most two layers of a capture under 540 lines. Bitrates: close to LiveKit's presets for these
 * sizes (160k, 450k, 1.7M).
 */
export function cameraLayers(height) {
  if (Number.isFinite(height) && height >= THREE_LAYER_MIN_HEIGHT) {
    return [
      { rid: 'q', scaleResolutionDownBy: 4, maxBitrate: 150_000 },
      { rid: 'h', scaleResolutionDownBy: 2, maxBitrate: 500_000 },
      { rid: 'f', scaleResolutionDownBy: 1, maxBitrate: 1_500_000 },
    ];
  }
  return [
    { rid: 'q', scaleResolutionDownBy: 2, maxBitrate: 150_000 },
    { rid: 'f', scaleResolutionDownBy: 1, maxBitrate: 500_000 },
  ];
}

/**
 * The layers of a `video_layers` message: its rids that are strings, or null when it says
 * nothing usable (not a list). Never throws.
 */
export function videoLayersOf(message) {
  const layers = message?.layers;
  if (!Array.isArray(layers)) return null;
  return layers.filter((rid) => typeof rid === 'string' && rid.length > 0 && rid.length <= 16).slice(0, 8);
}

/**
 * Which of our encodings (by rid, lowest first) should be active: none while nobody watches
 * (`watched` false); else those in `layers` (the latest `video_layers`), or all of them when
 * there is none yet, or when it names none of ours (unknown rids are ignored, and a message we
 * cannot match never turns the camera off). An encoding without a rid (no simulcast) follows
 * `watched` alone.
 */
export function activeEncodings(rids, { watched = true, layers = null } = {}) {
  if (!watched) return rids.map(() => false);
  const known = Array.isArray(layers) ? layers.filter((rid) => rids.includes(rid)) : [];
  if (known.length === 0) return rids.map(() => true);
  return rids.map((rid) => !rid || known.includes(rid));
}

/** The data saver as a URL asks for it (`?data-saver=1` or `0`), or null when it does not say. */
export function dataSaverFromQuery(search) {
  const value = new URLSearchParams(search ?? '').get('data-saver');
  if (value === null) return null;
  return !['0', 'false', 'off', 'no'].includes(value.trim().toLowerCase());
}

/** The friend card format this page reads (`core/src/store/links.rs`, "Friend cards"). */
export const FRIEND_CARD_VERSION = 1;
const MAX_CARD_CHARS = 8192;
const ROOM_PATH = /^(\/.*)?\/r\/([A-Za-z0-9_-]{22})\/?$/u;

/**
 * Reads a friend card's query (`?v=1&name=…&room=<invite link>[&presence=…]`) the way the core
 * does: `{ name, room: URL }` with the canonical invite link, or `{ error }` in words. Unknown
 * parameters are ignored; a repeated `v`, `name` or `room` is refused as ambiguous; the invite
 * link must be an http(s) link to `/r/<room id>` (the room is joined from it, so nothing else
 * may pass: no `javascript:` link, no other page of any site).
 */
export function readFriendCard(search) {
  const query = String(search ?? '');
  if (query.length > MAX_CARD_CHARS) return { error: 'This friend card is too long.' };
  const params = new URLSearchParams(query);
  for (const key of ['v', 'name', 'room']) {
    if (params.getAll(key).length > 1) return { error: `This friend card has two "${key}" values.` };
  }
  const version = params.get('v');
  if (version === null || !/^\d{1,9}$/u.test(version)) return { error: 'This is not a Salon friend card.' };
  if (Number(version) > FRIEND_CARD_VERSION) {
    return { error: 'This friend card was made by a newer Salon. Update the app to read it.' };
  }
  const name = cleanName(params.get('name'));
  if (!name) return { error: 'This friend card has no name.' };
  let room;
  try {
    room = new URL(params.get('room') ?? '');
  } catch {
    return { error: 'This friend card has no room link.' };
  }
  const path = ROOM_PATH.exec(room.pathname);
  if (!['https:', 'http:'].includes(room.protocol) || !path || room.username || room.password) {
    return { error: "This friend card's room link is not a Salon invite link." };
  }
  const canonical = new URL(`${room.origin}${path[1] ?? ''}/r/${path[2]}`);
  return { name, room: canonical };
}

/** At most this many TURN URLs are used from a `joined` (the server sends at most 8). */
const MAX_TURN_URLS = 8;
const TURN_URL = /^turns?:[A-Za-z0-9.\-[\]:]{1,260}(\?transport=(udp|tcp))?$/u;

/**
 * The `ice_servers` of a `joined` message as RTCPeerConnection's `iceServers`: only TURN URLs
 * (`turn:`/`turns:`) with a string username and credential, at most 8 URLs in all; anything
 * else is dropped (a server bug must not break the call: the direct path still works).
 */
export function iceServersFrom(message) {
  const list = Array.isArray(message?.ice_servers) ? message.ice_servers : [];
  const out = [];
  let count = 0;
  for (const server of list) {
    if (typeof server?.username !== 'string' || typeof server?.credential !== 'string') continue;
    if (!Array.isArray(server.urls)) continue;
    const urls = server.urls.filter((u) => typeof u === 'string' && TURN_URL.test(u)).slice(0, MAX_TURN_URLS - count);
    if (urls.length === 0) continue;
    count += urls.length;
    out.push({ urls, username: server.username, credential: server.credential });
  }
  return out;
}
