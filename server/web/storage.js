// What this browser remembers in localStorage: your name, this browser's device id, the host
// keys of the rooms you created, the list of those rooms, and the room secrets that open a room's
// chat. Storage can be unavailable
// (private modes, blocked storage): then everything still works for this page load.

import { base64Url, isDeviceId, renameRoom } from './logic.js';

const NAME_KEY = 'salon.name';
const DEVICE_KEY = 'salon.device';
const ROOMS_KEY = 'salon.rooms';
const MAX_REMEMBERED = 8;
const hostKeyName = (roomId) => `salon.host.${roomId}`;
/** The room secret (base64url, the link's `#k=`) of a room created here, next to its host key. */
const secretName = (roomId) => `salon.secret.${roomId}`;

export const store = {
  get(key) {
    try { return localStorage.getItem(key); } catch { return null; }
  },
  /** Resolves to false when the browser would not store it. */
  set(key, value) {
    try {
      localStorage.setItem(key, value);
      return true;
    } catch {
      return false;
    }
  },
  remove(key) {
    try { localStorage.removeItem(key); } catch { /* nothing stored to remove */ }
  },
};

export const rememberedName = () => store.get(NAME_KEY);
export const rememberName = (name) => store.set(NAME_KEY, name);

const DATA_SAVER_KEY = 'salon.dataSaver';
/** Whether the data saver was switched on in this browser. */
export const rememberedDataSaver = () => store.get(DATA_SAVER_KEY) === '1';
export const rememberDataSaver = (on) => (on ? store.set(DATA_SAVER_KEY, '1') : store.remove(DATA_SAVER_KEY));

let deviceForThisLoad = null;

/**
 * This browser's device id (16 random bytes, 22 URL-safe characters), made once and kept, so
 * that a removal sticks to this browser. Without storage: a new one per page load.
 */
export function deviceId() {
  const kept = store.get(DEVICE_KEY);
  if (isDeviceId(kept)) return kept;
  if (!deviceForThisLoad) {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    deviceForThisLoad = base64Url(bytes);
  }
  store.set(DEVICE_KEY, deviceForThisLoad);
  return deviceForThisLoad;
}

/** The host key kept for a room (from its creation in this browser), or null. */
export function hostKey(roomId) {
  return roomId ? store.get(hostKeyName(roomId)) : null;
}

/** The room secret (43 base64url characters) kept for a room created here, or null. */
export function roomSecret(roomId) {
  return roomId ? store.get(secretName(roomId)) : null;
}

/** Keeps (or replaces, after a new link) the secret of a room created here. */
export function rememberSecret(roomId, secret) {
  return store.set(secretName(roomId), secret);
}

/** Rooms created in this browser, newest first: [{id, name, url}]. */
export function rememberedRooms() {
  try {
    const rooms = JSON.parse(store.get(ROOMS_KEY) ?? '[]');
    return Array.isArray(rooms) ? rooms.filter((room) => room && typeof room.id === 'string') : [];
  } catch {
    return [];
  }
}

/** Keeps a newly created room and its host key. False when storage is blocked. */
export function rememberRoom(room) {
  const rooms = [{ id: room.id, name: room.name ?? null, url: room.url }, ...rememberedRooms().filter((r) => r.id !== room.id)];
  // The host key proves ownership of the room later (host controls); keep it per room.
  let kept = store.set(hostKeyName(room.id), room.host_key);
  if (room.secret) kept = store.set(secretName(room.id), room.secret) && kept;
  return store.set(ROOMS_KEY, JSON.stringify(rooms.slice(0, MAX_REMEMBERED))) && kept;
}

/** A host made a new invite link: the host key and the remembered room follow the new id. */
export function moveRoom(oldId, newId, origin = window.location.origin) {
  if (!oldId || !newId || oldId === newId) return;
  const key = store.get(hostKeyName(oldId));
  if (key !== null) {
    store.set(hostKeyName(newId), key);
    store.remove(hostKeyName(oldId));
  }
  const secret = store.get(secretName(oldId));
  if (secret !== null) {
    store.set(secretName(newId), secret);
    store.remove(secretName(oldId));
  }
  const rooms = rememberedRooms();
  if (rooms.some((room) => room.id === oldId)) {
    store.set(ROOMS_KEY, JSON.stringify(renameRoom(rooms, oldId, newId, origin)));
  }
  moveChatSecrets(oldId, newId);
}

// --- the secrets that open a room's chat -------------------------------------------------------

const CHAT_SECRETS_KEY = 'salon.chatSecrets';
/** Rooms whose chat secrets are kept, and secrets kept per room (the newest stay). */
const MAX_CHAT_ROOMS = 8;
const MAX_CHAT_SECRETS = 20;

function chatSecretRooms() {
  try {
    const rooms = JSON.parse(store.get(CHAT_SECRETS_KEY) ?? '[]');
    return Array.isArray(rooms)
      ? rooms.filter((r) => r && typeof r.id === 'string' && Array.isArray(r.secrets))
      : [];
  } catch {
    return [];
  }
}

/**
 * The room secrets (43 base64url characters each, newest first) this browser has known for a
 * room, so that chat sealed before a new link still opens. Never sent anywhere.
 */
export function chatSecrets(roomId) {
  const room = chatSecretRooms().find((r) => r.id === roomId);
  return room ? room.secrets.filter((s) => typeof s === 'string') : [];
}

/** Keeps a secret of a room (at most MAX_CHAT_SECRETS per room, MAX_CHAT_ROOMS rooms). */
export function rememberChatSecret(roomId, secret) {
  if (!roomId || !secret) return false;
  const rooms = chatSecretRooms();
  const room = rooms.find((r) => r.id === roomId);
  const secrets = [secret, ...(room?.secrets ?? []).filter((s) => s !== secret)].slice(0, MAX_CHAT_SECRETS);
  const next = [{ id: roomId, secrets }, ...rooms.filter((r) => r.id !== roomId)].slice(0, MAX_CHAT_ROOMS);
  return store.set(CHAT_SECRETS_KEY, JSON.stringify(next));
}

function moveChatSecrets(oldId, newId) {
  const rooms = chatSecretRooms();
  const old = rooms.find((r) => r.id === oldId);
  if (!old) return;
  const kept = rooms.find((r) => r.id === newId)?.secrets ?? [];
  const secrets = [...new Set([...kept, ...old.secrets])].slice(0, MAX_CHAT_SECRETS);
  const next = [{ id: newId, secrets }, ...rooms.filter((r) => r.id !== oldId && r.id !== newId)];
  store.set(CHAT_SECRETS_KEY, JSON.stringify(next.slice(0, MAX_CHAT_ROOMS)));
}
