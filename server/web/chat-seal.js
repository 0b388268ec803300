// Chat sealed under the room secret (docs/adr/0003-e2ee.md §16; the Rust twin is
// core/e2ee/src/chat.rs, and tests/browser/e2ee-logic.test.js holds the two to the same bytes):
//
//   K_chat = HKDF-SHA256(salt = "", ikm = S, info = "salon/e2ee/v1/chat", 32)
//   id     = HKDF-SHA256(salt = "", ikm = S, info = "salon/e2ee/v1/chat-id", 8)
//   sealed = base64url(0x01 || id || nonce (12, random) || AES-256-GCM(K_chat, nonce, text, aad = 0x01 || id))
//
// The key id says which secret a message needs, so a page that keeps the secrets it has known
// (ChatKeys) still reads what was written before a new link. WebCrypto only; never logs keys.

import { concat, fromBase64Url, hex, toBase64Url, utf8 } from './sframe.js';

export const CHAT_INFO = 'salon/e2ee/v1/chat';
export const CHAT_ID_INFO = 'salon/e2ee/v1/chat-id';
const VERSION = 0x01;
const ID_LEN = 8;
const NONCE_LEN = 12;
const TAG_LEN = 16;
const HEADER_LEN = 1 + ID_LEN;

const subtle = () => globalThis.crypto.subtle;
const hkdf = (info) => ({ name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0), info: utf8(info) });

async function derive(secret) {
  const base = await subtle().importKey('raw', secret, 'HKDF', false, ['deriveKey', 'deriveBits']);
  const id = new Uint8Array(await subtle().deriveBits(hkdf(CHAT_ID_INFO), base, ID_LEN * 8));
  return { base, id };
}

/** The chat key of a room secret (32 bytes): {id (8 bytes), idHex, key (non-extractable AES-256-GCM)}. */
export async function chatKey(secret) {
  const { base, id } = await derive(secret);
  const key = await subtle().deriveKey(hkdf(CHAT_INFO), base, { name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
  return { id, idHex: hex(id), key };
}

/** For the test vectors only: K_chat and the id as bytes. */
export async function chatKeyBytes(secret) {
  const { base, id } = await derive(secret);
  const key = new Uint8Array(await subtle().deriveBits(hkdf(CHAT_INFO), base, 256));
  return { id, key };
}

const header = (id) => concat(new Uint8Array([VERSION]), id);

/** Seals `text` under `chatKey` (a random nonce unless one is given: test vectors only). */
export async function sealChat({ id, key }, text, nonce = null) {
  const iv = nonce ?? globalThis.crypto.getRandomValues(new Uint8Array(NONCE_LEN));
  const aad = header(id);
  const sealed = new Uint8Array(await subtle().encrypt(
    { name: 'AES-GCM', iv, additionalData: aad, tagLength: TAG_LEN * 8 }, key, utf8(text),
  ));
  return toBase64Url(concat(aad, iv, sealed));
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Opens a sealed message with whichever key it names (`lookup(idHex)` → chat key or null):
 * {text} or {error: 'malformed' | 'unknown_key' | 'forged' | 'not_text'}.
 */
export async function openChat(lookup, sealed) {
  const bytes = typeof sealed === 'string' ? fromBase64Url(sealed) : null;
  if (!bytes || bytes.length < HEADER_LEN + NONCE_LEN + TAG_LEN || bytes[0] !== VERSION) return { error: 'malformed' };
  const aad = bytes.subarray(0, HEADER_LEN);
  const found = lookup(hex(aad.subarray(1)));
  if (!found) return { error: 'unknown_key' };
  let plain;
  try {
    plain = await subtle().decrypt(
      { name: 'AES-GCM', iv: bytes.subarray(HEADER_LEN, HEADER_LEN + NONCE_LEN), additionalData: aad, tagLength: TAG_LEN * 8 },
      found.key,
      bytes.subarray(HEADER_LEN + NONCE_LEN),
    );
  } catch {
    return { error: 'forged' };
  }
  try {
    return { text: strictUtf8.decode(plain) };
  } catch {
    return { error: 'not_text' };
  }
}

/**
 * The chat keys of every room secret this page has known, and which one seals: the room's
 * current secret (the latest `use`).
 */
export class ChatKeys {
  constructor() {
    this.keys = new Map(); // idHex → chat key
    this.current = null;
    this.pending = Promise.resolve();
  }

  /** Adds a secret's key (kept, not used to seal). Resolves once it can open messages. */
  add(secret) {
    const step = this.pending.then(async () => {
      const key = await chatKey(secret);
      if (!this.keys.has(key.idHex)) this.keys.set(key.idHex, key);
      return this.keys.get(key.idHex);
    });
    this.pending = step.catch(() => null);
    return step;
  }

  /** The room's secret now: new messages are sealed with it. */
  use(secret) {
    const step = this.add(secret).then((key) => { this.current = key; return key; });
    this.pending = step.catch(() => null);
    return step;
  }

  async seal(text) {
    await this.pending;
    if (!this.current) throw new Error('no chat key');
    return sealChat(this.current, text);
  }

  async open(sealed) {
    await this.pending;
    return openChat((idHex) => this.keys.get(idHex) ?? null, sealed);
  }

  get size() {
    return this.keys.size;
  }
}
