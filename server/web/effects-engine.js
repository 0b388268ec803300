// Backgrounds and face effects, made on this device from the camera before it is encoded: the
// camera's frames → MediaPipe (selfie segmentation, face mesh; WebAssembly + WebGL, served by
// this server from /assets/vendor/mediapipe/) → a canvas → a new video track, which the page
// shows and sends instead of the camera. Loaded only when someone picks an effect (effects.js).

import { faceGeometry, hatTriangle, judgeSpeed, modelsFor, processingSizes, SLOW } from './effects-logic.js';

const VENDOR = '/assets/vendor/mediapipe';
const SEGMENTATION = `${VENDOR}/selfie_segmentation-0.1.1675465747`;
const FACE_MESH = `${VENDOR}/face_mesh-0.4.1633559619`;
/** The fallback path (no MediaStreamTrackProcessor) draws at most this often. */
const FALLBACK_FPS = 24;

const scripts = new Map();
/** Loads a classic script of this origin once (MediaPipe's solutions are not modules). */
function loadScript(src) {
  if (!scripts.has(src)) {
    scripts.set(src, new Promise((resolve, reject) => {
      const script = document.createElement('script');
      script.src = src;
      script.async = true;
      script.onload = () => resolve();
      script.onerror = () => {
        scripts.delete(src);
        reject(new Error(`could not load ${src}`));
      };
      document.head.append(script);
    }));
  }
  return scripts.get(src);
}

// The two solutions' WebAssembly loaders use the same global names: load them one at a time.
let loading = Promise.resolve();
const models = { segmentation: null, faceMesh: null };

function loadModel(which) {
  const step = loading.then(async () => {
    if (models[which]) return models[which];
    if (!window.WebGL2RenderingContext) throw new Error('this browser has no WebGL 2');
    let model;
    if (which === 'segmentation') {
      await loadScript(`${SEGMENTATION}/selfie_segmentation.js`);
      model = new window.SelfieSegmentation({ locateFile: (file) => `${SEGMENTATION}/${file}` });
      // The landscape model (256×144): made for video calls, and faster.
      model.setOptions({ modelSelection: 1, selfieMode: false });
    } else {
      await loadScript(`${FACE_MESH}/face_mesh.js`);
      model = new window.FaceMesh({ locateFile: (file) => `${FACE_MESH}/${file}` });
      model.setOptions({ maxNumFaces: 1, refineLandmarks: false, minDetectionConfidence: 0.5, minTrackingConfidence: 0.5, selfieMode: false });
    }
    await model.initialize();
    models[which] = model;
    return model;
  });
  loading = step.catch(() => {});
  return step;
}

/** Downloads and starts the models a choice needs (resolves when they are ready). */
export async function prepare(choice) {
  const need = modelsFor(choice);
  if (need.segmentation) await loadModel('segmentation');
  if (need.faceMesh) await loadModel('faceMesh');
}

/**
 * One running effect: reads the camera track, writes `output` (a video track). `choice` may
 * change while it runs; `images` maps a background ('image:<id>', 'own') to something drawable.
 */
export class Pipeline {
  /**
   * @param {object} options
   * @param {(stats: object) => void} [options.onStats] about once a second: {fps, busyMs, level, size}
   * @param {(what: 'lower'|'off') => void} [options.onSlow] the device could not keep up
   * @param {(error: Error) => void} [options.onError] processing failed: the effect has stopped
   * @param {object} [options.slow] what counts as too slow (SLOW in effects-logic.js)
   */
  constructor({ onStats = () => {}, onSlow = () => {}, onError = () => {}, slow = SLOW } = {}) {
    this.slow = slow;
    this.onStats = onStats;
    this.onSlow = onSlow;
    this.onError = onError;
    this.choice = { background: 'none', face: 'none' };
    this.images = new Map();
    this.camera = null;
    this.level = 0;
    this.basis = { width: 640, height: 360 };
    this.sizes = processingSizes(640, 360);
    this.input = document.createElement('canvas');
    this.out = document.createElement('canvas');
    this.small = document.createElement('canvas');
    this.inputContext = this.input.getContext('2d', { willReadFrequently: false });
    this.outContext = this.out.getContext('2d');
    this.smallContext = this.small.getContext('2d');
    this.face = null; // the latest face geometry (pixels of the processing size), or null
    this.stopped = false;
    this.generation = 0; // bumped when the camera changes: the old loop ends
    this.window = { start: 0, frames: 0, busy: 0 };
    // Milliseconds spent per stage since the last stats (segmentation, its compositing, face mesh).
    this.spent = { segmentation: 0, compositing: 0, faceMesh: 0 };
    this.judged = { start: 0, frames: 0, busy: 0 };
    this.levelSince = 0;
    this.totals = { frames: 0, busy: 0 };
    this.useGenerator = typeof window.MediaStreamTrackProcessor === 'function'
      && typeof window.MediaStreamTrackGenerator === 'function' && typeof window.VideoFrame === 'function';
    if (this.useGenerator) {
      this.generator = new window.MediaStreamTrackGenerator({ kind: 'video' });
      this.writer = this.generator.writable.getWriter();
      this.output = this.generator;
    } else {
      this.output = this.out.captureStream(FALLBACK_FPS).getVideoTracks()[0];
    }
    this.segmentation = null;
    this.faceMesh = null;
  }

  /** What to draw: a choice and the drawable for its background image, if any. */
  setChoice(choice, image = null) {
    this.choice = choice;
    if (image) this.images.set(choice.background, image);
    if (modelsFor(choice).segmentation) this.segmentation = models.segmentation;
    if (modelsFor(choice).faceMesh) this.faceMesh = models.faceMesh;
    if (!modelsFor(choice).faceMesh) this.face = null;
  }

  /** Starts (or moves) the processing onto a camera track. */
  setCamera(track) {
    this.generation += 1;
    this.camera = track;
    if (!track || this.stopped) return;
    const settings = track.getSettings?.() ?? {};
    this.fitTo(settings.width, settings.height);
    const generation = this.generation;
    const run = this.useGenerator ? this.runProcessor(track, generation) : this.runFallback(track, generation);
    run.catch((error) => {
      if (this.stopped || generation !== this.generation) return;
      console.warn('salon: effects stopped', error);
      this.onError(error);
    });
  }

  /** Processing sizes for a camera of w×h (again when the camera changes size: the data saver). */
  fitTo(width, height) {
    this.basis = { width, height };
    this.sizes = processingSizes(width, height);
    this.resize();
  }

  resize() {
    const { width, height } = this.sizes[this.level];
    for (const canvas of [this.input, this.out]) {
      if (canvas.width !== width) canvas.width = width;
      if (canvas.height !== height) canvas.height = height;
    }
    // The blur: the frame shrunk to a tenth, softened, and stretched back.
    this.small.width = Math.max(8, Math.round(width / 10));
    this.small.height = Math.max(8, Math.round(height / 10));
    this.levelSince = performance.now();
    this.window = { start: performance.now(), frames: 0, busy: 0 };
  }

  async runProcessor(track, generation) {
    const reader = new window.MediaStreamTrackProcessor({ track }).readable.getReader();
    try {
      while (!this.stopped && generation === this.generation) {
        const { value: frame, done } = await reader.read();
        if (done) break;
        // A camera switched off: nothing to make (the sender sends our track disabled).
        if (!track.enabled) {
          frame.close();
          continue;
        }
        const started = performance.now();
        const timestamp = frame.timestamp;
        if (frame.displayWidth !== this.basis.width || frame.displayHeight !== this.basis.height) {
          this.fitTo(frame.displayWidth, frame.displayHeight);
        }
        try {
          this.inputContext.drawImage(frame, 0, 0, this.input.width, this.input.height);
        } finally {
          frame.close();
        }
        await this.process();
        if (this.stopped || generation !== this.generation) break;
        await this.writer.write(new window.VideoFrame(this.out, { timestamp }));
        this.measure(performance.now() - started);
      }
    } finally {
      reader.cancel().catch(() => {});
    }
  }

  async runFallback(track, generation) {
    const video = document.createElement('video');
    video.muted = true;
    video.playsInline = true;
    video.srcObject = new MediaStream([track]);
    await video.play();
    try {
      while (!this.stopped && generation === this.generation && track.readyState === 'live') {
        const started = performance.now();
        if (track.enabled && video.videoWidth > 0) {
          if (video.videoWidth !== this.basis.width || video.videoHeight !== this.basis.height) {
            this.fitTo(video.videoWidth, video.videoHeight);
          }
          this.inputContext.drawImage(video, 0, 0, this.input.width, this.input.height);
          await this.process();
          this.measure(performance.now() - started);
        }
        const spent = performance.now() - started;
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, 1000 / FALLBACK_FPS - spent)));
      }
    } finally {
      video.srcObject = null;
    }
  }

  /** One frame: `input` holds the camera's picture; `out` gets the result. */
  async process() {
    const { width, height } = this.input;
    const g = this.outContext;
    const need = modelsFor(this.choice);
    if (need.segmentation && this.segmentation) {
      // The mask and the picture are valid only inside the callback: composite there.
      const started = performance.now();
      let compositing = 0;
      this.segmentation.onResults((results) => {
        const at = performance.now();
        this.composite(results.segmentationMask);
        compositing = performance.now() - at;
      });
      await this.segmentation.send({ image: this.input });
      this.spent.segmentation += performance.now() - started - compositing;
      this.spent.compositing += compositing;
    } else {
      g.globalCompositeOperation = 'copy';
      g.drawImage(this.input, 0, 0);
      g.globalCompositeOperation = 'source-over';
    }
    if (need.faceMesh && this.faceMesh) {
      let landmarks = null;
      this.faceMesh.onResults((results) => { landmarks = results.multiFaceLandmarks?.[0] ?? null; });
      const started = performance.now();
      await this.faceMesh.send({ image: this.input });
      this.spent.faceMesh += performance.now() - started;
      this.face = landmarks ? faceGeometry(landmarks, width, height) : null;
      if (this.face) drawFace(g, this.choice.face, this.face);
    }
  }

  /** The person (where the mask is) over the blurred or replaced background. */
  composite(mask) {
    const g = this.outContext;
    const { width, height } = this.out;
    g.save();
    g.globalCompositeOperation = 'copy';
    g.drawImage(mask, 0, 0, width, height);
    g.globalCompositeOperation = 'source-in';
    g.drawImage(this.input, 0, 0);
    g.globalCompositeOperation = 'destination-over';
    const background = this.choice.background;
    const image = this.images.get(background);
    if (background !== 'blur' && image) {
      drawCover(g, image, width, height);
    } else {
      const s = this.smallContext;
      s.filter = 'blur(2px)';
      s.drawImage(this.input, 0, 0, this.small.width, this.small.height);
      s.filter = 'none';
      g.imageSmoothingEnabled = true;
      g.imageSmoothingQuality = 'high';
      g.drawImage(this.small, 0, 0, width, height);
    }
    g.restore();
  }

  /** Counts a frame: stats once a second; after a warm-up, judges whether this device keeps up. */
  measure(busyMs) {
    const now = performance.now();
    this.totals.frames += 1;
    this.totals.busy += busyMs;
    // The first frame waits for the models to warm up: the warm-up starts after it.
    if (this.totals.frames === 1) {
      this.levelSince = now;
      this.window = { start: now, frames: 0, busy: 0 };
      this.spent = { segmentation: 0, compositing: 0, faceMesh: 0 };
      return;
    }
    const w = this.window;
    w.frames += 1;
    w.busy += busyMs;
    if (now - w.start >= 1000) {
      const per = (ms) => Math.round((ms / w.frames) * 10) / 10;
      this.onStats({
        fps: (w.frames * 1000) / (now - w.start),
        busyMs: w.busy / w.frames,
        segmentationMs: per(this.spent.segmentation),
        compositingMs: per(this.spent.compositing),
        faceMeshMs: per(this.spent.faceMesh),
        level: this.level,
        size: { ...this.sizes[this.level] },
      });
      this.spent = { segmentation: 0, compositing: 0, faceMesh: 0 };
      this.window = { start: now, frames: 0, busy: 0 };
    }
    if (now - this.levelSince < this.slow.warmupMs) {
      this.judged = { start: now, frames: 0, busy: 0 };
      return;
    }
    const j = this.judged;
    j.frames += 1;
    j.busy += busyMs;
    if (now - j.start < this.slow.windowMs) return;
    this.judged = { start: now, frames: 0, busy: 0 };
    const verdict = judgeSpeed({
      level: this.level, levels: this.sizes.length, fps: (j.frames * 1000) / (now - j.start), busyMs: j.busy / j.frames,
    }, this.slow);
    if (verdict === 'lower') {
      this.level += 1;
      this.resize();
      this.onSlow('lower');
    } else if (verdict === 'off') {
      this.onSlow('off');
    }
  }

  /** Where the face is now (pixels of `size`), for tests and debugging. */
  faceNow() {
    if (!this.face) return null;
    const round = (p) => ({ x: Math.round(p.x), y: Math.round(p.y) });
    return {
      left: round(this.face.left), right: round(this.face.right), forehead: round(this.face.forehead),
      chin: round(this.face.chin), width: Math.round(this.face.width), size: { width: this.out.width, height: this.out.height },
    };
  }

  stop() {
    this.stopped = true;
    this.generation += 1;
    this.output?.stop();
    this.writer?.close().catch(() => {});
  }
}

/** Draws `image` to fill w×h, cropping what sticks out (CSS `object-fit: cover`). */
function drawCover(g, image, w, h) {
  const iw = image.width || image.naturalWidth || w;
  const ih = image.height || image.naturalHeight || h;
  const scale = Math.max(w / iw, h / ih);
  const dw = iw * scale;
  const dh = ih * scale;
  g.drawImage(image, (w - dw) / 2, (h - dh) / 2, dw, dh);
}

function drawFace(g, which, face) {
  g.save();
  if (which === 'glasses') drawGlasses(g, face);
  else if (which === 'hat') drawHat(g, face);
  g.restore();
}

function drawGlasses(g, face) {
  const r = face.eyes * 0.42;
  g.lineWidth = Math.max(2, face.eyes * 0.09);
  g.strokeStyle = '#111';
  g.fillStyle = 'rgba(10, 12, 24, 0.82)';
  for (const eye of [face.left, face.right]) {
    g.save();
    g.translate(eye.x, eye.y);
    g.rotate(face.angle);
    g.beginPath();
    g.roundRect(-r * 1.1, -r * 0.8, r * 2.2, r * 1.6, r * 0.45);
    g.fill();
    g.stroke();
    g.restore();
  }
  // The bridge over the nose and the arms towards the ears.
  g.beginPath();
  const along = { x: Math.cos(face.angle), y: Math.sin(face.angle) };
  g.moveTo(face.left.x + along.x * r * 1.1, face.left.y + along.y * r * 1.1);
  g.lineTo(face.right.x - along.x * r * 1.1, face.right.y - along.y * r * 1.1);
  g.moveTo(face.left.x - along.x * r * 1.1, face.left.y - along.y * r * 1.1);
  g.lineTo(face.sideA.x, face.sideA.y);
  g.moveTo(face.right.x + along.x * r * 1.1, face.right.y + along.y * r * 1.1);
  g.lineTo(face.sideB.x, face.sideB.y);
  g.stroke();
}

function drawHat(g, face) {
  const { a, b, tip } = hatTriangle(face);
  const gradient = g.createLinearGradient(a.x, a.y, b.x, b.y);
  gradient.addColorStop(0, '#e53975');
  gradient.addColorStop(0.5, '#ffb627');
  gradient.addColorStop(1, '#2ec4b6');
  g.fillStyle = gradient;
  g.beginPath();
  g.moveTo(a.x, a.y);
  g.lineTo(tip.x, tip.y);
  g.lineTo(b.x, b.y);
  g.closePath();
  g.fill();
  g.lineWidth = Math.max(2, face.width * 0.02);
  g.strokeStyle = '#fff';
  g.stroke();
  // Dots on the cone, and a pompom on top.
  g.fillStyle = '#fff';
  for (const [u, v] of [[0.3, 0.3], [0.6, 0.25], [0.45, 0.55], [0.25, 0.65], [0.7, 0.6]]) {
    const x = a.x + (b.x - a.x) * u + (tip.x - (a.x + b.x) / 2) * v * 0.9;
    const y = a.y + (b.y - a.y) * u + (tip.y - (a.y + b.y) / 2) * v * 0.9;
    g.beginPath();
    g.arc(x, y, face.width * 0.03, 0, Math.PI * 2);
    g.fill();
  }
  g.fillStyle = '#ffe45c';
  g.beginPath();
  g.arc(tip.x, tip.y, face.width * 0.09, 0, Math.PI * 2);
  g.fill();
}

/** Decodes a picture file (the user's own background) on this device; it is never uploaded. */
export async function pictureFromFile(file) {
  const bitmap = await createImageBitmap(file);
  // Kept small: 1280 wide at most (and it is what local storage keeps).
  const scale = Math.min(1, 1280 / bitmap.width);
  const canvas = document.createElement('canvas');
  canvas.width = Math.round(bitmap.width * scale);
  canvas.height = Math.round(bitmap.height * scale);
  canvas.getContext('2d').drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  bitmap.close?.();
  return canvas;
}

/** A built-in background (an SVG of this origin) as an image. */
export async function builtInPicture(id) {
  const image = new Image();
  image.src = `/assets/bg-${id}.svg`;
  await image.decode();
  // Rasterised once at 1280×720 so every frame draws a bitmap, not the SVG.
  const canvas = document.createElement('canvas');
  canvas.width = 1280;
  canvas.height = 720;
  drawCover(canvas.getContext('2d'), image, 1280, 720);
  return canvas;
}
