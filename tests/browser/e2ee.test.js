// End-to-end encrypted rooms in the guest page (docs/adr/0003-e2ee.md §5, §11): two browsers see
// and hear each other through their encrypting worker and show the same safety code; a third
// with another key in its link decodes nothing and is shown as unverified while the others go
// on; a departure moves everyone to a new key generation; refusals happen before any join; and
// nothing the pages send (request URLs, bodies, WebSocket frames) holds the room secret. At most
// three browser pages at once (the CI machine has two cores).

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  createRoomViaApi, dumpLogs, expectReceiving, join, launchBrowser, newGuest, openHostTools, sampleMedia, screenshot,
  staysTrue, startServer, tileOf, waitFor, explain,
} from './helpers.js';

const WORDS = {
  unsupported: "This room is end-to-end encrypted and this browser can't encrypt calls. Use a current Chrome, Edge, Firefox or Safari, or the Salon app.",
  missingKey: 'This link is missing its key (the part after #). Ask for the whole link.',
  downgrade: 'The server says this room is not encrypted, but your link says it is. Not joining.',
};
const CODE = /^\d{4} \d{4} \d{4}$/u;

/** Records every request (URL and body) and every WebSocket frame a page sends. */
function recordTraffic(guest) {
  const sent = [];
  guest.page.on('request', (request) => {
    sent.push(`${request.method()} ${request.url()}`);
    const body = request.postData();
    if (body) sent.push(body);
  });
  guest.page.on('websocket', (ws) => {
    sent.push(`WS ${ws.url()}`);
    ws.on('framesent', (frame) => sent.push(String(frame.payload)));
  });
  guest.sent = sent;
  return guest;
}

/** Every spelling of a secret (base64url) that must never leave the page. */
function spellings(secret) {
  const bytes = Buffer.from(secret, 'base64url');
  return [secret, bytes.toString('base64'), bytes.toString('hex'), encodeURIComponent(secret)];
}

function assertNeverSent(guest, secret) {
  for (const line of guest.sent) {
    for (const spelling of spellings(secret)) {
      assert.ok(!line.includes(spelling), `${guest.label} sent the room secret: ${line.slice(0, 200)}`);
    }
    if (/^(GET|POST|PUT|DELETE|WS) /u.test(line)) assert.ok(!line.includes('#'), `${guest.label} sent a fragment: ${line}`);
  }
}

const chipText = (page) => page.getByTestId('e2ee-chip').innerText();
const safetyCode = (page) => page.getByTestId('safety-code').innerText();
const e2eeState = (page) => page.evaluate(() => window.salon.e2ee);
const badgeShown = (page, id) => tileOf(page, id).getByTestId('tile-unverified').isVisible();

describe('end-to-end encrypted rooms in the browser', () => {
  let server;
  let browser;
  let room;
  const guests = [];
  let ada;
  let bo;
  let eve;

  before(async () => {
    server = await startServer();
    browser = await launchBrowser();
    room = await createRoomViaApi(server.url, 'Secret supper');
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  const showLogsIfFailed = (t) => t.after(() => {
    if (t.failed) dumpLogs(guests, server);
  });

  it('two browsers see and hear each other through encrypted frames, with the same safety code', async (t) => {
    showLogsIfFailed(t);
    assert.equal((await (await fetch(`${server.url}/api/rooms/${room.id}`)).json()).e2ee, true);
    ada = recordTraffic(await newGuest(browser, 'ada'));
    bo = recordTraffic(await newGuest(browser, 'bo'));
    guests.push(ada, bo);
    await ada.page.goto(room.url);
    // The lobby says so once the page has looked the room up (after the page's load event).
    await ada.page.getByTestId('lobby-e2ee').waitFor({ state: 'visible', timeout: 10000 })
      .catch((error) => { throw explain(error, '\nthe lobby never said the room is encrypted'); });
    await join(ada, null, 'Ada');
    await join(bo, room.url, 'Bo');
    await expectReceiving(ada, [bo.id]);
    await expectReceiving(bo, [ada.id]);

    const codes = await waitFor(async () => {
      const [a, b] = [await safetyCode(ada.page), await safetyCode(bo.page)];
      return CODE.test(a) && a === b ? [a, b] : null;
    }, { message: 'the same safety code on both pages' });
    assert.equal(await chipText(ada.page), `Encrypted · ${codes[0]}`);
    const state = await e2eeState(ada.page);
    assert.equal(state.keyHolders, 2);
    assert.deepEqual(state.unverified, []);
    assert.ok(state.frames.sent > 50, `the worker sealed frames: ${JSON.stringify(state.frames)}`);
    assert.equal(await badgeShown(ada.page, bo.id), false);

    // The panel explains what to do with the code.
    await ada.page.getByTestId('e2ee-chip').click();
    const panel = ada.page.getByTestId('e2ee-panel');
    await panel.waitFor({ state: 'visible' });
    assert.match(await panel.innerText(), /Read it aloud: everyone should see the same/u);
    assert.equal(await ada.page.getByTestId('safety-code-large').innerText(), codes[0]);
    assert.match(await ada.page.getByTestId('e2ee-holders').innerText(), /^2 people hold the keys/u);
    await screenshot(ada.page, 'e2ee-safety-code');
    await ada.page.getByTestId('e2ee-chip').click();
    await panel.waitFor({ state: 'hidden' });
  });

  it('a browser with another key in its link decodes nothing, is shown unverified, and the others go on', async (t) => {
    showLogsIfFailed(t);
    const before = await safetyCode(ada.page);
    eve = recordTraffic(await newGuest(browser, 'eve'));
    guests.push(eve);
    eve.secret = crypto.randomBytes(32).toString('base64url');
    await join(eve, `${room.plainUrl}#k=${eve.secret}`, 'Eve');

    // Eve's packets arrive, but no frame of Ada's or Bo's opens: nothing is decoded.
    await waitFor(async () => {
      const sample = await sampleMedia(eve.page);
      return sample[ada.id]?.audioPackets > 20 && sample[bo.id]?.audioPackets > 20;
    }, { timeout: 20000, message: "Eve to receive Ada's and Bo's packets" });
    await staysTrue(async () => {
      const sample = await sampleMedia(eve.page);
      return [ada.id, bo.id].every((id) => sample[id] && sample[id].framesDecoded === 0 && sample[id].audioEnergy === 0);
    }, 4000, "Eve's remote videos to stay undecoded");
    const eveState = await e2eeState(eve.page);
    assert.deepEqual(eveState.failed, [ada.id, bo.id].sort());
    assert.equal(eveState.keyHolders, 1);
    assert.notEqual(await safetyCode(eve.page), before);

    // Ada and Bo show Eve as unverified (and, after a second, waiting for keys) and keep their code.
    for (const guest of [ada, bo]) {
      await waitFor(() => badgeShown(guest.page, eve.id), { message: `${guest.label} to show Eve as unverified` });
      const other = guest === ada ? bo : ada;
      assert.equal(await badgeShown(guest.page, other.id), false);
      assert.deepEqual((await e2eeState(guest.page)).failed, [eve.id]);
      assert.equal(await safetyCode(guest.page), before, 'the safety code does not change for a failed announcement');
      await waitFor(() => tileOf(guest.page, eve.id).evaluate((tile) => tile.dataset.keys === 'waiting'), {
        message: `${guest.label} to say it waits for Eve's keys`,
      });
    }
    for (const id of [ada.id, bo.id]) {
      await waitFor(() => badgeShown(eve.page, id), { message: 'Eve to show the others as unverified' });
    }
    await screenshot(ada.page, 'e2ee-unverified');
    await screenshot(eve.page, 'e2ee-wrong-key');
    // Their own pictures and sound keep flowing.
    await expectReceiving(ada, [bo.id]);
    await expectReceiving(bo, [ada.id]);
    assert.equal((await sampleMedia(ada.page))[eve.id].framesDecoded, 0, "Ada decodes none of Eve's frames");
  });

  it('after a departure everyone moves to a new key generation and still sees each other', async (t) => {
    showLogsIfFailed(t);
    await eve.page.getByTestId('leave').click();
    for (const guest of [ada, bo]) {
      await waitFor(async () => (await e2eeState(guest.page)).generation === 1, {
        message: `${guest.label} to move to generation 1`,
      });
    }
    await new Promise((resolve) => setTimeout(resolve, 1500)); // the new key is used 1 s after it is sent
    await expectReceiving(ada, [bo.id]);
    await expectReceiving(bo, [ada.id]);
    assert.equal(await safetyCode(ada.page), await safetyCode(bo.page));
    await eve.context.close();
  });

  it('never sends the room secret anywhere', () => {
    assertNeverSent(ada, room.secret);
    assertNeverSent(bo, room.secret);
    assertNeverSent(eve, eve.secret);
    assertNeverSent(eve, room.secret);
    assert.ok(ada.sent.some((line) => line.includes('"e2ee_announce"')), 'Ada announced');
    assert.ok(ada.sent.some((line) => line.includes('"e2ee_keys"')), 'Ada sent boxes');
    assert.ok(ada.sent.some((line) => /"e2ee":\{"commit":"[A-Za-z0-9_-]{43}"\}/u.test(line)), 'Ada committed in join');
  });

  it('refuses before joining when the browser cannot encrypt', async (t) => {
    showLogsIfFailed(t);
    const old = recordTraffic(await newGuest(browser, 'old-browser'));
    guests.push(old);
    await old.context.addInitScript(() => { delete window.RTCRtpScriptTransform; });
    await old.page.goto(room.url);
    const error = old.page.getByTestId('e2ee-error');
    await error.waitFor({ state: 'visible' });
    assert.equal(await error.innerText(), WORDS.unsupported);
    assert.equal(await old.page.getByTestId('join-submit').isVisible(), false);
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.ok(!old.sent.some((line) => line.startsWith('WS ')), 'no signaling socket was opened');
    await old.context.close();
  });

  it('refuses a link without its key, and a key to a room the server calls unencrypted', async (t) => {
    showLogsIfFailed(t);
    const guest = recordTraffic(await newGuest(browser, 'partial-link'));
    guests.push(guest);
    await guest.page.goto(room.plainUrl);
    await guest.page.getByTestId('e2ee-error').waitFor({ state: 'visible' });
    assert.equal(await guest.page.getByTestId('e2ee-error').innerText(), WORDS.missingKey);

    const legacy = await createRoomViaApi(server.url, 'Old room', { e2ee: false });
    await guest.page.goto(`${legacy.url}#k=${crypto.randomBytes(32).toString('base64url')}`);
    await guest.page.reload(); // a new fragment alone does not load the page again
    await guest.page.getByTestId('e2ee-error').waitFor({ state: 'visible' });
    assert.equal(await guest.page.getByTestId('e2ee-error').innerText(), WORDS.downgrade);
    assert.ok(!guest.sent.some((line) => line.startsWith('WS ')), 'no signaling socket was opened');

    // Without a key, the legacy room works and says it is not end-to-end encrypted.
    await join(guest, legacy.url, 'Lee');
    assert.equal(await chipText(guest.page), 'Not end-to-end encrypted');
    assert.equal(await guest.page.evaluate(() => window.salon.e2ee), null);
    await guest.context.close();
  });

  it("lets the owner of a room made before encryption turn it on: a new link with a new key", async (t) => {
    showLogsIfFailed(t);
    const legacy = await createRoomViaApi(server.url, 'Old room', { e2ee: false });
    const owner = recordTraffic(await newGuest(browser, 'old-owner'));
    const lee = await newGuest(browser, 'lee');
    guests.push(owner, lee);
    await owner.page.goto(`${server.url}/`);
    await owner.page.evaluate(([id, key]) => localStorage.setItem(`salon.host.${id}`, key), [legacy.id, legacy.host_key]);
    await join(owner, legacy.url, 'Olga');
    await join(lee, legacy.url, 'Lee');
    assert.equal(await chipText(owner.page), 'Not end-to-end encrypted');
    await openHostTools(owner.page);
    const turnOn = owner.page.getByTestId('turn-on-e2ee');
    assert.equal(await turnOn.isVisible(), true, 'the owner is offered encryption');
    assert.equal(await lee.page.getByTestId('turn-on-e2ee').isVisible(), false);
    await turnOn.click();

    // The call starts over. The owner's page holds the new link with a key it made; Lee, whose
    // link leads nowhere now, is told why and offered no retry.
    const retry = owner.page.locator('#error-retry');
    await retry.waitFor({ state: 'visible' });
    assert.equal(await retry.innerText(), 'Join the encrypted room');
    const address = await owner.page.evaluate(() => window.location.href);
    const [, newId, secret] = address.match(/\/r\/([A-Za-z0-9_-]{22})#k=([A-Za-z0-9_-]{43})$/u) ?? [];
    assert.ok(newId && newId !== legacy.id && secret, `the new link with its key: ${address}`);
    await lee.page.locator('#error-title').waitFor({ state: 'visible' });
    assert.match(await lee.page.locator('#room-error').innerText(), /turned on end-to-end encryption/u);
    assert.equal(await lee.page.locator('#error-retry').isVisible(), false);
    assert.equal((await (await fetch(`${server.url}/api/rooms/${newId}`)).json()).e2ee, true);
    assert.equal((await fetch(`${server.url}/api/rooms/${legacy.id}`)).status, 404);

    // Back in through the new link, as the owner, encrypted; Lee with the link the owner shares.
    await retry.click();
    await owner.page.waitForLoadState();
    await join(owner, null, 'Olga');
    await waitFor(() => owner.page.evaluate(() => window.salon.role === 'owner'), { message: 'still the owner' });
    // (Lee's address bar already moved to the new id, so the new link differs only in its
    // fragment, which does not load a page by itself.)
    await lee.page.goto(`${server.url}${address.slice(address.indexOf('/r/'))}`);
    await lee.page.reload();
    await join(lee, null, 'Lee');
    const code = await waitFor(async () => {
      const [a, b] = [await safetyCode(owner.page), await safetyCode(lee.page)];
      return CODE.test(a) && a === b ? a : null;
    }, { message: 'the same safety code once encrypted' });
    assert.equal(await chipText(lee.page), `Encrypted · ${code}`);
    assertNeverSent(owner, secret);
    await owner.context.close();
    await lee.context.close();
  });
});

