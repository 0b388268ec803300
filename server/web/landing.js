// The landing page (/): create a room, then copy or share its invite link and enter it.

import { createRoom, getRoom } from './api.js';
import { hashFor, newRoomSecret } from './e2ee.js';
import { cleanName, doorText } from './logic.js';
import { rememberRoom, rememberedRooms, roomSecret } from './storage.js';
import { $, copyText, fillIcons } from './ui.js';

function showRememberedRooms() {
  const rooms = rememberedRooms();
  const list = $('#my-rooms ul');
  list.replaceChildren();
  for (const room of rooms) {
    const item = document.createElement('li');
    const link = document.createElement('a');
    const secret = roomSecret(room.id);
    link.href = `/r/${encodeURIComponent(room.id)}${secret ? `#k=${secret}` : ''}`;
    link.textContent = room.name || 'Unnamed room';
    const id = document.createElement('span');
    id.className = 'muted';
    id.textContent = ` · ${room.id.slice(0, 6)}…`;
    const door = document.createElement('span');
    door.className = 'door-state';
    door.dataset.testid = 'door-state';
    door.dataset.room = room.id;
    door.dataset.open = 'unknown';
    door.textContent = '…';
    item.append(link, id, document.createElement('br'), door);
    list.append(item);
  }
  $('#my-rooms').hidden = rooms.length === 0;
  refreshDoors();
}

const DOOR_REFRESH_MS = 3000;
let doorTimer = null;

/** Each of "Your rooms" shows its door and who is inside (names when the room shows them). */
async function refreshDoors() {
  clearTimeout(doorTimer);
  const spans = [...document.querySelectorAll('#my-rooms [data-testid=door-state]')];
  await Promise.all(spans.map(async (span) => {
    try {
      const room = await getRoom(span.dataset.room);
      span.textContent = doorText(room);
      span.dataset.open = String(!!room.door_open);
    } catch (error) {
      span.textContent = error.code === 'room_not_found' ? 'This link no longer works' : 'Door unknown (offline)';
      span.dataset.open = 'unknown';
    }
  }));
  if (spans.length && document.visibilityState !== 'hidden') doorTimer = setTimeout(refreshDoors, DOOR_REFRESH_MS);
}

async function onCreate(event) {
  event.preventDefault();
  const button = $('#create-room');
  const error = $('#create-error');
  error.textContent = '';
  button.disabled = true;
  button.dataset.busy = 'true';
  try {
    // End-to-end encrypted: the room secret is made here and only ever travels in the link's
    // fragment (docs/adr/0003-e2ee.md §2.1); the server gets `e2ee: true`, never the secret.
    const secret = newRoomSecret();
    const created = await createRoom(cleanName($('#room-name').value), { e2ee: true });
    const fragment = hashFor(secret);
    const room = { ...created, secret: fragment.slice(3) };
    // "Your rooms" keeps the plain link and the secret apart (storage.js), as the host key.
    const kept = rememberRoom(room);
    showCreated({ ...room, url: `${created.url || `${window.location.origin}/r/${created.id}`}${fragment}` });
    if (!kept) $('#copy-status').textContent = "This browser can't store the room's host key (storage is blocked).";
    showRememberedRooms();
  } catch (failure) {
    error.textContent = failure.code === 'unreachable'
      ? "Can't reach the Salon server. Check your connection and try again."
      : failure.message;
  } finally {
    button.disabled = false;
    delete button.dataset.busy;
  }
}

function showCreated(room) {
  const url = room.url;
  $('#room-link').value = url;
  $('#created-name').textContent = room.name ? `“${room.name}” is ready` : 'Your room is ready';
  $('#enter').href = `/r/${encodeURIComponent(room.id)}${room.secret ? `#k=${room.secret}` : ''}`;
  $('#created').hidden = false;
  $('#create-form').hidden = true;
  $('#room-link').focus();
  $('#room-link').select();

  $('#copy').onclick = async () => {
    const ok = await copyText(url);
    $('#copy-status').textContent = ok ? 'Link copied — send it to your friends.' : 'Select the link and copy it.';
  };
  const share = $('#share');
  share.hidden = typeof navigator.share !== 'function';
  share.onclick = () => {
    navigator.share({ title: room.name || 'Salon room', text: 'Drop in to my Salon room', url }).catch(() => {});
  };
}

function init() {
  fillIcons();
  $('#create-form').addEventListener('submit', onCreate);
  $('#another').addEventListener('click', () => {
    $('#created').hidden = true;
    $('#create-form').hidden = false;
    $('#room-name').value = '';
    $('#copy-status').textContent = '';
    $('#room-name').focus();
  });
  showRememberedRooms();
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') refreshDoors();
  });
}

init();
