// DOM pieces shared by the pages: icons, views, the notice banner, and the tile grid of a call.
// Names always go in through textContent, never as HTML.

import { gridShape, initials, roleLabel } from './logic.js';

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
  alert: '<path d="M12 3 2 20h20L12 3Z"/><path d="M12 10v4M12 17.5v.01"/>',
  more: '<path d="M12 5.5v.01M12 12v.01M12 18.5v.01" stroke-width="3"/>',
  shield: '<path d="M12 3 4 6v6c0 4.5 3.4 8.3 8 9 4.6-.7 8-4.5 8-9V6l-8-3Z"/>',
  close: '<path d="M6 6l12 12M18 6 6 18"/>',
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

function playVideo(video, onBlocked) {
  const attempt = video.play();
  if (!attempt) return;
  attempt.catch((error) => {
    if (error.name !== 'NotAllowedError' || video.muted) return;
    // Sound may not start without a tap: play muted now, offer a button for sound.
    video.muted = true;
    video.play().catch(() => {});
    onBlocked();
  });
}

/** The grid of a call: your own tile first, then one per remote participant. */
export class TileGrid {
  /**
   * @param {HTMLElement} element
   * @param {object} options
   * @param {() => void} options.onAutoplayBlocked sound could not start without a tap
   * @param {(tile: HTMLElement, participant: object) => void} [options.decorate] called after a
   *   remote tile is created or its participant changed (host menus hang off this)
   */
  constructor(element, { onAutoplayBlocked, decorate = () => {} }) {
    this.element = element;
    this.onAutoplayBlocked = onAutoplayBlocked;
    this.decorate = decorate;
    this.tiles = new Map();
    this.people = new Map();
    // Who left: a renegotiation already under way can still deliver their tracks, which must
    // not bring back a tile for someone who is gone.
    this.departed = new Set();
    this.streams = new Map();
    this.selfTile = null;
    this.observer = new ResizeObserver(() => this.layout());
    this.observer.observe(element);
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
    tile.innerHTML = `
      <video playsinline autoplay></video>
      <div class="tile-avatar" aria-hidden="true"><span></span></div>
      <figcaption class="tile-label">
        <span class="tile-mic-off" title="Microphone off">${icon('micOff')}</span>
        <span class="tile-name"></span>
        <span class="tile-role" hidden></span>
      </figcaption>`;
    const video = tile.querySelector('video');
    const ready = () => {
      if (video.videoWidth > 0) tile.dataset.waiting = 'false';
    };
    video.addEventListener('resize', ready);
    video.addEventListener('playing', ready);
    if (self) {
      video.muted = true;
      tile.classList.add('self');
    }
    this.setName(tile, name, self);
    return tile;
  }

  setName(tile, name, self = tile.classList.contains('self')) {
    tile.querySelector('.tile-name').textContent = self ? `${name} (You)` : name;
    tile.querySelector('.tile-avatar span').textContent = initials(name);
    tile.dataset.name = name;
    this.describe(tile);
  }

  describe(tile) {
    const parts = [tile.dataset.name];
    const label = roleLabel(tile.dataset.role);
    if (label) parts.push(label);
    if (tile.dataset.audio === 'off') parts.push('microphone off');
    if (tile.dataset.video === 'off') parts.push('camera off');
    tile.setAttribute('aria-label', parts.join(', '));
  }

  /** Your own tile, showing the local preview (always muted). */
  showSelf(stream, name) {
    if (!this.selfTile) {
      this.selfTile = this.createTile(name, { self: true });
      this.element.prepend(this.selfTile);
      this.layout();
    }
    this.setName(this.selfTile, name, true);
    const video = this.selfTile.querySelector('video');
    if (video.srcObject !== stream) video.srcObject = stream;
    playVideo(video, () => {});
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
    tile.dataset.audio = media.audio ? 'on' : 'off';
    tile.dataset.video = media.video ? 'on' : 'off';
    this.describe(tile);
  }

  /** Adds or updates a remote participant's tile from a protocol `participant`. */
  upsert(participant) {
    this.departed.delete(participant.id);
    const known = { ...this.people.get(participant.id), ...participant };
    this.people.set(participant.id, known);
    let tile = this.tiles.get(participant.id);
    if (!tile) {
      tile = this.createTile(known.name, { participantId: participant.id });
      this.tiles.set(participant.id, tile);
      this.element.append(tile);
      this.layout();
    } else if (tile.dataset.name !== known.name) {
      this.setName(tile, known.name);
    }
    tile.classList.remove('stale');
    if (known.media) this.setMedia(tile, known.media);
    this.setRole(tile, known.role);
    this.decorate(tile, known);
    return tile;
  }

  /** What we know of a remote participant ({id, name, media, role}), or undefined. */
  participant(participantId) {
    return this.people.get(participantId);
  }

  /** Runs `decorate` again on every remote tile (after my own role changed). */
  redecorate() {
    for (const [id, tile] of this.tiles) this.decorate(tile, this.people.get(id) ?? { id });
  }

  /** A remote track arrived: put it in that participant's stream and play it. */
  attachTrack(participantId, track) {
    if (this.departed.has(participantId)) return;
    const tile = this.tiles.get(participantId) ?? this.upsert({ id: participantId, name: '…' });
    let stream = this.streams.get(participantId);
    if (!stream) {
      stream = new MediaStream();
      this.streams.set(participantId, stream);
    }
    for (const old of stream.getTracks()) if (old.kind === track.kind) stream.removeTrack(old);
    stream.addTrack(track);
    const video = tile.querySelector('video');
    video.srcObject = null;
    video.srcObject = stream;
    playVideo(video, this.onAutoplayBlocked);
  }

  remove(participantId) {
    this.departed.add(participantId);
    const tile = this.tiles.get(participantId);
    if (!tile) return;
    tile.querySelector('video').srcObject = null;
    tile.remove();
    this.tiles.delete(participantId);
    this.people.delete(participantId);
    this.streams.delete(participantId);
    this.layout();
  }

  /** While reconnecting: keep the tiles but show that they are out of date. */
  markStale() {
    for (const tile of this.tiles.values()) {
      tile.classList.add('stale');
      tile.dataset.waiting = 'true'; // their video stopped: show initials until it is back
      tile.dataset.speaking = 'false';
    }
  }

  /** Removes remote tiles not in `keep` (a Set of ids). */
  retain(keep) {
    for (const id of [...this.tiles.keys()]) if (!keep.has(id)) this.remove(id);
  }

  clear() {
    this.retain(new Set());
    if (this.selfTile) {
      this.selfTile.querySelector('video').srcObject = null;
      this.selfTile.remove();
      this.selfTile = null;
    }
  }

  setSpeaking(participantId, speaking) {
    const tile = participantId === null ? this.selfTile : this.tiles.get(participantId);
    if (tile) tile.dataset.speaking = String(speaking);
  }

  /** After a tap: unmute every remote video that had to start muted. */
  enableSound() {
    for (const tile of this.tiles.values()) {
      const video = tile.querySelector('video');
      video.muted = false;
      video.play().catch(() => {});
    }
  }

  remoteIds() {
    return [...this.tiles.keys()];
  }

  layout() {
    const count = this.tiles.size + (this.selfTile ? 1 : 0);
    // clientWidth leaves out a vertical scrollbar, so tiles never force sideways scrolling.
    const { clientWidth, clientHeight } = this.element;
    if (clientWidth === 0 || clientHeight === 0) return;
    const style = getComputedStyle(this.element);
    const padX = parseFloat(style.paddingLeft) + parseFloat(style.paddingRight);
    const padY = parseFloat(style.paddingTop) + parseFloat(style.paddingBottom);
    const portrait = clientHeight > clientWidth * 1.2;
    const shape = gridShape(count, clientWidth - padX, clientHeight - padY, {
      gap: parseFloat(style.columnGap) || 8,
      aspect: portrait ? 4 / 3 : 16 / 9,
      minWidth: portrait ? 140 : 200,
    });
    this.element.style.setProperty('--cols', String(shape.cols));
    this.element.style.setProperty('--tile-w', `${shape.tileWidth}px`);
    this.element.style.setProperty('--tile-h', `${shape.tileHeight}px`);
  }
}
