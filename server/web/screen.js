// Sharing my screen (docs/protocol.md, "Screen sharing"): the `share-screen` button, the capture
// (getDisplayMedia), and what the room says about it. The call always has a screen section; a
// share puts the capture on it (`replaceTrack`, no renegotiation) and tells the room (`share`).
// The room lets one person present at a time and hosts may stop a share: a self update that
// says I am not sharing (or `share_stopped`) ends the capture here too, as does the browser's
// own "Stop sharing" (the track ends).

import { setToggle } from './ui.js';

export class ScreenShare {
  /**
   * @param {object} options
   * @param {HTMLButtonElement} options.button the `share-screen` toggle
   * @param {(message: object) => void} options.send sends a signaling message (dropped if none)
   * @param {() => import('./call.js').Call|null} options.call the current call
   * @param {(text: string) => void} options.toast
   * @param {(sharing: boolean) => void} [options.onChange] after the share started or stopped
   * @param {() => string|null} [options.presenter] the name of whoever else presents now, if
   *   anyone (the room would refuse a second share: no need to ask the browser for a screen)
   */
  constructor({ button, send, call, toast, onChange = () => {}, presenter = () => null }) {
    this.presenter = presenter;
    this.button = button;
    this.send = send;
    this.call = call;
    this.toast = toast;
    this.onChange = onChange;
    this.track = null; // the capture while I share
    this.starting = false;
    this.locked = false;
    button.addEventListener('click', () => this.toggle());
    this.render();
  }

  get active() {
    return this.track !== null;
  }

  async toggle() {
    if (this.active) this.stop();
    else await this.start();
  }

  async start() {
    if (this.active || this.starting) return;
    if (this.locked) {
      this.toast('Paused by host: you can share your screen when they release it');
      return;
    }
    const other = this.presenter();
    if (other) {
      this.toast(`${other} is presenting; you can share your screen once they stop`);
      return;
    }
    if (!navigator.mediaDevices?.getDisplayMedia) {
      this.toast('This browser cannot share its screen');
      return;
    }
    this.starting = true;
    let stream;
    try {
      stream = await navigator.mediaDevices.getDisplayMedia({
        video: { frameRate: { ideal: 15, max: 30 } },
        audio: false,
        // The page itself is a fine thing to show (and what headless tests can pick).
        preferCurrentTab: false,
        selfBrowserSurface: 'include',
      });
    } catch (error) {
      if (error?.name !== 'NotAllowedError' && error?.name !== 'AbortError') {
        this.toast('Could not share your screen');
      }
      return;
    } finally {
      this.starting = false;
    }
    const track = stream.getVideoTracks()[0];
    if (!track) return;
    track.contentHint = 'detail';
    // The browser's own "Stop sharing" ends the track.
    track.addEventListener('ended', () => {
      if (this.track === track) this.stop();
    });
    this.track = track;
    await this.call()?.replaceTrack('screen', track);
    this.send({ type: 'share', active: true });
    this.render();
    this.onChange(true);
  }

  /** Stops capturing; `announce: false` when the room already knows (or we are leaving). */
  stop({ announce = true } = {}) {
    const track = this.track;
    if (!track) return;
    this.track = null;
    track.stop();
    this.call()?.replaceTrack('screen', null);
    if (announce) this.send({ type: 'share', active: false });
    this.render();
    this.onChange(false);
  }

  /** `joined` on a new connection: the room starts with nobody sharing, so say it again. */
  onJoined() {
    if (this.active) this.send({ type: 'share', active: true });
  }

  /** The room's view of me: not sharing (refused, or stopped by a host) ends the capture. */
  onSelf(participant) {
    if (this.active && participant?.screen !== true) this.stop({ announce: false });
  }

  /** A host stopped my share. */
  stoppedBy(by) {
    this.stop({ announce: false });
    this.toast(`${by || 'A host'} stopped your screen share`);
  }

  /** Panic: a guest may not share; the button says so. */
  setLocked(locked) {
    this.locked = !!locked;
    this.render();
  }

  render() {
    const on = this.active;
    setToggle(this.button, {
      pressed: on,
      iconName: 'screen',
      title: on ? 'Stop sharing your screen' : 'Share your screen',
    });
    this.button.querySelector('.label').textContent = on ? 'Stop share' : 'Share';
    this.button.disabled = this.locked && !on;
  }
}
