// Reactions and raised hands in the call (docs/protocol.md, "Reactions, hands and chat"): the
// React button and its tray of the room's 8 reactions, reactions floating over the sender's tile
// (mine too), the Raise hand toggle, a hand badge on tiles, and for hosts the queue of raised
// hands with Lower / Lower all. The room controller (room.js) feeds it the signaling messages.
// Everything it shows goes in through textContent.

import {
  MAX_FLOATING, MAX_FLOATING_PER_TILE, REACTIONS, REACTION_NAMES, budgets, handOf, handQueue, ordinal, refusalWords,
} from './social-logic.js';
import { $ } from './ui.js';

const NOTICE_MS = 3500;
/** A floating reaction lives this long at most (its animation is shorter). */
const FLOAT_MS = 4000;
/** Screen readers hear reactions at most this often. */
const ANNOUNCE_REACTIONS_MS = 2000;

const SMILE = '<svg class="icon" viewBox="0 0 24 24" aria-hidden="true" focusable="false"><circle cx="12" cy="12" r="9"/><path d="M8.5 14.5a4.5 4.5 0 0 0 7 0M9 9.5v.01M15 9.5v.01" stroke-width="2.2"/></svg>';
const HAND = '<svg class="icon" viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path d="M8 12V5.5a1.5 1.5 0 0 1 3 0V11m0-6.5V4a1.5 1.5 0 0 1 3 0v7m0-5.5a1.5 1.5 0 0 1 3 0V12m0-3.5a1.5 1.5 0 0 1 3 0V15a6 6 0 0 1-6 6h-1.5a6 6 0 0 1-4.8-2.4L4 14.5a1.6 1.6 0 0 1 2.5-2L8 14"/></svg>';

function element(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key === 'text') el.textContent = value;
    else if (key === 'className' || key === 'id' || key === 'type' || key === 'hidden') el[key] = value;
    else el.setAttribute(key, value);
  }
  el.append(...children);
  return el;
}

export class Social {
  /**
   * @param {object} o
   * @param {(message: object) => boolean} o.send sends a signaling message; false when not joined
   * @param {import('./ui.js').TileGrid} o.grid
   * @param {import('./social-logic.js').PendingRequests} o.pending the requests awaiting an answer
   * @param {() => string} o.selfName
   * @param {(text: string) => void} o.toast
   */
  constructor({ send, grid, pending, selfName, toast }) {
    this.send = send;
    this.grid = grid;
    this.pending = pending;
    this.selfName = selfName;
    this.toast = toast;
    this.selfId = null;
    this.role = 'guest';
    this.paused = false; // panic, and I am a guest: no reactions
    this.hands = new Map(); // participant id → hand number (mine included)
    this.places = new Map(); // participant id → place in the queue (from 1), hands up only
    this.wantRaised = false; // what I last asked for
    this.floating = [];
    this.budgets = budgets(Date.now());
    this.lastReactionAnnounce = 0;
    this.build();
  }

  // --- the DOM ----------------------------------------------------------------------------------

  build() {
    const controls = $('.controls');
    const leave = $('#leave');
    this.reactButton = element('button', {
      type: 'button', id: 'react', className: 'control social-control', dataset: { testid: 'react' },
      'aria-label': 'Reactions', 'aria-expanded': 'false', 'aria-controls': 'reaction-tray',
    });
    this.reactButton.innerHTML = `${SMILE}<span class="label">React</span>`;
    this.handButton = element('button', {
      type: 'button', id: 'raise-hand', className: 'control social-control', dataset: { testid: 'raise-hand' },
      'aria-label': 'Raise hand', 'aria-pressed': 'false', title: 'Raise your hand',
    });
    this.handButton.innerHTML = `${HAND}<span class="label">Hand</span>`;
    controls.insertBefore(this.reactButton, leave);
    controls.insertBefore(this.handButton, leave);

    this.tray = element('div', {
      id: 'reaction-tray', className: 'reaction-tray card', role: 'group', 'aria-label': 'Send a reaction',
      dataset: { testid: 'reaction-tray' }, hidden: true,
    });
    for (const emoji of REACTIONS) {
      const choice = element('button', {
        type: 'button', className: 'reaction-choice', dataset: { testid: 'reaction-choice', emoji },
        'aria-label': `React: ${REACTION_NAMES[emoji]}`, title: REACTION_NAMES[emoji], text: emoji,
      });
      choice.addEventListener('click', () => this.react(emoji));
      this.tray.append(choice);
    }
    this.notice = element('p', {
      id: 'social-notice', className: 'social-notice', role: 'status', 'aria-live': 'polite',
      dataset: { testid: 'social-notice' }, hidden: true,
    });
    this.live = element('p', { id: 'social-live', className: 'visually-hidden', role: 'status', 'aria-live': 'polite' });
    const call = $('section[data-view=call]');
    call.append(this.tray, this.notice, this.live);

    // Raised hands, for hosts: in the stage's flow above the grid (it shrinks the grid, never
    // covers a tile), under the knock panel.
    this.handsPanel = element('section', {
      id: 'hands', className: 'hands', role: 'region', 'aria-labelledby': 'hands-title',
      dataset: { testid: 'hands' }, hidden: true,
    });
    this.handsTitle = element('span', { text: 'Raised hands' });
    const title = element('h2', { id: 'hands-title' }, this.handsTitle);
    title.insertAdjacentHTML('afterbegin', HAND);
    this.lowerAll = element('button', {
      type: 'button', className: 'chip', dataset: { testid: 'lower-all-hands' }, text: 'Lower all',
    });
    this.lowerAll.addEventListener('click', () => this.lower(null));
    this.handList = element('ol', { className: 'hand-list', dataset: { testid: 'hand-list' } });
    this.handsPanel.append(element('div', { className: 'hands-head' }, title, this.lowerAll), this.handList);
    const grid = $('#grid');
    grid.parentNode.insertBefore(this.handsPanel, grid);

    // Reactions of people whose tile is not on screen float here, with their name.
    this.layer = element('div', { className: 'reaction-layer', 'aria-hidden': 'true' });
    $('.stage').append(this.layer);

    this.reactButton.addEventListener('click', () => this.setTray(this.tray.hidden));
    this.handButton.addEventListener('click', () => this.toggleHand());
    document.addEventListener('keydown', (event) => {
      if (event.key === 'Escape' && !this.tray.hidden) {
        this.setTray(false);
        this.reactButton.focus();
      }
    });
    document.addEventListener('pointerdown', (event) => {
      if (this.tray.hidden) return;
      if (this.tray.contains(event.target) || this.reactButton.contains(event.target)) return;
      this.setTray(false);
    });
  }

  setTray(open) {
    if (open) {
      // Just above the control bar, however tall it wraps.
      const bar = $('.controls');
      this.tray.style.setProperty('--tray-bottom', `${(bar?.offsetHeight ?? 80) + 8}px`);
    }
    this.tray.hidden = !open;
    this.reactButton.setAttribute('aria-expanded', String(open));
    if (open) this.tray.querySelector('button')?.focus();
  }

  // --- what the controller tells us -------------------------------------------------------------

  /** `joined`: the others' hands; mine stays only through a resume. */
  joined({ selfId, participants, resumed }) {
    this.selfId = selfId;
    const mine = resumed ? this.hands.get(selfId) ?? null : null;
    this.hands.clear();
    if (mine !== null) this.hands.set(selfId, mine);
    if (!resumed) this.wantRaised = false;
    for (const p of participants ?? []) {
      if (p?.id && p.id !== selfId) this.hands.set(p.id, handOf(p));
    }
    this.render();
  }

  /** `participant_joined` / `participant_updated` (a whole participant: no `hand` is down). */
  participant(p) {
    if (!p?.id) return;
    const hand = handOf(p);
    const before = this.hands.get(p.id) ?? null;
    this.hands.set(p.id, hand);
    // Most updates are about media: nothing to show then.
    if (hand === before) return;
    if (p.id === this.selfId) {
      if (hand === null && before !== null) {
        this.pending.answered('hand', Date.now());
        if (this.wantRaised) {
          // I did not ask: a host lowered it.
          this.wantRaised = false;
          this.say('A host lowered your hand');
        }
      } else if (hand !== null && before === null) {
        this.pending.answered('hand', Date.now());
      }
    } else if (hand !== null && before === null) {
      this.announce(`${this.nameOf(p.id)} raised their hand`);
    }
    this.render();
  }

  left(id) {
    const had = (this.hands.get(id) ?? null) !== null;
    this.hands.delete(id);
    if (had) this.render();
  }

  /** `reaction {participant_id, emoji}`: float it over their tile. */
  reaction({ participant_id: id, emoji }) {
    if (typeof id !== 'string' || !REACTIONS.includes(emoji)) return;
    if (id === this.selfId) this.pending.answered('react', Date.now());
    this.float(id, emoji);
    const now = Date.now();
    if (now - this.lastReactionAnnounce >= ANNOUNCE_REACTIONS_MS) {
      this.lastReactionAnnounce = now;
      this.announce(`${id === this.selfId ? 'You' : this.nameOf(id)}: ${REACTION_NAMES[emoji]}`);
    }
  }

  setRole(role) {
    this.role = role;
    this.render();
  }

  /** Panic pauses guests' reactions (hands still go up: that is how a guest asks to speak). */
  setPaused(paused) {
    this.paused = paused;
    this.reactButton.disabled = paused;
    this.reactButton.title = paused ? 'Reactions are paused by a host' : 'Send a reaction';
    if (paused) this.setTray(false);
  }

  /** Out of the call. */
  reset() {
    this.setTray(false);
    this.hands.clear();
    this.wantRaised = false;
    this.selfId = null;
    for (const el of this.floating) el.remove();
    this.floating = [];
    this.render();
  }

  /** A non-fatal `error` that answered one of my requests (`request.kind`). */
  refused(request, message) {
    if (request.kind === 'hand') {
      this.wantRaised = (this.hands.get(this.selfId) ?? null) !== null;
      this.render();
    }
    this.say(refusalWords(request.kind, message.code) ?? sentence(message.message));
  }

  /** A tile was created or changed: its hand badge. */
  decorateTile(tile, id) {
    const place = this.places.get(id) ?? null;
    if ((tile.dataset.hand ?? null) === (place === null ? null : String(place))) return;
    let badge = tile.querySelector('.tile-hand');
    if (place === null) {
      if (badge) badge.hidden = true;
      delete tile.dataset.hand;
      return;
    }
    if (!badge) {
      badge = element('span', { className: 'tile-hand', dataset: { testid: 'tile-hand' } });
      tile.querySelector('.tile-label')?.prepend(badge);
    }
    badge.hidden = false;
    badge.innerHTML = HAND; // a constant: the number goes in as text
    badge.append(String(place));
    badge.title = `Hand raised (${ordinal(place)})`;
    badge.setAttribute('aria-label', badge.title);
    tile.dataset.hand = String(place);
  }

  /** For tests and debugging: the raised hands in order ([{id, hand, position}]). */
  queue() {
    return handQueue(this.hands);
  }

  // --- actions ---------------------------------------------------------------------------------

  react(emoji) {
    if (this.paused) {
      this.say('Reactions are paused by a host.');
      return;
    }
    const now = Date.now();
    if (!this.budgets.react.take(now)) {
      this.say(refusalWords('react', 'rate_limited'));
      return;
    }
    if (!this.send({ type: 'react', emoji })) {
      this.budgets.react.giveBack();
      this.say('Not connected right now.');
      return;
    }
    this.pending.sent('react', now);
  }

  toggleHand() {
    const raised = !this.wantRaised;
    const now = Date.now();
    if (!this.budgets.hand.take(now)) {
      this.say(refusalWords('hand', 'rate_limited'));
      return;
    }
    if (!this.send({ type: 'raise_hand', raised })) {
      this.budgets.hand.giveBack();
      this.say('Not connected right now.');
      return;
    }
    this.pending.sent('hand', now);
    this.wantRaised = raised;
    this.render();
  }

  /** Hosts: lower one person's hand, or (null) everyone's. */
  lower(id) {
    const message = id ? { type: 'lower_hands', participant_id: id } : { type: 'lower_hands' };
    if (!this.send(message)) return;
    this.pending.sent('lower', Date.now());
    // My own hand goes down by my own hand: no "a host lowered your hand".
    if (id === null || id === this.selfId) this.wantRaised = false;
  }

  // --- showing ---------------------------------------------------------------------------------

  nameOf(id) {
    if (id === this.selfId) return this.selfName();
    return this.grid.participant(id)?.name || 'Someone';
  }

  render() {
    this.handButton.setAttribute('aria-pressed', String(this.wantRaised));
    this.handButton.setAttribute('aria-label', this.wantRaised ? 'Lower your hand' : 'Raise hand');
    this.handButton.title = this.wantRaised ? 'Lower your hand' : 'Raise your hand';
    this.handButton.querySelector('.label').textContent = this.wantRaised ? 'Lower' : 'Hand';
    this.places = new Map(handQueue(this.hands).map((h) => [h.id, h.position]));
    for (const id of this.grid.remoteIds()) {
      const tile = this.grid.tileOf(id);
      if (tile) this.decorateTile(tile, id);
    }
    if (this.grid.selfTile && this.selfId) this.decorateTile(this.grid.selfTile, this.selfId);
    this.renderQueue();
  }

  /** Hosts: the raised hands in order, each with Lower, and Lower all. */
  renderQueue() {
    const queue = handQueue(this.hands);
    const show = (this.role === 'owner' || this.role === 'cohost') && queue.length > 0 && this.selfId !== null;
    const hadFocus = this.handsPanel.contains(document.activeElement);
    this.handsPanel.hidden = !show;
    if (!show) {
      this.handList.replaceChildren();
      if (hadFocus) this.handButton.focus();
      return;
    }
    this.handsTitle.textContent = queue.length === 1 ? '1 raised hand' : `${queue.length} raised hands`;
    this.lowerAll.hidden = queue.length < 2;
    this.handList.replaceChildren(...queue.map(({ id, position }) => {
      const name = this.nameOf(id);
      const lower = element('button', {
        type: 'button', className: 'chip', dataset: { testid: 'lower-hand' },
        'aria-label': `Lower ${name}'s hand`, text: 'Lower',
      });
      lower.addEventListener('click', () => this.lower(id));
      return element('li', { dataset: { testid: 'hand', participant: id } },
        element('span', { className: 'hand-place', text: `${position}.` }),
        element('span', { className: 'hand-name', text: id === this.selfId ? `${name} (You)` : name }),
        lower);
    }));
    if (hadFocus && !this.handsPanel.contains(document.activeElement)) {
      (this.handList.querySelector('button') ?? this.handButton).focus();
    }
  }

  /** A reaction floating up over `id`'s tile (or, off screen, over the stage with their name). */
  float(id, emoji) {
    const tile = this.grid.tileOf(id);
    const onScreen = tile && tile.isConnected && !tile.closest('[hidden]');
    const parent = onScreen ? tile : this.layer;
    const el = element('span', {
      className: 'reaction', dataset: { testid: 'reaction', participant: id, emoji }, 'aria-hidden': 'true',
    });
    el.append(element('span', { className: 'reaction-emoji', text: emoji }));
    if (!onScreen) el.append(element('span', { className: 'reaction-name', text: this.nameOf(id) }));
    // Each drifts a little to its own side, so a burst does not stack into one emoji.
    el.style.setProperty('--drift', `${Math.round(Math.random() * 60 - 30)}px`);
    el.style.setProperty('--start', `${Math.round(Math.random() * 40 - 20)}px`);
    parent.append(el);
    this.floating.push(el);
    const remove = () => {
      el.remove();
      const i = this.floating.indexOf(el);
      if (i >= 0) this.floating.splice(i, 1);
    };
    el.addEventListener('animationend', remove);
    setTimeout(remove, FLOAT_MS);
    const here = parent.querySelectorAll(':scope > .reaction');
    for (let i = 0; i < here.length - MAX_FLOATING_PER_TILE; i += 1) here[i].remove();
    while (this.floating.length > MAX_FLOATING) this.floating.shift().remove();
  }

  /** A gentle word above the controls, for a few seconds. */
  say(text) {
    if (!text) return;
    this.notice.textContent = text;
    this.notice.hidden = false;
    clearTimeout(this.noticeTimer);
    this.noticeTimer = setTimeout(() => { this.notice.hidden = true; }, NOTICE_MS);
  }

  announce(text) {
    this.live.textContent = text;
  }
}

function sentence(text) {
  const t = String(text ?? '').trim();
  return t.charAt(0).toLocaleUpperCase() + t.slice(1);
}

