// The room page (/r/{id}): room info, camera preview and name, then the call itself, with
// reconnection after a lost connection. This module is the controller: it owns the page state
// and wires the pieces (api, media, signaling, call, ui) together.

import { getRoom, roomIdFromPath, signalingUrl } from './api.js';
import { Call } from './call.js';
import { LocalMedia } from './local.js';
import {
  cleanName, errorWords, initials, isFatalForRetry, presenceText, reconnectDelay,
} from './logic.js';
import { Signaling } from './signaling.js';
import { SpeakingWatch } from './speaking.js';
import { $, TileGrid, copyText, fillIcons, setBanner, setToggle, showView } from './ui.js';

const JOIN_TIMEOUT_MS = 15000;
const LOBBY_REFRESH_MS = 10000;
const NAME_KEY = 'salon.name';

const s = {
  state: 'loading', // loading | preview | connecting | joined | reconnecting | left | error
  roomId: roomIdFromPath(window.location.pathname),
  room: null,
  name: '',
  participantId: null,
  resume: null,
  mediaReady: Promise.resolve(),
  signaling: null,
  call: null,
  joined: false,
  attempt: 0,
  retryTimer: null,
  joinTimer: null,
  lobbyTimer: null,
};

const local = new LocalMedia();
const grid = new TileGrid($('#grid'), {
  onAutoplayBlocked: () => { $('#enable-sound').hidden = false; },
});
const speaking = new SpeakingWatch({
  localLevel: () => local.level(),
  remoteLevels: () => s.call?.audioLevels() ?? null,
  remoteIds: () => grid.remoteIds(),
  show: (id, on) => {
    if (id === null) $('#preview').dataset.speaking = String(on);
    grid.setSpeaking(id, on);
  },
});

// Read-only view for people debugging and for the browser tests.
window.salon = Object.freeze({
  get state() { return s.state; },
  get participantId() { return s.participantId; },
  get roomId() { return s.roomId; },
  remoteParticipants: () => grid.remoteIds(),
  stats: () => (s.call ? s.call.stats() : Promise.resolve(null)),
});

/** localStorage, which can be unavailable (private modes, blocked storage): then we just forget. */
const store = {
  get(key) {
    try { return localStorage.getItem(key); } catch { return null; }
  },
  set(key, value) {
    try { localStorage.setItem(key, value); } catch { /* nothing to remember with */ }
  },
};

function setState(state) {
  s.state = state;
  document.body.dataset.state = state;
}

function toast(text) {
  const el = $('#toast');
  el.textContent = text;
  el.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { el.hidden = true; }, 3000);
}

// --- room info and lobby ---------------------------------------------------------------------

function showRoomInfo(room) {
  s.room = { ...s.room, ...room };
  const name = s.room.name || 'Salon room';
  document.title = `${name} · Salon`;
  $('#room-name').textContent = name;
  $('#lobby-title').textContent = s.room.name ? s.room.name : 'Ready to drop in?';
  $('#lobby-presence').textContent = presenceText(s.room.participants);
  const full = !!s.room.full;
  $('#lobby-full').hidden = !full;
  $('#join-submit').disabled = full;
}

async function init() {
  fillIcons();
  bindControls();
  if (!s.roomId) return fail('room_not_found');
  setState('loading');
  showView('loading');
  try {
    showRoomInfo(await getRoom(s.roomId));
  } catch (error) {
    return fail(error.code ?? 'unreachable', error.message, { onRetry: () => window.location.reload() });
  }
  $('#join-name').value = store.get(NAME_KEY) ?? '';
  updatePreviewInitials();
  enterLobby();
  s.mediaReady = getLocalMedia();
  await s.mediaReady;
}

function enterLobby() {
  setState('preview');
  showView('lobby');
  clearInterval(s.lobbyTimer);
  s.lobbyTimer = setInterval(() => {
    if (s.state !== 'preview') return;
    getRoom(s.roomId).then(showRoomInfo, () => {});
  }, LOBBY_REFRESH_MS);
  speaking.start();
}

/** Camera and microphone with fallbacks; says in words what we could not get. */
async function getLocalMedia() {
  $('#media-notice').textContent = 'Asking for your camera and microphone…';
  $('#media-notice').textContent = (await local.acquire()) ?? '';
  showLocalVideo();
  renderMedia();
}

/** (Re)attaches your own stream to the preview and your tile, e.g. after a new camera track. */
function showLocalVideo() {
  for (const video of [$('#preview-video'), grid.selfTile?.querySelector('video')]) {
    if (!video) continue;
    video.srcObject = null;
    video.srcObject = local.stream;
    video.play().catch(() => {});
  }
}

function updatePreviewInitials() {
  $('#preview-initials').textContent = initials(cleanName($('#join-name').value) || '?');
}

async function onJoinSubmit(event) {
  event.preventDefault();
  const name = cleanName($('#join-name').value);
  if (!name) {
    $('#join-error').textContent = 'Type your name so the others know who you are.';
    $('#join-name').focus();
    return;
  }
  $('#join-error').textContent = '';
  s.name = name;
  store.set(NAME_KEY, name);
  local.resume();
  $('#join-submit').disabled = true;
  await s.mediaReady;
  $('#join-submit').disabled = false;
  startCall();
}

// --- the call --------------------------------------------------------------------------------

function startCall() {
  clearInterval(s.lobbyTimer);
  s.attempt = 0;
  s.resume = null;
  setState('connecting');
  showView('call');
  setBanner(null);
  grid.showSelf(local.stream, s.name);
  renderMedia();
  updateCount();
  speaking.start();
  connect();
}

function connect() {
  clearTimeout(s.retryTimer);
  const sig = new Signaling(signalingUrl(s.roomId), {
    onMessage: (message) => { if (sig === s.signaling) onMessage(message); },
    onClose: () => { if (sig === s.signaling) socketGone(); },
  });
  s.signaling = sig;
  s.joined = false;
  const join = { type: 'join', version: 1, name: s.name, media: local.current() };
  if (s.resume) join.resume = s.resume;
  sig.send(join);
  sig.open().catch(() => {}); // a failure to open arrives through onClose
  s.joinTimer = setTimeout(() => {
    if (sig !== s.signaling || s.joined) return;
    sig.close();
    socketGone();
  }, JOIN_TIMEOUT_MS);
}

/** Closes the current socket and peer connection (not local media, not the tiles). */
function endSession() {
  clearTimeout(s.joinTimer);
  s.joined = false;
  s.signaling?.close();
  s.signaling = null;
  s.call?.close();
  s.call = null;
}

/** The socket closed, failed to open, or never said `joined`. */
function socketGone() {
  endSession();
  if (s.state === 'joined') lost();
  else if (s.state === 'reconnecting') scheduleRetry();
  else if (s.state === 'connecting') {
    fail('unreachable', null, { onRetry: () => { showView('lobby'); enterLobby(); } });
  }
}

function lost() {
  endSession();
  setState('reconnecting');
  setBanner('Connection lost — reconnecting…');
  grid.markStale();
  scheduleRetry();
}

function scheduleRetry() {
  clearTimeout(s.retryTimer);
  const delay = reconnectDelay(s.attempt);
  s.attempt += 1;
  s.retryTimer = setTimeout(connect, delay);
}

function onMessage(message) {
  switch (message.type) {
    case 'joined':
      onJoined(message);
      break;
    case 'participant_joined':
    case 'participant_updated':
      if (message.participant && message.participant.id !== s.participantId) grid.upsert(message.participant);
      updateCount();
      break;
    case 'participant_left':
      grid.remove(message.participant_id);
      updateCount();
      break;
    case 'answer':
      s.call?.acceptAnswer(message.sdp);
      break;
    case 'offer':
      s.call?.acceptOffer(message.sdp);
      break;
    case 'error':
      onServerError(message);
      break;
    default:
      break; // pong, and types from newer servers
  }
}

function onJoined(message) {
  clearTimeout(s.joinTimer);
  const sig = s.signaling;
  s.joined = true;
  s.participantId = message.participant_id;
  s.resume = message.resume_token
    ? { participant_id: message.participant_id, token: message.resume_token }
    : null;
  if (message.room) showRoomInfo({ name: message.room.name });
  const others = (message.participants ?? []).filter((p) => p.id !== s.participantId);
  grid.retain(new Set(others.map((p) => p.id)));
  others.forEach((p) => grid.upsert(p));
  const call = new Call({
    localStream: local.stream,
    send: (msg) => sig.send(msg),
    onRemoteTrack: (participantId, track) => {
      if (participantId !== s.participantId) grid.attachTrack(participantId, track);
    },
    onLost: (reason) => {
      if (call !== s.call) return;
      console.warn('salon: connection lost:', reason);
      lost();
    },
  });
  s.call = call;
  call.start();
  s.attempt = 0;
  setState('joined');
  setBanner(null);
  updateCount();
}

function onServerError(message) {
  if (!message.fatal) {
    console.warn(`salon: server says ${message.code}: ${message.message}`);
    return;
  }
  const wasInCall = s.state === 'joined' || s.state === 'reconnecting';
  endSession();
  if (isFatalForRetry(message.code)) {
    fail(message.code, message.message);
  } else if (wasInCall) {
    if (s.state === 'joined') lost();
    else scheduleRetry();
  } else {
    fail(message.code, message.message, { onRetry: () => { showView('lobby'); enterLobby(); } });
  }
}

function updateCount() {
  const inCall = s.state === 'joined' || s.state === 'connecting' || s.state === 'reconnecting';
  const count = grid.remoteIds().length + (inCall ? 1 : 0);
  $('#room-count').textContent = inCall ? `${count} in the room` : '';
}

function leave() {
  s.signaling?.send({ type: 'leave' });
  endSession();
  clearTimeout(s.retryTimer);
  speaking.stop();
  local.stop();
  grid.clear();
  setBanner(null);
  $('#enable-sound').hidden = true;
  s.participantId = null;
  setState('left');
  showView('left');
  $('#room-count').textContent = '';
  $('#rejoin').focus();
}

async function rejoin() {
  setState('loading');
  showView('loading');
  await getLocalMedia();
  startCall();
}

// --- microphone and camera -----------------------------------------------------------------

function renderMedia() {
  const media = local.current();
  for (const button of document.querySelectorAll('[data-toggle=audio]')) {
    setToggle(button, { pressed: media.audio, iconName: media.audio ? 'mic' : 'micOff', title: media.audio ? 'Turn microphone off' : 'Turn microphone on' });
  }
  for (const button of document.querySelectorAll('[data-toggle=video]')) {
    setToggle(button, { pressed: media.video, iconName: media.video ? 'cam' : 'camOff', title: media.video ? 'Turn camera off' : 'Turn camera on' });
  }
  $('#preview').dataset.video = media.video ? 'on' : 'off';
  grid.setSelfMedia(media);
}

async function toggle(kind) {
  const result = await local.toggle(kind, (k, track) => s.call?.replaceTrack(k, track));
  if (result.error) toast(result.error);
  if (!result.changed) return;
  if (result.newTrack) showLocalVideo();
  renderMedia();
  if (s.joined) s.signaling?.send({ type: 'media', ...local.current() });
}

// --- errors ------------------------------------------------------------------------------------


function fail(code, message, { onRetry = null } = {}) {
  endSession();
  clearTimeout(s.retryTimer);
  clearInterval(s.lobbyTimer);
  setBanner(null);
  const [title, detail] = errorWords(code, message);
  $('#error-title').textContent = title;
  $('#error-detail').textContent = detail;
  $('#room-error').dataset.code = code;
  // A missing room stays missing; a full one may have room again later.
  let retry = onRetry;
  if (code === 'room_not_found') retry = null;
  if (code === 'room_full') retry = () => { window.location.reload(); };
  $('#error-retry').hidden = !retry;
  $('#error-retry').onclick = retry;
  if (!retry || isFatalForRetry(code)) {
    // Not going back to the lobby: release the camera and microphone.
    local.stop();
    speaking.stop();
  }
  grid.clear();
  setState('error');
  showView('error');
  $('#room-count').textContent = '';
}

// --- wiring ------------------------------------------------------------------------------------

function bindControls() {
  $('#join-form').addEventListener('submit', onJoinSubmit);
  $('#join-name').addEventListener('input', updatePreviewInitials);
  for (const button of document.querySelectorAll('[data-toggle]')) {
    button.addEventListener('click', () => toggle(button.dataset.toggle));
  }
  $('#leave').addEventListener('click', leave);
  $('#rejoin').addEventListener('click', rejoin);
  $('#invite').addEventListener('click', async () => {
    const url = `${window.location.origin}/r/${encodeURIComponent(s.roomId)}`;
    toast((await copyText(url)) ? 'Invite link copied' : url);
  });
  $('#enable-sound').addEventListener('click', () => {
    grid.enableSound();
    $('#enable-sound').hidden = true;
  });
  window.addEventListener('online', () => {
    if (s.state === 'reconnecting' && !s.signaling) connect();
  });
  window.addEventListener('pagehide', () => {
    if (s.joined) s.signaling?.send({ type: 'leave' });
  });
}

init();
