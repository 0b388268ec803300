// Host controls (docs/protocol.md, "Hosts, the lobby and removal"), shown only to the owner and
// co-hosts: the lock and panic buttons and the host panel (invite link, new link, end for
// everyone, ban list) in the top bar, the knock list over the stage, and the menu on each tile
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
    $('#host-panel-close').addEventListener('click', () => this.togglePanel(false));
    $('#copy-invite').addEventListener('click', async () => {
      this.toast((await this.copy(this.inviteUrl())) ? 'Invite link copied' : this.inviteUrl());
    });
    $('#rotate-link').addEventListener('click', () => this.send({ type: 'rotate_link' }));
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
    this.renderKnocks();
  }

  knockReceived(knock) {
    if (!knock?.id) return;
    this.knocks = addKnock(this.knocks, knock);
    this.renderKnocks();
  }

  knockEnded(knockId) {
    this.knocks = this.knocks.filter((k) => k.id !== knockId);
    this.renderKnocks();
  }

  setBans(bans) {
    this.bans = Array.isArray(bans) ? [...bans] : [];
    this.renderBans();
  }

  /** Out of the call (left, removed, failed): nothing host-like stays on screen. */
  reset() {
    this.knocks = [];
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
    if (!host) $('#host-panel').hidden = true;
    this.renderKnocks();
    this.renderBans();
  }

  renderKnocks() {
    const box = $('#knocks');
    const list = box.querySelector('ul');
    const knocks = this.isHost ? this.knocks : [];
    // Keep focus where it was when the list changes under a keyboard user.
    const focusedId = list.contains(document.activeElement) ? document.activeElement.closest('li')?.dataset.knock : null;
    list.replaceChildren(...knocks.map((knock) => {
      const item = document.createElement('li');
      item.dataset.testid = 'knock';
      item.dataset.knock = knock.id;
      const who = document.createElement('span');
      who.className = 'knock-name';
      who.textContent = knock.name;
      item.append(who);
      const note = knockNote(knock);
      if (note) {
        const small = document.createElement('span');
        small.className = 'knock-note';
        small.textContent = note;
        item.append(small);
      }
      const admit = button('Admit', 'knock-admit', `Let ${knock.name} in`, 'primary');
      admit.addEventListener('click', () => this.send({ type: 'admit', knock_id: knock.id }));
      const deny = button('Deny', 'knock-deny', `Don't let ${knock.name} in`);
      deny.addEventListener('click', () => this.send({ type: 'deny', knock_id: knock.id }));
      const actions = document.createElement('span');
      actions.className = 'knock-actions';
      actions.append(admit, deny);
      item.append(actions);
      return item;
    }));
    box.hidden = knocks.length === 0;
    const heading = box.querySelector('h2');
    heading.textContent = knocks.length === 1 ? 'Someone is knocking' : `${knocks.length} people are knocking`;
    if (focusedId) list.querySelector(`li[data-knock="${CSS.escape(focusedId)}"] button`)?.focus();
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

function button(text, testid, label = '', className = '') {
  const el = document.createElement('button');
  el.type = 'button';
  el.textContent = text;
  if (testid) el.dataset.testid = testid;
  if (label) el.setAttribute('aria-label', label);
  if (className) el.className = className;
  return el;
}
