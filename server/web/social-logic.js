// Pure decisions of the room's social side (reactions, raised hands, chat): no DOM, no network,
// no clock (time is a parameter). Unit-tested in Node by tests/browser/social-logic.test.js.
// The wire messages are in docs/protocol.md, "Reactions, hands and chat".

/** The reactions a room accepts, as the server's `REACTIONS` (core/protocol/src/social.rs). */
export const REACTIONS = Object.freeze(['👍', '❤️', '😂', '😮', '👏', '🎉', '🙌', '🔥']);

/** What a screen reader says for each reaction. */
export const REACTION_NAMES = Object.freeze({
  '👍': 'thumbs up',
  '❤️': 'heart',
  '😂': 'laughing',
  '😮': 'surprised',
  '👏': 'applause',
  '🎉': 'party',
  '🙌': 'hooray',
  '🔥': 'fire',
});

/** A chat message holds at most this many characters (the server's `MAX_CHAT_CHARS`). */
export const MAX_CHAT_CHARS = 1000;

/** Floating reactions on screen at once (the oldest go first), and on one tile. */
export const MAX_FLOATING = 24;
export const MAX_FLOATING_PER_TILE = 6;

/**
 * A token bucket in the page's own time: the page holds back what the server would refuse
 * (reactions 2/s, bursts of 6; hands 1/s, bursts of 4; chat one every 2 s, bursts of 5), so the
 * server's `rate_limited` stays the exception.
 */
export class TokenBucket {
  constructor(perSecond, burst, now) {
    this.perSecond = perSecond;
    this.burst = burst;
    this.tokens = burst;
    this.at = now;
  }

  refill(now) {
    const elapsed = Math.max(0, now - this.at) / 1000;
    this.tokens = Math.min(this.burst, this.tokens + elapsed * this.perSecond);
    this.at = now;
  }

  /** Takes a token if there is one. */
  take(now) {
    this.refill(now);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Gives a token back (the message was not sent after all). */
  giveBack() {
    this.tokens = Math.min(this.burst, this.tokens + 1);
  }
}

export const budgets = (now) => ({
  react: new TokenBucket(2, 6, now),
  hand: new TokenBucket(1, 4, now),
  chat: new TokenBucket(0.5, 5, now),
});

/** How long an unanswered request may still be the one a non-fatal error answers. */
export const PENDING_MS = 5000;

/**
 * The page's social requests (`react`, `hand`, `chat`, `lower`, `clear`) waiting for their answer,
 * oldest first. The server answers each message of a socket in order, so an `error` that comes
 * while requests wait answers the oldest of them; a request whose own answer came (my reaction
 * or chat back) was answered, and so were the ones before it (a reaction the busy room dropped
 * gets no answer at all). A request older than PENDING_MS is forgotten.
 */
export class PendingRequests {
  constructor() {
    this.queue = [];
  }

  sent(kind, now, detail = null) {
    this.queue.push({ kind, at: now, detail });
  }

  expire(now) {
    while (this.queue.length && now - this.queue[0].at > PENDING_MS) this.queue.shift();
  }

  /** My own `kind` came back: it and everything before it are answered. */
  answered(kind, now) {
    this.expire(now);
    const i = this.queue.findIndex((r) => r.kind === kind);
    if (i >= 0) this.queue.splice(0, i + 1);
  }

  /** A non-fatal error arrived: the request it answers ({kind, detail}), or null (not ours). */
  errored(now) {
    this.expire(now);
    return this.queue.shift() ?? null;
  }

  clear() {
    this.queue = [];
  }
}

/**
 * The queue of raised hands, in the order they went up: `[{id, hand, position}]` (position from
 * 1), from a Map of id → hand number (null or absent: down).
 */
export function handQueue(hands) {
  return [...hands]
    .filter(([, hand]) => Number.isSafeInteger(hand) && hand > 0)
    .sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1))
    .map(([id, hand], i) => ({ id, hand, position: i + 1 }));
}

/** The hand number of a protocol participant: a positive integer, or null (down). */
export function handOf(participant) {
  const hand = participant?.hand;
  return Number.isSafeInteger(hand) && hand > 0 ? hand : null;
}

/** "1st", "2nd", … for the hand queue. */
export function ordinal(n) {
  const tens = n % 100;
  if (tens >= 11 && tens <= 13) return `${n}th`;
  return `${n}${{ 1: 'st', 2: 'nd', 3: 'rd' }[n % 10] ?? 'th'}`;
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu;

/**
 * A chat text as the server accepts it: line ends as "\n", no control or text-direction
 * characters (tabs and line breaks stay), trimmed. Also applied to what others send before it
 * is shown (an encrypted room's text is not checked by the server).
 */
export function cleanChatText(raw) {
  return String(raw ?? '').replace(/\r\n?/gu, '\n').replace(CONTROL, '').trim();
}

/** Why `text` (cleaned) cannot be sent, or null. */
export function chatTextProblem(text) {
  if (!text) return 'Type a message first.';
  if (Array.from(text).length > MAX_CHAT_CHARS) return `A message holds at most ${MAX_CHAT_CHARS} characters.`;
  return null;
}

/**
 * A well-formed chat message from the server ({id, from, name, at, text | sealed}), or null.
 */
export function chatMessageOf(m) {
  if (!m || typeof m !== 'object') return null;
  if (!Number.isSafeInteger(m.id) || m.id < 0) return null;
  if (typeof m.from !== 'string' || typeof m.name !== 'string') return null;
  const text = typeof m.text === 'string' ? m.text : null;
  const sealed = typeof m.sealed === 'string' ? m.sealed : null;
  if ((text === null) === (sealed === null)) return null;
  return { id: m.id, from: m.from, name: m.name, at: Number.isFinite(m.at) ? m.at : 0, text, sealed };
}

/**
 * Where a message with `id` goes in a list sorted by id (`ids`, ascending): the index to insert
 * before (ids.length: at the end), or -1 when it is there already. Messages mostly arrive in
 * order, so the search runs from the end.
 */
export function insertionIndex(ids, id) {
  let i = ids.length;
  while (i > 0 && ids[i - 1] > id) i -= 1;
  if (i > 0 && ids[i - 1] === id) return -1;
  return i;
}

/** A message's time: "14:05" today, "3 Mar, 14:05" on another day (the locale's words). */
export function chatTime(at, now, locale = undefined) {
  const when = new Date(at);
  if (!Number.isFinite(when.getTime()) || at <= 0) return '';
  const time = when.toLocaleTimeString(locale, { hour: '2-digit', minute: '2-digit' });
  const today = new Date(now);
  const sameDay = when.getFullYear() === today.getFullYear() && when.getMonth() === today.getMonth()
    && when.getDate() === today.getDate();
  if (sameDay) return time;
  return `${when.toLocaleDateString(locale, { day: 'numeric', month: 'short' })}, ${time}`;
}

/** What the chat button says: "Chat", or "Chat, 3 unread". */
export function chatButtonLabel(unread) {
  if (unread <= 0) return 'Chat';
  return `Chat, ${unread > 99 ? '99+' : unread} unread`;
}

/**
 * Words for a refused social request (the server's `error` that answered it), by what was asked
 * and the error's code; null: keep the server's own message.
 */
export function refusalWords(kind, code) {
  if (code === 'rate_limited') {
    return {
      react: 'Easy there — a few reactions a second at most.',
      hand: 'Give it a second before raising or lowering your hand again.',
      chat: 'Slow down a little: wait a moment before sending more.',
    }[kind] ?? null;
  }
  if (code === 'not_allowed') {
    return {
      react: 'Reactions are paused by a host.',
      chat: 'Chat is paused by a host.',
      lower: 'Only a host can lower other hands.',
      clear: "Only the room's owner can clear the chat.",
    }[kind] ?? null;
  }
  return null;
}
