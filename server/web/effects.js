// The effects menu (backgrounds and face effects) and what it runs: the choice, kept in this
// browser; the pipeline (effects-engine.js, with MediaPipe) loaded only once an effect is picked;
// its loading state, failures and the fallback on a slow device. Everything runs on this device:
// the user's own picture is read here and never uploaded.

import { BACKGROUNDS, FACES, NO_EFFECT, SLOW, cleanChoice, isOff, parseChoice } from './effects-logic.js';
import { store } from './storage.js';

const CHOICE_KEY = 'salon.effects';
/** The user's own background picture, as a small JPEG data URL (never sent anywhere). */
const PICTURE_KEY = 'salon.effects.picture';
/**
 * The frame rate under which the effects step down, then go off (default SLOW.minFps). Kept here
 * for a machine that is known to be slow but should keep its effects (the browser tests on a
 * busy machine without a GPU: 0 never steps down).
 */
const MIN_FPS_KEY = 'salon.effects.minFps';
/** Loading the models may take this long (a slow machine: ~12 s for the face mesh), then it failed. */
const LOAD_TIMEOUT_MS = 90000;

const SPARKLE = '<svg class="icon" viewBox="0 0 24 24" aria-hidden="true" focusable="false">'
  + '<path d="M12 3l1.8 4.7L18.5 9.5l-4.7 1.8L12 16l-1.8-4.7L5.5 9.5l4.7-1.8Z"/><path d="M18.5 15l.8 2 2 .8-2 .8-.8 2-.8-2-2-.8 2-.8Z"/></svg>';

export class Effects {
  /**
   * @param {object} options
   * @param {HTMLElement} options.menu the (empty) menu element
   * @param {HTMLButtonElement} options.button the button that opens it (moves between pre-join and call)
   * @param {(track: MediaStreamTrack|null) => void} options.onOutput the track to show and send
   *   instead of the camera's, or null for the camera itself
   * @param {(text: string) => void} options.notify a short message for the user
   */
  constructor({ menu, button, onOutput, notify }) {
    this.menu = menu;
    this.button = button;
    this.onOutput = onOutput;
    this.notify = notify;
    this.choice = parseChoice(store.get(CHOICE_KEY));
    if (this.choice.background === 'own' && !store.get(PICTURE_KEY)) this.choice.background = 'none';
    this.camera = null;
    this.engine = null; // the module effects-engine.js, once loaded
    this.pipeline = null;
    this.loading = false;
    this.error = null;
    this.stats = null;
    this.slowed = 0; // how many times a slow device lowered the size
    this.sequence = 0; // the latest apply wins
    this.build();
    this.button.addEventListener('click', () => this.toggleMenu());
    // A click elsewhere (the Join button under it, a tile) closes the menu.
    document.addEventListener('pointerdown', (event) => {
      if (!this.menu.hidden && !this.menu.contains(event.target) && !this.button.contains(event.target)) this.toggleMenu(false);
    });
    this.menu.addEventListener('keydown', (event) => {
      if (event.key !== 'Escape') return;
      this.toggleMenu(false);
      this.button.focus();
    });
  }

  /** Read-only state for tests and debugging. */
  state() {
    return {
      choice: { ...this.choice },
      loading: this.loading,
      active: !!this.pipeline && !isOff(this.choice) && this.pipeline.output?.readyState === 'live',
      error: this.error,
      stats: this.stats ? { ...this.stats } : null,
      frames: this.pipeline ? { ...this.pipeline.totals } : null,
      slowed: this.slowed,
      face: this.pipeline?.faceNow() ?? null,
    };
  }

  /** Puts the menu button in `container` (the preview's controls or the call's), before `before`. */
  dock(container, before = null, className = 'round') {
    this.button.className = className;
    container.insertBefore(this.button, before);
  }

  build() {
    const section = (title, items) => {
      const heading = document.createElement('h3');
      heading.textContent = title;
      const row = document.createElement('div');
      row.className = 'effect-options';
      row.setAttribute('role', 'group');
      row.setAttribute('aria-label', title);
      for (const item of items) row.append(this.option(item));
      return [heading, row];
    };
    const head = document.createElement('div');
    head.className = 'panel-head';
    const title = document.createElement('h2');
    title.id = 'effects-title';
    title.textContent = 'Effects';
    const close = document.createElement('button');
    close.type = 'button';
    close.className = 'icon-button';
    close.setAttribute('aria-label', 'Close effects');
    close.innerHTML = '<svg class="icon" viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path d="M6 6l12 12M18 6 6 18"/></svg>';
    close.addEventListener('click', () => this.toggleMenu(false));
    head.append(title, close);
    this.status = document.createElement('p');
    this.status.className = 'effects-status small';
    this.status.dataset.testid = 'effects-status';
    this.status.setAttribute('role', 'status');
    this.status.setAttribute('aria-live', 'polite');
    this.fileInput = document.createElement('input');
    this.fileInput.type = 'file';
    this.fileInput.accept = 'image/*';
    this.fileInput.hidden = true;
    this.fileInput.dataset.testid = 'effect-picture-input';
    this.fileInput.addEventListener('change', () => this.ownPicturePicked());
    const note = document.createElement('p');
    note.className = 'muted small';
    note.textContent = 'Made on this device before your video is sent. Your own picture stays in this browser: it is never uploaded.';
    this.menu.replaceChildren(
      head,
      this.status,
      this.option({ id: 'none', label: 'No effects', set: () => ({ ...NO_EFFECT }) }),
      ...section('Background', [
        { id: 'bg-none', label: 'None', set: (c) => ({ ...c, background: 'none' }), pressed: (c) => c.background === 'none' },
        { id: 'blur', label: 'Blur', set: (c) => ({ ...c, background: 'blur' }), pressed: (c) => c.background === 'blur' },
        ...BACKGROUNDS.map((b) => ({
          id: `bg-${b.id}`, label: b.label, set: (c) => ({ ...c, background: `image:${b.id}` }), pressed: (c) => c.background === `image:${b.id}`,
        })),
        { id: 'bg-own', label: 'Your picture…', pick: true, pressed: (c) => c.background === 'own' },
      ]),
      ...section('Face', [
        { id: 'face-none', label: 'None', set: (c) => ({ ...c, face: 'none' }), pressed: (c) => c.face === 'none' },
        ...FACES.map((f) => ({ id: `face-${f.id}`, label: f.label, set: (c) => ({ ...c, face: f.id }), pressed: (c) => c.face === f.id })),
      ]),
      this.fileInput,
      note,
    );
    this.menu.setAttribute('aria-labelledby', 'effects-title');
    this.render();
  }

  option({ id, label, set, pick = false, pressed = null }) {
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'chip effect-option';
    button.dataset.testid = `effect-${id}`;
    button.textContent = label;
    if (pressed) button.pressedWhen = pressed;
    button.addEventListener('click', () => {
      if (pick) this.fileInput.click();
      else this.choose(set(this.choice));
    });
    return button;
  }

  toggleMenu(open = this.menu.hidden) {
    this.menu.hidden = !open;
    this.button.setAttribute('aria-expanded', String(open));
    if (open) this.menu.querySelector('button.effect-option')?.focus();
  }

  render() {
    for (const button of this.menu.querySelectorAll('button.effect-option')) {
      if (button.pressedWhen) button.setAttribute('aria-pressed', String(button.pressedWhen(this.choice)));
      button.disabled = this.loading;
    }
    let text = '';
    if (this.loading) text = 'Loading effects…';
    else if (this.error) text = this.error;
    else if (this.slowed && !isOff(this.choice)) text = 'Effects run at a smaller size: this device is busy.';
    this.status.textContent = text;
    this.status.hidden = !text;
    this.menu.dataset.state = this.loading ? 'loading' : this.error ? 'error' : isOff(this.choice) ? 'off' : 'on';
    this.button.setAttribute('aria-pressed', String(!isOff(this.choice)));
    this.button.innerHTML = `${SPARKLE}<span class="label">Effects</span>`;
    this.button.setAttribute('aria-label', 'Effects');
  }

  /** The camera track to process (null: none); the effect starts on it if one is chosen. */
  setCamera(track) {
    this.camera = track ?? null;
    if (this.pipeline && this.camera) this.pipeline.setCamera(this.camera);
    else if (!this.pipeline && this.camera && !isOff(this.choice)) this.apply();
  }

  /** Picks a new choice (from the menu). */
  choose(choice) {
    this.choice = cleanChoice(choice);
    this.slowed = 0;
    this.keep();
    this.apply();
  }

  keep() {
    if (isOff(this.choice)) store.remove(CHOICE_KEY);
    else store.set(CHOICE_KEY, JSON.stringify(this.choice));
  }

  async ownPicturePicked() {
    const file = this.fileInput.files?.[0];
    this.fileInput.value = '';
    if (!file) return;
    try {
      const engine = await this.loadEngine();
      const picture = await engine.pictureFromFile(file);
      // Kept in this browser only, small, so it comes back next time.
      store.set(PICTURE_KEY, picture.toDataURL('image/jpeg', 0.8));
      this.ownPicture = picture;
      this.choose({ ...this.choice, background: 'own' });
    } catch (error) {
      console.warn('salon: could not read the picture', error);
      this.notify('That picture could not be read. Try a JPEG or PNG.');
    }
  }

  async loadEngine() {
    this.engine ??= await import('./effects-engine.js');
    return this.engine;
  }

  /** The background's picture, if the choice has one. */
  async picture(engine) {
    const background = this.choice.background;
    if (background === 'own') {
      if (!this.ownPicture) this.ownPicture = await pictureFromDataUrl(store.get(PICTURE_KEY));
      return this.ownPicture;
    }
    if (background.startsWith('image:')) return engine.builtInPicture(background.slice('image:'.length));
    return null;
  }

  /** Makes the pipeline match the choice: starts, changes or stops it. */
  async apply() {
    const sequence = ++this.sequence;
    this.error = null;
    if (isOff(this.choice)) {
      this.stopPipeline();
      this.render();
      return;
    }
    if (!this.camera) {
      this.render();
      return;
    }
    this.loading = true;
    this.render();
    try {
      const engine = await this.loadEngine();
      await Promise.race([
        engine.prepare(this.choice),
        new Promise((_, reject) => { setTimeout(() => reject(new Error('loading the effects timed out')), LOAD_TIMEOUT_MS); }),
      ]);
      const picture = await this.picture(engine);
      if (sequence !== this.sequence) return;
      if (!this.pipeline) {
        const minFps = Number.parseFloat(store.get(MIN_FPS_KEY) ?? '');
        this.pipeline = new engine.Pipeline({
          slow: Number.isFinite(minFps) && minFps >= 0 ? { ...SLOW, minFps } : SLOW,
          onStats: (stats) => { this.stats = stats; },
          onSlow: (what) => this.slow(what),
          onError: (error) => this.failed(error),
        });
        this.pipeline.setChoice(this.choice, picture);
        this.pipeline.setCamera(this.camera);
        this.onOutput(this.pipeline.output);
      } else {
        this.pipeline.setChoice(this.choice, picture);
      }
    } catch (error) {
      if (sequence === this.sequence) this.failed(error);
      return;
    } finally {
      if (sequence === this.sequence) {
        this.loading = false;
        this.render();
      }
    }
  }

  failed(error) {
    console.warn('salon: effects failed', error);
    this.stopPipeline();
    this.choice = { ...NO_EFFECT };
    this.keep(); // not tried again at the next visit
    this.error = 'Effects could not start on this device, so your camera is sent as it is.';
    this.notify(this.error);
    this.render();
  }

  /** The device could not keep up: a smaller size was tried, or the effects go off. */
  slow(what) {
    if (what === 'lower') {
      this.slowed += 1;
      this.notify('Effects run at a smaller size: this device is busy.');
    } else {
      this.stopPipeline();
      this.choice = { ...NO_EFFECT };
      this.keep();
      this.error = 'Effects were turned off: this device is too slow for them right now.';
      this.notify(this.error);
    }
    this.render();
  }

  stopPipeline() {
    if (!this.pipeline) return;
    this.pipeline.stop();
    this.pipeline = null;
    this.stats = null;
    this.onOutput(null);
  }
}

/** A data URL (kept in local storage) back to a drawable picture, without fetching anything. */
async function pictureFromDataUrl(url) {
  const match = /^data:([^;,]+);base64,(.*)$/su.exec(url ?? '');
  if (!match) throw new Error('no picture kept');
  const bytes = Uint8Array.from(atob(match[2]), (c) => c.charCodeAt(0));
  return createImageBitmap(new Blob([bytes], { type: match[1] }));
}
