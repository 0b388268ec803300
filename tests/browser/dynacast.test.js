// Dynacast with the real guest page: a browser publishes its 720p camera in three simulcast
// layers (rids q, h, f: 180, 360 and 720 lines), and pauses the layers nobody needs when the
// server says so (`video_layers`, docs/protocol.md "Layers nobody needs").
//
// Ada publishes; Bo shows her in his grid; three signaling-only participants (page-client.js)
// fill Bo's grid to five tiles, so Ada is a thumbnail there, and ask for Ada at exact sizes.
//
// Checked: (a) before any `video_layers` the page sends all three layers, ¼, ½ and full size of
// a 720p capture, each flowing at about 180, 360 and 720 lines while views need all three; (b)
// once only Bo's small thumbnail shows her, after the server's ~5 s the page turns h and f off
// (their encodings inactive and their bytes stop), q goes on and Bo keeps playing her; (c) Bo
// makes his window large and pins her: f comes back at once and Bo decodes her top layer, taller
// than the thumbnail. Also: the data saver (a pre-join setting, or `?data-saver=1`) captures
// 360p and publishes two layers, q and f.
//
// The server picks layers by their real heights (a tile gets the smallest layer at least 0.8 ×
// its height), and Chromium shrinks all layers when the machine is busy (qualityLimitationReason
// 'cpu'): so Bo's thumbnail is kept tiny (a 640×360 window), and heights are checked as ratios
// of each other beyond "the top layer is at least 360 lines".

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import {
  createRoomViaApi, dumpLogs, join, withQuery, launchBrowser, newGuest, startServer, waitFor,
  explain,
} from './helpers.js';
import { signalingClient } from './page-client.js';

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** Ada's camera layers now, by rid: {active, frameHeight, framesEncoded, bytesSent}. */
async function sentLayers(page) {
  return page.evaluate(async () => {
    const stats = await window.salon.stats();
    const active = Object.fromEntries((window.salon.videoEncodings() ?? []).map((e) => [e.rid, e.active]));
    const out = {};
    for (const layer of stats?.outbound.video?.layers ?? []) {
      out[layer.rid] = {
        active: active[layer.rid], frameHeight: layer.frameHeight, framesEncoded: layer.framesEncoded, bytesSent: layer.bytesSent,
      };
    }
    return out;
  });
}

/** What each layer sent over `ms`: {rid: {active, frameHeight, frames, bytes}}. */
async function sentOver(page, ms) {
  const first = await sentLayers(page);
  await new Promise((resolve) => setTimeout(resolve, ms));
  const last = await sentLayers(page);
  return Object.fromEntries(Object.entries(last).map(([rid, now]) => [rid, {
    active: now.active,
    frameHeight: now.frameHeight,
    frames: now.framesEncoded - (first[rid]?.framesEncoded ?? 0),
    bytes: now.bytesSent - (first[rid]?.bytesSent ?? 0),
  }]));
}

/** The video `guest` decodes from `id`: {frameHeight, framesDecoded}. */
async function decoded(guest, id) {
  const stats = await guest.page.evaluate(() => window.salon.stats());
  return stats?.inbound[id]?.video ?? { frameHeight: 0, framesDecoded: 0 };
}

describe('dynacast: three layers from the guest page, paused while nobody needs them', () => {
  it('sends q/h/f, turns h and f off for a lone thumbnail, and brings f back for a pin', { timeout: 150000 }, async (t) => {
    const room = await createRoomViaApi(server.url, 'Dynacast');
    const wsUrl = `${server.url.replace(/^http/u, 'ws')}/api/rooms/${room.id}/ws`;
    const ada = await newGuest(browser, 'ada');
    const bo = await newGuest(browser, 'bo', { viewport: { width: 640, height: 360 } });
    const fillers = [];
    t.after(async () => {
      for (const c of [ada, bo]) await c.context.close();
      for (const c of fillers) await c.page.context().close();
    });
    try {
      await join(ada, room.url, 'Ada');
      // Before any `video_layers`: three encodings, all active, lowest first.
      const encodings = await ada.page.evaluate(() => window.salon.videoEncodings());
      assert.deepEqual(encodings.map((e) => [e.rid, e.scaleResolutionDownBy, e.active]),
        [['q', 4, true], ['h', 2, true], ['f', 1, true]], JSON.stringify(encodings));
      assert.ok(encodings.every((e, i) => i === 0 || e.maxBitrate > encodings[i - 1].maxBitrate), JSON.stringify(encodings));
      assert.equal(await ada.page.evaluate(() => window.salon.dataSaver), false);
      assert.equal(await ada.page.evaluate(() => document.querySelector('#preview-video').srcObject
        .getVideoTracks()[0].getSettings().height), 720, 'a 720p capture');

      await join(bo, room.url, 'Bo');
      for (const name of ['Filler 1', 'Filler 2', 'Filler 3']) {
        fillers.push(await signalingClient(browser, server, wsUrl, name, 'none', { secret: room.secret }));
      }
      // (a) The fillers ask for Ada at each layer's size: all three are needed and sent.
      const sizes = [[1280, 720, 'large'], [640, 360, 'thumbnail'], [320, 180, 'thumbnail']];
      for (const [i, filler] of fillers.entries()) {
        const [width, height, size] = sizes[i];
        await filler.page.evaluate((tiles) => window.sc.view(tiles), [{ participant_id: ada.id, size, width, height }]);
      }
      let seen = null;
      const threeAt = Date.now();
      const about = (a, b) => Math.abs(a - b) <= 0.15 * b;
      await waitFor(async () => {
        seen = await sentOver(ada.page, 1000);
        const { q, h, f } = seen;
        return q && h && f && q.frames > 0 && h.frames > 0 && f.frames > 0
          && f.frameHeight >= 360 && f.frameHeight <= 720
          && about(h.frameHeight, f.frameHeight / 2) && about(q.frameHeight, f.frameHeight / 4);
      }, { timeout: 60000, interval: 500, message: 'Ada to send q, h and f at ¼, ½ and all of 720 lines' }).catch((error) => {
        explain(error, `: ${JSON.stringify(seen)}`);
        throw error;
      });
      t.diagnostic(`three layers after ${Date.now() - threeAt} ms: ${JSON.stringify(seen)}`);

      // Bo's grid holds five tiles: Ada is a thumbnail, small enough for the lowest layer.
      const boView = await waitFor(async () => {
        const view = await bo.page.evaluate(() => window.salon.view);
        const tile = view?.tiles.find((x) => x.participant_id === ada.id);
        return tile?.size === 'thumbnail' && tile.height <= seen.q.frameHeight ? tile : null;
      }, { timeout: 15000, message: `Bo to show Ada as a thumbnail of at most ${seen.q.frameHeight} lines` });

      // (b) Only Bo's thumbnail shows Ada now: after the server's 5 s, h and f go off.
      for (const filler of fillers) await filler.page.evaluate(() => window.sc.view([]));
      const quietAt = Date.now();
      await waitFor(async () => {
        const state = await ada.page.evaluate(() => ({
          layers: window.salon.videoLayers, active: window.salon.videoEncodings().map((e) => e.active),
        }));
        return JSON.stringify(state.layers) === '["q"]' && JSON.stringify(state.active) === '[true,false,false]';
      }, { timeout: 15000, interval: 250, message: 'Ada to keep only q (video_layers ["q"], encodings q on, h and f off)' });
      const offAfter = Date.now() - quietAt;
      t.diagnostic(`h and f off ${offAfter} ms after the last other view of them (Bo's tile: ${JSON.stringify(boView)})`);
      assert.ok(offAfter >= 3000, `layers went off after ${offAfter} ms, before the server's ~5 s`);
      // Their bytes stop (after a moment for packets in flight); q's keep coming.
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const quiet = await sentOver(ada.page, 2500);
      t.diagnostic(`while only q is needed: ${JSON.stringify(quiet)}`);
      assert.ok(quiet.q.frames > 0 && quiet.q.bytes > 0, `q stopped: ${JSON.stringify(quiet)}`);
      for (const rid of ['h', 'f']) {
        assert.equal(quiet[rid].bytes, 0, `${rid} still sends: ${JSON.stringify(quiet)}`);
        assert.equal(quiet[rid].frames, 0, `${rid} still encodes: ${JSON.stringify(quiet)}`);
      }
      assert.equal(await ada.page.evaluate(() => window.salon.videoWatched), true);
      const small = await decoded(bo, ada.id);
      await waitFor(async () => (await decoded(bo, ada.id)).framesDecoded > small.framesDecoded, {
        timeout: 5000, message: 'Bo to keep playing Ada\'s thumbnail',
      });
      assert.ok(small.frameHeight > 0 && small.frameHeight <= 200, `Bo decodes Ada at ${small.frameHeight} lines`);

      // (c) Bo makes his window large and pins Ada: f is needed again at once, and Bo gets it.
      await bo.page.setViewportSize({ width: 1280, height: 800 });
      await bo.page.locator(`[data-testid=tile][data-participant="${ada.id}"] [data-testid=pin]`).click();
      const pinAt = Date.now();
      await waitFor(async () => {
        const encs = await ada.page.evaluate(() => window.salon.videoEncodings());
        return encs.find((e) => e.rid === 'f')?.active === true;
      }, { timeout: 5000, interval: 100, message: 'Ada to turn f back on' });
      const fBack = Date.now() - pinAt;
      let big = null;
      await waitFor(async () => {
        big = await decoded(bo, ada.id);
        const top = (await sentLayers(ada.page)).f?.frameHeight ?? 0;
        return big.frameHeight > small.frameHeight && about(big.frameHeight, top) && top >= 360;
      }, { timeout: 20000, interval: 250, message: 'Bo to decode the pinned Ada at her top layer' }).catch(async (error) => {
        explain(error, `: Bo gets ${JSON.stringify(big)}; Ada sends ${JSON.stringify(await sentLayers(ada.page))}`);
        throw error;
      });
      t.diagnostic(`pinned: f back on after ${fBack} ms, Bo decodes ${big.frameHeight} lines after ${Date.now() - pinAt} ms (thumbnail: ${small.frameHeight})`);
      const pinned = await sentOver(ada.page, 1500);
      assert.ok(pinned.f.frames > 0 && pinned.f.bytes > 0, `f does not flow: ${JSON.stringify(pinned)}`);
      const complaints = ada.logs.filter((line) => /could not change the camera sender/u.test(line));
      assert.deepEqual(complaints, []);
      // Chromium's congestion control feedback (TWCC) about what the server forwarded reached
      // the server's delay detector (the copies carry the server's transport-wide numbers).
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      const reported = Number(/^salon_downlink_feedback_packets_total (\d+)/mu.exec(metrics)?.[1] ?? 0);
      const forwarded = Number(/^salon_rtp_forwarded_packets_total (\d+)/mu.exec(metrics)?.[1] ?? 0);
      t.diagnostic(`feedback about ${reported} of ${forwarded} forwarded packets`);
      assert.ok(reported > forwarded / 2, `feedback about ${reported} of ${forwarded} forwarded packets`);
    } catch (error) {
      dumpLogs([ada, bo], server);
      throw error;
    }
  });

  it('the data saver captures 360p and publishes two layers, q and f', async (t) => {
    const room = await createRoomViaApi(server.url, 'Data saver');
    const guest = await newGuest(browser, 'saver');
    const other = await newGuest(browser, 'viewer');
    t.after(async () => {
      await guest.context.close();
      await other.context.close();
    });
    try {
      // From the link: the box is ticked and the camera is captured at 360p.
      await guest.page.goto(withQuery(room.url, 'data-saver=1'));
      await waitFor(() => guest.page.getByTestId('data-saver').isChecked(), { message: 'the data saver box ticked' });
      await waitFor(() => guest.page.evaluate(() => {
        const track = document.querySelector('#preview-video').srcObject?.getVideoTracks()[0];
        return track?.getSettings().height === 360;
      }), { message: 'a 360p capture' });
      await join(guest, null, 'Sam');
      const encodings = await guest.page.evaluate(() => window.salon.videoEncodings());
      assert.deepEqual(encodings.map((e) => [e.rid, e.scaleResolutionDownBy]), [['q', 2], ['f', 1]]);
      await join(other, room.url, 'Viv');
      let seen = null;
      await waitFor(async () => {
        seen = await sentOver(guest.page, 1000);
        return seen.f?.frames > 0 && seen.f.frameHeight > 200 && seen.f.frameHeight <= 360;
      }, { timeout: 30000, message: 'the data saver to send its full layer at 360 lines' }).catch((error) => {
        explain(error, `: ${JSON.stringify(seen)}`);
        throw error;
      });

      // Unticking it before joining (next time) goes back to 720p, and is remembered.
      const again = await newGuest(browser, 'again');
      t.after(() => again.context.close());
      await again.page.goto(room.url);
      const box = again.page.getByTestId('data-saver');
      assert.equal(await box.isChecked(), false);
      await box.check();
      await waitFor(() => again.page.evaluate(() => document.querySelector('#preview-video').srcObject
        ?.getVideoTracks()[0]?.getSettings().height === 360), { message: 'the preview to switch to 360p' });
      await again.page.reload();
      assert.equal(await again.page.getByTestId('data-saver').isChecked(), true, 'the choice is remembered');
    } catch (error) {
      dumpLogs([guest, other], server);
      throw error;
    }
  });
});
