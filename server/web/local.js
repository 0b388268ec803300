// Your own camera and microphone in the room page: what we have, what is switched on, and how
// loud you are. Switching on a device we never got asks the browser for it then.

import { mediaNotice } from './logic.js';
import {
  acquireMedia, acquireTrack, LevelMeter, setDataSaver, stopStream, videoConstraints,
} from './media.js';

export class LocalMedia {
  constructor() {
    this.stream = new MediaStream();
    this.micOn = true;
    this.camOn = true;
    this.meter = new LevelMeter();
    this.busy = new Set();
    /** A track an effect makes from the camera (effects.js), shown and sent instead of it. */
    this.processed = null;
  }

  liveTrack(kind) {
    return this.stream.getTracks().find((t) => t.kind === kind && t.readyState === 'live') ?? null;
  }

  /** The video we show and send: the effect's track while there is one, else the camera's. */
  videoOut() {
    const camera = this.liveTrack('video');
    return camera && this.processed?.readyState === 'live' ? this.processed : camera;
  }

  /** What the preview, your tile and the call show: the microphone and `videoOut()`. */
  outgoing() {
    return new MediaStream([this.liveTrack('audio'), this.videoOut()].filter(Boolean));
  }

  /** What we publish: {audio, video}, each on only if we have the device and it is switched on. */
  current() {
    return { audio: this.micOn && !!this.liveTrack('audio'), video: this.camOn && !!this.liveTrack('video') };
  }

  /**
   * Gets camera and microphone (with fallbacks), keeping earlier on/off choices. Resolves to the
   * words to show about what is missing, or null.
   */
  async acquire() {
    const { stream, errors } = await acquireMedia();
    this.stream = stream;
    const got = { audio: stream.getAudioTracks().length > 0, video: stream.getVideoTracks().length > 0 };
    for (const track of stream.getTracks()) track.enabled = track.kind === 'audio' ? this.micOn : this.camOn;
    this.meter.attach(this.liveTrack('audio'));
    return mediaNotice(got, errors);
  }

  /**
   * Switches `kind` on or off. Switching on a device we do not have asks for it and hands the new
   * track to `useTrack(kind, track)` (the call's replaceTrack). Resolves to
   * {changed, newTrack, error} where `error` is a sentence for the user.
   */
  async toggle(kind, useTrack) {
    if (this.busy.has(kind)) return { changed: false };
    const turningOn = !this.current()[kind];
    let track = this.liveTrack(kind);
    let newTrack = false;
    if (turningOn && !track) {
      this.busy.add(kind);
      try {
        track = await acquireTrack(kind);
      } catch (error) {
        const what = kind === 'audio' ? 'Microphone' : 'Camera';
        return {
          changed: false,
          error: error.name === 'NotAllowedError'
            ? `${what} blocked — allow it in your browser's site settings.`
            : `${what} unavailable (${error.name}).`,
        };
      } finally {
        this.busy.delete(kind);
      }
      this.stream.addTrack(track);
      newTrack = true;
      if (kind === 'audio') this.meter.attach(track);
      await useTrack(kind, track);
    }
    if (kind === 'audio') this.micOn = turningOn;
    else this.camOn = turningOn;
    if (track) track.enabled = turningOn;
    if (kind === 'video' && this.processed) this.processed.enabled = turningOn;
    return { changed: true, newTrack };
  }

  /**
   * How many lines the camera captures (what the simulcast layers are cut from): the live
   * track's, or without a camera what we would ask for.
   */
  captureHeight() {
    const height = this.liveTrack('video')?.getSettings?.().height;
    return Number.isFinite(height) && height > 0 ? height : videoConstraints().height.ideal;
  }

  /** The data saver on or off: the camera we have is changed to fit, later ones are asked so. */
  async setDataSaver(on) {
    setDataSaver(on);
    const track = this.liveTrack('video');
    if (!track?.applyConstraints) return;
    try {
      await track.applyConstraints(videoConstraints());
    } catch (error) {
      console.warn('salon: the camera did not take the new size', error);
    }
  }

  /** Loudness of your microphone now (0 while it is off). */
  level() {
    return this.micOn ? this.meter.level() : 0;
  }

  /** Call from a user gesture so the level meter may run. */
  resume() {
    this.meter.resume();
  }

  /** Releases camera and microphone. */
  stop() {
    stopStream(this.stream);
    this.meter.detach();
  }
}
