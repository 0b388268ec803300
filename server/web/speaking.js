// Who is speaking: your microphone's loudness (Web Audio) and, for everyone else, the audio
// level of what we receive from them (WebRTC stats), polled a few times a second and smoothed by
// speakingNow() so the highlight does not flicker.

import { speakingNow } from './logic.js';

const POLL_MS = 300;
const LOCAL_THRESHOLD = 0.015; // RMS of the waveform
const REMOTE_THRESHOLD = 0.02; // RTCInboundRtpStreamStats.audioLevel

export class SpeakingWatch {
  /**
   * @param {object} options
   * @param {() => number} options.localLevel your microphone's loudness now
   * @param {() => (Promise<Map<string, number>> | null)} options.remoteLevels per participant id
   * @param {() => string[]} options.remoteIds whose tiles are shown
   * @param {(id: string | null, speaking: boolean) => void} options.show null means you
   */
  constructor({ localLevel, remoteLevels, remoteIds, show }) {
    this.options = { localLevel, remoteLevels, remoteIds, show };
    this.timer = null;
    this.loudAt = new Map();
  }

  start() {
    if (this.timer) return;
    let busy = false;
    this.timer = setInterval(async () => {
      if (busy) return;
      busy = true;
      try {
        await this.tick(performance.now());
      } catch {
        // The call closed while we asked; the next tick looks again.
      } finally {
        busy = false;
      }
    }, POLL_MS);
  }

  async tick(now) {
    const { localLevel, remoteLevels, remoteIds, show } = this.options;
    show(null, this.mark(null, localLevel(), now, LOCAL_THRESHOLD));
    const levels = (await remoteLevels()) ?? new Map();
    for (const id of remoteIds()) show(id, this.mark(id, levels.get(id) ?? 0, now, REMOTE_THRESHOLD));
  }

  mark(id, level, now, threshold) {
    const result = speakingNow(level, this.loudAt.get(id) ?? null, now, { threshold });
    this.loudAt.set(id, result.lastLoudAt);
    return result.speaking;
  }

  stop() {
    clearInterval(this.timer);
    this.timer = null;
    this.loudAt.clear();
  }
}
