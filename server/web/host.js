// Host controls (docs/protocol.md, "Hosts, the lobby and removal"), shown only to the owner and
// co-hosts: the lock and panic buttons and the host panel (invite link, new link, end for
// everyone, ban list) in the top bar, the knock panel above the tiles, and the menu on each tile
// of someone I outrank. The server decides: these buttons only send requests, and what they
// show comes from the server's answers (room_updated, knock_*, bans, participant_*).

import { addKnock, agoText, isHost, knockNote, tileActions } from './logic.js';
import { $, icon as iconSvg } from './ui.js';

const ACTION_WORDS = {
  ask_mute: () => 'Ask to mute',
  mute: () => 'Mute',
  mute_video: () => 'Mute and turn camera off',
  cohost: (p) => (p.role === 'cohost' ? 'Remove co-host' : 'Make co-host'),
  remove: (p) => `Remove ${p.name ?? ''}`.trim(),
};

const ACTION_TESTID = {
  ask_mute: 'ask-mute', mute: 'mute', mute_video: 'mute-video', cohost: 'cohost-toggle', remove: 'remove',
};

/** Up to this many knocks show as a list; more fold into "N people knocking" (Show / Deny all). */
const KNOCKS_LISTED = 3;
/**
 * Deny all sends one `deny` per knock, DENY_BATCH at a time every DENY_PAUSE_MS: about 40 a
 * second, under the server's 50 messages a second per socket (a lobby holds at most 50).
 */
const DENY_BATCH = 20;
const DENY_PAUSE_MS = 500;
/** A knock answered here waits this long for its `knock_ended` before its buttons come back. */
const ANSWER_PENDING_MS = 8000;
/** The count read out to screen readers changes at most this often. */
const ANNOUNCE_DELAY_MS = 1000;

export class HostControls {
  /**
   * @param {object} options
   * @param {(message: object) => void} options.send sends a signaling message (dropped if none)
   * @param {{participant: (id: string) => object|undefined, redecorate: () => void}} options.grid
   * @param {() => string} options.inviteUrl the current invite link
   * @param {(text: string) => void} options.toast
   * @param {(text: string) => Promise<boolean>} options.copy
   * @param {() => void} [options.onEndRoom] just before `end_room` is sent
   */
  constructor({ send, grid, inviteUrl, toast, copy, onEndRoom = () => {} }) {
    this.onEndRoom = onEndRoom;
    this.send = send;
    this.grid = grid;
    this.inviteUrl = inviteUrl;
    this.toast = toast;
    this.copy = copy;
    this.role = 'guest';
    this.room = { locked: false, panic: false };
    this.knocks = [];
    this.knocksOpen = false; // the host unfolded a long knock list
    this.answered = new Map(); // knock id -> when this page sent its admit or deny
    this.knockRows = new Map(); // knock id -> its row in the list ({ item, who, note, admit, deny })
    this.denyQueue = []; // knock ids Deny all has still to send
    this.denyTimer = null;
    this.answeredTimer = null;
    this.announceTimer = null;
    this.announced = '';
    this.announceNext = '';
    this.bans = [];
    this.menuFor = null; // participant id whose menu is open
    this.menuButton = null;
    this.bind();
  }

  bind() {
    $('#lock-toggle').addEventListener('click', () => {
      this.send({ type: 'set_locked', locked: !this.room.locked });
    });
    $('#panic').addEventListener('click', () => {
      this.send({ type: 'set_panic', active: !this.room.panic });
    });
    $('#host-tools').addEventListener('click', () => this.togglePanel());
    $('#knocks-toggle').addEventListener('click', () => {
      this.knocksOpen = !this.knocksOpen;
      this.renderKnocks();
    });
    $('#deny-all').addEventListener('click', () => this.denyAll());
    $('#host-panel-close').addEventListener('click', () => this.togglePanel(false));
    $('#copy-invite').addEventListener('click', async () => {
      this.toast((await this.copy(this.inviteUrl())) ? 'Invite link copied' : this.inviteUrl());
    });
    $('#rotate-link').addEventListener('click', () => this.send({ type: 'rotate_link' }));
    $('#turn-on-e2ee').addEventListener('click', () => this.send({ type: 'rotate_link', e2ee: true }));
    $('#end-room').addEventListener('click', () => this.confirmEnd(true));
    $('#end-cancel').addEventListener('click', () => this.confirmEnd(false));
    $('#end-room-confirm').addEventListener('click', () => {
      this.confirmEnd(false);
      this.onEndRoom();
      this.send({ type: 'end_room' });
    });
    $('#tile-menu').addEventListener('keydown', (event) => this.menuKey(event));
    document.addEventListener('click', (event) => {
      if (this.menuFor === null) return;
      if ($('#tile-menu').contains(event.target) || this.menuButton?.contains(event.target)) return;
      this.closeMenu(false);
    });
    document.addEventListener('keydown', (event) => {
      if (event.key !== 'Escape') return;
      if (this.menuFor !== null) this.closeMenu(true);
      else if (!$('#host-panel').hidden) this.togglePanel(false);
    });
    window.addEventListener('resize', () => this.closeMenu(false));
  }

  get isHost() {
    return isHost(this.role);
  }

  /** My role changed (joined, co-host named or un-named). */
  setRole(role) {
    this.role = role ?? 'guest';
    if (!this.isHost) {
      this.knocks = [];
      this.forgetAnswers();
      this.bans = [];
      this.togglePanel(false);
      this.closeMenu(false);
    }
    this.render();
    this.grid.redecorate();
  }

  setRoom(room) {
    this.room = { ...this.room, ...room };
    this.render();
  }

  setKnocks(knocks) {
    this.knocks = Array.isArray(knocks) ? [...knocks] : [];
    this.forgetAnswers();
    this.renderKnocks();
  }

  knockReceived(knock) {
    if (!knock?.id) return;
    this.knocks = addKnock(this.knocks, knock);
    this.renderKnocks();
  }

  knockEnded(knockId) {
    this.knocks = this.knocks.filter((k) => k.id !== knockId);
    this.answered.delete(knockId);
    this.renderKnocks();
  }

  /** Admit or deny one knock, once: its buttons wait for the server's `knock_ended`. */
  answer(type, knockId) {
    if (this.isAnswered(knockId)) return;
    this.markAnswered([knockId]);
    this.send({ type, knock_id: knockId });
    this.renderKnocks();
  }

  /**
   * Deny all: one `deny` per knock on screen now (not the ones that come later: the host has
   * not seen them), paced under the server's message rate.
   */
  denyAll() {
    const ids = this.knocks.map((k) => k.id).filter((id) => !this.isAnswered(id));
    if (ids.length === 0) return;
    this.markAnswered(ids);
    this.denyQueue.push(...ids);
    if (this.denyTimer === null) this.sendDenies();
    this.renderKnocks();
  }

  sendDenies() {
    this.denyTimer = null;
    for (const id of this.denyQueue.splice(0, DENY_BATCH)) {
      // A knock that ended meanwhile (gave up, answered by another host) needs no answer.
      if (this.knocks.some((k) => k.id === id)) this.send({ type: 'deny', knock_id: id });
    }
    if (this.denyQueue.length > 0) this.denyTimer = setTimeout(() => this.sendDenies(), DENY_PAUSE_MS);
  }

  isAnswered(knockId) {
    const at = this.answered.get(knockId);
    return at !== undefined && Date.now() - at < ANSWER_PENDING_MS;
  }

  markAnswered(ids) {
    const now = Date.now();
    for (const id of ids) this.answered.set(id, now);
    // If the server never ends them (a refused message), the buttons come back.
    clearTimeout(this.answeredTimer);
    this.answeredTimer = setTimeout(() => this.renderKnocks(), ANSWER_PENDING_MS + 50);
  }

  forgetAnswers() {
    this.answered.clear();
    this.denyQueue = [];
    clearTimeout(this.denyTimer);
    this.denyTimer = null;
    clearTimeout(this.answeredTimer);
    this.answeredTimer = null;
  }

  setBans(bans) {
    this.bans = Array.isArray(bans) ? [...bans] : [];
    this.renderBans();
  }

  /** Out of the call (left, removed, failed): nothing host-like stays on screen. */
  reset() {
    this.knocks = [];
    this.forgetAnswers();
    this.bans = [];
    this.role = 'guest';
    this.room = { locked: false, panic: false };
    this.togglePanel(false);
    this.closeMenu(false);
    this.render();
  }

  render() {
    const host = this.isHost;
    $('#host-bar').hidden = !host;
    const lock = $('#lock-toggle');
    lock.setAttribute('aria-pressed', String(!!this.room.locked));
    lock.querySelector('.label').textContent = this.room.locked ? 'Locked' : 'Lock';
    lock.title = this.room.locked ? 'Unlock: newcomers come straight in' : 'Lock: newcomers knock and wait';
    lock.querySelector('[data-icon]').innerHTML = iconSvg(this.room.locked ? 'lock' : 'unlock');
    const panic = $('#panic');
    panic.setAttribute('aria-pressed', String(!!this.room.panic));
    panic.querySelector('.label').textContent = this.room.panic ? 'Release panic' : 'Panic';
    panic.title = this.room.panic
      ? 'Let guests turn their microphones and cameras on again (the room stays locked)'
      : "Lock the room and turn off every guest's microphone and camera";
    $('#invite-link').value = this.inviteUrl();
    // A room made before encryption: its hosts may turn it on (a new link, the call starts over).
    const legacy = host && this.room.e2ee === false;
    $('#turn-on-e2ee').hidden = !legacy;
    $('#turn-on-e2ee-note').hidden = !legacy;
    if (!host) $('#host-panel').hidden = true;
    this.renderKnocks();
    this.renderBans();
  }

  /** The list row of one knock: made once, then brought up to date. */
  knockRow(knock) {
    let row = this.knockRows.get(knock.id);
    if (!row) {
      const item = document.createElement('li');
      item.dataset.testid = 'knock';
      item.dataset.knock = knock.id;
      const who = document.createElement('span');
      who.className = 'knock-name';
      const note = document.createElement('span');
      note.className = 'knock-note';
      const admit = button('Admit', 'knock-admit', '', 'primary');
      admit.addEventListener('click', () => this.answer('admit', knock.id));
      const deny = button('Deny', 'knock-deny');
      deny.addEventListener('click', () => this.answer('deny', knock.id));
      const actions = document.createElement('span');
      actions.className = 'knock-actions';
      actions.append(admit, deny);
      item.append(who, note, actions);
      row = { item, who, note, admit, deny };
      this.knockRows.set(knock.id, row);
    }
    const name = String(knock.name ?? '');
    setText(row.who, name);
    const note = knockNote(knock) ?? '';
    setText(row.note, note);
    row.note.hidden = !note;
    setAttr(row.admit, 'aria-label', `Let ${name} in`);
    setAttr(row.deny, 'aria-label', `Don't let ${name} in`);
    const answered = this.isAnswered(knock.id);
    for (const el of [row.admit, row.deny]) if (el.disabled !== answered) el.disabled = answered;
    row.item.classList.toggle('answered', answered);
    return row;
  }

  /**
   * The knock panel sits above the tiles, in the page's flow (it never covers a tile or the
   * call controls) and its list scrolls within a bounded height. Up to KNOCKS_LISTED knocks are
   * listed; more fold into "N people knocking" with Show / Hide and Deny all.
   */
  renderKnocks() {
    const box = $('#knocks');
    const list = $('#knock-list');
    const knocks = this.isHost ? this.knocks : [];
    const count = knocks.length;
    if (count === 0) this.knocksOpen = false; // the next flood starts folded
    const folds = count > KNOCKS_LISTED;
    const open = !folds || this.knocksOpen;
    // Keep focus where it was when the list changes under a keyboard user.
    const focused = list.contains(document.activeElement) ? document.activeElement : null;
    const focusedId = focused?.closest('li')?.dataset.knock;
    const focusedTestid = focused?.dataset.testid;
    const hadFocus = box.contains(document.activeElement);
    // Rows are kept and updated in place: a list that is rebuilt on every update (a room change,
    // another knock) would take a row from under the host's pointer mid-click, and the focus
    // from under a keyboard user.
    const ids = new Set(knocks.map((knock) => knock.id));
    for (const [id, row] of this.knockRows) {
      if (!ids.has(id)) {
        row.item.remove();
        this.knockRows.delete(id);
      }
    }
    let next = list.firstElementChild;
    for (const knock of knocks) {
      const { item } = this.knockRow(knock);
      if (item === next) next = next.nextElementSibling;
      else list.insertBefore(item, next); // a new knock, or one out of place: only it moves
    }
    list.hidden = !open;
    box.classList.toggle('folded', !open);

    $('#knock-count').textContent = count === 1 ? 'Someone is knocking' : `${count} people knocking`;

    const toggle = $('#knocks-toggle');
    toggle.hidden = !folds;
    toggle.setAttribute('aria-expanded', String(open));
    toggle.textContent = open ? 'Hide' : 'Show';
    toggle.setAttribute('aria-label', open ? 'Hide the list of people knocking' : 'Show everyone who is knocking');

    const waiting = knocks.filter((k) => !this.isAnswered(k.id)).length;
    const denyAll = $('#deny-all');
    denyAll.hidden = count < 2;
    // aria-disabled rather than disabled: a keyboard user's focus stays on the button.
    denyAll.setAttribute('aria-disabled', String(waiting === 0));
    denyAll.textContent = waiting === 0 ? 'Denying…' : 'Deny all';
    denyAll.setAttribute('aria-label', waiting === 0
      ? `Denying ${count} people knocking`
      : `Deny all ${waiting} ${waiting === 1 ? 'person' : 'people'} knocking`);

    box.hidden = count === 0;
    if (focusedId) {
      const row = list.querySelector(`li[data-knock="${CSS.escape(focusedId)}"]`);
      (row?.querySelector(`[data-testid="${focusedTestid}"]:not(:disabled)`) ?? row?.querySelector('button:not(:disabled)'))?.focus();
    }
    // What had the focus went away (the row, a button, the whole panel): move it somewhere
    // sensible rather than let it fall to the page (the lock button once the panel is gone).
    const active = document.activeElement;
    if (hadFocus && this.isHost && (!box.contains(active) || active.disabled || active.closest('[hidden]'))) {
      const next = box.hidden ? [] : [open ? list.querySelector('button:not(:disabled)') : null, denyAll, toggle];
      (next.find((el) => el && !el.hidden && !el.closest('[hidden]')) ?? $('#lock-toggle')).focus();
    }
    this.announceKnocks(knocks);
  }

  /**
   * What screen readers hear: the count at most once a second (a flood is one message, not
   * thirty), read from the live region outside the panel.
   */
  announceKnocks(knocks) {
    if (!this.isHost) {
      clearTimeout(this.announceTimer);
      this.announceTimer = null;
      this.announced = '';
      $('#knock-live').textContent = '';
      return;
    }
    let text = '';
    if (knocks.length === 1) text = `${knocks[0].name} is knocking`;
    else if (knocks.length > 1) text = `${knocks.length} people are knocking`;
    else if (this.announced) text = 'Nobody is knocking any more';
    this.announceNext = text;
    if (this.announceTimer !== null) return;
    this.announceTimer = setTimeout(() => {
      this.announceTimer = null;
      if (this.announceNext === this.announced) return;
      this.announced = this.announceNext;
      $('#knock-live').textContent = this.announced;
    }, ANNOUNCE_DELAY_MS);
  }

  renderBans() {
    const list = $('#ban-list');
    const bans = this.isHost ? this.bans : [];
    list.replaceChildren(...bans.map((ban) => {
      const item = document.createElement('li');
      item.dataset.testid = 'ban';
      item.dataset.ban = ban.id;
      const who = document.createElement('span');
      who.className = 'ban-name';
      who.textContent = ban.name;
      const when = document.createElement('span');
      when.className = 'muted small';
      when.textContent = agoText(ban.at, Date.now());
      const lift = button('Lift ban', 'unban', `Lift the ban on ${ban.name}`);
      lift.addEventListener('click', () => this.send({ type: 'unban', ban_id: ban.id }));
      item.append(who, when, lift);
      return item;
    }));
    $('#no-bans').hidden = bans.length > 0;
  }

  togglePanel(open = $('#host-panel').hidden) {
    const panel = $('#host-panel');
    const show = open && this.isHost;
    panel.hidden = !show;
    $('#host-tools').setAttribute('aria-expanded', String(show));
    if (!show) this.confirmEnd(false);
    if (show) $('#invite-link').value = this.inviteUrl();
  }

  confirmEnd(ask) {
    $('#end-confirm').hidden = !ask;
    $('#end-room').hidden = ask;
    if (ask) $('#end-room-confirm').focus();
  }

  // --- the menu on a tile ----------------------------------------------------------------------

  /** TileGrid's decorate hook: a menu button on the tiles of people I outrank, none elsewhere. */
  decorateTile(tile, participant) {
    const actions = tileActions(this.role, participant.role ?? 'guest');
    let holder = tile.querySelector('.tile-actions');
    if (actions.length === 0) {
      holder?.remove();
      if (this.menuFor === participant.id) this.closeMenu(false);
      return;
    }
    if (!holder) {
      holder = document.createElement('div');
      holder.className = 'tile-actions';
      const open = button('', 'participant-menu', '', 'tile-menu-button');
      open.innerHTML = iconSvg('more');
      open.setAttribute('aria-haspopup', 'menu');
      open.setAttribute('aria-expanded', 'false');
      open.addEventListener('click', (event) => {
        event.stopPropagation();
        if (this.menuFor === participant.id) this.closeMenu(true);
        else this.openMenu(participant.id, open);
      });
      holder.append(open);
      tile.append(holder);
    }
    holder.querySelector('button').setAttribute('aria-label', `Host actions for ${participant.name ?? 'this person'}`);
    if (this.menuFor === participant.id) this.fillMenu(participant);
  }

  /**
   * TileGrid's decorateShare hook: on the share of someone I outrank, a button that stops it
   * (`stop_share`; the server checks the roles again).
   */
  decorateShareTile(tile, participant) {
    const may = tileActions(this.role, participant.role ?? 'guest').length > 0;
    let stop = tile.querySelector('.share-stop');
    if (!may) {
      stop?.remove();
      return;
    }
    if (!stop) {
      stop = button('Stop sharing', 'stop-share', '', 'share-stop');
      stop.addEventListener('click', () => {
        this.send({ type: 'stop_share', participant_id: tile.dataset.participant });
      });
      tile.append(stop);
    }
    stop.setAttribute('aria-label', participant.name ? `Stop ${participant.name}'s screen share` : 'Stop this screen share');
  }

  openMenu(participantId, anchor) {
    const participant = this.grid.participant(participantId);
    if (!participant) return;
    this.closeMenu(false);
    this.menuFor = participantId;
    this.menuButton = anchor;
    anchor.setAttribute('aria-expanded', 'true');
    const menu = $('#tile-menu');
    menu.setAttribute('aria-label', `Host actions for ${participant.name}`);
    this.fillMenu(participant);
    menu.hidden = false;
    this.placeMenu(anchor);
    menu.querySelector('button')?.focus();
  }

  fillMenu(participant) {
    const menu = $('#tile-menu');
    const actions = tileActions(this.role, participant.role ?? 'guest');
    menu.replaceChildren(...actions.map((action) => {
      const item = button(ACTION_WORDS[action](participant), ACTION_TESTID[action], '', action === 'remove' ? 'danger' : '');
      item.setAttribute('role', 'menuitem');
      item.addEventListener('click', () => {
        this.closeMenu(true);
        this.act(action, participant.id);
      });
      return item;
    }));
  }

  placeMenu(anchor) {
    const menu = $('#tile-menu');
    if (window.matchMedia('(max-width: 560px)').matches) {
      // A bottom sheet on phones (CSS places it); nothing to measure.
      menu.style.left = '';
      menu.style.top = '';
      return;
    }
    const box = anchor.getBoundingClientRect();
    const width = menu.offsetWidth;
    const height = menu.offsetHeight;
    const left = Math.max(8, Math.min(box.right - width, window.innerWidth - width - 8));
    const below = box.bottom + 6;
    const top = below + height + 8 <= window.innerHeight ? below : Math.max(8, box.top - height - 6);
    menu.style.left = `${left}px`;
    menu.style.top = `${top}px`;
  }

  closeMenu(returnFocus) {
    if (this.menuFor === null) return;
    $('#tile-menu').hidden = true;
    this.menuButton?.setAttribute('aria-expanded', 'false');
    if (returnFocus && this.menuButton?.isConnected) this.menuButton.focus();
    this.menuFor = null;
    this.menuButton = null;
  }

  menuKey(event) {
    const items = [...$('#tile-menu').querySelectorAll('button')];
    const at = items.indexOf(document.activeElement);
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      const step = event.key === 'ArrowDown' ? 1 : -1;
      items[(at + step + items.length) % items.length]?.focus();
    } else if (event.key === 'Tab') {
      this.closeMenu(false);
    }
  }

  act(action, participantId) {
    const name = this.grid.participant(participantId)?.name ?? 'them';
    switch (action) {
      case 'ask_mute':
        this.send({ type: 'ask_mute', participant_id: participantId });
        this.toast(`Asked ${name} to mute`);
        break;
      case 'mute':
        this.send({ type: 'mute', participant_id: participantId, video: false });
        break;
      case 'mute_video':
        this.send({ type: 'mute', participant_id: participantId, video: true });
        break;
      case 'cohost': {
        const cohost = this.grid.participant(participantId)?.role !== 'cohost';
        this.send({ type: 'set_cohost', participant_id: participantId, cohost });
        break;
      }
      case 'remove':
        this.send({ type: 'remove', participant_id: participantId });
        break;
      default:
        break;
    }
  }
}

/** Changes an element's text only when it differs (no needless DOM mutation). */
function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

function setAttr(el, name, value) {
  if (el.getAttribute(name) !== value) el.setAttribute(name, value);
}

function button(text, testid, label = '', className = '') {
  const el = document.createElement('button');
  el.type = 'button';
  el.textContent = text;
  if (testid) el.dataset.testid = testid;
  if (label) el.setAttribute('aria-label', label);
  if (className) el.className = className;
  return el;
}
