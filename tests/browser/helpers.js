// Shared pieces of the browser end-to-end tests: the real salon-server in a child process, one
// headless Chromium, guests (one browser context each), and pollers instead of sleeps.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '..', '..');
export const shotsDir = process.env.SALON_SHOTS_DIR ?? '/tmp/salon-shots';

const SERVER_START_TIMEOUT_MS = 30000;

/**
 * Polls `fn` until it returns a truthy value (which is returned). Throws after `timeout` ms with
 * `message` and the last value or error seen, so a failure says what was observed.
 */
export async function waitFor(fn, { timeout = 10000, interval = 200, message = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (error) {
      last = error;
    }
    if (Date.now() >= deadline) {
      const seen = last instanceof Error ? `${last.name}: ${last.message}` : JSON.stringify(last);
      throw new Error(`timed out after ${timeout} ms waiting for ${message}; last seen: ${seen}`);
    }
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}

/**
 * Starts salon-server on 127.0.0.1 with a fresh data folder (or the given one) and resolves once
 * it prints its URL. `port` 0 lets the OS choose; `args` are more flags (e.g. cluster mode's);
 * `log` the server's log filter (default `warn`, or $SALON_TEST_LOG).
 */
export async function startServer({ port = 0, dataDir = null, args = [], host = '127.0.0.1', log: filter = null } = {}) {
  if (process.env.SALON_TEST_URL) {
    // Development aid: test against a server that is already running (it is not stopped).
    return { url: process.env.SALON_TEST_URL.replace(/\/$/u, ''), external: true, stop: async () => {}, logTail: () => '' };
  }
  const bin = process.env.SALON_SERVER_BIN ?? path.join(repoRoot, 'target', 'debug', 'salon-server');
  if (!fs.existsSync(bin)) {
    throw new Error(`salon-server binary not found at ${bin}: run \`cargo build -p salon-server\` or set SALON_SERVER_BIN`);
  }
  const dir = dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'salon-e2e-'));
  const logPath = path.join(dir, 'server.log');
  const log = fs.createWriteStream(logPath, { flags: 'a' });
  const child = spawn(bin, [
    '--bind', `${host}:${port}`,
    '--data-dir', dir,
    '--udp-port', '0',
    '--log', process.env.SALON_TEST_LOG ?? filter ?? 'warn',
    ...args,
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stderr.pipe(log);
  // Never leave a server behind when the test process ends early.
  const reap = () => child.kill('SIGKILL');
  process.once('exit', reap);
  child.once('exit', () => process.removeListener('exit', reap));

  const url = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`salon-server did not print "salon-server listening on …" within ${SERVER_START_TIMEOUT_MS / 1000} s; stdout so far: ${JSON.stringify(out)}; log: ${logPath}`));
    }, SERVER_START_TIMEOUT_MS);
    child.stdout.on('data', (chunk) => {
      out += chunk;
      log.write(chunk);
      const match = /salon-server listening on (http:\/\/\S+)/u.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(match[1].replace(/\/$/u, ''));
      }
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`salon-server exited (${code ?? signal}) before listening; log: ${logPath}\n${tail(logPath)}`));
    });
  });

  return {
    url,
    dataDir: dir,
    logPath,
    port: Number(new URL(url).port),
    /** The last lines the server logged (for failure reports). */
    logTail: (lines = 30) => tail(logPath, lines),
    /**
     * Stops the server (SIGTERM, then SIGKILL if it lingers) and removes its data folder unless
     * `keepData` (to restart on it) or SALON_KEEP_DATA is set.
     */
    async stop({ signal = 'SIGTERM', keepData = false } = {}) {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill(signal);
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      log.end();
      if (!keepData && !process.env.SALON_KEEP_DATA) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

function tail(file, lines = 20) {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/**
 * A server on a network namespace's neighbour address (`ns.host`, its media there too) and two
 * browsers: `outside` on this machine and `inside` in the namespace (netns.js). `close()` ends
 * the three (the namespace is the caller's).
 */
export async function serveNamespace(ns, { log = null } = {}) {
  const server = await startServer({ host: ns.host, args: ['--media-ip', ns.host], log });
  const secure = `--unsafely-treat-insecure-origin-as-secure=${server.url}`;
  const browsers = [];
  const close = async () => {
    for (const b of browsers) await b.close().catch(() => {});
    await server.stop();
  };
  try {
    browsers.push(await launchBrowser({ args: [secure] }));
    browsers.push(await launchBrowser({ executablePath: ns.launcher, args: [secure] }));
  } catch (error) {
    await close();
    throw error;
  }
  return { server, outside: browsers[0], inside: browsers[1], close };
}

/**
 * Launches Chromium. `executablePath` runs another launcher (e.g. one that enters a network
 * namespace, see netns.js); `args` are added to the usual flags.
 */
export async function launchBrowser({ executablePath = null, args = [] } = {}) {
  return chromium.launch({
    executablePath: executablePath ?? process.env.CHROMIUM_BIN ?? '/usr/bin/chromium',
    args: [
      ...args,
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--disable-background-networking',
      '--use-fake-device-for-media-stream',
      '--use-fake-ui-for-media-stream',
      '--autoplay-policy=no-user-gesture-required',
    ],
  });
}

export const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 };

/**
 * A guest: a fresh browser context and page. `denyCamera` makes every getUserMedia call that asks
 * for video fail with NotAllowedError, as when the user blocks the camera.
 */
export async function newGuest(browser, label, { denyCamera = false, ...contextOptions } = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, ...contextOptions });
  if (denyCamera) {
    await context.addInitScript(() => {
      const devices = navigator.mediaDevices;
      const original = devices.getUserMedia.bind(devices);
      // A test may set window.testAllowCamera = true later, as if the user changed their mind.
      devices.getUserMedia = (constraints) => (constraints && constraints.video && !window.testAllowCamera
        ? Promise.reject(new DOMException('Permission denied', 'NotAllowedError'))
        : original(constraints));
    });
  }
  const page = await context.newPage();
  const logs = [];
  page.on('console', (message) => logs.push(`[${label}] ${message.type()}: ${message.text()}`));
  page.on('pageerror', (error) => logs.push(`[${label}] pageerror: ${error.message}`));
  return { label, context, page, logs };
}

/**
 * Opens a room link (unless `url` is null: the page is already open), types a name and presses
 * Join; resolves once the page says "joined".
 */
export async function join(guest, url, name) {
  const { page } = guest;
  if (url) await page.goto(url);
  await page.getByTestId('join-name').fill(name);
  await page.getByTestId('join-submit').click();
  await waitFor(() => page.evaluate(() => window.salon?.state === 'joined'), {
    timeout: 15000,
    message: `${guest.label} to join`,
  });
  guest.id = await page.evaluate(() => window.salon.participantId);
  return guest.id;
}

/** The participant ids of the remote tiles on a page, sorted. */
export function remoteTileIds(page) {
  return page.$$eval('[data-testid=tile]', (tiles) => tiles.map((t) => t.dataset.participant).sort());
}

/** One sample of what a page plays: per remote tile, its video element and WebRTC stats. */
export function sampleMedia(page) {
  return page.evaluate(async () => {
    const stats = (await window.salon.stats()) ?? { inbound: {} };
    const tiles = {};
    for (const tile of document.querySelectorAll('[data-testid=tile]')) {
      const video = tile.querySelector('video');
      const id = tile.dataset.participant;
      const inbound = stats.inbound[id] ?? {};
      tiles[id] = {
        videoWidth: video.videoWidth,
        frames: video.getVideoPlaybackQuality().totalVideoFrames,
        paused: video.paused,
        framesDecoded: inbound.video?.framesDecoded ?? 0,
        audioPackets: inbound.audio?.packetsReceived ?? 0,
        audioEnergy: inbound.audio?.totalAudioEnergy ?? 0,
        camera: tile.dataset.video,
        mic: tile.dataset.audio,
      };
    }
    return tiles;
  });
}

/**
 * Waits until, on `guest`'s page, each id in `ids` has a tile whose video plays (width > 0 and
 * frames keep coming) unless `videoOff` lists it, and whose audio arrives with energy (unless
 * `audio` is false).
 */
export async function expectReceiving(guest, ids, { videoOff = [], audio: checkAudio = true, timeout = 20000 } = {}) {
  const first = await waitFor(async () => {
    const sample = await sampleMedia(guest.page);
    return ids.every((id) => sample[id]) ? sample : null;
  }, { timeout, message: `${guest.label} to have tiles for ${ids.join(', ')}` });
  let last = first;
  await waitFor(async () => {
    last = await sampleMedia(guest.page);
    return ids.every((id) => {
      const now = last[id];
      const before = first[id];
      if (!now) return false;
      const audio = !checkAudio || (now.audioPackets > before.audioPackets && now.audioEnergy > 0);
      if (videoOff.includes(id)) return audio;
      const video = now.videoWidth > 0 && !now.paused
        && now.frames > before.frames && now.framesDecoded > before.framesDecoded;
      return audio && video;
    });
  }, {
    timeout,
    interval: 500,
    message: `${guest.label} to receive playing video and audio from ${ids.join(', ')} (first: ${JSON.stringify(first)})`,
  }).catch((error) => {
    explain(error, `\nlast sample: ${JSON.stringify(last)}`);
    throw error;
  });
  return last;
}

/** True when the page can scroll sideways (it must not, on a phone). */
export function scrollsSideways(page) {
  return page.evaluate(() => document.documentElement.scrollWidth > document.documentElement.clientWidth + 1
    || document.body.scrollWidth > document.documentElement.clientWidth + 1);
}

export async function screenshot(page, name) {
  fs.mkdirSync(shotsDir, { recursive: true });
  await page.screenshot({ path: path.join(shotsDir, `${name}.png`) });
}

/**
 * Creates a room through the HTTP API (for tests that are not about the landing page), end-to-end
 * encrypted as the landing page makes them: `e2ee: true` to the server, and a fresh room secret
 * that only the link's fragment carries (`url` is the whole link, `#k=…` included; `secret` the
 * 43 characters). `{e2ee: false}` makes a legacy room (for salon-bench participants, which do
 * not encrypt).
 */
export async function createRoomViaApi(base, name, { e2ee = true } = {}) {
  const body = name ? { name } : {};
  if (e2ee) body.e2ee = true;
  const response = await fetch(`${base}/api/rooms`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (response.status !== 201) throw new Error(`POST /api/rooms answered ${response.status}`);
  const room = await response.json();
  if (!e2ee) return room;
  const secret = crypto.randomBytes(32).toString('base64url');
  return { ...room, secret, plainUrl: room.url, url: `${room.url}#k=${secret}` };
}

/** `url` with `query` (e.g. "data-saver=1") added in front of its fragment. */
export function withQuery(url, query) {
  const [head, ...fragment] = url.split('#');
  const joined = `${head}${head.includes('?') ? '&' : '?'}${query}`;
  return fragment.length ? `${joined}#${fragment.join('#')}` : joined;
}

/**
 * Adds `text` to a test failure's message so the report shows it. Node prints an error's stack,
 * which an assertion error has already formatted from its first message: the stack is updated too.
 */
export function explain(error, text) {
  if (!(error instanceof Error)) return error;
  const before = error.message;
  error.message += text;
  if (typeof error.stack === 'string' && error.stack.includes(before)) {
    error.stack = error.stack.replace(before, error.message);
  }
  return error;
}

/** Prints the pages' console output and the server's last log lines after a failed test. */
export function dumpLogs(guests, server = null) {
  for (const guest of guests) {
    if (guest?.logs?.length) console.log(guest.logs.slice(-40).join('\n'));
  }
  if (server?.logTail) console.log(`--- server log (${server.logPath}) ---\n${server.logTail()}`);
}

/** Waits until `page` shows exactly the remote tiles `ids` (in any order). */
export function expectTiles(guest, ids, timeout = 15000) {
  return waitFor(async () => {
    const tiles = await remoteTileIds(guest.page);
    return JSON.stringify(tiles) === JSON.stringify([...ids].sort());
  }, { timeout, message: `${guest.label} to show exactly the tiles ${JSON.stringify(ids)}` });
}

/**
 * Polls `fn` for `ms` milliseconds and fails as soon as it returns something falsy: for "this
 * must not happen" checks (no reconnect after removal, no packets during panic).
 */
export async function staysTrue(fn, ms, message) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const value = await fn();
    if (!value) throw new Error(`expected ${message} to hold for ${ms} ms; it stopped holding (${JSON.stringify(value)})`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/**
 * A room whose owner is a fresh browser context: the room is created through the API and its
 * host key put in that context's local storage (as the landing page does), then the owner joins.
 */
export async function ownedRoom(browser, server, { roomName = 'Host test', name = 'Hana Host', label = 'host' } = {}) {
  const room = await createRoomViaApi(server.url, roomName);
  const host = await newGuest(browser, label);
  await host.page.goto(`${server.url}/`);
  await host.page.evaluate(([id, key, secret]) => {
    localStorage.setItem(`salon.host.${id}`, key);
    if (secret) localStorage.setItem(`salon.secret.${id}`, secret);
  }, [room.id, room.host_key, room.secret]);
  await join(host, room.url, name);
  await waitFor(() => host.page.evaluate(() => window.salon.role === 'owner'), { message: `${label} to be the owner` });
  return { room, host };
}

/** Opens the link and presses Join in a locked room; resolves once the page waits in the lobby. */
export async function knock(guest, url, name) {
  const { page } = guest;
  if (url) await page.goto(url);
  if (name) await page.getByTestId('join-name').fill(name);
  await page.getByTestId('join-submit').click();
  await page.getByTestId('lobby-wait').waitFor({ state: 'visible', timeout: 15000 });
  assert.equal(await page.evaluate(() => window.salon.state), 'waiting');
}

/** Presses Join and waits for the page to show the given fatal notice (e.g. removed-notice). */
export async function joinRefused(guest, url, name, testid) {
  const { page } = guest;
  if (url) await page.goto(url);
  if (name) await page.getByTestId('join-name').fill(name);
  await page.getByTestId('join-submit').click();
  await page.getByTestId(testid).waitFor({ state: 'visible', timeout: 15000 });
}

/** Opens the host panel (invite link, new link, end, ban list) if it is closed. */
export async function openHostTools(page) {
  if (await page.getByTestId('host-panel').isVisible()) return;
  await page.getByTestId('host-tools').click();
  await page.getByTestId('host-panel').waitFor({ state: 'visible' });
}

/** The tile of participant `id` on `page`. */
export function tileOf(page, id) {
  return page.locator(`[data-testid=tile][data-participant="${id}"]`);
}

/** Opens the host menu on `id`'s tile and clicks the action `testid` (remove, mute, …). */
export async function tileAction(page, id, testid) {
  await tileOf(page, id).getByTestId('participant-menu').click();
  await page.getByTestId(testid).click();
}

/**
 * A bare signaling socket from Node (no browser): a minimal RFC 6455 client over node:http, since
 * Node 20 has no WebSocket without a flag and the tests have no dependency but playwright-core.
 * `headers` go with the upgrade request (X-Forwarded-For, for a server started behind a proxy).
 * Text frames are parsed as JSON into `inbox`; `next(pred)` takes the first match out of it.
 */
export function rawSocket(url, { headers = {}, timeout = 10000 } = {}) {
  const target = new URL(url.replace(/^http/u, 'ws'));
  return new Promise((resolve, reject) => {
    const request = http.request({
      host: target.hostname,
      port: target.port,
      path: `${target.pathname}${target.search}`,
      headers: {
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': crypto.randomBytes(16).toString('base64'),
        ...headers,
      },
      timeout,
    });
    request.on('response', (response) => reject(new Error(`${url}: no upgrade, HTTP ${response.statusCode}`)));
    request.on('timeout', () => request.destroy(new Error(`${url}: upgrade timed out`)));
    request.on('error', reject);
    request.on('upgrade', (_response, socket, head) => resolve(wrapSocket(socket, head)));
    request.end();
  });
}

function wrapSocket(socket, head) {
  const inbox = [];
  let buffer = Buffer.from(head);
  let fragments = [];
  let closed = false;
  const closedPromise = new Promise((resolve) => socket.once('close', () => { closed = true; resolve(); }));
  socket.on('error', () => {});

  const frame = (opcode, payload) => {
    const mask = crypto.randomBytes(4);
    const length = payload.length;
    const header = length < 126 ? Buffer.alloc(2) : Buffer.alloc(length < 65536 ? 4 : 10);
    header[0] = 0x80 | opcode;
    if (length < 126) {
      header[1] = 0x80 | length;
    } else if (length < 65536) {
      header[1] = 0x80 | 126;
      header.writeUInt16BE(length, 2);
    } else {
      header[1] = 0x80 | 127;
      header.writeBigUInt64BE(BigInt(length), 2);
    }
    const body = Buffer.from(payload);
    for (let i = 0; i < body.length; i += 1) body[i] ^= mask[i % 4];
    if (!closed) socket.write(Buffer.concat([header, mask, body]));
  };

  const parse = () => {
    for (;;) {
      if (buffer.length < 2) return;
      const fin = (buffer[0] & 0x80) !== 0;
      const opcode = buffer[0] & 0x0f;
      let length = buffer[1] & 0x7f;
      let at = 2;
      if (length === 126) {
        if (buffer.length < 4) return;
        length = buffer.readUInt16BE(2);
        at = 4;
      } else if (length === 127) {
        if (buffer.length < 10) return;
        length = Number(buffer.readBigUInt64BE(2));
        at = 10;
      }
      const masked = (buffer[1] & 0x80) !== 0;
      const maskAt = at;
      if (masked) at += 4;
      if (buffer.length < at + length) return;
      const payload = Buffer.from(buffer.subarray(at, at + length));
      if (masked) for (let i = 0; i < payload.length; i += 1) payload[i] ^= buffer[maskAt + (i % 4)];
      buffer = buffer.subarray(at + length);
      if (opcode === 0x9) {
        frame(0xa, payload);
      } else if (opcode === 0x8) {
        frame(0x8, payload.subarray(0, 2));
        socket.end();
      } else if (opcode === 0x1 || opcode === 0x0) {
        fragments.push(payload);
        if (fin) {
          const text = Buffer.concat(fragments).toString('utf8');
          fragments = [];
          try {
            inbox.push(JSON.parse(text));
          } catch {
            inbox.push({ type: 'unparsed', text });
          }
        }
      }
    }
  };
  socket.on('data', (chunk) => {
    buffer = Buffer.concat([buffer, chunk]);
    parse();
  });
  parse();

  return {
    inbox,
    get closed() { return closed; },
    /** Resolves once the server closed the connection. */
    whenClosed: closedPromise,
    send(message) { frame(0x1, Buffer.from(JSON.stringify(message))); },
    /** The first message (in order) matching `pred`, taken out of the inbox; waits up to `ms`. */
    next(pred, ms = 10000) {
      return waitFor(() => {
        const index = inbox.findIndex(pred);
        return index >= 0 ? inbox.splice(index, 1)[0] : null;
      }, { timeout: ms, interval: 50, message: 'a matching message' }).catch((error) => {
        explain(error, `; inbox: ${JSON.stringify(inbox.map((m) => m.code ?? m.type))}, closed: ${closed}`);
        throw error;
      });
    },
    close() {
      if (!closed) {
        frame(0x8, Buffer.from([0x03, 0xe8]));
        socket.end();
      }
    },
  };
}
