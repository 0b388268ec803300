// What the effects cost (docs/performance.md, "Effects in the browser"): one headless Chromium
// on the pre-join screen, the fake camera showing a face at 640×360 (the data saver's size), each
// effect in turn for MEASURE_S seconds: frames made per second, the time one frame takes (and
// its stages), and the CPU the whole browser (every process) used, in % of one core, next to the
// time its threads waited for a CPU and the number of runnable processes, so a crowded machine
// shows. Not part of the test command:
//
//   cargo build -p salon-server && cd tests/browser && node effects-cost.js [seconds]

import fs from 'node:fs';
import os from 'node:os';
import { faceY4m, launchFaceBrowser } from './face-camera.js';
import { createRoomViaApi, newGuest, startServer, waitFor, withQuery } from './helpers.js';

const MEASURE_S = Number(process.argv[2] ?? 20);
const CASES = [
  { name: 'camera only (no effect)', pick: ['effect-none'] },
  { name: 'blur', pick: ['effect-blur'] },
  { name: 'replace (built-in picture)', pick: ['effect-bg-sunset'] },
  { name: 'glasses', pick: ['effect-none', 'effect-face-glasses'] },
  { name: 'party hat', pick: ['effect-face-hat'] },
  { name: 'blur + glasses', pick: ['effect-blur', 'effect-face-glasses'] },
];
const TICKS = 100; // USER_HZ on Linux

/**
 * Of `root` and all its descendants: CPU ticks (user + system) and the seconds their threads
 * waited in a run queue for a CPU (schedstat), which shows how crowded the machine was.
 */
function treeTicks(root) {
  const parent = new Map();
  const ticks = new Map();
  const waits = new Map();
  for (const pid of fs.readdirSync('/proc').filter((name) => /^\d+$/u.test(name))) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parent.set(Number(pid), Number(fields[1]));
      ticks.set(Number(pid), Number(fields[11]) + Number(fields[12]));
      let wait = 0;
      for (const task of fs.readdirSync(`/proc/${pid}/task`)) {
        wait += Number(fs.readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[1]) / 1e9;
      }
      waits.set(Number(pid), wait);
    } catch { /* gone */ }
  }
  let sum = 0;
  let waited = 0;
  for (const [pid, t] of ticks) {
    for (let p = pid; p > 1; p = parent.get(p) ?? 0) {
      if (p === root) {
        sum += t;
        waited += waits.get(pid) ?? 0;
        break;
      }
    }
  }
  return { ticks: sum, waited };
}

/** The browser's main process: the one whose command line names our camera file. */
function browserPid(y4m) {
  for (const pid of fs.readdirSync('/proc').filter((name) => /^\d+$/u.test(name))) {
    try {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmd.includes(y4m) && !cmd.includes('--type=')) return Number(pid);
    } catch { /* gone */ }
  }
  throw new Error('browser process not found');
}

const running = () => Number(/procs_running (\d+)/u.exec(fs.readFileSync('/proc/stat', 'utf8'))[1]);

const y4m = await faceY4m();
const server = await startServer();
const browser = await launchFaceBrowser(y4m);
const rows = [];
try {
  const room = await createRoomViaApi(server.url, 'Cost');
  const guest = await newGuest(browser, 'cost');
  await guest.context.addInitScript(() => localStorage.setItem('salon.effects.minFps', '0'));
  await guest.page.goto(withQuery(room.url, 'data-saver=1'));
  await waitFor(() => guest.page.evaluate(() => document.querySelector('#preview-video')?.videoWidth > 0), { message: 'the preview' });
  const pid = browserPid(y4m);
  await guest.page.getByTestId('effects').click();
  const state = () => guest.page.evaluate(() => window.salon.effects());
  for (const c of CASES) {
    for (const id of c.pick) await guest.page.getByTestId(id).click();
    const on = c.pick.some((id) => id !== 'effect-none');
    if (on) {
      await waitFor(async () => ((await state()).frames?.frames ?? 0) >= 3, { timeout: 120000, interval: 500, message: `${c.name} to run` });
    }
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const before = { at: Date.now(), ticks: treeTicks(pid), frames: (await state()).frames ?? { frames: 0, busy: 0 } };
    const stages = { segmentationMs: [], compositingMs: [], faceMeshMs: [] };
    const queue = [];
    const end = Date.now() + MEASURE_S * 1000;
    while (Date.now() < end) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      queue.push(running());
      const stats = (await state()).stats;
      if (stats) for (const key of Object.keys(stages)) stages[key].push(stats[key]);
    }
    const after = { at: Date.now(), ticks: treeTicks(pid), frames: (await state()).frames ?? { frames: 0, busy: 0 } };
    const seconds = (after.at - before.at) / 1000;
    const frames = after.frames.frames - before.frames.frames;
    const mean = (xs) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
    rows.push({
      effect: c.name,
      fps: on ? (frames / seconds).toFixed(1) : '–',
      frameMs: on && frames ? ((after.frames.busy - before.frames.busy) / frames).toFixed(0) : '–',
      segmentationMs: on ? mean(stages.segmentationMs).toFixed(0) : '–',
      faceMeshMs: on ? mean(stages.faceMeshMs).toFixed(0) : '–',
      cpu: `${(((after.ticks.ticks - before.ticks.ticks) / TICKS / seconds) * 100).toFixed(0)} %`,
      waited: ((after.ticks.waited - before.ticks.waited) / seconds).toFixed(2),
      runQueue: mean(queue).toFixed(1),
      load: os.loadavg()[0].toFixed(1),
      slowed: (await state()).slowed,
    });
    console.error(JSON.stringify(rows.at(-1)));
  }
} finally {
  await browser.close();
  await server.stop();
}
console.log(`${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), ${MEASURE_S} s per effect, 640×360, headless Chromium`);
console.log('| effect | frames/s | ms per frame | segmentation ms | face mesh ms | browser CPU (% of a core) | browser run-queue wait / s | runnable (mean) | load (1 min) |');
console.log('|---|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(`| ${r.effect} | ${r.fps} | ${r.frameMs} | ${r.segmentationMs} | ${r.faceMeshMs} | ${r.cpu} | ${r.waited} | ${r.runQueue} | ${r.load} |`);
}
