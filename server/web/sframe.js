// SFrame (RFC 9605) for Salon's end-to-end encrypted rooms (docs/adr/0003-e2ee.md, §1 and §14):
// the header, the key schedule of suite 0x0004 AES_128_GCM_SHA256_128, seal/open with metadata,
// the per-codec clear prefix (Opus, VP8, H.264) with H.264 emulation-prevention escaping, a
// replay window and a key table per sender. Pure: no DOM, no imports; runs in the page, in the
// e2ee worker and in Node ≥ 20 (globalThis.crypto.subtle only). Held byte for byte to the RFC's
// vectors and to core/e2ee/tests/vectors/salon-v1.json (tests/browser/e2ee-logic.test.js).
//
// Key material is never logged, and the raw bytes given to `deriveSFrameKeys` are not kept.

const subtle = () => globalThis.crypto.subtle;
const encoder = new TextEncoder();

/** The one suite of v1: AES_128_GCM_SHA256_128 (RFC 9605 §4.5). */
export const SUITE = 0x0004;
export const TAG_LENGTH = 16;
/** How far below the highest CTR seen a frame may still come (§14 "replay"). */
export const REPLAY_WINDOW = 128;
/** How long a sender's previous generation stays usable after the first frame of the next one. */
export const PREVIOUS_KEY_MS = 5000;

/** Codec kinds: the first byte of the metadata (§14). */
export const KIND = Object.freeze({ opus: 1, h264: 2, vp8: 3 });

// --- bytes --------------------------------------------------------------------------------------

export function concat(...parts) {
  let length = 0;
  for (const part of parts) length += part.length;
  const out = new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

export const utf8 = (text) => encoder.encode(text);

export function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export function fromHex(text) {
  const clean = String(text).trim();
  if (clean.length % 2 !== 0 || /[^0-9a-f]/iu.test(clean)) throw new Error('not hex');
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i += 1) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** RFC 4648 §5 base64url without padding. */
export function toBase64Url(bytes) {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = ((value << 8) | byte) & 0xffff;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += B64[(value >> bits) & 63];
    }
  }
  if (bits > 0) out += B64[(value << (6 - bits)) & 63];
  return out;
}

/** Decodes base64url without padding; null when `text` is not exactly that (or not canonical). */
export function fromBase64Url(text) {
  if (typeof text !== 'string' || !/^[A-Za-z0-9_-]*$/u.test(text) || text.length % 4 === 1) return null;
  const out = new Uint8Array(Math.floor((text.length * 6) / 8));
  let bits = 0;
  let value = 0;
  let at = 0;
  for (const char of text) {
    value = ((value << 6) | B64.indexOf(char)) & 0xffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[at] = (value >> bits) & 0xff;
      at += 1;
    }
  }
  // Leftover bits must be zero (one spelling per byte string).
  if (bits > 0 && (value & ((1 << bits) - 1)) !== 0) return null;
  return out;
}

/** Big-endian u16 / u64 (u64 from a number or bigint). */
export function u16be(n) {
  return new Uint8Array([(n >> 8) & 0xff, n & 0xff]);
}

export function u64be(n) {
  let v = BigInt(n);
  const out = new Uint8Array(8);
  for (let i = 7; i >= 0; i -= 1) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

export function readU64be(bytes, at = 0) {
  let v = 0n;
  for (let i = 0; i < 8; i += 1) v = (v << 8n) | BigInt(bytes[at + i]);
  return v;
}

/** Bytewise comparison (for sorting public keys). */
export function compareBytes(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i += 1) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

export function equalBytes(a, b) {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i += 1) diff |= a[i] ^ b[i];
  return diff === 0;
}

// --- header (RFC 9605 §4.3) ----------------------------------------------------------------------

const MAX_U64 = (1n << 64n) - 1n;

/** Minimal big-endian bytes of a non-negative bigint (at least one byte). */
function minimalBytes(v) {
  const out = [];
  let x = v;
  do {
    out.unshift(Number(x & 0xffn));
    x >>= 8n;
  } while (x > 0n);
  return out;
}

/** The SFrame header for `kid` and `ctr` (numbers or bigints, 0 … 2^64 − 1). */
export function encodeHeader(kid, ctr) {
  const k = BigInt(kid);
  const c = BigInt(ctr);
  if (k < 0n || k > MAX_U64 || c < 0n || c > MAX_U64) throw new RangeError('KID and CTR are u64');
  let config = 0;
  const tail = [];
  if (k < 8n) {
    config |= Number(k) << 4;
  } else {
    const bytes = minimalBytes(k);
    config |= 0x80 | ((bytes.length - 1) << 4);
    tail.push(...bytes);
  }
  if (c < 8n) {
    config |= Number(c);
  } else {
    const bytes = minimalBytes(c);
    config |= 0x08 | (bytes.length - 1);
    tail.push(...bytes);
  }
  return new Uint8Array([config, ...tail]);
}

/**
 * Parses the header at the start of `bytes`: {kid, ctr (bigints), length}, or null when the
 * bytes are too short for it.
 */
export function parseHeader(bytes) {
  if (!bytes || bytes.length < 1) return null;
  const config = bytes[0];
  let at = 1;
  const read = (n) => {
    if (at + n > bytes.length) return null;
    let v = 0n;
    for (let i = 0; i < n; i += 1) v = (v << 8n) | BigInt(bytes[at + i]);
    at += n;
    return v;
  };
  let kid = BigInt((config >> 4) & 0x07);
  if (config & 0x80) {
    kid = read(((config >> 4) & 0x07) + 1);
    if (kid === null) return null;
  }
  let ctr = BigInt(config & 0x07);
  if (config & 0x08) {
    ctr = read((config & 0x07) + 1);
    if (ctr === null) return null;
  }
  return { kid, ctr, length: at };
}

// --- key schedule (RFC 9605 §4.4.2, §14) ---------------------------------------------------------

const keyLabel = (kid) => concat(utf8('SFrame 1.0 Secret key '), u64be(kid), u16be(SUITE));
const saltLabel = (kid) => concat(utf8('SFrame 1.0 Secret salt '), u64be(kid), u16be(SUITE));

/** HKDF-SHA256 with an empty salt is exactly RFC 9605's Extract("", base_key) then Expand. */
async function hkdfBase(baseKey) {
  return subtle().importKey('raw', baseKey, 'HKDF', false, ['deriveKey', 'deriveBits']);
}

const hkdfParams = (info) => ({ name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0), info });

/**
 * The sender key of generation `kid` for use: a non-extractable AES-128-GCM key and the 12-byte
 * salt. `baseKey` is 16 random bytes.
 */
export async function deriveSFrameKeys(baseKey, kid) {
  const base = await hkdfBase(baseKey);
  const key = await subtle().deriveKey(hkdfParams(keyLabel(kid)), base, { name: 'AES-GCM', length: 128 }, false, ['encrypt', 'decrypt']);
  const salt = new Uint8Array(await subtle().deriveBits(hkdfParams(saltLabel(kid)), base, 96));
  return { kid: BigInt(kid), key, salt };
}

/** For the test vectors only: the raw sframe_key and sframe_salt. */
export async function deriveSFrameKeyBytes(baseKey, kid) {
  const base = await hkdfBase(baseKey);
  const key = new Uint8Array(await subtle().deriveBits(hkdfParams(keyLabel(kid)), base, 128));
  const salt = new Uint8Array(await subtle().deriveBits(hkdfParams(saltLabel(kid)), base, 96));
  return { key, salt };
}

/** nonce = salt XOR CTR (as a 12-byte big-endian number). */
export function nonceFor(salt, ctr) {
  const nonce = new Uint8Array(salt);
  const c = u64be(ctr);
  for (let i = 0; i < 8; i += 1) nonce[4 + i] ^= c[i];
  return nonce;
}

/** SFrame seal: header || ciphertext || tag, with AAD = header || metadata. */
export async function seal({ key, salt, kid }, ctr, plaintext, metadata = new Uint8Array(0)) {
  const header = encodeHeader(kid, ctr);
  const sealed = new Uint8Array(await subtle().encrypt(
    { name: 'AES-GCM', iv: nonceFor(salt, ctr), additionalData: concat(header, metadata), tagLength: 128 },
    key,
    plaintext,
  ));
  return concat(header, sealed);
}

/**
 * SFrame open of a whole SFrame ciphertext `bytes`. `lookup(kid)` gives the keys
 * ({key, salt, kid}) or null. Resolves to {kid, ctr, plaintext}; throws on any failure (unknown
 * KID: an Error with code 'no_key'; failed tag: code 'auth').
 */
export async function open(bytes, lookup, metadata = new Uint8Array(0)) {
  const header = parseHeader(bytes);
  if (!header || bytes.length < header.length + TAG_LENGTH) throw codeError('malformed');
  const keys = lookup(header.kid);
  if (!keys) throw codeError('no_key', header);
  let plaintext;
  try {
    plaintext = new Uint8Array(await subtle().decrypt(
      {
        name: 'AES-GCM', iv: nonceFor(keys.salt, header.ctr),
        additionalData: concat(bytes.subarray(0, header.length), metadata), tagLength: 128,
      },
      keys.key,
      bytes.subarray(header.length),
    ));
  } catch {
    throw codeError('auth', header);
  }
  return { kid: header.kid, ctr: header.ctr, plaintext };
}

function codeError(code, header = null) {
  const error = new Error(`sframe: ${code}`);
  error.code = code;
  if (header) {
    error.kid = header.kid;
    error.ctr = header.ctr;
  }
  return error;
}

// --- codecs: the clear prefix (§1, §14) ---------------------------------------------------------

/** 'opus' | 'vp8' | 'h264' | null from a mime type such as "video/H264" or "audio/opus". */
export function codecOf(mimeType) {
  const name = String(mimeType ?? '').toLowerCase().split('/').pop();
  if (name === 'opus') return 'opus';
  if (name === 'vp8') return 'vp8';
  if (name === 'h264') return 'h264';
  return null;
}

/**
 * Where the H.264 prefix ends in an Annex B frame: the index just after the first slice NAL's
 * header and one more byte (types 1 or 5), or -1 when there is no such NAL (or it is cut short).
 */
export function h264PrefixLength(frame) {
  // `00 00 01` also matches the tail of a 4-byte start code `00 00 00 01`.
  let i = 0;
  while (i + 3 <= frame.length) {
    if (frame[i] === 0 && frame[i + 1] === 0 && frame[i + 2] === 1) {
      const header = i + 3;
      if (header >= frame.length) return -1;
      const type = frame[header] & 0x1f;
      if (type === 1 || type === 5) return header + 2 <= frame.length ? header + 2 : -1;
      i = header;
    } else {
      i += 1;
    }
  }
  return -1;
}

/** How many of `bytes`' last bytes are zeros, capped at 2 (the escaper's state). */
function trailingZeros(bytes) {
  let zeros = 0;
  for (const b of bytes) zeros = b === 0 ? Math.min(zeros + 1, 2) : 0;
  return zeros;
}

/**
 * H.264 emulation prevention: after two zero bytes, a byte ≤ 3 gets 0x03 inserted before it.
 * `before` is what precedes (A, the last two bytes of the prefix): its trailing zeros count.
 */
export function h264Escape(bytes, before = new Uint8Array(0)) {
  let zeros = trailingZeros(before);
  let extra = 0;
  {
    let z = zeros;
    for (const b of bytes) {
      if (z >= 2 && b <= 3) {
        extra += 1;
        z = 0;
      }
      z = b === 0 ? z + 1 : 0;
    }
  }
  if (extra === 0) return bytes;
  const out = new Uint8Array(bytes.length + extra);
  let at = 0;
  for (const b of bytes) {
    if (zeros >= 2 && b <= 3) {
      out[at] = 3;
      at += 1;
      zeros = 0;
    }
    out[at] = b;
    at += 1;
    zeros = b === 0 ? zeros + 1 : 0;
  }
  return out;
}

/** Undoes h264Escape: drops a 0x03 that follows two zeros (counting `before`'s trailing zeros). */
export function h264Unescape(bytes, before = new Uint8Array(0)) {
  let zeros = trailingZeros(before);
  const out = new Uint8Array(bytes.length);
  let at = 0;
  for (const b of bytes) {
    if (zeros >= 2 && b === 3) {
      zeros = 0;
      continue;
    }
    out[at] = b;
    at += 1;
    zeros = b === 0 ? zeros + 1 : 0;
  }
  return at === bytes.length ? bytes : out.slice(0, at);
}

/**
 * The clear prefix P of a frame and the authenticated bytes A (§14), or null when the frame
 * lacks the structure its codec needs. Only for non-empty frames.
 */
export function splitFrame(codec, frame) {
  if (codec === 'opus') {
    if (frame.length < 1) return null;
    const prefix = frame.subarray(0, 1);
    return { prefix, authenticated: prefix, rest: frame.subarray(1) };
  }
  if (codec === 'vp8') {
    if (frame.length < 1) return null;
    const n = (frame[0] & 1) === 0 ? 10 : 3;
    if (frame.length < n) return null;
    const prefix = frame.subarray(0, n);
    return { prefix, authenticated: prefix, rest: frame.subarray(n) };
  }
  if (codec === 'h264') {
    const n = h264PrefixLength(frame);
    if (n < 0) return null;
    return { prefix: frame.subarray(0, n), authenticated: frame.subarray(n - 2, n), rest: frame.subarray(n) };
  }
  return null;
}

export function metadataFor(codec, authenticated) {
  return concat(new Uint8Array([KIND[codec]]), authenticated);
}

/**
 * A protected frame: P || SFrame(rest, metadata = kind || A), H.264's SFrame part escaped.
 * Empty frames pass unchanged. Resolves to null when the frame lacks its prefix (dropped).
 */
export async function protectFrame(codec, frame, keys, ctr) {
  if (frame.length === 0) return frame;
  const split = splitFrame(codec, frame);
  if (!split) return null;
  const sealed = await seal(keys, ctr, split.rest, metadataFor(codec, split.authenticated));
  const body = codec === 'h264' ? h264Escape(sealed, split.authenticated) : sealed;
  return concat(split.prefix, body);
}

/**
 * Opens a protected frame: resolves to {frame, kid, ctr} (empty frames: {frame} unchanged);
 * throws (code 'malformed', 'no_key' or 'auth') for anything else. `lookup(kid)` gives keys.
 */
export async function unprotectFrame(codec, frame, lookup) {
  if (frame.length === 0) return { frame };
  const split = splitFrame(codec, frame);
  if (!split) throw codeError('malformed');
  const body = codec === 'h264' ? h264Unescape(split.rest, split.authenticated) : split.rest;
  const opened = await open(body, lookup, metadataFor(codec, split.authenticated));
  return { frame: concat(split.prefix, opened.plaintext), kid: opened.kid, ctr: opened.ctr };
}

/**
 * Peeks at the header of a protected frame without opening it: {kid, ctr} or null (for the
 * replay check before spending a decryption).
 */
export function peekHeader(codec, frame) {
  if (frame.length === 0) return null;
  const split = splitFrame(codec, frame);
  if (!split) return null;
  const head = codec === 'h264' ? h264Unescape(split.rest.subarray(0, 32), split.authenticated) : split.rest;
  return parseHeader(head);
}

// --- replay window and key table (§1 "Replay", §2.4) -------------------------------------------

/**
 * Per (sender, KID): refuses a CTR already seen, or more than REPLAY_WINDOW below the highest
 * seen. `check` says whether a CTR would pass; `accept` records it (after the frame opened).
 */
export class ReplayWindow {
  constructor(size = REPLAY_WINDOW) {
    this.size = size;
    this.highest = -1n;
    this.seen = new Set(); // CTRs in [highest − size, highest]
  }

  check(ctr) {
    const c = BigInt(ctr);
    if (this.highest < 0n || c > this.highest) return true;
    if (this.highest - c > BigInt(this.size)) return false;
    return !this.seen.has(c);
  }

  accept(ctr) {
    const c = BigInt(ctr);
    if (!this.check(c)) return false;
    this.seen.add(c);
    if (c > this.highest) {
      this.highest = c;
      const floor = c - BigInt(this.size);
      if (this.seen.size > this.size + 1) {
        for (const old of this.seen) if (old < floor) this.seen.delete(old);
      }
    }
    return true;
  }
}

/**
 * The receive keys of one sender: its current generation (KID) and, for a while, the one before
 * (until PREVIOUS_KEY_MS after the first frame that opened under the current one), each with its
 * replay window. An older KID than the current one is ignored; the same KID again replaces it
 * (with a fresh window: the caller skips a key it already holds).
 */
export class SenderKeys {
  constructor() {
    this.current = null; // {kid, keys, replay}
    this.previous = null;
    this.previousUntil = null;
  }

  get newest() {
    return this.current ? this.current.kid : -1n;
  }

  /** Adds generation `kid`'s derived keys; false when older than the current one. */
  add(kid, keys) {
    const k = BigInt(kid);
    if (this.current && k < this.current.kid) return false;
    const generation = { kid: k, keys, replay: new ReplayWindow() };
    if (this.current && k > this.current.kid) {
      this.previous = this.current;
      this.previousUntil = null;
    }
    this.current = generation;
    return true;
  }

  /** The generation for `kid` now ({kid, keys, replay}), or null when unknown or expired. */
  lookup(kid, now) {
    if (this.previousUntil !== null && now >= this.previousUntil) {
      this.previous = null;
      this.previousUntil = null;
    }
    const k = BigInt(kid);
    if (this.current?.kid === k) return this.current;
    if (this.previous?.kid === k) return this.previous;
    return null;
  }

  /** A frame under `kid` opened: its CTR enters the window; the previous generation starts to expire. */
  opened(kid, ctr, now) {
    const generation = this.lookup(kid, now);
    if (!generation || !generation.replay.accept(ctr)) return false;
    if (generation === this.current && this.previous && this.previousUntil === null) {
      this.previousUntil = now + PREVIOUS_KEY_MS;
    }
    return true;
  }
}

/**
 * Opens a protected frame from one sender with its key table: checks the replay window before
 * and records the CTR after. Resolves to the clear frame; throws (code 'malformed', 'no_key',
 * 'auth' or 'replay').
 */
export async function openFromSender(codec, frame, senderKeys, now) {
  if (frame.length === 0) return frame;
  const head = peekHeader(codec, frame);
  if (!head) throw codeError('malformed');
  const entry = senderKeys?.lookup(head.kid, now);
  if (!entry) throw codeError('no_key', head);
  if (!entry.replay.check(head.ctr)) throw codeError('replay', head);
  const opened = await unprotectFrame(codec, frame, (kid) => (kid === head.kid ? entry.keys : null));
  if (!senderKeys.opened(opened.kid, opened.ctr, now)) throw codeError('replay', head);
  return opened.frame;
}
