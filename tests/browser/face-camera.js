// A fake camera with a face, for the effects' tests and cost runs: Chromium's own fake camera
// shows no face, so the face mesh would find nothing. The picture (fixtures/README.md: a NASA
// photograph in the public domain) is turned into a one-frame Y4M (I420), which Chromium loops
// with --use-file-for-fake-video-capture.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const FACE_PICTURE = path.join(here, 'fixtures', 'astronaut-640x360.jpg');

/**
 * Writes `<dir>/face-640x360.y4m` from the fixture (decoded by Chromium itself: no image library
 * needed) and resolves to its path.
 */
export async function faceY4m(dir = fs.mkdtempSync(path.join(os.tmpdir(), 'salon-face-'))) {
  const out = path.join(dir, 'face-640x360.y4m');
  if (fs.existsSync(out)) return out;
  const jpeg = fs.readFileSync(FACE_PICTURE).toString('base64');
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_BIN ?? '/usr/bin/chromium', args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage();
    const rgba = await page.evaluate(async (data) => {
      const image = new Image();
      image.src = `data:image/jpeg;base64,${data}`;
      await image.decode();
      const canvas = document.createElement('canvas');
      canvas.width = 640;
      canvas.height = 360;
      const g = canvas.getContext('2d');
      g.drawImage(image, 0, 0, 640, 360);
      return Array.from(g.getImageData(0, 0, 640, 360).data);
    }, jpeg);
    fs.writeFileSync(out, Buffer.concat([Buffer.from('YUV4MPEG2 W640 H360 F20:1 Ip A1:1 C420jpeg\nFRAME\n'), i420(rgba, 640, 360)]));
  } finally {
    await browser.close();
  }
  return out;
}

/** RGBA → I420 (BT.601, full range, as C420jpeg says), chroma averaged over 2×2 pixels. */
function i420(rgba, w, h) {
  const y = Buffer.alloc(w * h);
  const u = Buffer.alloc((w / 2) * (h / 2));
  const v = Buffer.alloc((w / 2) * (h / 2));
  const clamp = (x) => Math.max(0, Math.min(255, Math.round(x)));
  for (let j = 0; j < h; j += 1) {
    for (let i = 0; i < w; i += 1) {
      const k = (j * w + i) * 4;
      y[j * w + i] = clamp(0.299 * rgba[k] + 0.587 * rgba[k + 1] + 0.114 * rgba[k + 2]);
    }
  }
  for (let j = 0; j < h / 2; j += 1) {
    for (let i = 0; i < w / 2; i += 1) {
      let r = 0;
      let g = 0;
      let b = 0;
      for (const [dx, dy] of [[0, 0], [1, 0], [0, 1], [1, 1]]) {
        const k = ((j * 2 + dy) * w + i * 2 + dx) * 4;
        r += rgba[k] / 4;
        g += rgba[k + 1] / 4;
        b += rgba[k + 2] / 4;
      }
      u[j * (w / 2) + i] = clamp(128 - 0.168736 * r - 0.331264 * g + 0.5 * b);
      v[j * (w / 2) + i] = clamp(128 + 0.5 * r - 0.418688 * g - 0.081312 * b);
    }
  }
  return Buffer.concat([y, u, v]);
}

/** Launches headless Chromium whose fake camera shows the face (and the fake microphone beeps). */
export async function launchFaceBrowser(y4m) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_BIN ?? '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--disable-background-networking',
      '--use-fake-device-for-media-stream',
      '--use-fake-ui-for-media-stream',
      `--use-file-for-fake-video-capture=${y4m}`,
      '--autoplay-policy=no-user-gesture-required',
    ],
  });
}

// --- measuring what a page shows ------------------------------------------------------------

/** Per region: the mean colour of each cell of a 6×6 grid, and the mean luminance gradient. */
export function measureInPage([source, regions]) {
  const canvas = document.createElement('canvas');
  canvas.width = 640;
  canvas.height = 360;
  const g = canvas.getContext('2d', { willReadFrequently: true });
  g.drawImage(source, 0, 0, 640, 360);
  const out = {};
  for (const [name, r] of Object.entries(regions)) {
    const x = Math.max(0, Math.round(r.x));
    const y = Math.max(0, Math.round(r.y));
    const w = Math.min(640 - x, Math.round(r.w));
    const h = Math.min(360 - y, Math.round(r.h));
    const { data } = g.getImageData(x, y, w, h);
    const lum = (i, j) => {
      const k = (j * w + i) * 4;
      return 0.299 * data[k] + 0.587 * data[k + 1] + 0.114 * data[k + 2];
    };
    let grad = 0;
    for (let j = 0; j < h - 1; j += 1) {
      for (let i = 0; i < w - 1; i += 1) grad += Math.abs(lum(i + 1, j) - lum(i, j)) + Math.abs(lum(i, j + 1) - lum(i, j));
    }
    const cells = [];
    for (let cy = 0; cy < 6; cy += 1) {
      for (let cx = 0; cx < 6; cx += 1) {
        const sum = [0, 0, 0];
        let n = 0;
        for (let j = Math.floor((cy * h) / 6); j < Math.floor(((cy + 1) * h) / 6); j += 1) {
          for (let i = Math.floor((cx * w) / 6); i < Math.floor(((cx + 1) * w) / 6); i += 1) {
            const k = (j * w + i) * 4;
            sum[0] += data[k];
            sum[1] += data[k + 1];
            sum[2] += data[k + 2];
            n += 1;
          }
        }
        cells.push(sum.map((v) => v / Math.max(1, n)));
      }
    }
    const meanLum = cells.reduce((a, c) => a + 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2], 0) / cells.length;
    out[name] = { grad: grad / Math.max(1, (w - 1) * (h - 1)), cells, lum: meanLum };
  }
  return out;
}

/** Mean absolute colour difference (0..255) between two measurements of one region. */
export function colourDiff(a, b) {
  let sum = 0;
  a.cells.forEach((cell, i) => { sum += cell.reduce((s, v, c) => s + Math.abs(v - b.cells[i][c]), 0) / 3; });
  return sum / a.cells.length;
}

/** Regions of the 640×360 frame, from where the face mesh found the eyes and forehead. */
export function regionsFor(face) {
  const eyes = face.right.x - face.left.x;
  return {
    // The flag at the left edge: stripes and stars, lots of detail (background).
    background: { x: 0, y: 40, w: 110, h: 300 },
    eyes: { x: face.left.x - eyes * 0.45, y: face.left.y - eyes * 0.3, w: eyes * 1.9, h: eyes * 0.6 },
    mouth: { x: face.left.x + eyes * 0.1, y: face.left.y + eyes * 1.1, w: eyes * 0.8, h: eyes * 0.45 },
    aboveHead: { x: face.forehead.x - eyes * 0.5, y: face.forehead.y - eyes * 1.5, w: eyes, h: eyes * 0.9 },
  };
}

/** A w×h BMP of one colour (a picture for "Your picture…" without an image library). */
export function bmp(w, h, [r, g, b]) {
  const row = Math.ceil((w * 3) / 4) * 4;
  const buffer = Buffer.alloc(54 + row * h);
  buffer.write('BM', 0);
  buffer.writeUInt32LE(buffer.length, 2);
  buffer.writeUInt32LE(54, 10);
  buffer.writeUInt32LE(40, 14);
  buffer.writeInt32LE(w, 18);
  buffer.writeInt32LE(h, 22);
  buffer.writeUInt16LE(1, 26);
  buffer.writeUInt16LE(24, 28);
  buffer.writeUInt32LE(row * h, 34);
  for (let y = 0; y < h; y += 1) {
    for (let x = 0; x < w; x += 1) buffer.set([b, g, r], 54 + y * row + x * 3);
  }
  return buffer;
}
