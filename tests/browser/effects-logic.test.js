// Unit tests of the effects' pure decisions (server/web/effects-logic.js), run in Node: no browser.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { repoRoot } from './helpers.js';

// Loaded as a module explicitly (server/web has no package.json); effects-logic.js imports nothing.
const source = fs.readFileSync(path.join(repoRoot, 'server', 'web', 'effects-logic.js'), 'utf8');
const {
  cleanChoice, faceGeometry, hatTriangle, isOff, judgeSpeed, modelsFor, parseChoice, processingSizes, SLOW,
} = await import(`data:text/javascript;base64,${Buffer.from(source).toString('base64')}`);

describe('effects: the choice', () => {
  it('keeps what is known and reads anything else as no effect', () => {
    assert.deepEqual(parseChoice('{"background":"blur","face":"hat"}'), { background: 'blur', face: 'hat' });
    assert.deepEqual(parseChoice('{"background":"image:sunset","face":"none"}'), { background: 'image:sunset', face: 'none' });
    assert.deepEqual(parseChoice('{"background":"own"}'), { background: 'own', face: 'none' });
    for (const junk of [null, '', 'nope', '[]', '{"background":"image:../../x","face":"<b>"}', '{"background":"http://x"}']) {
      assert.deepEqual(parseChoice(junk), { background: 'none', face: 'none' }, String(junk));
    }
    assert.deepEqual(cleanChoice({ background: 'blur', face: 'glasses', extra: 1 }), { background: 'blur', face: 'glasses' });
    assert.equal(isOff({ background: 'none', face: 'none' }), true);
    assert.equal(isOff({ background: 'none', face: 'hat' }), false);
  });

  it('loads only the models a choice needs', () => {
    assert.deepEqual(modelsFor({ background: 'blur', face: 'none' }), { segmentation: true, faceMesh: false });
    assert.deepEqual(modelsFor({ background: 'none', face: 'glasses' }), { segmentation: false, faceMesh: true });
    assert.deepEqual(modelsFor({ background: 'none', face: 'none' }), { segmentation: false, faceMesh: false });
  });
});

describe('effects: a slow device', () => {
  it('processes at the camera size (at most 1280 wide), then at half', () => {
    assert.deepEqual(processingSizes(640, 360), [{ width: 640, height: 360 }, { width: 320, height: 180 }]);
    assert.deepEqual(processingSizes(1920, 1080), [{ width: 1280, height: 720 }, { width: 640, height: 360 }]);
    assert.deepEqual(processingSizes(undefined, undefined), [{ width: 640, height: 360 }, { width: 320, height: 180 }]);
    for (const size of processingSizes(641, 479)) assert.ok(size.width % 2 === 0 && size.height % 2 === 0);
  });

  it('steps down, then off, only when the processing is the limit', () => {
    const levels = 2;
    assert.equal(judgeSpeed({ level: 0, levels, fps: 24, busyMs: 20 }), 'keep');
    assert.equal(judgeSpeed({ level: 0, levels, fps: 4, busyMs: 240 }), 'lower');
    assert.equal(judgeSpeed({ level: 1, levels, fps: 4, busyMs: 240 }), 'off');
    // A camera that gives few frames (dark room) is not a slow device: each frame was quick.
    assert.equal(judgeSpeed({ level: 0, levels, fps: 5, busyMs: 15 }), 'keep');
    assert.equal(judgeSpeed({ level: 1, levels, fps: 4, busyMs: 240 }, { ...SLOW, minFps: 0 }), 'keep');
  });
});

describe('effects: where the face props go', () => {
  // A face mesh with every landmark in the middle, then the ones we read placed on purpose.
  const landmarks = Array.from({ length: 468 }, () => ({ x: 0.5, y: 0.5, z: 0 }));
  const put = (i, x, y) => { landmarks[i] = { x: x / 640, y: y / 360, z: 0 }; };
  put(33, 240, 130); put(133, 270, 130); put(362, 300, 130); put(263, 330, 130);
  put(10, 285, 80); put(152, 285, 230); put(234, 220, 150); put(454, 350, 150); put(168, 285, 130);

  it('finds the eyes, the roll and the size of the face', () => {
    const face = faceGeometry(landmarks, 640, 360);
    const near = (a, b) => Math.abs(a - b) < 1e-6;
    assert.ok(near(face.left.x, 255) && near(face.left.y, 130), JSON.stringify(face.left));
    assert.ok(near(face.right.x, 315) && near(face.right.y, 130), JSON.stringify(face.right));
    assert.ok(near(face.eyes, 60) && near(face.angle, 0) && near(face.width, 130) && near(face.height, 150), JSON.stringify(face));
    assert.equal(faceGeometry(landmarks.slice(0, 10), 640, 360), null);
    assert.equal(faceGeometry(null, 640, 360), null);
  });

  it('puts the hat above the forehead, tilted with the head', () => {
    const face = faceGeometry(landmarks, 640, 360);
    const hat = hatTriangle(face);
    assert.ok(hat.tip.y < face.forehead.y - face.width, JSON.stringify(hat));
    assert.ok(Math.abs(hat.tip.x - face.forehead.x) < 1e-9);
    assert.ok(hat.a.x < face.forehead.x && hat.b.x > face.forehead.x);
    // Head rolled 90° to the right: the hat points right.
    const rolled = hatTriangle({ ...face, angle: Math.PI / 2 });
    assert.ok(rolled.tip.x > face.forehead.x + face.width, JSON.stringify(rolled));
  });
});
