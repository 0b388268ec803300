// Your own speaking ring on the camera preview, before you join: the loudness of your microphone
// (Web Audio), smoothed by speakingNow() so the ring does not flicker. It tells you the
// microphone works. In the call, every ring (yours included) comes from the server's `speakers`
// events instead (docs/protocol.md); nothing polls WebRTC stats for it.

import { speakingNow } from './logic.js';

const POLL_MS = 150;
const LOCAL_THRESHOLD = 0.015; // RMS of the waveform

export class PreviewSpeaking {
  /**
   * @param {object} options
   * @param {() => number} options.level your microphone's loudness now
   * @param {(speaking: boolean) => void} options.show
   */
  constructor({ level, show }) {
    this.options = { level, show };
    this.timer = null;
    this.loudAt = null;
    this.speaking = false;
  }

  start() {
    if (this.timer) return;
    this.timer = setInterval(() => this.tick(performance.now()), POLL_MS);
  }

  tick(now) {
    const result = speakingNow(this.options.level(), this.loudAt, now, { threshold: LOCAL_THRESHOLD });
    this.loudAt = result.lastLoudAt;
    if (result.speaking !== this.speaking) {
      this.speaking = result.speaking;
      this.options.show(result.speaking);
    }
  }

  stop() {
    clearInterval(this.timer);
    this.timer = null;
    this.loudAt = null;
    if (this.speaking) this.options.show(false);
    this.speaking = false;
  }
}
