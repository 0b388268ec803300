// DOM pieces shared by the pages: icons, views, the notice banner, and the tile grid of a call.
// Names always go in through textContent, never as HTML.

import {
  chooseMain, gridShape, initials, isLargeTile, pageShape, paging, presenterOf, roleLabel, speakingChanges,
} from './logic.js';

const PATHS = {
  mic: '<path d="M12 3a3 3 0 0 0-3 3v6a3 3 0 0 0 6 0V6a3 3 0 0 0-3-3Z"/><path d="M19 11a7 7 0 0 1-14 0M12 18v3"/>',
  micOff: '<path d="M15 9.3V6a3 3 0 0 0-5.7-1.3M9 9v3a3 3 0 0 0 4.9 2.3"/><path d="M19 11a7 7 0 0 1-1.2 3.9M5 11a7 7 0 0 0 10.9 5.8M12 18v3M3 3l18 18"/>',
  cam: '<rect x="3" y="6" width="13" height="12" rx="2"/><path d="m16 10 5-3v10l-5-3"/>',
  camOff: '<path d="M9.5 6H14a2 2 0 0 1 2 2v4.5m0 3.5V16a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2V8a2 2 0 0 1 2-2m11 4 5-3v10l-3.4-2M3 3l18 18"/>',
  leave: '<path d="M14 4h4a2 2 0 0 1 2 2v12a2 2 0 0 1-2 2h-4"/><path d="M9 8l-4 4 4 4M5 12h11"/>',
  link: '<path d="M10 14a4 4 0 0 0 5.7 0l3-3a4 4 0 0 0-5.7-5.7l-1 1"/><path d="M14 10a4 4 0 0 0-5.7 0l-3 3a4 4 0 0 0 5.7 5.7l1-1"/>',
  share: '<path d="M12 3v12M7 8l5-5 5 5"/><path d="M5 12v7a2 2 0 0 0 2 2h10a2 2 0 0 0 2-2v-7"/>',
  speaker: '<path d="M4 9h4l5-4v14l-5-4H4Z"/><path d="M16.5 8.5a5 5 0 0 1 0 7M19 6a8.5 8.5 0 0 1 0 12"/>',
  lock: '<rect x="5" y="11" width="14" height="10" rx="2"/><path d="M8 11V7a4 4 0 0 1 8 0v4"/>',
  unlock: '<rect x="5" y="11" width="14" height="10" rx="2"/><path d="M8 11V7a4 4 0 0 1 7.7-1.5"/>',
  lockBroken: '<rect x="5" y="11" width="14" height="10" rx="2"/><path d="M8 11V7a4 4 0 0 1 7.7-1.5"/><path d="M3 21 21 3"/>',
  alert: '<path d="M12 3 2 20h20L12 3Z"/><path d="M12 10v4M12 17.5v.01"/>',
  more: '<path d="M12 5.5v.01M12 12v.01M12 18.5v.01" stroke-width="3"/>',
  shield: '<path d="M12 3 4 6v6c0 4.5 3.4 8.3 8 9 4.6-.7 8-4.5 8-9V6l-8-3Z"/>',
  close: '<path d="M6 6l12 12M18 6 6 18"/>',
  pin: '<path d="M9 3h6l-1 6 4 3v2H6v-2l4-3-1-6Z"/><path d="M12 14v7"/>',
  grid: '<rect x="3" y="3" width="7" height="7" rx="1"/><rect x="14" y="3" width="7" height="7" rx="1"/><rect x="3" y="14" width="7" height="7" rx="1"/><rect x="14" y="14" width="7" height="7" rx="1"/>',
  speakerView: '<rect x="3" y="3" width="18" height="12" rx="1.5"/><rect x="3" y="18" width="5" height="3" rx=".5"/><rect x="9.5" y="18" width="5" height="3" rx=".5"/><rect x="16" y="18" width="5" height="3" rx=".5"/>',
  screen: '<rect x="3" y="4" width="18" height="12" rx="1.5"/><path d="M8 20h8M12 16v4M12 13V7M9 10l3-3 3 3"/>',
  door: '<path d="M6 21V4a1 1 0 0 1 1-1h10a1 1 0 0 1 1 1v17M4 21h16"/><path d="M14.5 12v.01" stroke-width="3"/>',
};

/** An inline SVG icon (decorative: the button around it carries the label). */
export function icon(name) {
  return `<svg class="icon" viewBox="0 0 24 24" aria-hidden="true" focusable="false">${PATHS[name]}</svg>`;
}

/** Fills every `[data-icon]` placeholder in the document. */
export function fillIcons(root = document) {
  for (const el of root.querySelectorAll('[data-icon]')) el.innerHTML = icon(el.dataset.icon);
}

export const $ = (selector, root = document) => root.querySelector(selector);

/** Shows the `[data-view=name]` section and hides the others. */
export function showView(name) {
  for (const view of document.querySelectorAll('section[data-view]')) view.hidden = view.dataset.view !== name;
  document.body.dataset.screen = name;
}

/** The banner at the top of the call: a message, or nothing. */
export function setBanner(text, kind = 'warn') {
  const banner = $('#banner');
  if (!banner) return;
  banner.hidden = !text;
  banner.textContent = text ?? '';
  banner.dataset.kind = kind;
}

/** Copies text to the clipboard, with a fallback for browsers without the async API. */
export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const area = document.createElement('textarea');
    area.value = text;
    area.setAttribute('readonly', '');
    area.style.position = 'fixed';
    area.style.opacity = '0';
    document.body.append(area);
    area.select();
    let ok = false;
    try {
      ok = document.execCommand('copy');
    } catch {
      ok = false;
    }
    area.remove();
    return ok;
  }
}

/** Sets a toggle button's pressed state, icon and tooltip (its accessible name stays fixed). */
export function setToggle(button, { pressed, iconName, title }) {
  button.setAttribute('aria-pressed', String(pressed));
  button.querySelector('[data-icon]').innerHTML = icon(iconName);
  button.title = title;
}

function playMedia(element, onBlocked) {
  const attempt = element.play();
  if (!attempt) return;
  attempt.catch((error) => {
    // Sound may not start without a tap: offer a button for it (videos are always muted).
    if (error.name === 'NotAllowedError') onBlocked();
  });
}

/** Reorders `container`'s children so that `tiles` come first, in order, moving only what must move. */
function arrange(container, tiles) {
  let ref = container.firstElementChild;
  for (const tile of tiles) {
    if (tile === ref) {
      ref = ref.nextElementSibling;
    } else {
      container.insertBefore(tile, ref);
    }
  }
}

/** The pager's height with its margin (the page size is decided as if it were shown). */
const PAGER_RESERVE = 48;

/**
 * The tiles of a call: your own tile, then one per remote participant in the order they came.
 * Two layouts: a grid of pages (at most 25 tiles each, fewer on small screens, your own tile on
 * every page) and the speaker view (one large tile, everyone else in a strip below). A remote
 * tile's video is attached (decoded) only while the tile is on the current page and on screen
 * (IntersectionObserver); its size comes from a ResizeObserver. Audio plays through a separate
 * `<audio>` element per participant, whatever is shown. Tiles are created once per participant
 * and only moved, shown or hidden afterwards: events never rebuild the grid.
 */
export class TileGrid {
  /**
   * @param {HTMLElement} element the grid region, holding `.main-slot` and `.tiles`
   * @param {object} options
   * @param {() => void} options.onAutoplayBlocked sound could not start without a tap
   * @param {(tile: HTMLElement, participant: object) => void} [options.decorate] called after a
   *   remote tile is created or its participant changed (host menus hang off this)
   * @param {() => void} [options.onViewChange] what is shown (or its size) may have changed
   * @param {(state: {layout: string, page: number, pages: number, pinned: string|null}) => void}
   *   [options.onLayout] after each layout pass (the pager and the layout button follow it)
   * @param {HTMLElement} [options.audioSinks] where the `<audio>` elements live
   * @param {(tile: HTMLElement, participant: object) => void} [options.decorateShare] called
   *   after a share's tile is created or its presenter changed (the host's stop button)
   */
  constructor(element, {
    onAutoplayBlocked, decorate = () => {}, onViewChange = () => {}, onLayout = () => {},
    audioSinks = document.body, decorateShare = () => {},
  }) {
    // Someone's screen share: its own tile, large for everyone while it lasts (the layout turns
    // to the speaker view with the share as the main tile). `{id, tile, video, videoStream, …}`
    // like a participant's record; the streams of shares that arrived, by presenter.
    this.share = null;
    this.shareStreams = new Map();
    this.decorateShare = decorateShare;
    this.element = element;
    this.mainSlot = element.querySelector('.main-slot');
    this.tilesEl = element.querySelector('.tiles');
    this.audioSinks = audioSinks;
    this.onAutoplayBlocked = onAutoplayBlocked;
    this.decorate = decorate;
    this.onViewChange = onViewChange;
    this.onLayout = onLayout;
    this.records = new Map(); // participant id → {tile, video, audio, streams, visible, size, …}
    this.byTile = new Map(); // tile element → record
    this.people = new Map();
    // Who left: a renegotiation already under way can still deliver their tracks, which must
    // not bring back a tile for someone who is gone.
    this.departed = new Set();
    this.selfTile = null;
    this.selfId = null;
    this.mode = 'grid'; // what the person chose: 'grid' | 'speaker'
    this.pinned = null;
    this.page = 0;
    this.pages = 1;
    this.main = null; // who has the large tile in the speaker view
    this.speakers = [];
    this.layoutNow = 'grid';
    this.pageTiles = 1;
    this.order = []; // remote ids shown, main first
    this.renderQueued = false;
    this.resizeObserver = new ResizeObserver((entries) => this.resized(entries));
    this.resizeObserver.observe(element);
    this.intersection = new IntersectionObserver((entries) => this.intersected(entries), { threshold: 0 });
    // PageUp / PageDown page through the grid while the focus is in it.
    element.addEventListener('keydown', (event) => {
      const delta = { PageDown: 1, PageUp: -1 }[event.key];
      if (delta && this.turnPage(delta)) event.preventDefault();
    });
  }

  createTile(name, { self = false, participantId = '' } = {}) {
    const tile = document.createElement('figure');
    tile.className = 'tile';
    tile.dataset.testid = self ? 'self-tile' : 'tile';
    if (participantId) tile.dataset.participant = participantId;
    tile.dataset.audio = 'on';
    tile.dataset.video = 'on';
    tile.dataset.waiting = 'true';
    tile.dataset.speaking = 'false';
    tile.dataset.shown = 'false';
    tile.innerHTML = `
      <video playsinline autoplay muted></video>
      <div class="tile-avatar" aria-hidden="true"><span></span></div>
      <figcaption class="tile-label">
        <span class="tile-mic-off" title="Microphone off">${icon('micOff')}</span>
        <span class="tile-name"></span>
        <span class="tile-role" hidden></span>
      </figcaption>`;
    const video = tile.querySelector('video');
    video.muted = true; // sound plays through the participant's <audio> element
    const ready = () => {
      if (video.videoWidth > 0 && video.srcObject) tile.dataset.waiting = 'false';
    };
    video.addEventListener('resize', ready);
    video.addEventListener('playing', ready);
    if (self) {
      tile.classList.add('self');
      tile.dataset.shown = 'true';
    } else {
      const pin = document.createElement('button');
      pin.type = 'button';
      pin.className = 'tile-pin';
      pin.dataset.testid = 'pin';
      pin.setAttribute('aria-pressed', 'false');
      pin.innerHTML = icon('pin');
      pin.addEventListener('click', () => this.togglePin(participantId));
      tile.append(pin);
    }
    this.setName(tile, name, self);
    return tile;
  }

  setName(tile, name, self = tile.classList.contains('self')) {
    tile.querySelector('.tile-name').textContent = self ? `${name} (You)` : name;
    tile.querySelector('.tile-avatar span').textContent = initials(name);
    tile.dataset.name = name;
    this.describe(tile);
    this.describePin(tile);
  }

  describePin(tile) {
    const pin = tile.querySelector('.tile-pin');
    if (!pin) return;
    const pinned = this.pinned !== null && this.pinned === tile.dataset.participant;
    pin.setAttribute('aria-pressed', String(pinned));
    pin.setAttribute('aria-label', `${pinned ? 'Unpin' : 'Pin'} ${tile.dataset.name}`);
    pin.title = pinned ? 'Unpin: back to the grid' : 'Pin: keep this person large';
    tile.classList.toggle('pinned', pinned);
  }

  describe(tile) {
    const parts = [tile.dataset.name];
    const label = roleLabel(tile.dataset.role);
    if (label) parts.push(label);
    if (tile.dataset.audio === 'off') parts.push('microphone off');
    if (tile.dataset.video === 'off') parts.push('camera off');
    if (tile.dataset.speaking === 'true') parts.push('speaking');
    tile.setAttribute('aria-label', parts.join(', '));
  }

  /** Your own tile, showing the local preview (always muted). */
  showSelf(stream, name) {
    if (!this.selfTile) {
      this.selfTile = this.createTile(name, { self: true });
      this.tilesEl.prepend(this.selfTile);
      this.schedule();
    }
    this.setName(this.selfTile, name, true);
    const video = this.selfTile.querySelector('video');
    if (video.srcObject !== stream) video.srcObject = stream;
    playMedia(video, () => {});
    return this.selfTile;
  }

  setSelfMedia(media) {
    if (this.selfTile) this.setMedia(this.selfTile, media);
  }

  setSelfRole(role) {
    if (this.selfTile) this.setRole(this.selfTile, role);
  }

  /** The small "host" / "co-host" label on a tile. */
  setRole(tile, role) {
    tile.dataset.role = role ?? 'guest';
    const label = tile.querySelector('.tile-role');
    label.textContent = roleLabel(role);
    label.hidden = !label.textContent;
    this.describe(tile);
  }

  setMedia(tile, media) {
    const audio = media.audio ? 'on' : 'off';
    const video = media.video ? 'on' : 'off';
    if (tile.dataset.audio === audio && tile.dataset.video === video) return;
    tile.dataset.audio = audio;
    tile.dataset.video = video;
    this.describe(tile);
  }

  /** Adds or updates a remote participant's tile from a protocol `participant`. */
  upsert(participant) {
    this.departed.delete(participant.id);
    // `screen` is left out when false: an update without it ends a share.
    const known = { ...this.people.get(participant.id), ...participant, screen: participant.screen === true };
    this.people.set(participant.id, known);
    let record = this.records.get(participant.id);
    if (!record) {
      const tile = this.createTile(known.name, { participantId: participant.id });
      const audio = document.createElement('audio');
      audio.autoplay = true;
      audio.dataset.participant = participant.id;
      record = {
        id: participant.id, tile, video: tile.querySelector('video'), audio,
        videoStream: null, audioStream: null,
        visible: false, shown: false, decoded: false, width: 0, height: 0,
      };
      tile.hidden = true; // until the next layout pass puts it on a page
      if (this.speakers.includes(participant.id)) tile.dataset.speaking = 'true';
      this.records.set(participant.id, record);
      this.byTile.set(tile, record);
      this.tilesEl.append(tile);
      this.audioSinks.append(audio);
      this.resizeObserver.observe(tile);
      this.intersection.observe(tile);
      this.schedule();
    } else if (record.tile.dataset.name !== known.name) {
      this.setName(record.tile, known.name);
    }
    const { tile } = record;
    tile.classList.remove('stale');
    if (known.media) this.setMedia(tile, known.media);
    if ((tile.dataset.role ?? 'guest') !== (known.role ?? 'guest') || !tile.dataset.role) this.setRole(tile, known.role);
    this.decorate(tile, known);
    this.updateShare();
    return tile;
  }

  // --- a screen share ------------------------------------------------------------------------

  /** Shows the share of whoever presents now (from the participants' `screen`), or none. */
  updateShare() {
    const presenter = presenterOf([...this.people.values()]);
    if (this.share && this.share.id !== presenter) this.dropShare();
    if (!presenter) return;
    const person = this.people.get(presenter);
    if (!this.share) {
      const tile = document.createElement('figure');
      tile.className = 'tile share-tile';
      tile.dataset.testid = 'share-tile';
      tile.dataset.participant = presenter;
      tile.dataset.waiting = 'true';
      tile.dataset.shown = 'false';
      tile.innerHTML = `
        <video playsinline autoplay muted></video>
        <div class="tile-avatar" aria-hidden="true"><span></span></div>
        <figcaption class="tile-label">
          <span class="tile-presenting" data-testid="presenting">Presenting</span>
          <span class="tile-name"></span>
        </figcaption>`;
      const video = tile.querySelector('video');
      video.muted = true;
      const ready = () => {
        if (video.videoWidth > 0 && video.srcObject) tile.dataset.waiting = 'false';
      };
      video.addEventListener('resize', ready);
      video.addEventListener('playing', ready);
      this.share = {
        id: presenter, tile, video, videoStream: this.shareStreams.get(presenter) ?? null,
        visible: false, shown: true, decoded: false, width: 0, height: 0,
      };
      this.byTile.set(tile, this.share);
      this.mainSlot.append(tile);
      this.resizeObserver.observe(tile);
      this.intersection.observe(tile);
      this.schedule();
    }
    const { tile } = this.share;
    const name = person?.name ?? '…';
    if (tile.dataset.name !== name) {
      tile.dataset.name = name;
      tile.querySelector('.tile-name').textContent = `${name}'s screen`;
      tile.querySelector('.tile-avatar span').textContent = initials(name);
      tile.setAttribute('aria-label', `${name} is presenting`);
    }
    this.decorateShare(tile, person ?? { id: presenter });
  }

  dropShare() {
    const share = this.share;
    if (!share) return;
    this.share = null;
    this.resizeObserver.unobserve(share.tile);
    this.intersection.unobserve(share.tile);
    share.video.srcObject = null;
    share.tile.remove();
    this.byTile.delete(share.tile);
    this.schedule();
    this.onViewChange();
  }

  /** A share's track arrived (its stream id says whose): shown while they present. */
  attachShare(participantId, track) {
    if (this.departed.has(participantId)) return;
    const stream = new MediaStream([track]);
    this.shareStreams.set(participantId, stream);
    if (this.share?.id === participantId) {
      this.share.videoStream = stream;
      if (this.share.decoded) this.attachVideo(this.share);
    }
  }

  /** The name of whoever presents now (their share is shown), or null. */
  presenterName() {
    if (!this.share) return null;
    return this.people.get(this.share.id)?.name ?? 'Someone';
  }

  /** For tests and debugging: whose share is shown and whether its video plays. */
  shareSnapshot() {
    if (!this.share) return null;
    const { id, tile, decoded, video } = this.share;
    return {
      id, decoded, large: tile.parentNode === this.mainSlot, waiting: tile.dataset.waiting === 'true',
      width: video.videoWidth, height: video.videoHeight,
    };
  }

  /** What we know of a remote participant ({id, name, media, role}), or undefined. */
  participant(participantId) {
    return this.people.get(participantId);
  }

  /** Runs `decorate` again on every remote tile (after my own role changed). */
  redecorate() {
    for (const [id, record] of this.records) this.decorate(record.tile, this.people.get(id) ?? { id });
    if (this.share) this.decorateShare(this.share.tile, this.people.get(this.share.id) ?? { id: this.share.id });
  }

  /** A remote track arrived: audio plays at once, video whenever the tile is shown. */
  attachTrack(participantId, track) {
    if (this.departed.has(participantId)) return;
    if (!this.records.has(participantId)) this.upsert({ id: participantId, name: '…' });
    const record = this.records.get(participantId);
    if (track.kind === 'audio') {
      record.audioStream = new MediaStream([track]);
      record.audio.srcObject = record.audioStream;
      playMedia(record.audio, this.onAutoplayBlocked);
      return;
    }
    record.videoStream = new MediaStream([track]);
    if (record.decoded) this.attachVideo(record);
  }

  attachVideo(record) {
    const { video } = record;
    video.srcObject = null;
    if (!record.videoStream) return;
    video.srcObject = record.videoStream;
    playMedia(video, () => {});
  }

  /** Attaches or detaches a tile's video as it comes on or goes off the screen. */
  updateDecoded(record) {
    const on = record.shown && record.visible;
    if (record.decoded === on) return;
    record.decoded = on;
    record.tile.dataset.shown = String(on);
    if (on) {
      this.attachVideo(record);
    } else {
      record.video.srcObject = null;
      record.tile.dataset.waiting = 'true';
    }
    this.onViewChange();
  }

  intersected(entries) {
    for (const entry of entries) {
      const record = this.byTile.get(entry.target);
      if (!record) continue;
      record.visible = entry.isIntersecting;
      this.updateDecoded(record);
    }
  }

  resized(entries) {
    let changed = false;
    for (const entry of entries) {
      if (entry.target === this.element) {
        this.schedule();
        continue;
      }
      const record = this.byTile.get(entry.target);
      if (!record) continue;
      // Device pixels: CSS pixels × devicePixelRatio (what a camera frame must fill).
      const ratio = window.devicePixelRatio || 1;
      record.width = entry.contentRect.width * ratio;
      record.height = entry.contentRect.height * ratio;
      changed = true;
    }
    if (changed) this.onViewChange();
  }

  remove(participantId) {
    this.departed.add(participantId);
    const record = this.records.get(participantId);
    if (!record) return;
    this.resizeObserver.unobserve(record.tile);
    this.intersection.unobserve(record.tile);
    record.video.srcObject = null;
    record.audio.srcObject = null;
    record.tile.remove();
    record.audio.remove();
    this.records.delete(participantId);
    this.byTile.delete(record.tile);
    this.people.delete(participantId);
    this.shareStreams.delete(participantId);
    if (this.share?.id === participantId) this.dropShare();
    if (this.pinned === participantId) this.pinned = null;
    if (this.main === participantId) this.main = null;
    this.schedule();
    this.onViewChange();
  }

  /** While reconnecting: keep the tiles but show that they are out of date. */
  markStale() {
    for (const { tile } of this.records.values()) {
      tile.classList.add('stale');
      tile.dataset.waiting = 'true'; // their video stopped: show initials until it is back
    }
    this.setSpeakers([]);
  }

  /** Removes remote tiles not in `keep` (a Set of ids). */
  retain(keep) {
    for (const id of [...this.records.keys()]) if (!keep.has(id)) this.remove(id);
  }

  clear() {
    this.retain(new Set());
    this.dropShare();
    this.shareStreams.clear();
    this.setSpeakers([]);
    if (this.selfTile) {
      this.selfTile.querySelector('video').srcObject = null;
      this.selfTile.remove();
      this.selfTile = null;
    }
    this.pinned = null;
    this.main = null;
    this.page = 0;
    this.schedule();
  }

  tileOf(participantId) {
    if (participantId !== null && participantId === this.selfId) return this.selfTile;
    return this.records.get(participantId)?.tile ?? null;
  }

  /** The server's `speakers` (loudest first, my own id included when I speak): the rings. */
  setSpeakers(ids) {
    const list = Array.isArray(ids) ? ids.filter((id) => typeof id === 'string') : [];
    const { on, off } = speakingChanges(this.speakers, list);
    for (const [ids2, value] of [[off, 'false'], [on, 'true']]) {
      for (const id of ids2) {
        const tile = this.tileOf(id);
        if (!tile) continue;
        tile.dataset.speaking = value;
        this.describe(tile);
      }
    }
    this.speakers = list;
    if (this.layoutNow === 'speaker' && !this.pinned) this.schedule();
  }

  /** After a tap: start every participant's sound that the browser held back. */
  enableSound() {
    for (const { audio } of this.records.values()) {
      audio.muted = false;
      audio.play().catch(() => {});
    }
  }

  remoteIds() {
    return [...this.records.keys()];
  }

  // --- layout: pages, speaker view, pin ------------------------------------------------------

  /** 'grid' or 'speaker' (a pin shows the speaker view whatever was chosen). */
  setMode(mode) {
    this.mode = mode === 'speaker' ? 'speaker' : 'grid';
    if (this.mode === 'grid') this.setPinned(null);
    this.schedule();
  }

  togglePin(participantId) {
    this.setPinned(this.pinned === participantId ? null : participantId);
  }

  setPinned(participantId) {
    const before = this.pinned;
    this.pinned = participantId && this.records.has(participantId) ? participantId : null;
    if (before === this.pinned) return;
    for (const id of [before, this.pinned]) {
      const tile = id ? this.records.get(id)?.tile : null;
      if (tile) this.describePin(tile);
    }
    this.schedule();
  }

  /** Moves `delta` pages on (grid layout); false when there is no such page. */
  turnPage(delta) {
    if (this.layoutNow !== 'grid') return false;
    const next = this.page + delta;
    if (next < 0 || next >= this.pages) return false;
    this.page = next;
    this.render();
    return true;
  }

  /** One layout pass at the next frame, however many changes asked for it. */
  schedule() {
    if (this.renderQueued) return;
    this.renderQueued = true;
    const run = () => {
      this.renderQueued = false;
      this.render();
    };
    if (document.hidden) setTimeout(run, 100);
    else requestAnimationFrame(run);
  }

  /** Who is where: reads the area once, then shows, hides and moves only what changed. */
  render() {
    this.renderQueued = false;
    const focused = document.activeElement;
    const others = [...this.records.keys()];
    if (this.pinned && !this.records.has(this.pinned)) this.pinned = null;
    const layout = this.pinned || this.mode === 'speaker' || this.share ? 'speaker' : 'grid';
    this.layoutNow = layout;
    this.element.dataset.layout = layout;
    const self = this.selfTile ? [this.selfTile] : [];
    let shownIds;
    let main = null;
    if (layout === 'speaker' && this.share) {
      // A share is the large tile for everyone; every camera goes to the strip.
      if (this.share.tile.parentNode !== this.mainSlot) this.mainSlot.append(this.share.tile);
      for (const tile of [...this.mainSlot.children]) if (tile !== this.share.tile) this.tilesEl.append(tile);
      arrange(this.tilesEl, [...self, ...others.map((id) => this.records.get(id).tile)]);
      shownIds = others;
      this.main = null;
      this.tilesEl.style.maxWidth = '';
      this.pages = 1;
      this.pageTiles = others.length + self.length;
    } else if (layout === 'speaker') {
      main = chooseMain({
        pinned: this.pinned, current: this.main, speakers: this.speakers, selfId: this.selfId, others,
      });
      this.main = main;
      const mainTile = main ? this.records.get(main).tile : null;
      if (mainTile && mainTile.parentNode !== this.mainSlot) this.mainSlot.append(mainTile);
      const strip = others.filter((id) => id !== main);
      arrange(this.tilesEl, [...self, ...strip.map((id) => this.records.get(id).tile)]);
      shownIds = main ? [main, ...strip] : strip;
      this.tilesEl.style.maxWidth = '';
      this.pages = 1;
      this.pageTiles = others.length + self.length;
    } else {
      if (this.mainSlot.firstElementChild) this.tilesEl.append(...this.mainSlot.children);
      // The area is the grid region's (the tiles box is narrowed below to centre the columns).
      const style = getComputedStyle(this.element);
      const width = Math.max(0, this.element.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight));
      const height = Math.max(0, this.element.clientHeight - parseFloat(style.paddingTop) - parseFloat(style.paddingBottom));
      const gap = parseFloat(getComputedStyle(this.tilesEl).columnGap) || 8;
      // Decide the page size as if the pager were shown, so that showing it changes nothing.
      const reserve = this.pages > 1 ? 0 : PAGER_RESERVE;
      const shape = pageShape(width, Math.max(0, height - reserve), { gap });
      const pageInfo = paging(others.length, shape.size, this.page);
      this.page = pageInfo.page;
      this.pages = pageInfo.pages;
      shownIds = others.slice(pageInfo.start, pageInfo.end);
      const shown = new Set(shownIds);
      arrange(this.tilesEl, [
        ...self,
        ...shownIds.map((id) => this.records.get(id).tile),
        ...others.filter((id) => !shown.has(id)).map((id) => this.records.get(id).tile),
      ]);
      this.pageTiles = shownIds.length + self.length;
      if (width > 0 && height > 0) {
        // Portrait screens (phones) get square tiles: a column of them fills the height better.
        const portrait = height > width * 1.2;
        const fit = gridShape(this.pageTiles, width, height, { gap, aspect: portrait ? 1 : 16 / 9, minWidth: 0 });
        // Exactly `cols` tiles a row (5 × 5, not 6 + 6 + … with a ragged end).
        this.tilesEl.style.maxWidth = `${fit.cols * fit.tileWidth + (fit.cols - 1) * gap + 1}px`;
        this.tilesEl.style.setProperty('--cols', String(fit.cols));
        this.tilesEl.style.setProperty('--tile-w', `${fit.tileWidth}px`);
        this.tilesEl.style.setProperty('--tile-h', `${fit.tileHeight}px`);
      }
    }
    const shownSet = new Set(shownIds);
    for (const record of this.records.values()) {
      const shown = shownSet.has(record.id);
      record.tile.hidden = !shown;
      record.tile.classList.toggle('main', record.id === main);
      if (record.shown !== shown) {
        record.shown = shown;
        this.updateDecoded(record);
      }
    }
    this.order = shownIds;
    if (focused && focused !== document.activeElement && focused.isConnected && !focused.closest('[hidden]')) {
      focused.focus({ preventScroll: true });
    }
    this.onLayout({ layout, page: this.page, pages: this.pages, pinned: this.pinned, mode: this.mode });
    this.onViewChange();
  }

  /** The remote videos shown now (on the page and on screen), main first, for a `view`. */
  viewTiles() {
    const tiles = [];
    if (this.share?.decoded) {
      const { id, width, height } = this.share;
      tiles.push({ id, source: 'screen', large: true, width, height });
    }
    for (const id of this.order) {
      const record = this.records.get(id);
      if (!record?.decoded) continue;
      tiles.push({
        id,
        large: isLargeTile({ layout: this.layoutNow, main: this.main, id, pageTiles: this.pageTiles }),
        width: record.width,
        height: record.height,
      });
    }
    return tiles;
  }

  /** For tests and debugging: what the layout shows. */
  snapshot() {
    return {
      layout: this.layoutNow,
      mode: this.mode,
      page: this.page,
      pages: this.pages,
      pinned: this.pinned,
      main: this.layoutNow === 'speaker' ? this.main : null,
      onPage: [...this.order],
      decoded: [...this.records.values()].filter((r) => r.decoded).map((r) => r.id),
      speakers: [...this.speakers],
      share: this.shareSnapshot(),
    };
  }
}

