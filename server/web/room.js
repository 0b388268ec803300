// The room page (/r/{id}): room info, camera preview and name, then the call itself, with
// reconnection after a lost connection, the lobby of a locked room, and what hosts decide
// (docs/protocol.md, "Hosts, the lobby and removal"). This module is the controller: it owns the
// page state and wires the pieces (api, media, signaling, call, ui, host, notices, social, chat)
// together.

import { getRoom, roomIdFromPath, signalingUrl } from './api.js';
import { Call } from './call.js';
import { SignalRoute } from './cluster-logic.js';
import { DoorControl } from './door.js';
import { Effects } from './effects.js';
import {
  E2ee, WORDS as E2EE_WORDS, browserSupport, hashFor, newRoomSecret, secretFromHash,
} from './e2ee.js';
import { HostControls } from './host.js';
import { LocalMedia } from './local.js';
import {
  buildView, cameraLayers, cleanName, dataSaverFromQuery, devicesToTurnOff, doorText, errorWords, initials,
  iceServersFrom, isFatalForRetry, isHost, mediaLocked, pageLabel, presenceText, reconnectDelay, videoLayersOf,
  viewChanged, waitingText,
} from './logic.js';
import { MutePrompt, showRoomState } from './notices.js';
import { Signaling } from './signaling.js';
import { ScreenShare } from './screen.js';
import { Chat } from './chat.js';
import { PendingRequests } from './social-logic.js';
import { Social } from './social.js';
import { PreviewSpeaking } from './speaking.js';
import {
  chatSecrets, deviceId, hostKey, moveRoom, rememberChatSecret, rememberDataSaver, rememberName, rememberSecret,
  rememberedDataSaver, rememberedName, roomSecret,
} from './storage.js';
import { $, TileGrid, copyText, fillIcons, icon, setBanner, setToggle, showView } from './ui.js';

const JOIN_TIMEOUT_MS = 15000;
/** How long a signaling socket may stay silent after a ping sent when the network changed. Not
 * less: a page on a busy device (a big room's videos on two cores) handles a queued answer late,
 * and a needless resume costs the room a reshuffle. */
const SIGNALING_PROBE_MS = 5000;
const LOBBY_REFRESH_MS = 10000;
/** What the page shows is told to the server at most this often (a `view` after a quiet spell). */
const VIEW_DEBOUNCE_MS = 250;

const s = {
  // loading | preview | connecting | waiting | joined | reconnecting | left | error
  state: 'loading',
  // Turning encryption on in a room made before it: the secret made here for the new link,
  // then whether to join again through it, or (someone else did it) that the old link is gone.
  turningOn: null,
  rejoinEncrypted: false,
  encryptedElsewhere: false,
  roomId: roomIdFromPath(window.location.pathname),
  room: null, // the HTTP summary (name, participants, full, locked)
  info: null, // the latest RoomInfo from the server ({id, name, max_participants, locked, panic})
  iceServers: [], // TURN servers with this participant's credential, from the latest `joined`
  role: 'guest',
  hostKey: null, // read once: it follows the room to a new link (rotate) in memory too
  errorCode: null,
  endedByMe: false,
  name: '',
  participantId: null,
  resume: null,
  mediaReady: Promise.resolve(),
  signaling: null,
  // Cluster mode: the room's node (from `ws_url` or `moved`), else the page's own origin.
  route: new SignalRoute(),
  lobbySocket: null, // the socket that was answered `waiting`
  call: null,
  mediaKept: 0, // resumes that went on with the same peer connection
  probing: null, // the signaling socket being probed after a network change (probeSignaling)
  joined: false,
  attempt: 0,
  retryTimer: null,
  joinTimer: null,
  lobbyTimer: null,
  view: null, // the last `view` sent on this connection
  viewTimer: null,
  speakers: [], // the latest `speakers` from the server
  videoWatched: true, // the latest `video_watched`
  videoLayers: null, // the latest `video_layers` (rids someone watches), null = every layer
  dataSaver: false, // capture the camera at 360p (two layers) instead of 720p (three)
  // End-to-end encryption (docs/adr/0003-e2ee.md): the room secret from the link's `#k=` (never
  // sent anywhere), the key manager and the worker that seals and opens frames. All null in a
  // legacy room.
  secret: null,
  e2ee: null,
  worker: null,
  e2eeOpen: false, // the safety-code panel
  e2eeFrames: null, // the worker's latest counts: {sent, dropped, received: {id: counts}}
};

const local = new LocalMedia();
// Backgrounds and face effects: the track they make replaces the camera's everywhere we show or
// send it (the sender's layers and encryption stay as they are: replaceTrack).
const effects = new Effects({
  menu: $('#effects-menu'),
  button: $('#effects-toggle'),
  onOutput: (track) => {
    local.processed = track;
    if (track) track.enabled = local.camOn;
    showLocalVideo();
    s.call?.replaceTrack('video', local.videoOut());
  },
  notify: (text) => toast(text),
});
const grid = new TileGrid($('#grid'), {
  onAutoplayBlocked: () => { $('#enable-sound').hidden = false; },
  decorate: (tile, participant) => {
    host.decorateTile(tile, participant);
    decorateE2ee(tile, participant.id);
    social.decorateTile(tile, participant.id);
  },
  onViewChange: () => scheduleView(),
  onLayout: (state) => showLayout(state),
  audioSinks: $('#audio-sinks'),
  decorateShare: (tile, participant) => host.decorateShareTile(tile, participant),
});
// My screen share (screen.js): the capture goes on the call's screen section.
const screen = new ScreenShare({
  button: $('#share-screen'),
  send: (message) => { if (s.joined) s.signaling?.send(message); },
  call: () => s.call,
  toast: (text) => toast(text),
  presenter: () => grid.presenterName(),
});
/** The invite link, with the room secret in its fragment in an E2EE room. */
const inviteUrl = () => `${window.location.origin}${roomPath()}`;
const roomPath = () => `/r/${encodeURIComponent(s.roomId)}${s.secret ? hashFor(s.secret) : ''}`;
const host = new HostControls({
  send: (message) => {
    if (!s.joined) return;
    if (message.type === 'rotate_link' && message.e2ee && !s.e2ee) {
      // Turning encryption on in a room made before it: the new link's secret is made here.
      s.turningOn = newRoomSecret();
      s.signaling?.send(message);
      return;
    }
    if (message.type === 'rotate_link' && s.e2ee) {
      // The new link is an E2EE one, and its secret is mine to make and hand out.
      s.e2ee.expectRotation();
      s.signaling?.send({ ...message, e2ee: true });
      return;
    }
    s.signaling?.send(message);
  },
  grid,
  inviteUrl,
  toast,
  copy: copyText,
  onEndRoom: () => { s.endedByMe = true; },
});
const door = new DoorControl({
  roomId: () => s.roomId,
  hostKey: () => s.hostKey,
  toast,
});
// Reactions, raised hands and chat (social.js, chat.js): their requests share one queue, so that
// a refusal from the server reaches the one that asked.
const pending = new PendingRequests();
const sendSocial = (message) => {
  if (!s.joined || !s.signaling) return false;
  s.signaling.send(message);
  return true;
};
const social = new Social({ send: sendSocial, grid, pending, selfName: () => s.name, toast });
const chat = new Chat({ send: sendSocial, pending });
const mutePrompt = new MutePrompt({
  onAccept: () => { if (local.current().audio) toggle('audio'); },
});
// Before joining, the preview's ring follows your microphone; in the call, the server's `speakers`.
const speaking = new PreviewSpeaking({
  level: () => local.level(),
  show: (on) => { $('#preview').dataset.speaking = String(on); },
});

// Read-only view for people debugging and for the browser tests.
window.salon = Object.freeze({
  get state() { return s.state; },
  get participantId() { return s.participantId; },
  get roomId() { return s.roomId; },
  /** My role: 'owner', 'cohost' or 'guest'. */
  get role() { return s.role; },
  /** The latest RoomInfo from the server ({id, name, max_participants, locked, panic}), or null. */
  get room() { return s.info ? { ...s.info } : null; },
  /** The code of the error the page shows (state 'error'), e.g. 'removed'. */
  get errorCode() { return s.errorCode; },
  remoteParticipants: () => grid.remoteIds(),
  /** Hosts: who is knocking ([{id, name, denied_before}]). */
  knocks: () => host.knocks.map((k) => ({ ...k })),
  /** Hosts: the ban list ([{id, name, at}]). */
  bans: () => host.bans.map((b) => ({ ...b })),
  stats: () => (s.call ? s.call.stats() : Promise.resolve(null)),
  /** How many times a reconnect went on with the same peer connection (media never stopped). */
  get mediaKept() { return s.mediaKept; },
  /** ICE restarts on the current peer connection (after a broken media path). */
  get iceRestarts() { return s.call?.iceRestarts ?? 0; },
  /** For tests and debugging: restart ICE now, as after a network change. */
  restartIce: () => s.call?.restartIce('requested'),
  /** The last `view` sent ({type, tiles}), or null. */
  get view() { return s.view ? JSON.parse(JSON.stringify(s.view)) : null; },
  /** The latest `speakers` from the server (loudest first). */
  get speakers() { return [...s.speakers]; },
  /** The layout: {layout, mode, page, pages, pinned, main, onPage, decoded, speakers}. */
  layout: () => grid.snapshot(),
  /** The latest `video_watched`: whether anyone watches my video. */
  get videoWatched() { return s.videoWatched; },
  /** Whether my camera's encodings are active (false while nobody watches). */
  videoSending: () => s.call?.videoSending() ?? null,
  /** The latest `video_layers`: the rids of my camera someone watches (null: none came yet). */
  get videoLayers() { return s.videoLayers ? [...s.videoLayers] : null; },
  /** My camera's simulcast encodings now: [{rid, active, scaleResolutionDownBy, maxBitrate}]. */
  videoEncodings: () => s.call?.videoEncodings() ?? null,
  /** Whether the data saver is on (camera at 360p in two layers). */
  get dataSaver() { return s.dataSaver; },
  /** The chat shown: [{id, from, name, text, unreadable}], oldest first. */
  chat: () => chat.snapshot(),
  /** The raised hands in order: [{id, hand, position}] (mine included). */
  hands: () => social.queue(),
  /** Whether I share my screen now. */
  get sharing() { return screen.active; },
  /** For tests: the capture ends, as when the browser's own "Stop sharing" is pressed. */
  endShareCapture: () => screen.track?.dispatchEvent(new Event('ended')),
  /** Backgrounds and face effects: {choice, loading, active, error, stats, frames, slowed, face}. */
  effects: () => effects.state(),
  /**
   * End-to-end encryption: null in a legacy room, else {code, keyHolders, verified, unverified,
   * failed, waiting, generation} (no key material).
   */
  get e2ee() { return s.e2ee ? { ...s.e2ee.state(), frames: s.e2eeFrames ?? null } : null; },
});

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
  $('#lobby-door').textContent = doorText({ ...s.room, names: null });
  // Who is inside, when the owner shows names (the server sends them only then).
  const peek = $('#peek');
  const names = Array.isArray(s.room.names) ? s.room.names : [];
  peek.replaceChildren(...names.map((name) => {
    const item = document.createElement('li');
    item.textContent = name;
    return item;
  }));
  peek.hidden = names.length === 0;
  const full = !!s.room.full;
  $('#lobby-full').hidden = !full;
  $('#join-submit').disabled = full;
  // The owner skips the lobby; everyone else knocks on a locked room.
  const knocks = !!s.room.locked && !s.hostKey;
  $('#lobby-locked').hidden = !knocks;
  $('#join-submit').textContent = knocks ? 'Ask to join' : 'Join';
}

async function init() {
  fillIcons();
  bindControls();
  renderE2ee();
  if (!s.roomId) return fail('room_not_found');
  s.hostKey = hostKey(s.roomId);
  setState('loading');
  showView('loading');
  $('#join-name').value = rememberedName() ?? '';
  updatePreviewInitials();
  // A link may ask for the data saver (`?data-saver=1`) for this visit; else what was chosen here.
  s.dataSaver = dataSaverFromQuery(window.location.search) ?? rememberedDataSaver();
  $('#data-saver').checked = s.dataSaver;
  const link = secretFromHash(window.location.hash);
  s.secret = link.secret ?? (link.present ? null : secretFromStore(s.roomId));
  let room;
  try {
    room = await getRoom(s.roomId);
    s.route.fromRoomInfo(room, signalingUrl(s.roomId));
    showRoomInfo(room);
  } catch (error) {
    return fail(error.code ?? 'unreachable', error.message, { onRetry: () => window.location.reload() });
  }
  // Refusals before anything is sent (§5, §7): a broken or missing key, a downgrade, a browser
  // that cannot encrypt.
  if (link.present && !link.secret) return fail('e2ee_missing_key');
  if (room.e2ee === true && !s.secret) return fail('e2ee_missing_key');
  if (s.secret && room.e2ee === false) return fail('e2ee_downgrade');
  if (s.secret && !(await browserSupport(window))) return fail('e2ee_unsupported');
  if (s.secret) startE2ee();
  if (s.secret) keepChatSecrets();
  await local.setDataSaver(s.dataSaver);
  enterLobby();
  s.mediaReady = getLocalMedia();
  await s.mediaReady;
}

function enterLobby() {
  setState('preview');
  showView('lobby');
  effects.dock($('#preview .preview-controls'));
  clearInterval(s.lobbyTimer);
  s.lobbyTimer = setInterval(() => {
    if (s.state !== 'preview') return;
    getRoom(s.roomId).then((room) => {
      s.route.fromRoomInfo(room, signalingUrl(s.roomId));
      showRoomInfo(room);
    }, () => {});
  }, LOBBY_REFRESH_MS);
  speaking.start();
}

/** Camera and microphone with fallbacks; says in words what we could not get. */
async function getLocalMedia() {
  $('#media-notice').textContent = 'Asking for your camera and microphone…';
  $('#media-notice').textContent = (await local.acquire()) ?? '';
  effects.setCamera(local.liveTrack('video'));
  showLocalVideo();
  renderMedia();
}

/** (Re)attaches your own stream to the preview and your tile, e.g. after a new camera track. */
function showLocalVideo() {
  for (const video of [$('#preview-video'), grid.selfTile?.querySelector('video')]) {
    if (!video) continue;
    video.srcObject = null;
    video.srcObject = local.outgoing();
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
  rememberName(name);
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
  grid.showSelf(local.outgoing(), s.name);
  effects.dock($('.controls'), $('#leave'), 'control');
  renderMedia();
  updateCount();
  speaking.stop(); // in the call, the rings come from the server
  connect();
}

/**
 * Opens the signaling socket and sends `join`: to `target` (a `moved` followed), else to the
 * room's node when known (cluster mode), else to the page's own origin (the entry).
 */
async function connect(target) {
  clearTimeout(s.retryTimer);
  // A fresh join gets a fresh identity (and its commitment in `join`); a resume keeps it.
  if (s.e2ee && (!s.resume || !s.e2ee.identity)) {
    try {
      await s.e2ee.newIdentity();
    } catch (error) {
      console.warn('salon: could not make an e2ee identity', error?.name);
      return fail('e2ee_unsupported');
    }
  }
  const entry = signalingUrl(s.roomId);
  const url = typeof target === 'string' ? target : s.route.url(entry, s.roomId);
  const sig = new Signaling(url, {
    onMessage: (message) => {
      if (sig !== s.signaling) return;
      if (message.type === 'moved') onMoved(message, sig);
      else onMessage(message);
    },
    onClose: ({ opened }) => {
      if (sig !== s.signaling) return;
      // The room's node cannot be reached (a dead owner): ask the entry at once, which sends
      // us on to the room's new owner.
      const step = opened ? null : s.route.unreachable(sig.url, entry);
      if (step?.connect) {
        endSignaling();
        connect(step.connect);
      } else socketGone();
    },
  });
  s.signaling = sig;
  s.joined = false;
  const join = { type: 'join', version: 1, name: s.name, media: local.current(), device: deviceId() };
  if (s.resume) {
    join.resume = s.resume;
    // Our peer connection outlived the socket: ask the server to go on with it.
    if (s.call) join.keep_media = true;
  }
  if (s.hostKey) join.host_key = s.hostKey;
  if (s.e2ee) join.e2ee = s.e2ee.joinField();
  sig.send(join);
  sig.open().catch(() => {}); // a failure to open arrives through onClose
  s.joinTimer = setTimeout(() => {
    if (sig !== s.signaling || s.joined) return;
    sig.close();
    // A room's node that never answered (a dead host drops packets) counts as unreachable.
    const step = s.route.unreachable(sig.url, entry);
    if (step.connect) {
      endSignaling();
      connect(step.connect);
    } else socketGone();
  }, JOIN_TIMEOUT_MS);
}

/**
 * `moved` (cluster mode): in answer to our `join`, the room lives on another node; in the room
 * or the lobby, its node gave the room up. Either way the server closes this socket: follow to
 * the new node at once (at most three moves in a row), sending the same join or resume.
 */
function onMoved(message, sig) {
  // In the room or its lobby on this socket (not an answer to our join): a new walk.
  const inRoom = s.joined || s.lobbySocket === sig;
  const step = s.route.moved(message.url, sig.url, { newWalk: inRoom });
  if (step.fail) {
    console.warn(`salon: not following moved: ${step.fail}`);
    if (s.state === 'connecting') {
      return fail('moved', `Can't reach this room: ${step.fail}.`, { onRetry: () => { showView('lobby'); enterLobby(); } });
    }
    sig.close();
    socketGone();
    return;
  }
  if (s.state === 'joined') {
    // The media went with the node: start over on the new one, resuming our participant.
    endSession();
    setState('reconnecting');
    setBanner('Moving to another server…');
    s.speakers = [];
    grid.markStale();
  } else if (s.state === 'waiting') {
    endSession(); // knock again there
  } else {
    endSignaling(); // an answer to our join: the same join goes to the new node
  }
  connect(step.connect);
}

/** Closes the current socket and peer connection (not local media, not the tiles). */
function endSession() {
  endSignaling();
  s.call?.close();
  s.call = null;
}

/** Closes the current socket only: the peer connection may carry on through a resume. */
function endSignaling() {
  clearTimeout(s.joinTimer);
  clearTimeout(s.viewTimer);
  s.view = null; // a new connection starts with no view: send it again
  s.joined = false;
  s.signaling?.close();
  s.signaling = null;
}

/** The socket closed, failed to open, or never said `joined`. */
function socketGone() {
  // In the call, media may well be fine (a signaling blip): keep the peer connection for the
  // resume, which asks the server to go on with it. It ends if ICE fails meanwhile.
  if (s.state === 'joined' || (s.state === 'reconnecting' && s.call)) {
    endSignaling();
    if (s.state === 'joined') lost({ keepMedia: true });
    else scheduleRetry();
    return;
  }
  endSession();
  if (s.state === 'joined') lost();
  else if (s.state === 'reconnecting') scheduleRetry();
  else if (s.state === 'waiting') {
    // Knock again once the connection is back (the hosts see the knock come back).
    $('#wait-detail').textContent = 'Connection lost — trying again…';
    scheduleRetry();
  }
  else if (s.state === 'connecting') {
    fail('unreachable', null, { onRetry: () => { showView('lobby'); enterLobby(); } });
  }
}

/**
 * An ICE restart went out, or the browser moved the media to another local address (the network
 * changed, most often): the signaling socket may have left with the old network, and such a
 * socket is never reset — it goes silent, and a restart's offer with it. Ping it; silent for
 * `SIGNALING_PROBE_MS`, resume at once on a new socket, keeping the peer connection (a restart
 * is offered again there).
 */
async function probeSignaling(reason) {
  const sig = s.signaling;
  if (!sig || !s.joined || s.probing === sig) return;
  s.probing = sig;
  const alive = await sig.probe(SIGNALING_PROBE_MS);
  if (s.probing === sig) s.probing = null;
  if (alive || sig !== s.signaling || s.state !== 'joined') return;
  console.info(`salon: the signaling socket went silent (${reason}); resuming on a new one`);
  sig.abandon(); // reported through onClose: socketGone() keeps the media for the resume
  if (s.state === 'reconnecting') {
    clearTimeout(s.retryTimer);
    connect();
  }
}

function lost({ keepMedia = false } = {}) {
  if (keepMedia) endSignaling();
  else endSession();
  setState('reconnecting');
  setBanner('Connection lost — reconnecting…');
  s.speakers = [];
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
    case 'waiting':
      onWaiting(message);
      break;
    case 'participant_joined':
    case 'participant_updated':
      if (!message.participant) break;
      social.participant(message.participant);
      if (message.participant.id === s.participantId) onSelfUpdated(message.participant);
      else {
        grid.upsert(message.participant);
        s.e2ee?.onParticipant(message.participant);
      }
      updateCount();
      break;
    case 'e2ee_announce':
      s.e2ee?.onAnnounce(message);
      break;
    case 'e2ee_key':
      s.e2ee?.onKeyBox(message);
      break;
    case 'room_updated':
      if (message.room) onRoomUpdated(message.room);
      break;
    case 'knock_received':
      host.knockReceived(message.knock);
      break;
    case 'knock_ended':
      host.knockEnded(message.knock_id);
      break;
    case 'bans':
      host.setBans(message.bans);
      break;
    case 'mute_requested':
      if (local.current().audio) mutePrompt.show(message.by);
      else toast(`${message.by || 'A host'} asked you to mute (you already are)`);
      break;
    case 'muted':
      onMuted(message);
      break;
    case 'share_stopped':
      screen.stoppedBy(message.by);
      break;
    case 'participant_left':
      grid.remove(message.participant_id);
      s.e2ee?.onLeft(message.participant_id);
      social.left(message.participant_id);
      updateCount();
      break;
    case 'speakers':
      s.speakers = Array.isArray(message.speakers) ? message.speakers.filter((id) => typeof id === 'string') : [];
      grid.setSpeakers(s.speakers);
      break;
    case 'video_watched':
      s.videoWatched = message.watched !== false;
      s.call?.setVideoSending(s.videoWatched);
      break;
    case 'video_layers': {
      const layers = videoLayersOf(message);
      if (!layers) break;
      s.videoLayers = layers;
      s.call?.setVideoLayers(layers);
      break;
    }
    case 'reaction':
      social.reaction(message);
      break;
    case 'chat':
      chat.message(message.message);
      break;
    case 'chat_history':
      chat.history(message.messages);
      break;
    case 'chat_cleared':
      chat.cleared();
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
  s.route.arrived();
  if (s.e2ee && message.room?.e2ee === false) {
    // Downgrade guard (§7): the link says encrypted, the server says not.
    s.signaling?.send({ type: 'leave' });
    return fail('e2ee_downgrade');
  }
  const sig = s.signaling;
  s.joined = true;
  s.participantId = message.participant_id;
  grid.selfId = message.participant_id;
  s.resume = message.resume_token
    ? { participant_id: message.participant_id, token: message.resume_token }
    : null;
  showView('call'); // after waiting in the lobby
  setRole(message.role ?? 'guest');
  host.setKnocks(message.knocks ?? []);
  if (message.room) onRoomUpdated(message.room);
  const others = (message.participants ?? []).filter((p) => p.id !== s.participantId);
  grid.retain(new Set(others.map((p) => p.id)));
  others.forEach((p) => grid.upsert(p));
  s.e2ee?.onJoined({ selfId: s.participantId, roomId: s.roomId, participants: others });
  pending.clear();
  social.joined({ selfId: s.participantId, participants: others, resumed: !!message.resumed });
  chat.joined({ selfId: s.participantId, e2ee: message.room?.e2ee });
  s.iceServers = iceServersFrom(message);
  if (s.call && message.media_kept) {
    // Resumed on the same peer connection: nothing to negotiate, media never stopped.
    s.call.send = (msg) => sig.send(msg);
    s.call.setIceServers(s.iceServers);
    s.call.resumed();
    s.mediaKept += 1;
  } else {
    s.call?.close();
    s.call = null;
    // A new publication: every layer is sent until the server says otherwise.
    s.videoWatched = true;
    s.videoLayers = null;
    startMedia(sig);
  }
  s.attempt = 0;
  setState('joined');
  setBanner(null);
  renderMedia();
  updateCount();
  s.view = null;
  scheduleView();
  screen.onJoined();
}

// --- what the page shows -------------------------------------------------------------------------

/**
 * Tells the server which videos the page shows and how big (`view`), once things have been quiet
 * for VIEW_DEBOUNCE_MS; nothing when it did not really change.
 */
function scheduleView() {
  if (!s.joined) return;
  clearTimeout(s.viewTimer);
  s.viewTimer = setTimeout(sendView, VIEW_DEBOUNCE_MS);
}

function sendView() {
  if (!s.joined || !s.signaling) return;
  const view = buildView(grid.viewTiles());
  if (!viewChanged(s.view, view)) return;
  s.view = view;
  s.signaling.send(view);
}

/** The pager and the layout button follow the grid's layout. */
function showLayout({ layout, page, pages }) {
  // A host menu open on a tile that moved follows it, or closes when the tile left the screen.
  if (host.menuFor !== null) {
    const anchor = host.menuButton;
    if (!anchor?.isConnected || anchor.closest('[hidden]')) host.closeMenu(false);
    else host.placeMenu(anchor);
  }
  const pager = $('#pager');
  const multi = layout === 'grid' && pages > 1;
  pager.hidden = !multi;
  if (multi) {
    const words = pageLabel(page, pages);
    pager.querySelector('.page-short').textContent = words.text;
    pager.querySelector('.page-long').textContent = words.label;
    pager.dataset.page = String(page + 1);
    pager.dataset.pages = String(pages);
    $('#page-prev').disabled = page === 0;
    $('#page-next').disabled = page >= pages - 1;
  }
  const speakerView = layout === 'speaker';
  const toggleButton = $('#layout-toggle');
  if (toggleButton.getAttribute('aria-pressed') !== String(speakerView)) {
    toggleButton.setAttribute('aria-pressed', String(speakerView));
    toggleButton.title = speakerView ? 'Back to the grid' : 'Speaker view: one person large';
    toggleButton.querySelector('[data-icon]').innerHTML = icon(speakerView ? 'grid' : 'speakerView');
    toggleButton.querySelector('.label').textContent = speakerView ? 'Grid' : 'Speaker';
  }
}

/** A new peer connection: publish our media and receive everyone's. */
function startMedia(sig) {
  const call = new Call({
    localStream: local.outgoing(),
    send: (msg) => sig.send(msg),
    canSignal: () => s.joined,
    onPathTrouble: (reason) => probeSignaling(reason),
    onRemoteTrack: (participantId, track, source) => {
      if (participantId === s.participantId) return;
      if (source === 'screen') grid.attachShare(participantId, track);
      else grid.attachTrack(participantId, track);
    },
    onLost: (reason) => {
      if (call !== s.call) return;
      console.warn('salon: connection lost:', reason);
      lost();
    },
    // The number of layers is fixed for the connection: as many as the capture allows now.
    layers: cameraLayers(local.captureHeight()),
    watched: s.videoWatched,
    videoLayers: s.videoLayers,
    e2eeWorker: s.e2ee ? s.worker : null,
    screenTrack: screen.track,
    iceServers: s.iceServers,
  });
  s.call = call;
  call.start();
}

/** The room is locked: we wait in its lobby until a host admits us (`joined`) or not. */
function onWaiting(message) {
  clearTimeout(s.joinTimer);
  s.route.arrived();
  s.lobbySocket = s.signaling;
  s.attempt = 0;
  setState('waiting');
  showView('waiting');
  setBanner(null);
  mutePrompt.hide();
  const name = message.room_name || s.room?.name;
  $('#wait-room').textContent = name ? `“${name}”` : '';
  $('#wait-detail').textContent = waitingText(!!message.host_present);
  $('#room-count').textContent = '';
  $('#wait-leave').focus();
}

function setRole(role) {
  s.role = role;
  grid.setSelfRole(role);
  host.setRole(role);
  door.enable(role === 'owner');
  social.setRole(role);
  chat.setRole(role);
  showRoomState(s.info, role);
  renderMedia();
}

/** Lock, panic or a new invite link. */
function onRoomUpdated(room) {
  const turnedOn = room.e2ee && !s.e2ee && room.id && room.id !== s.roomId;
  if (room.id && room.id !== s.roomId) linkRotated(room.id);
  if (turnedOn) encryptionTurnedOn();
  s.info = { ...s.info, ...room };
  if (room.name !== undefined) showRoomInfo({ name: room.name, locked: !!room.locked });
  host.setRoom(s.info);
  showRoomState(s.info, s.role);
  renderMedia();
}

/**
 * A host turned encryption on in this room (made before it): the server ends the call next.
 * The host who did it keeps the new link with the secret it made and joins again through it;
 * everyone else needs that new link from the host.
 */
function encryptionTurnedOn() {
  if (s.turningOn) {
    s.secret = s.turningOn;
    s.turningOn = null;
    if (s.hostKey) rememberSecret(s.roomId, hashFor(s.secret).slice(3));
    showAddress();
    s.rejoinEncrypted = true;
  } else {
    s.encryptedElsewhere = true;
  }
}

/** A host made a new invite link: the old id is gone (room_not_found), so follow the new one. */
function linkRotated(newId) {
  const oldId = s.roomId;
  moveRoom(oldId, newId);
  s.roomId = newId;
  // In an E2EE room the new secret follows (made here by the host who asked, or in a box from
  // them): the address bar and the stored room get it in onNewSecret.
  s.e2ee?.onRoomId(newId);
  showAddress();
  $('#invite').title = `Copy invite link (${inviteUrl()})`;
  if (s.info) toast(isHost(s.role) ? 'New invite link made: the old one no longer works' : 'The host made a new invite link');
}

/** The address bar shows the room's current link (with its secret: reloading keeps working). */
function showAddress({ keepQuery = false } = {}) {
  const path = keepQuery
    ? `/r/${encodeURIComponent(s.roomId)}${window.location.search}${s.secret ? hashFor(s.secret) : ''}`
    : roomPath();
  try {
    window.history.replaceState(window.history.state, '', path);
  } catch (error) {
    console.warn('salon: could not update the address bar', error);
  }
}

// --- end-to-end encryption -----------------------------------------------------------------------

/** The secret kept for a room created in this browser (its owner opened /r/{id} without `#k=`). */
function secretFromStore(roomId) {
  const kept = secretFromHash(`#k=${roomSecret(roomId) ?? ''}`);
  return kept.secret;
}

/**
 * An E2EE room's chat: sealed with the link's secret; the secrets this browser knew for the room
 * before (older links) still open older messages.
 */
function keepChatSecrets() {
  for (const kept of chatSecrets(s.roomId)) {
    const secret = secretFromHash(`#k=${kept}`).secret;
    if (secret) chat.keepSecret(secret);
  }
  chat.useSecret(s.secret);
  rememberChatSecret(s.roomId, hashFor(s.secret).slice(3));
}

/** An E2EE room: the key manager and its worker. */
function startE2ee() {
  // Always show the whole link (an owner may have come from "Your rooms" without it).
  if (!secretFromHash(window.location.hash).secret) showAddress({ keepQuery: true });
  s.worker = new Worker('/assets/e2ee-worker.js', { type: 'module', name: 'salon-e2ee' });
  s.worker.addEventListener('message', (event) => {
    const message = event.data ?? {};
    if (message.type === 'stats') {
      s.e2eeFrames = { sent: message.sent, dropped: message.sendDropped, received: message.receivers };
      s.e2ee?.onWorkerStats(message.receivers);
    }
    if (message.type === 'opened') renderE2ee();
  });
  s.worker.addEventListener('error', (event) => console.warn('salon: e2ee worker error', event.message));
  s.e2ee = new E2ee({
    secret: s.secret,
    send: (message) => { if (s.joined) s.signaling?.send(message); },
    post: (message) => s.worker.postMessage(message),
    onChange: () => renderE2ee(),
    onSecret: (secret, roomId) => onNewSecret(secret, roomId),
  });
  $('#lobby-e2ee').hidden = false;
  renderE2ee();
}

/** A link rotation gave the room a new secret: the link, the address bar and "my rooms" follow. */
function onNewSecret(secret, roomId) {
  s.secret = secret;
  // New chat is sealed with it; the old secrets stay to open what was written before.
  chat.useSecret(secret);
  rememberChatSecret(roomId ?? s.roomId, hashFor(secret).slice(3));
  if (roomId && roomId !== s.roomId) return;
  showAddress();
  if (s.hostKey) rememberSecret(s.roomId, hashFor(secret).slice(3));
  if (s.info) host.setRoom(s.info);
  $('#invite').title = `Copy invite link (${inviteUrl()})`;
}

/** The lock chip, its panel, and every remote tile's badges. */
function renderE2ee() {
  const chip = $('#e2ee-chip');
  chip.hidden = false;
  const state = s.e2ee?.state() ?? null;
  chip.dataset.e2ee = state ? 'on' : 'off';
  chip.querySelector('[data-icon]').innerHTML = icon(state ? 'lock' : 'unlock');
  chip.querySelector('.e2ee-label').textContent = state ? 'Encrypted' : E2EE_WORDS.notEncrypted;
  $('#safety-code').textContent = state?.code ?? '';
  chip.querySelector('.e2ee-sep').hidden = !state?.code;
  chip.title = state
    ? 'End-to-end encrypted: compare the safety code with the others'
    : 'The server could see and hear this call';
  const panel = $('#e2ee-panel');
  panel.hidden = !s.e2eeOpen;
  chip.setAttribute('aria-expanded', String(s.e2eeOpen));
  panel.dataset.e2ee = chip.dataset.e2ee;
  $('#e2ee-panel-code').textContent = state?.code ?? '';
  if (state) {
    $('#e2ee-holders').textContent = state.keyHolders === 1
      ? 'Only you hold the keys so far.'
      : `${state.keyHolders} people hold the keys, you included.`;
    const names = state.unverified.map((id) => grid.participant(id)?.name || 'Someone');
    $('#e2ee-unverified').hidden = names.length === 0;
    $('#e2ee-unverified').textContent = names.length
      ? `No keys exchanged with: ${names.join(', ')}. They don't see or hear you until their link has the same key.`
      : '';
  }
  for (const id of grid.remoteIds()) decorateE2ee(grid.tileOf(id), id, state);
}

/** A remote tile's broken-lock badge (keys not verified) and "waiting for keys". */
function decorateE2ee(tile, participantId, state = s.e2ee?.state() ?? null) {
  if (!tile) return;
  let badge = tile.querySelector('.tile-unverified');
  if (!badge) {
    badge = document.createElement('span');
    badge.className = 'tile-unverified';
    badge.dataset.testid = 'tile-unverified';
    badge.innerHTML = icon('lockBroken');
    tile.querySelector('.tile-label')?.prepend(badge);
    const keys = document.createElement('div');
    keys.className = 'tile-keys';
    keys.dataset.testid = 'tile-waiting-keys';
    keys.textContent = 'Waiting for keys…';
    tile.append(keys);
  }
  const status = state ? s.e2ee.statusOf(participantId) : 'none';
  tile.dataset.e2ee = status;
  badge.hidden = !state || status === 'verified';
  badge.title = status === 'failed'
    ? "No keys exchanged: this person's link has a different key"
    : 'Exchanging keys…';
  badge.setAttribute('aria-label', badge.title);
  tile.dataset.keys = state?.waiting.includes(participantId) ? 'waiting' : 'ok';
}
/** Something of mine changed on the server: a host named me co-host, or turned my mic off. */
function onSelfUpdated(participant) {
  if (participant.role && participant.role !== s.role) {
    const was = s.role;
    setRole(participant.role);
    if (participant.role === 'cohost') toast('You are now a co-host');
    else if (was === 'cohost') toast('You are no longer a co-host');
  }
  turnOff(devicesToTurnOff(local.current(), participant.media));
  screen.onSelf(participant);
}

/** A host turned my microphone (and maybe camera) off: do what pressing the buttons does. */
function onMuted(message) {
  mutePrompt.hide();
  turnOff(devicesToTurnOff(local.current(), message.media ?? { audio: false, video: true }));
  toast(`${message.by || 'A host'} muted you`);
}

async function turnOff(kinds) {
  let changed = false;
  for (const kind of kinds) {
    if (local.current()[kind]) changed = (await toggle(kind, { announce: false })) || changed;
  }
  // One `media` for both: a half-off state with the camera still on would be refused in panic.
  if (changed) sendMedia();
}

const TOASTED_ERRORS = new Set(['not_allowed', 'not_found', 'rate_limited', 'invalid_field', 'internal']);

function onServerError(message) {
  if (!message.fatal) {
    console.warn(`salon: server says ${message.code}: ${message.message}`);
    // The answer to a reaction, hand or chat of mine: said where it was asked, not as a toast.
    const request = TOASTED_ERRORS.has(message.code) ? pending.errored(Date.now()) : null;
    if (request) {
      (request.kind === 'chat' || request.kind === 'clear' ? chat : social).refused(request, message);
      return;
    }
    // A refused host action (or unmute during panic) is worth a word; the call goes on.
    if (TOASTED_ERRORS.has(message.code) && message.message) toast(sentence(message.message));
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
  screen.stop({ announce: false });
  local.stop();
  grid.clear();
  leaveHostState();
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

/** Out of the call: no host controls, badges or prompts. */
function leaveHostState() {
  s.role = 'guest';
  door.enable(false);
  s.info = null;
  host.reset();
  social.reset();
  chat.reset();
  pending.clear();
  mutePrompt.hide();
  showRoomState(null, 'guest');
}

function renderMedia() {
  const media = local.current();
  // During panic a guest's microphone and camera stay off (the server refuses them anyway).
  const paused = mediaLocked(s.role, s.info) && (s.state === 'joined' || s.state === 'reconnecting');
  for (const button of document.querySelectorAll('.controls [data-toggle]')) {
    button.disabled = paused;
    button.setAttribute('aria-disabled', String(paused));
  }
  for (const button of document.querySelectorAll('[data-toggle=audio]')) {
    setToggle(button, { pressed: media.audio, iconName: media.audio ? 'mic' : 'micOff', title: media.audio ? 'Turn microphone off' : 'Turn microphone on' });
  }
  for (const button of document.querySelectorAll('[data-toggle=video]')) {
    setToggle(button, { pressed: media.video, iconName: media.video ? 'cam' : 'camOff', title: media.video ? 'Turn camera off' : 'Turn camera on' });
  }
  $('#preview').dataset.video = media.video ? 'on' : 'off';
  grid.setSelfMedia(media);
  // Panic pauses guests' reactions and chat too (hands still go up).
  social.setPaused(paused);
  chat.setPaused(paused);
  screen.setLocked(paused);
}

/**
 * Switches the microphone or camera on or off, as its button does, and tells the server (unless
 * `announce` is false). Resolves to whether anything changed.
 */
async function toggle(kind, { announce = true } = {}) {
  if (!local.current()[kind] && mediaLocked(s.role, s.info) && s.joined) {
    toast('Paused by host: microphones and cameras stay off for now');
    return false;
  }
  const result = await local.toggle(kind, async (k, track) => {
    // A new camera: an effect in use goes on from it (and keeps sending its own track).
    if (k === 'video') effects.setCamera(track);
    await s.call?.replaceTrack(k, k === 'video' ? local.videoOut() : track);
  });
  if (result.error) toast(result.error);
  if (!result.changed) return false;
  if (result.newTrack) showLocalVideo();
  renderMedia();
  if (announce) sendMedia();
  if (kind === 'audio' && !local.current().audio) mutePrompt.hide();
  return true;
}

function sendMedia() {
  if (s.joined) s.signaling?.send({ type: 'media', ...local.current() });
}

/** The server's words as a sentence (some start in lower case). */
function sentence(text) {
  const t = String(text).trim();
  return t.charAt(0).toLocaleUpperCase() + t.slice(1);
}

// --- errors ------------------------------------------------------------------------------------


function fail(code, message, { onRetry = null } = {}) {
  endSession();
  screen.stop({ announce: false });
  clearTimeout(s.retryTimer);
  clearInterval(s.lobbyTimer);
  setBanner(null);
  leaveHostState();
  s.errorCode = code;
  let [title, detail] = errorWords(code === 'room_ended' && s.endedByMe ? 'ended_by_you' : code, message);
  if (code === 'room_ended' && (s.rejoinEncrypted || s.encryptedElsewhere)) {
    title = s.rejoinEncrypted ? 'End-to-end encryption is on' : 'The host turned on end-to-end encryption';
    detail = s.rejoinEncrypted
      ? 'The room has a new link with its key (in the address bar). Join again, then share the new link.'
      : 'The old link no longer works. Ask the host for the new one.';
  }
  s.endedByMe = false;
  $('#error-title').textContent = title;
  $('#error-detail').textContent = detail;
  $('#removed-detail').textContent = detail;
  $('#room-error').dataset.code = code;
  // The E2EE refusals say exactly what the ADR says (§5, §7), in their own element.
  const e2eeRefusal = code.startsWith('e2ee_');
  $('#e2ee-error').hidden = !e2eeRefusal;
  $('#e2ee-error').textContent = e2eeRefusal ? detail : '';
  $('#error-detail').hidden = e2eeRefusal;
  // A missing room stays missing; a full one may have room again later. Someone turned away or
  // whose call was ended may try again by hand (never by itself); someone removed may not.
  let retry = onRetry;
  let retryLabel = 'Try again';
  if (code === 'room_not_found' || code === 'removed') retry = null;
  if (code === 'room_full') retry = () => { window.location.reload(); };
  if (code === 'knock_denied') {
    retry = backToPreview;
    retryLabel = 'Knock again';
  }
  if (code === 'room_ended') {
    retry = backToPreview;
    retryLabel = 'Join again';
  }
  if (code === 'room_ended' && s.rejoinEncrypted) {
    // I turned encryption on: the address bar holds the new link with its secret.
    retry = () => { window.location.reload(); };
    retryLabel = 'Join the encrypted room';
  } else if (code === 'room_ended' && s.encryptedElsewhere) {
    // The old link leads nowhere now; only the host has the new one.
    retry = null;
  }
  $('#error-retry').hidden = !retry;
  $('#error-retry').textContent = retryLabel;
  $('#error-retry').onclick = retry;
  if (!retry || isFatalForRetry(code)) {
    // Not going back to the lobby: release the camera and microphone.
    local.stop();
    speaking.stop();
  }
  grid.clear();
  setState('error');
  showView(code === 'removed' ? 'removed' : 'error');
  $('#room-count').textContent = '';
}

/** From an error back to the camera preview and the Join button (media was released). */
function backToPreview() {
  s.errorCode = null;
  enterLobby();
  s.mediaReady = getLocalMedia();
  getRoom(s.roomId).then(showRoomInfo, () => {});
}

// --- wiring ------------------------------------------------------------------------------------

function bindControls() {
  $('#join-form').addEventListener('submit', onJoinSubmit);
  $('#join-name').addEventListener('input', updatePreviewInitials);
  $('#data-saver').addEventListener('change', (event) => {
    s.dataSaver = event.target.checked;
    rememberDataSaver(s.dataSaver);
    // Join waits for the camera to take its new size (the layers are cut from it).
    const ready = s.mediaReady;
    s.mediaReady = ready.then(() => local.setDataSaver(s.dataSaver));
  });
  for (const button of document.querySelectorAll('[data-toggle]')) {
    button.addEventListener('click', () => toggle(button.dataset.toggle));
  }
  $('#leave').addEventListener('click', leave);
  $('#wait-leave').addEventListener('click', leave);
  $('#rejoin').addEventListener('click', rejoin);
  $('#e2ee-chip').addEventListener('click', () => {
    s.e2eeOpen = !s.e2eeOpen;
    renderE2ee();
  });
  $('#e2ee-panel-close').addEventListener('click', () => {
    s.e2eeOpen = false;
    renderE2ee();
    $('#e2ee-chip').focus();
  });
  $('#invite').addEventListener('click', async () => {
    const url = inviteUrl();
    toast((await copyText(url)) ? 'Invite link copied' : url);
  });
  $('#page-prev').addEventListener('click', () => grid.turnPage(-1));
  $('#page-next').addEventListener('click', () => grid.turnPage(1));
  $('#layout-toggle').addEventListener('click', () => {
    grid.setMode($('#layout-toggle').getAttribute('aria-pressed') === 'true' ? 'grid' : 'speaker');
  });
  $('#enable-sound').addEventListener('click', () => {
    grid.enableSound();
    $('#enable-sound').hidden = true;
  });
  // The device is on a network again, or on another one (Wi-Fi to mobile data): the media path
  // may be gone with the old network. Restart ICE at once rather than wait for ICE to notice.
  const networkChanged = (why) => {
    if (s.state === 'reconnecting' && !s.signaling) connect();
    else if (s.joined && s.call) s.call.restartIce(why);
  };
  window.addEventListener('online', () => networkChanged('back online'));
  navigator.connection?.addEventListener?.('change', () => networkChanged('network changed'));
  window.addEventListener('pagehide', () => {
    if (s.joined || s.state === 'waiting') s.signaling?.send({ type: 'leave' });
  });
}

init();
