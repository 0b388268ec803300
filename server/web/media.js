// Local camera and microphone: getting them with fallbacks, and measuring how loud the local
// microphone is (for your own speaking indicator).

const AUDIO = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };
/** The camera: 720p (sent in three simulcast layers), or 360p with the data saver (two layers). */
const VIDEO = { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 24, max: 30 } };
const VIDEO_DATA_SAVER = { width: { ideal: 640 }, height: { ideal: 360 }, frameRate: { ideal: 24, max: 30 } };

let dataSaver = false;

/**
 * The data saver: capture (and so send) the camera at 360p instead of 720p. Applies to every
 * camera asked for from now on; `LocalMedia.setDataSaver` also changes the one we have.
 */
export function setDataSaver(on) {
  dataSaver = !!on;
}

/** The camera constraints in force now. */
export function videoConstraints() {
  return dataSaver ? VIDEO_DATA_SAVER : VIDEO;
}

function constraints(kind) {
  return kind === 'audio' ? AUDIO : videoConstraints();
}

async function ask(audio, video) {
  return navigator.mediaDevices.getUserMedia({
    audio: audio ? AUDIO : false,
    video: video ? videoConstraints() : false,
  });
}

/**
 * Gets camera and microphone, falling back to the microphone alone, then the camera alone, then
 * nothing. Never rejects. Resolves to {stream, errors} where `errors` names the DOMException for
 * each kind that could not be had (e.g. {video: 'NotAllowedError'}).
 */
export async function acquireMedia() {
  const stream = new MediaStream();
  const errors = {};
  if (!navigator.mediaDevices?.getUserMedia) {
    return { stream, errors: { audio: 'Unsupported', video: 'Unsupported' } };
  }
  const take = (got) => got.getTracks().forEach((track) => stream.addTrack(track));
  try {
    take(await ask(true, true));
    return { stream, errors };
  } catch (error) {
    errors.video = error.name;
  }
  try {
    take(await ask(true, false));
  } catch (error) {
    errors.audio = error.name;
    try {
      take(await ask(false, true));
      delete errors.video;
    } catch (videoError) {
      errors.video = videoError.name;
    }
  }
  return { stream, errors };
}

/** One new track of `kind` ('audio' | 'video'); rejects with the browser's DOMException. */
export async function acquireTrack(kind) {
  if (!navigator.mediaDevices?.getUserMedia) {
    throw new DOMException('getUserMedia is not available', 'NotSupportedError');
  }
  const got = await navigator.mediaDevices.getUserMedia({ [kind]: constraints(kind) });
  return got.getTracks()[0];
}

/** Loudness of a local audio track, 0..1 (RMS of the waveform), from a Web Audio analyser. */
export class LevelMeter {
  constructor() {
    this.context = null;
    this.source = null;
    this.analyser = null;
    this.buffer = null;
  }

  attach(track) {
    this.detach();
    if (!track) return;
    const AudioContextClass = window.AudioContext ?? window.webkitAudioContext;
    if (!AudioContextClass) return;
    this.context ??= new AudioContextClass();
    this.source = this.context.createMediaStreamSource(new MediaStream([track]));
    this.analyser = this.context.createAnalyser();
    this.analyser.fftSize = 512;
    this.buffer = new Float32Array(this.analyser.fftSize);
    this.source.connect(this.analyser);
  }

  /** Call from a user gesture: browsers start audio contexts suspended. */
  resume() {
    if (this.context?.state === 'suspended') this.context.resume().catch(() => {});
  }

  level() {
    if (!this.analyser || this.context.state !== 'running') return 0;
    this.analyser.getFloatTimeDomainData(this.buffer);
    let sum = 0;
    for (const sample of this.buffer) sum += sample * sample;
    return Math.sqrt(sum / this.buffer.length);
  }

  detach() {
    this.source?.disconnect();
    this.source = null;
    this.analyser = null;
  }

  close() {
    this.detach();
    this.context?.close().catch(() => {});
    this.context = null;
  }
}

/** Stops every track of a stream (releases camera and microphone). */
export function stopStream(stream) {
  stream?.getTracks().forEach((track) => track.stop());
}
