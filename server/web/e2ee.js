// End-to-end encryption on the page's main thread (docs/adr/0003-e2ee.md §2, §3, §5, §14): the
// room secret from the link's `#k=`, this call's X25519 identity (private key non-extractable),
// the commitment, announcements and their MACs, pairwise boxes, this participant's sender keys
// (generations, rotation after departures and link rotations), the room-secret box of a link
// rotation, and the safety code. No DOM: the room controller (room.js) feeds it signaling
// messages and shows `state()`; frames are sealed and opened in e2ee-worker.js.
//
// Never logs key material. The room secret only ever goes into the address bar's fragment.

import {
  compareBytes, concat, equalBytes, fromBase64Url, readU64be, toBase64Url, u16be, u64be, utf8,
} from './sframe.js';

const subtle = () => globalThis.crypto.subtle;

export const LABEL = Object.freeze({
  announce: 'salon/e2ee/v1/announce',
  safetyKey: 'salon/e2ee/v1/safety-code',
  safety: 'salon/e2ee/v1/safety',
  commit: 'salon/e2ee/v1/commit',
  pair: 'salon/e2ee/v1/pair',
  box: 'salon/e2ee/v1/box',
});

/** Box plaintext kinds (§14). */
export const BOX_SENDER_KEY = 1;
export const BOX_ROOM_SECRET = 2;

/** Departures are gathered this long before a new generation (§2.4). */
export const REKEY_GATHER_MS = 500;
/** A new sender key is used this long after it was sent to the others (§2.4). */
export const USE_KEY_DELAY_MS = 1000;
/** Frames that failed this long (without one opening) make a tile say "waiting for keys". */
export const WAITING_AFTER_MS = 1000;
/** After my rotation, how long announcements under the previous secret still count (ADR §15). */
const PREVIOUS_SECRET_MS = 30000;
/** At most this many boxes per `e2ee_keys` (§4). */
export const MAX_BOXES = 49;

export const WORDS = Object.freeze({
  unsupported: "This room is end-to-end encrypted and this browser can't encrypt calls. Use a current Chrome, Edge, Firefox or Safari, or the Salon app.",
  required: 'This room is end-to-end encrypted. Update Salon, or use a current browser.',
  missingKey: 'This link is missing its key (the part after #). Ask for the whole link.',
  downgrade: 'The server says this room is not encrypted, but your link says it is. Not joining.',
  notEncrypted: 'Not end-to-end encrypted',
});

// --- the room secret in the link -----------------------------------------------------------------

/**
 * The `k` parameter of a link's fragment ("#k=…", other parameters ignored):
 * {present, secret (32 bytes) or null when absent or malformed}.
 */
export function secretFromHash(hash) {
  const text = String(hash ?? '').replace(/^#/u, '');
  let value = null;
  for (const part of text.split('&')) {
    if (part.startsWith('k=')) {
      value = part.slice(2);
      break;
    }
  }
  if (value === null) return { present: false, secret: null };
  const bytes = value.length === 43 ? fromBase64Url(value) : null;
  return { present: true, secret: bytes && bytes.length === 32 ? bytes : null };
}

/** The fragment for a secret: "#k=<43 chars>". */
export function hashFor(secret) {
  return `#k=${toBase64Url(secret)}`;
}

export function newRoomSecret() {
  return globalThis.crypto.getRandomValues(new Uint8Array(32));
}

// --- browser support -------------------------------------------------------------------------------

/** Whether this browser can take part in an E2EE room (§5): encoded transforms and X25519. */
export async function browserSupport(scope = globalThis) {
  if (!('RTCRtpScriptTransform' in scope)) return false;
  try {
    await subtle().generateKey({ name: 'X25519' }, false, ['deriveBits']);
    return true;
  } catch {
    return false;
  }
}

// --- primitives (§14) ------------------------------------------------------------------------------

const hkdfParams = (salt, info) => ({ name: 'HKDF', hash: 'SHA-256', salt, info: utf8(info) });
const EMPTY = new Uint8Array(0);

async function hkdfKey(ikm) {
  return subtle().importKey('raw', ikm, 'HKDF', false, ['deriveKey', 'deriveBits']);
}

/** K_auth and K_code as non-extractable HMAC-SHA256 keys. */
export async function roomKeys(secret) {
  const base = await hkdfKey(secret);
  const hmac = { name: 'HMAC', hash: 'SHA-256', length: 256 };
  const [auth, code] = await Promise.all([
    subtle().deriveKey(hkdfParams(EMPTY, LABEL.announce), base, hmac, false, ['sign', 'verify']),
    subtle().deriveKey(hkdfParams(EMPTY, LABEL.safetyKey), base, hmac, false, ['sign']),
  ]);
  return { auth, code };
}

/** For the test vectors only: K_auth and K_code as bytes. */
export async function roomKeyBytes(secret) {
  const base = await hkdfKey(secret);
  const auth = new Uint8Array(await subtle().deriveBits(hkdfParams(EMPTY, LABEL.announce), base, 256));
  const code = new Uint8Array(await subtle().deriveBits(hkdfParams(EMPTY, LABEL.safetyKey), base, 256));
  return { auth, code };
}

export async function sha256(bytes) {
  return new Uint8Array(await subtle().digest('SHA-256', bytes));
}

/** commit = SHA-256("salon/e2ee/v1/commit" || pub). */
export function commitOf(pub) {
  return sha256(concat(utf8(LABEL.commit), pub));
}

const macInput = (participantId, pub) => {
  const id = utf8(participantId);
  return concat(utf8(LABEL.announce), u16be(id.length), id, pub);
};

/** The announcement MAC of `pub` for participant `participantId` under K_auth. */
export async function announceMac(authKey, participantId, pub) {
  return new Uint8Array(await subtle().sign('HMAC', authKey, macInput(participantId, pub)));
}

export function verifyAnnounceMac(authKey, participantId, pub, mac) {
  return subtle().verify('HMAC', authKey, mac, macInput(participantId, pub));
}

/** A new identity: {privateKey (non-extractable), pub (32 bytes)}. */
export async function newIdentity() {
  const pair = await subtle().generateKey({ name: 'X25519' }, false, ['deriveBits']);
  const pub = new Uint8Array(await subtle().exportKey('raw', pair.publicKey));
  return { privateKey: pair.privateKey, pub };
}

/** Imports a raw X25519 private key (test vectors only; PKCS #8 per RFC 8410). */
export function importPrivateKey(raw) {
  const prefix = new Uint8Array([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20]);
  return subtle().importKey('pkcs8', concat(prefix, raw), { name: 'X25519' }, false, ['deriveBits']);
}

async function pairHkdf(privateKey, myPub, theirPub) {
  const publicKey = await subtle().importKey('raw', theirPub, { name: 'X25519' }, true, []);
  const shared = new Uint8Array(await subtle().deriveBits({ name: 'X25519', public: publicKey }, privateKey, 256));
  const [lo, hi] = compareBytes(myPub, theirPub) <= 0 ? [myPub, theirPub] : [theirPub, myPub];
  const salt = await sha256(concat(lo, hi));
  const base = await hkdfKey(shared);
  shared.fill(0);
  return { base, salt };
}

/** k_AB as a non-extractable AES-128-GCM key. */
export async function pairKey(privateKey, myPub, theirPub) {
  const { base, salt } = await pairHkdf(privateKey, myPub, theirPub);
  return subtle().deriveKey(hkdfParams(salt, LABEL.pair), base, { name: 'AES-GCM', length: 128 }, false, ['encrypt', 'decrypt']);
}

/** For the test vectors only: k_AB as bytes. */
export async function pairKeyBytes(privateKey, myPub, theirPub) {
  const { base, salt } = await pairHkdf(privateKey, myPub, theirPub);
  return new Uint8Array(await subtle().deriveBits(hkdfParams(salt, LABEL.pair), base, 128));
}

const boxAad = (fromPub, toPub, context) => concat(utf8(LABEL.box), fromPub, toPub, utf8(context ?? ''));

/** nonce (12) || AES-128-GCM(k_AB, nonce, aad, plaintext). */
export async function sealBox(key, fromPub, toPub, context, plaintext, nonce = null) {
  const iv = nonce ?? globalThis.crypto.getRandomValues(new Uint8Array(12));
  const sealed = new Uint8Array(await subtle().encrypt(
    { name: 'AES-GCM', iv, additionalData: boxAad(fromPub, toPub, context), tagLength: 128 }, key, plaintext,
  ));
  return concat(iv, sealed);
}

/** The plaintext of a box, or null when it does not open. */
export async function openBox(key, fromPub, toPub, context, box) {
  if (!box || box.length < 12 + 16) return null;
  try {
    return new Uint8Array(await subtle().decrypt(
      { name: 'AES-GCM', iv: box.subarray(0, 12), additionalData: boxAad(fromPub, toPub, context), tagLength: 128 },
      key,
      box.subarray(12),
    ));
  } catch {
    return null;
  }
}

export function senderKeyPlaintext(kid, baseKey) {
  return concat(new Uint8Array([BOX_SENDER_KEY]), u64be(kid), baseKey);
}

export function roomSecretPlaintext(secret) {
  return concat(new Uint8Array([BOX_ROOM_SECRET]), secret);
}

/** {kind: 1, kid (bigint), baseKey} | {kind: 2, secret} | null. */
export function parseBoxPlaintext(bytes) {
  if (bytes?.length === 25 && bytes[0] === BOX_SENDER_KEY) {
    return { kind: BOX_SENDER_KEY, kid: readU64be(bytes, 1), baseKey: bytes.slice(9) };
  }
  if (bytes?.length === 33 && bytes[0] === BOX_ROOM_SECRET) return { kind: BOX_ROOM_SECRET, secret: bytes.slice(1) };
  return null;
}

/** "dddd dddd dddd" from the 12 digits. */
export function formatCode(digits) {
  return `${digits.slice(0, 4)} ${digits.slice(4, 8)} ${digits.slice(8, 12)}`;
}

/** The safety code's 12 digits over `pubs` (own included; sorted here). */
export async function safetyDigits(codeKey, pubs) {
  const sorted = [...pubs].sort(compareBytes);
  const mac = new Uint8Array(await subtle().sign('HMAC', codeKey, concat(utf8(LABEL.safety), u16be(sorted.length), ...sorted)));
  const value = readU64be(mac, 0) % 1000000000000n;
  return value.toString().padStart(12, '0');
}

// --- the key manager ---------------------------------------------------------------------------------

const isHostRole = (role) => role === 'owner' || role === 'cohost';

/**
 * One participant's end-to-end encryption in a room. `send(message)` sends signaling;
 * `post(message)` talks to the e2ee worker; `onChange()` when `state()` may have changed;
 * `onSecret(secret, roomId)` when the room got a new secret (link rotation).
 */
export class E2ee {
  constructor({ secret, send, post, onChange = () => {}, onSecret = () => {}, now = () => Date.now() }) {
    this.secret = secret;
    this.send = send;
    this.post = post;
    this.onChange = onChange;
    this.onSecret = onSecret;
    this.now = now;
    this.keys = null; // {auth, code}
    this.previousAuth = null; // K_auth of the secret before the last rotation
    this.identity = null; // {privateKey, pub, commit}
    this.selfId = null;
    this.roomId = null;
    this.members = new Map(); // id → member
    this.sendKey = null; // {kid (bigint), base (16 bytes)}
    this.rekeyTimer = null;
    this.useTimer = null;
    this.rotationPending = false; // I asked for a new link (host)
    this.myRotation = null; // {secret, roomId, until} after my rotation: old announcements still count
    this.code = null; // "dddd dddd dddd"
    this.keyHolders = 0;
    this.received = new Map(); // participantId → worker counts
    this.queue = Promise.resolve();
    this.codeVersion = 0;
    this.waitingShown = '[]'; // waitingIds() when onChange last ran for it
  }

  /** Runs `fn` after everything queued before it (messages are handled strictly in order). */
  run(fn) {
    this.queue = this.queue.then(fn).catch((error) => console.warn('salon: e2ee step failed:', error?.name ?? error));
    return this.queue;
  }

  async ready() {
    if (!this.keys) this.keys = await roomKeys(this.secret);
  }

  /** A new identity and everything tied to a participant id starts over (a fresh join). */
  async newIdentity() {
    await this.ready();
    const identity = await newIdentity();
    identity.commit = await commitOf(identity.pub);
    this.identity = identity;
    this.members.clear();
    this.received.clear();
    this.sendKey = null;
    this.selfId = null;
    clearTimeout(this.rekeyTimer);
    clearTimeout(this.useTimer);
    this.post({ type: 'reset' });
    this.code = null;
    this.keyHolders = 0;
    this.onChange();
  }

  /** `join.e2ee`. */
  joinField() {
    return { commit: toBase64Url(this.identity.commit) };
  }

  member(id) {
    let member = this.members.get(id);
    if (!member) {
      member = {
        id, role: 'guest', commit: null, pub: null, mac: null, status: 'pending', pair: null,
        sentKid: -1n, heldKid: -1n, heldKey: null,
      };
      this.members.set(id, member);
    }
    return member;
  }

  /** `joined`: who is inside with their announcements; then announce and send my key. */
  onJoined({ selfId, roomId, participants }) {
    return this.run(async () => {
      if (this.selfId && this.selfId !== selfId) {
        // A new participant id on the same identity (a resume that was refused): start the
        // key exchange over with everyone.
        this.members.clear();
      }
      this.selfId = selfId;
      this.roomId = roomId;
      const present = new Set();
      for (const participant of participants ?? []) {
        if (participant.id === selfId) continue;
        present.add(participant.id);
        await this.updateMember(participant, { sendKey: false });
      }
      // Whoever left while we were away (a resume) may hold my key: a new generation, as for a
      // departure.
      let gone = false;
      for (const [id, member] of [...this.members]) {
        if (present.has(id)) continue;
        gone = gone || member.sentKid >= 0n;
        this.forget(id);
      }
      if (!this.sendKey) {
        this.sendKey = { kid: 0n, base: globalThis.crypto.getRandomValues(new Uint8Array(16)) };
        this.post({ type: 'setSendKey', kid: this.sendKey.kid, key: this.sendKey.base, reset: true });
      }
      await this.announce();
      for (const member of this.members.values()) member.sentKid = -1n;
      await this.sendKeysToAll();
      if (gone) this.scheduleRekey();
      await this.refreshCode();
    });
  }

  /** A participant record (joined list, participant_joined/updated) with its `e2ee` field. */
  onParticipant(participant) {
    return this.run(async () => {
      if (!participant?.id || participant.id === this.selfId) return;
      await this.updateMember(participant, { sendKey: true });
      await this.refreshCode();
    });
  }

  async updateMember(participant, { sendKey }) {
    const member = this.member(participant.id);
    if (participant.role) member.role = participant.role;
    const e2ee = participant.e2ee;
    if (e2ee && typeof e2ee.commit === 'string') {
      const commit = fromBase64Url(e2ee.commit);
      if (commit && commit.length === 32) member.commit = commit;
    }
    if (e2ee && typeof e2ee.pub === 'string' && typeof e2ee.mac === 'string') {
      await this.takeAnnouncement(member, e2ee.pub, e2ee.mac, { sendKey });
    }
  }

  /** `e2ee_announce` relayed from someone else. */
  onAnnounce(message) {
    return this.run(async () => {
      const id = message.participant_id;
      if (typeof id !== 'string' || id === this.selfId) return;
      await this.takeAnnouncement(this.member(id), message.pub, message.mac, { sendKey: true, again: true });
      await this.refreshCode();
    });
  }

  /**
   * Checks an announcement (commitment and MAC) and, when it holds, makes the pair key and sends
   * the member my current key. A member who announces again (a resume, a new link) gets it again.
   */
  async takeAnnouncement(member, pubText, macText, { sendKey, again = false }) {
    const pub = fromBase64Url(pubText);
    const mac = fromBase64Url(macText);
    if (!pub || pub.length !== 32 || !mac || mac.length !== 32) {
      member.status = 'failed';
      return;
    }
    const samePub = member.pub && equalBytes(member.pub, pub);
    const sameMac = member.mac && equalBytes(member.mac, mac);
    if (samePub && sameMac && !again) return;
    if (member.pub && !samePub) {
      // A different key for the same participant: only ever under a fresh commitment, which a
      // participant id never gets. Refuse it.
      member.status = 'failed';
      return;
    }
    member.pub = pub;
    member.mac = mac;
    await this.verify(member);
    if (member.status === 'verified' && sendKey) {
      if (again) member.sentKid = -1n;
      await this.sendKeysToAll();
    }
  }

  async verify(member) {
    if (!member.pub || !member.mac || !member.commit) {
      member.status = member.pub ? 'failed' : 'pending';
      return;
    }
    const commitOk = equalBytes(await commitOf(member.pub), member.commit);
    let macOk = commitOk && await verifyAnnounceMac(this.keys.auth, member.id, member.pub, member.mac);
    // Someone who has not re-announced since a link rotation is still who they were; and
    // shortly after my own rotation, someone who joined just before it (their announcement
    // crossed it) holds only the old secret: they get the new one from me.
    const crossedMine = this.myRotation && Date.now() < this.myRotation.until && member.status !== 'verified';
    let viaPrevious = false;
    if (commitOk && !macOk && (member.status === 'verified' || crossedMine) && this.previousAuth) {
      macOk = await verifyAnnounceMac(this.previousAuth, member.id, member.pub, member.mac);
      viaPrevious = macOk && crossedMine;
    }
    if (!macOk) {
      // A key checked once stays checked when it is announced again under a secret I do not
      // hold yet (a host's re-announcement after a new link, before its box with the secret):
      // a participant's key never changes (takeAnnouncement refuses another one).
      if (commitOk && member.status === 'verified' && member.pair) return;
      member.status = 'failed';
      member.pair = null;
      return;
    }
    member.status = 'verified';
    if (!member.pair) member.pair = await pairKey(this.identity.privateKey, this.identity.pub, member.pub);
    if (viaPrevious) {
      const { secret, roomId } = this.myRotation;
      const box = await sealBox(member.pair, this.identity.pub, member.pub, roomId, roomSecretPlaintext(secret));
      this.sendBoxes([{ to: member.id, box: toBase64Url(box) }]);
    }
  }

  async announce() {
    if (!this.selfId || !this.identity) return;
    const mac = await announceMac(this.keys.auth, this.selfId, this.identity.pub);
    this.send({ type: 'e2ee_announce', pub: toBase64Url(this.identity.pub), mac: toBase64Url(mac) });
  }

  /** Boxes my current sender key to every verified member who does not have it yet. */
  async sendKeysToAll() {
    if (!this.sendKey) return;
    const { kid, base } = this.sendKey;
    const boxes = [];
    for (const member of this.members.values()) {
      if (member.status !== 'verified' || !member.pair || member.sentKid >= kid) continue;
      const box = await sealBox(member.pair, this.identity.pub, member.pub, '', senderKeyPlaintext(kid, base));
      member.sentKid = kid;
      boxes.push({ to: member.id, box: toBase64Url(box) });
    }
    this.sendBoxes(boxes);
  }

  sendBoxes(boxes) {
    for (let i = 0; i < boxes.length; i += MAX_BOXES) {
      this.send({ type: 'e2ee_keys', boxes: boxes.slice(i, i + MAX_BOXES) });
    }
  }

  /** `e2ee_key`: a sender key (or a new room secret) from a verified member. */
  onKeyBox(message) {
    return this.run(async () => {
      const member = this.members.get(message.from);
      const box = fromBase64Url(message.box);
      if (!member || member.status !== 'verified' || !member.pair || !box) return;
      let context = '';
      let plaintext = await openBox(member.pair, member.pub, this.identity.pub, context, box);
      if (!plaintext && this.roomId) {
        context = this.roomId;
        plaintext = await openBox(member.pair, member.pub, this.identity.pub, context, box);
      }
      const content = parseBoxPlaintext(plaintext);
      if (!content) return;
      if (content.kind === BOX_SENDER_KEY && context === '') {
        // An older generation than the one held is ignored, the one held again too.
        if (content.kid < member.heldKid) return;
        if (content.kid === member.heldKid && member.heldKey && equalBytes(member.heldKey, content.baseKey)) return;
        const late = this.failing(member.id);
        member.heldKid = content.kid;
        member.heldKey = content.baseKey;
        this.post({ type: 'setReceiveKey', participantId: member.id, kid: content.kid, key: content.baseKey });
        if (late) this.send({ type: 'keyframe_request', participant_id: member.id });
      } else if (content.kind === BOX_ROOM_SECRET && context !== '' && isHostRole(member.role)) {
        await this.takeSecret(content.secret);
      }
    });
  }

  /** Someone left (or was removed): forget them and, shortly, move to a new generation. */
  onLeft(participantId) {
    return this.run(async () => {
      if (!this.members.has(participantId)) return;
      this.forget(participantId);
      this.scheduleRekey();
      await this.refreshCode();
    });
  }

  forget(id) {
    this.members.delete(id);
    this.received.delete(id);
    this.post({ type: 'removeParticipant', participantId: id });
  }

  scheduleRekey() {
    if (this.rekeyTimer) return;
    this.rekeyTimer = setTimeout(() => {
      this.rekeyTimer = null;
      this.run(() => this.rotateSendKey());
    }, REKEY_GATHER_MS);
  }

  /** A new generation: boxed to everyone verified now, used USE_KEY_DELAY_MS later. */
  async rotateSendKey() {
    if (!this.sendKey) return;
    const next = { kid: this.sendKey.kid + 1n, base: globalThis.crypto.getRandomValues(new Uint8Array(16)) };
    this.sendKey = next;
    await this.sendKeysToAll();
    clearTimeout(this.useTimer);
    this.useTimer = setTimeout(() => {
      if (this.sendKey === next) this.post({ type: 'setSendKey', kid: next.kid, key: next.base });
    }, USE_KEY_DELAY_MS);
  }

  /** I (a host) asked for a new link: the `room_updated` with the new id is mine to key. */
  expectRotation() {
    this.rotationPending = true;
    // A refused rotation (not a host any more) must not make me key someone else's later one.
    clearTimeout(this.rotationTimer);
    this.rotationTimer = setTimeout(() => { this.rotationPending = false; }, 10000);
  }

  /** The room got a new id (`room_updated`). Resolves to the new secret if I made one. */
  onRoomId(newId) {
    return this.run(async () => {
      const oldId = this.roomId;
      this.roomId = newId;
      if (!this.rotationPending || oldId === newId) return;
      this.rotationPending = false;
      clearTimeout(this.rotationTimer);
      const secret = newRoomSecret();
      const boxes = [];
      for (const member of this.members.values()) {
        if (member.status !== 'verified' || !member.pair) continue;
        const box = await sealBox(member.pair, this.identity.pub, member.pub, newId, roomSecretPlaintext(secret));
        boxes.push({ to: member.id, box: toBase64Url(box) });
      }
      this.sendBoxes(boxes);
      // For 30 s, announcements under the old secret still count (and get this one).
      this.myRotation = { secret, roomId: newId, until: Date.now() + PREVIOUS_SECRET_MS };
      await this.takeSecret(secret);
    });
  }

  /** A new room secret: new K_auth/K_code, announce again, new generation. */
  async takeSecret(secret) {
    if (equalBytes(secret, this.secret)) return;
    const keys = await roomKeys(secret);
    this.previousAuth = this.keys.auth;
    this.keys = keys;
    this.secret = secret;
    this.onSecret(secret, this.roomId);
    await this.announce();
    // Announcements that failed under the old secret may hold under the new one.
    for (const member of this.members.values()) {
      if (member.status !== 'verified') await this.verify(member);
    }
    await this.rotateSendKey();
    await this.refreshCode();
  }

  /** The worker's counts ({receivers: {id: counts}}). */
  onWorkerStats(receivers) {
    this.received = new Map(Object.entries(receivers ?? {}));
    const waiting = JSON.stringify(this.waitingIds());
    if (waiting !== this.waitingShown) {
      this.waitingShown = waiting;
      this.onChange();
    }
  }

  /** Whether `id`'s frames have been failing (none opening) for WAITING_AFTER_MS. */
  isWaiting(id) {
    const counts = this.received.get(id);
    if (!counts || !counts.lastFailedAt) return false;
    const now = this.now();
    return this.failing(id) && now - counts.lastFailedAt < 3000
      && now - (counts.failingSince || counts.lastFailedAt) >= WAITING_AFTER_MS;
  }

  /** Whether `id`'s latest frame failed to open. */
  failing(id) {
    const counts = this.received.get(id);
    return !!counts && counts.lastFailedAt > counts.lastOpenedAt;
  }

  waitingIds() {
    return [...this.received.keys()].filter((id) => this.members.has(id) && this.isWaiting(id)).sort();
  }

  async refreshCode() {
    const version = ++this.codeVersion;
    const verified = [...this.members.values()].filter((m) => m.status === 'verified');
    if (!this.identity || !this.keys) return;
    const digits = await safetyDigits(this.keys.code, [this.identity.pub, ...verified.map((m) => m.pub)]);
    if (version !== this.codeVersion) return;
    this.code = formatCode(digits);
    this.keyHolders = verified.length + 1;
    this.onChange();
  }

  /** 'verified' | 'pending' | 'failed' for a member (unknown: 'pending'). */
  statusOf(id) {
    return this.members.get(id)?.status ?? 'pending';
  }

  /** What the page shows: {code, keyHolders, unverified: [ids], waiting: [ids]}. */
  state() {
    return {
      code: this.code,
      keyHolders: this.keyHolders,
      verified: [...this.members.values()].filter((m) => m.status === 'verified').map((m) => m.id).sort(),
      unverified: [...this.members.values()].filter((m) => m.status !== 'verified').map((m) => m.id).sort(),
      failed: [...this.members.values()].filter((m) => m.status === 'failed').map((m) => m.id).sort(),
      waiting: this.waitingIds(),
      generation: this.sendKey ? Number(this.sendKey.kid) : null,
    };
  }

  close() {
    clearTimeout(this.rotationTimer);
    clearTimeout(this.rekeyTimer);
    clearTimeout(this.useTimer);
    this.rekeyTimer = null;
  }
}
