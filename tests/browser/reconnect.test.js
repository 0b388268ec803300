// When the connection drops after joining (here: the server dies and comes back on the same
// address with the same rooms), the page says so in words, retries with backoff, and is back in
// the call with media flowing, without the user doing anything.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  createRoomViaApi, dumpLogs, expectReceiving, join, launchBrowser, newGuest, remoteTileIds,
  screenshot, serveNamespace, startServer, waitFor,
} from './helpers.js';
import { makeNamespace, namespacesUnavailable } from './netns.js';

/**
 * Routes a page's signaling WebSocket through the test: counts `offer` messages each way and can
 * drop the connection (both ends) as a network blip would.
 */
async function tapSignaling(page) {
  const tap = {
    sockets: [],
    offerSdps: [],
    clientOffers: 0,
    serverOffers: 0,
    /** Participants the server said left, in order. */
    left: [],
    /** While true, the page's new sockets are refused (its network is still down). */
    refusing: false,
    drop() {
      const last = this.sockets.at(-1);
      last?.page.close({ code: 1006, reason: 'blip' }).catch(() => {});
      last?.server.close().catch(() => {});
    },
  };
  const isOffer = (message) => typeof message === 'string' && message.includes('"type":"offer"');
  await page.routeWebSocket(/\/api\/rooms\/[^/]+\/ws$/u, (ws) => {
    if (tap.refusing) {
      ws.close({ code: 1006, reason: 'unreachable' }).catch(() => {});
      return;
    }
    const server = ws.connectToServer();
    tap.sockets.push({ page: ws, server });
    ws.onMessage((message) => {
      if (isOffer(message)) {
        tap.clientOffers += 1;
        tap.offerSdps.push(JSON.parse(message).sdp);
      }
      server.send(message);
    });
    server.onMessage((message) => {
      if (isOffer(message)) tap.serverOffers += 1;
      if (typeof message === 'string' && message.includes('"type":"participant_left"')) {
        tap.left.push(JSON.parse(message).participant_id);
      }
      ws.send(message);
    });
  });
  return tap;
}

describe('reconnecting after a lost connection', { skip: process.env.SALON_TEST_URL ? 'needs its own server' : false }, () => {
  let server;
  let browser;
  const guests = [];

  before(async () => {
    server = await startServer();
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('shows "Connection lost — reconnecting…" and rejoins by itself', async (t) => {
    t.after(() => { if (t.failed) dumpLogs(guests, server); });
    const room = await createRoomViaApi(server.url, 'Sturdy room');
    const ada = await newGuest(browser, 'ada');
    const bo = await newGuest(browser, 'bo');
    guests.push(ada, bo);
    await join(ada, room.url, 'Ada');
    await join(bo, room.url, 'Bo');
    await expectReceiving(ada, [bo.id], { audio: false });

    // The server vanishes: both pages notice and say so.
    await server.stop({ signal: 'SIGKILL', keepData: true });
    for (const guest of [ada, bo]) {
      await waitFor(() => guest.page.evaluate(() => window.salon.state === 'reconnecting'), {
        timeout: 10000,
        message: `${guest.label} to notice the lost connection`,
      });
      const banner = guest.page.getByTestId('banner');
      await banner.waitFor({ state: 'visible' });
      assert.match(await banner.innerText(), /Connection lost — reconnecting…/u);
    }
    await screenshot(ada.page, 'reconnecting');

    // It comes back on the same address with the same rooms; the pages rejoin on their own.
    server = await startServer({ port: server.port, dataDir: server.dataDir });
    for (const guest of [ada, bo]) {
      await waitFor(() => guest.page.evaluate(() => window.salon.state === 'joined'), {
        timeout: 25000,
        message: `${guest.label} to rejoin`,
      });
      await guest.page.getByTestId('banner').waitFor({ state: 'hidden' });
      guest.id = await guest.page.evaluate(() => window.salon.participantId);
    }
    await waitFor(async () => JSON.stringify(await remoteTileIds(ada.page)) === JSON.stringify([bo.id]), {
      message: 'Ada to show exactly one tile, for Bo',
    });
    await waitFor(async () => JSON.stringify(await remoteTileIds(bo.page)) === JSON.stringify([ada.id]), {
      message: 'Bo to show exactly one tile, for Ada',
    });
    await expectReceiving(ada, [bo.id], { audio: false });
    await expectReceiving(bo, [ada.id], { audio: false });
    await ada.context.close();
    await bo.context.close();
  });

  it('rides out a signaling blip on the same peer connection: no renegotiation for anyone', async (t) => {
    t.after(() => { if (t.failed) dumpLogs(guests, server); });
    const room = await createRoomViaApi(server.url, 'Blip room');
    const ada = await newGuest(browser, 'ada-blip');
    const bo = await newGuest(browser, 'bo-blip');
    guests.push(ada, bo);
    const adaTap = await tapSignaling(ada.page);
    const boTap = await tapSignaling(bo.page);
    await join(ada, room.url, 'Ada');
    await join(bo, room.url, 'Bo');
    await expectReceiving(ada, [bo.id], { audio: false });
    await expectReceiving(bo, [ada.id], { audio: false });
    const offersBefore = { adaSent: adaTap.clientOffers, boGot: boTap.serverOffers, adaGot: adaTap.serverOffers };

    // Ada's WebSocket drops (both ends), her peer connection does not, and her new sockets
    // fail for 10 s: longer than a seat without media is kept (5 s), shorter than one whose
    // media is up (20 s). Bo notices nothing: Ada does not leave, her video goes on.
    adaTap.refusing = true;
    adaTap.drop();
    const dropped = Date.now();
    await waitFor(() => ada.page.evaluate(() => window.salon.state === 'reconnecting'), {
      timeout: 10000,
      message: 'Ada to notice the lost socket',
    });
    await sleep(Math.max(0, 8000 - (Date.now() - dropped)));
    assert.equal(await ada.page.evaluate(() => window.salon.state), 'reconnecting', 'Ada got through while refused');
    await expectReceiving(bo, [ada.id], { audio: false });
    assert.deepEqual(await bo.page.evaluate(() => window.salon.remoteParticipants()), [ada.id], 'Bo lost Ada\'s tile');
    await sleep(Math.max(0, 10000 - (Date.now() - dropped)));
    adaTap.refusing = false;
    await waitFor(() => ada.page.evaluate(() => window.salon.state === 'joined'), {
      timeout: 20000,
      message: 'Ada to resume',
    });
    assert.deepEqual(boTap.left, [], 'Bo was told Ada left');
    assert.equal(await ada.page.evaluate(() => window.salon.mediaKept), 1, 'the resume did not keep the media');
    assert.equal(await ada.page.evaluate(() => window.salon.participantId), ada.id, 'same participant');
    await expectReceiving(ada, [bo.id], { audio: false });
    await expectReceiving(bo, [ada.id], { audio: false });
    assert.deepEqual(
      { adaSent: adaTap.clientOffers, boGot: boTap.serverOffers, adaGot: adaTap.serverOffers },
      offersBefore,
      'a kept resume caused a new offer',
    );
    assert.equal(adaTap.sockets.length, 2, 'Ada opened one socket that got through');
    await ada.context.close();
    await bo.context.close();
  });

  it('restarts ICE on the same peer connection when the media path breaks, renegotiating nobody else', async (t) => {
    t.after(() => { if (t.failed) dumpLogs(guests, server); });
    const room = await createRoomViaApi(server.url, 'Restart room');
    const ada = await newGuest(browser, 'ada-restart');
    const bo = await newGuest(browser, 'bo-restart');
    guests.push(ada, bo);
    const adaTap = await tapSignaling(ada.page);
    const boTap = await tapSignaling(bo.page);
    await join(ada, room.url, 'Ada');
    await join(bo, room.url, 'Bo');
    await expectReceiving(ada, [bo.id], { audio: false });
    await expectReceiving(bo, [ada.id], { audio: false });
    const boOffers = boTap.serverOffers;
    const adaOffers = adaTap.clientOffers;

    // What the page does when ICE fails or stays disconnected (a network change).
    await ada.page.evaluate(() => window.salon.restartIce());
    await waitFor(() => adaTap.clientOffers === adaOffers + 1, { message: 'Ada to send the ICE restart offer' });
    const ufrag = (sdp) => /a=ice-ufrag:(\S+)/u.exec(sdp)?.[1];
    assert.notEqual(ufrag(adaTap.offerSdps.at(-1)), ufrag(adaTap.offerSdps[0]), 'new ICE credentials');
    assert.equal(await ada.page.evaluate(() => window.salon.iceRestarts), 1);
    await expectReceiving(ada, [bo.id], { audio: false });
    await expectReceiving(bo, [ada.id], { audio: false });
    assert.equal(await ada.page.evaluate(() => window.salon.state), 'joined', 'the call was not restarted');
    assert.equal(boTap.serverOffers, boOffers, 'Bo was renegotiated');
    assert.equal(adaTap.sockets.length, 1, 'no new signaling connection');
    await ada.context.close();
    await bo.context.close();
  });

  it('says "Can\'t reach the server" when joining fails, and joins after "Try again"', async (t) => {
    t.after(() => { if (t.failed) dumpLogs(guests, server); });
    const room = await createRoomViaApi(server.url);
    const cy = await newGuest(browser, 'cy');
    guests.push(cy);
    await cy.page.goto(room.url);
    await cy.page.getByTestId('join-name').fill('Cy');

    await server.stop({ signal: 'SIGKILL', keepData: true });
    await cy.page.getByTestId('join-submit').click();
    const error = cy.page.getByTestId('room-error');
    await error.waitFor({ state: 'visible', timeout: 10000 });
    assert.match(await error.innerText(), /Can't reach the server/u);
    assert.equal(await cy.page.evaluate(() => window.salon.state), 'error');
    await screenshot(cy.page, 'unreachable');

    server = await startServer({ port: server.port, dataDir: server.dataDir });
    await cy.page.getByRole('button', { name: 'Try again' }).click();
    await waitFor(() => cy.page.evaluate(() => window.salon.state === 'preview'), { message: 'back in the lobby' });
    await cy.page.getByTestId('join-submit').click();
    await waitFor(() => cy.page.evaluate(() => window.salon.state === 'joined'), {
      timeout: 15000,
      message: 'Cy to join after trying again',
    });
  });
});

describe('media silent while the socket is gone', {
  skip: process.env.SALON_TEST_URL ? 'needs its own server' : (namespacesUnavailable() ?? false),
}, () => {
  let ns;
  let setup;
  let server;
  let outside;
  let inside;
  const guests = [];

  before(async () => {
    ns = makeNamespace();
    // The participant tasks' debug lines say when the media of a lingering seat went silent.
    setup = await serveNamespace(ns, { log: 'warn,salon_server::participant=debug' });
    ({ server, outside, inside } = setup);
  });

  after(async () => {
    await setup?.close();
    ns?.destroy();
  });

  it('keeps the seat when the media comes back before the socket does (a network change that broke both)', { timeout: 120000 }, async () => {
    try {
      await seatKeptThroughSilence();
    } catch (error) {
      // (Node 20's test context has no `failed` to check in an after hook.)
      dumpLogs(guests, server);
      throw error;
    }
  });

  /**
   * Opens the room link in the namespaced browser and waits for the name form. Once, CI saw
   * that page never show it (nothing logged); what it shows instead is logged, and the page
   * loaded once more.
   */
  async function openInNamespace(guest, url) {
    const form = guest.page.getByTestId('join-name');
    for (let attempt = 1; ; attempt += 1) {
      await guest.page.goto(url);
      try {
        await form.waitFor({ state: 'visible', timeout: 15000 });
        return;
      } catch (error) {
        const text = await guest.page.evaluate(() => document.body?.innerText ?? '').catch((e) => `(unreadable: ${e.message})`);
        console.log(`# ${guest.label}: no name form after 15 s (attempt ${attempt}); the page says: ${JSON.stringify(text.slice(0, 500))}`);
        if (attempt === 2) throw error;
      }
    }
  }

  async function seatKeptThroughSilence() {
    const room = await createRoomViaApi(server.url, 'Bumpy room');
    const ada = await newGuest(inside, 'ada-bumpy');
    const bo = await newGuest(outside, 'bo-bumpy');
    guests.push(ada, bo);
    const adaTap = await tapSignaling(ada.page);
    const boTap = await tapSignaling(bo.page);
    await openInNamespace(ada, room.url);
    await join(ada, null, 'Ada');
    await join(bo, room.url, 'Bo');
    await expectReceiving(ada, [bo.id], { audio: false });
    await expectReceiving(bo, [ada.id], { audio: false });

    // Ada's socket drops (both ends) and her new ones are refused; her media stops too.
    const silentLines = () => server.logTail(400).split('\n').filter((l) => l.includes('media silent while the socket was gone')).length;
    const silentBefore = silentLines();
    adaTap.refusing = true;
    ns.blockUdp();
    adaTap.drop();
    const dropped = Date.now();
    // The server notices the silence (about 3 s), then the media comes back, before 5 s from
    // the drop: the seat must again be kept as one with its media up (20 s), not freed.
    await waitFor(() => silentLines() > silentBefore, { timeout: 10000, interval: 100, message: 'the server to notice Ada\'s media went silent' });
    const silent = Date.now();
    ns.openAll();
    await expectReceiving(bo, [ada.id], { audio: false });
    await sleep(Math.max(0, 10000 - (Date.now() - dropped)));
    assert.deepEqual(boTap.left, [], 'Bo was told Ada left');
    // Her network is back: the browser says so (the page reconnects at once).
    adaTap.refusing = false;
    await ada.page.evaluate(() => window.dispatchEvent(new Event('online')));
    await waitFor(() => ada.page.evaluate(() => window.salon.state === 'joined'), { timeout: 8000, message: 'Ada to resume' });
    const resumed = Date.now();
    assert.equal(await ada.page.evaluate(() => window.salon.participantId), ada.id, 'same participant');
    assert.equal(await ada.page.evaluate(() => window.salon.mediaKept), 1, 'the resume did not keep the media');
    assert.deepEqual(boTap.left, [], 'Bo was told Ada left');
    await expectReceiving(ada, [bo.id], { audio: false });
    await expectReceiving(bo, [ada.id], { audio: false });
    console.log(`# the server noticed the silence ${silent - dropped} ms after the drop; Ada resumed ${resumed - dropped} ms after it`);
    await ada.context.close();
    await bo.context.close();
  }
});
