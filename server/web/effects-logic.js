// The effects' pure decisions (no DOM, no network, no clock): what is chosen and how it is kept,
// when a slow device lowers the processing size or gives up, and where a face prop goes.
// Unit-tested in Node by tests/browser/effects-logic.test.js.

/** Built-in backgrounds: `/assets/bg-<id>.svg`. */
export const BACKGROUNDS = [
  { id: 'sunset', label: 'Sunset' },
  { id: 'shelves', label: 'Bookshelves' },
  { id: 'leaves', label: 'Leaves' },
];
/** Face effects, drawn from the face mesh's landmarks. */
export const FACES = [
  { id: 'glasses', label: 'Glasses' },
  { id: 'hat', label: 'Party hat' },
];

export const NO_EFFECT = Object.freeze({ background: 'none', face: 'none' });

/**
 * A choice: `background` is 'none', 'blur', 'image:<id>' (a built-in one) or 'own' (the user's
 * picture), `face` is 'none' or a FACES id. Anything else reads as no effect.
 */
export function cleanChoice(value) {
  const background = value?.background;
  const face = value?.face;
  const okBackground = background === 'none' || background === 'blur' || background === 'own'
    || (typeof background === 'string' && BACKGROUNDS.some((b) => background === `image:${b.id}`));
  return {
    background: okBackground ? background : 'none',
    face: FACES.some((f) => f.id === face) ? face : 'none',
  };
}

/** The kept choice (local storage text) back as a choice; garbage reads as no effect. */
export function parseChoice(text) {
  try {
    return cleanChoice(JSON.parse(text ?? 'null'));
  } catch {
    return { ...NO_EFFECT };
  }
}

export const isOff = (choice) => choice.background === 'none' && choice.face === 'none';

/** Which models a choice needs. */
export function modelsFor(choice) {
  return { segmentation: choice.background !== 'none', faceMesh: choice.face !== 'none' };
}

/**
 * Processing sizes, largest first: the camera's own size (at most 1280 wide), then half of it.
 * Below the last one the effects go off. Sizes are even (the encoder wants them so).
 */
export function processingSizes(width, height) {
  const w = Math.max(2, Math.min(width || 640, 1280));
  const h = Math.max(2, Math.round((w * (height || 360)) / (width || 640)));
  const even = (n) => Math.max(2, Math.round(n / 2) * 2);
  return [{ width: even(w), height: even(h) }, { width: even(w / 2), height: even(h / 2) }];
}

/** How the effects judge a device: frames per second below this over a window is too slow. */
export const SLOW = Object.freeze({ minFps: 10, windowMs: 4000, warmupMs: 3000 });

/**
 * After a measuring window at `level` (an index into processingSizes): `fps` frames made per
 * second and `busyMs` the mean time one took. Answers 'keep', 'lower' (the next smaller size) or
 * 'off' (the smallest was too slow too). Slow means fewer than `minFps` frames a second *and*
 * each frame took so long that the processing, not the camera, is the limit.
 */
export function judgeSpeed({ level, levels, fps, busyMs }, slow = SLOW) {
  const tooSlow = fps < slow.minFps && busyMs > 1000 / slow.minFps * 0.6;
  if (!tooSlow) return 'keep';
  return level + 1 < levels ? 'lower' : 'off';
}

const point = (landmarks, i, w, h) => ({ x: landmarks[i].x * w, y: landmarks[i].y * h });
const mid = (a, b) => ({ x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 });
const distance = (a, b) => Math.hypot(a.x - b.x, a.y - b.y);

/**
 * Where a face is, in pixels of a w×h frame, from the face mesh's 468 normalised landmarks:
 * eye centres (the image's left and right), the distance between them, the roll angle, the top
 * of the forehead, the chin and the face's width. Null for fewer landmarks than that.
 */
export function faceGeometry(landmarks, w, h) {
  if (!Array.isArray(landmarks) || landmarks.length < 468) return null;
  const p = (i) => point(landmarks, i, w, h);
  // 33/133: one eye's outer and inner corner, 362/263 the other's; 10 the top of the forehead,
  // 152 the chin, 234/454 the sides of the face, 168 the bridge of the nose.
  const eyeA = mid(p(33), p(133));
  const eyeB = mid(p(362), p(263));
  const [left, right] = eyeA.x <= eyeB.x ? [eyeA, eyeB] : [eyeB, eyeA];
  const eyes = distance(left, right);
  const angle = Math.atan2(right.y - left.y, right.x - left.x);
  return {
    left, right, eyes, angle,
    bridge: p(168),
    forehead: p(10),
    chin: p(152),
    sideA: p(234),
    sideB: p(454),
    width: distance(p(234), p(454)),
    height: distance(p(10), p(152)),
  };
}

/** The party hat's triangle (base left, base right, tip) over a face, following its roll. */
export function hatTriangle(face) {
  const up = { x: Math.sin(face.angle), y: -Math.cos(face.angle) };
  const along = { x: Math.cos(face.angle), y: Math.sin(face.angle) };
  // The base sits a little above the top of the forehead, as wide as most of the face.
  const base = { x: face.forehead.x + up.x * face.height * 0.08, y: face.forehead.y + up.y * face.height * 0.08 };
  const half = face.width * 0.38;
  const tall = face.width * 1.05;
  return {
    a: { x: base.x - along.x * half, y: base.y - along.y * half },
    b: { x: base.x + along.x * half, y: base.y + along.y * half },
    tip: { x: base.x + up.x * tall, y: base.y + up.y * tall },
  };
}
