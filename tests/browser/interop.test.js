// The native core and browsers in one room: salon-cli (the Rust core with openh264 and Opus)
// joins with a moving test pattern and a tone next to two headless Chromium guests. Each browser
// plays the core's video and hears its tone; the core decodes both browsers' H.264 at the size
// they send and receives their audio.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  createRoomViaApi, dumpLogs, expectReceiving, join, launchBrowser, newGuest, remoteTileIds,
  repoRoot, sampleMedia, startServer, waitFor,
} from './helpers.js';

const CLI_SECONDS = 40;

/** Runs `salon-cli join` and resolves with its JSON report when it exits. */
function runCli(link, name) {
  const bin = process.env.SALON_CLI_BIN ?? path.join(repoRoot, 'target', 'debug', 'salon-cli');
  if (!fs.existsSync(bin)) {
    throw new Error(`salon-cli not found at ${bin}: run \`cargo build -p salon-cli\` or set SALON_CLI_BIN`);
  }
  const child = spawn(bin, [
    'join', link, '--name', name, '--seconds', String(CLI_SECONDS),
    '--width', '320', '--height', '240', '--fps', '15', '--report', 'json',
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk) => { out += chunk; });
  child.stderr.on('data', (chunk) => { err += chunk; });
  const done = new Promise((resolve, reject) => {
    child.on('exit', (code) => {
      if (code !== 0) {
        reject(new Error(`salon-cli exited with ${code}: ${err.slice(-2000)}`));
        return;
      }
      try {
        resolve(JSON.parse(out));
      } catch (error) {
        reject(new Error(`salon-cli printed no JSON report (${error.message}): ${out.slice(0, 500)} ${err.slice(-1000)}`));
      }
    });
  });
  return { child, done };
}

describe('the native core and browsers in one room', () => {
  let server;
  let browser;
  let cli;
  const guests = [];

  before(async () => {
    server = await startServer();
    browser = await launchBrowser();
  });

  after(async () => {
    cli?.child.kill('SIGKILL');
    await browser?.close();
    await server?.stop();
  });

  it('browsers play the core\'s video and the core decodes theirs', async (t) => {
    t.after(() => { if (t.failed) dumpLogs(guests); });
    const room = await createRoomViaApi(server.url, 'Interop');
    cli = runCli(room.url, 'Core bot');
    // The core is in once the room counts one person.
    await waitFor(async () => (await (await fetch(`${server.url}/api/rooms/${room.id}`)).json()).participants === 1, {
      timeout: 15000, message: 'salon-cli to join',
    });

    const ada = await newGuest(browser, 'ada');
    const bo = await newGuest(browser, 'bo');
    guests.push(ada, bo);
    await join(ada, room.url, 'Ada');
    await join(bo, room.url, 'Bo');

    // Each browser has two remote tiles: the other browser and the core.
    const coreId = await waitFor(async () => {
      const ids = await remoteTileIds(ada.page);
      return ids.length === 2 ? ids.find((id) => id !== bo.id) : null;
    }, { timeout: 15000, message: 'Ada to see the core\'s tile' });
    assert.notEqual(coreId, ada.id);

    // Both browsers play the core's picture and hear its tone. The core sends its 320x240 test
    // pattern in two simulcast layers (160x120 and 320x240); each browser gets the one that fits
    // its tile (the server reads the layers' heights from their H.264 SPS).
    for (const guest of [ada, bo]) {
      const other = guest === ada ? bo.id : ada.id;
      const sample = await expectReceiving(guest, [coreId, other], { timeout: 25000 });
      assert.ok([160, 320].includes(sample[coreId].videoWidth),
        `${guest.label} plays the core's video at one of its layers: ${sample[coreId].videoWidth} px`);
      const stats = await guest.page.evaluate(() => window.salon.stats());
      assert.match(stats.inbound[coreId].video.codec, /H264/iu, 'the core sends H.264');
    }
    // The room is end-to-end encrypted (the link carries its secret): the browsers and the core
    // exchanged keys, and both browsers show the same safety code over the three of them.
    const code = await waitFor(async () => {
      const [a, b] = await Promise.all([ada, bo].map((g) => g.page.evaluate(() => window.salon.e2ee)));
      return a?.keyHolders === 3 && b?.keyHolders === 3 && a.code === b.code ? a.code : null;
    }, { timeout: 10000, message: 'the same safety code over three key holders on both pages' });

    // Pinned, the core's tile is large: Ada gets its full layer.
    await ada.page.locator(`[data-testid=tile][data-participant="${coreId}"] [data-testid=pin]`).click();
    await waitFor(async () => {
      const stats = await ada.page.evaluate(() => window.salon.stats());
      return stats.inbound[coreId]?.video?.frameHeight === 240;
    }, { timeout: 10000, message: 'Ada to decode the pinned core at 320x240' });
    await ada.page.locator(`[data-testid=tile][data-participant="${coreId}"] [data-testid=pin]`).click();

    // The sizes the browsers send: each of their simulcast layers, and what the other browser
    // decodes (the core, with no `view`, gets the top layer; the other browser the layer its
    // tile needs).
    const sizes = { [ada.id]: new Set(), [bo.id]: new Set() };
    const noteSizes = async () => {
      for (const [viewer, sender] of [[bo, ada], [ada, bo]]) {
        const stats = await viewer.page.evaluate(() => window.salon.stats());
        const video = stats.inbound[sender.id]?.video;
        if (video?.frameWidth) sizes[sender.id].add(`${video.frameWidth}x${video.frameHeight}`);
        const sent = await sender.page.evaluate(() => window.salon.stats());
        for (const layer of sent.outbound.video?.layers ?? []) {
          if (layer.frameWidth) sizes[sender.id].add(`${layer.frameWidth}x${layer.frameHeight}`);
        }
      }
    };
    await noteSizes();

    const report = await cli.done;
    await noteSizes();
    assert.equal(report.participant_id, coreId);
    // The core shows the same safety code, over the same three key holders (ADR 0003 §3).
    assert.ok(report.e2ee, `the core's report has no e2ee section: ${JSON.stringify(report)}`);
    assert.equal(report.e2ee.safety_code, code, `the core's safety code: ${JSON.stringify(report.e2ee)}`);
    assert.equal(report.e2ee.key_holders, 3);
    for (const guest of [ada, bo]) {
      const remote = report.remote.find((r) => r.participant_id === guest.id);
      assert.ok(remote, `the core's report names ${guest.label}: ${JSON.stringify(report)}`);
      assert.match(remote.video_codec, /h264/iu, `${guest.label} sends H.264 to the core`);
      assert.ok(remote.frames_decoded > 30, `the core decoded ${guest.label}'s video: ${JSON.stringify(remote)}`);
      assert.ok(
        sizes[guest.id].has(`${remote.width}x${remote.height}`),
        `the core decodes ${guest.label} at the size sent (${remote.width}x${remote.height}; the other browser saw ${[...sizes[guest.id]]})`,
      );
      assert.ok(remote.audio_packets > 100 && remote.audio_frames_decoded > 100, `audio from ${guest.label}: ${JSON.stringify(remote)}`);
    }
    assert.ok(report.sent_video_frames > 100, `the core sent video: ${JSON.stringify(report)}`);
    // The core left on its own: its tile goes away.
    await waitFor(async () => !(await sampleMedia(ada.page))[coreId], { timeout: 10000, message: 'the core\'s tile to go' });
  });
});
