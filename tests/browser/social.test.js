// Reactions, raised hands and chat in real browsers against a real salon-server (issue 14;
// docs/protocol.md, "Reactions, hands and chat"): a reaction and a raised hand reach the others
// and the host works the queue; chat stays with the people who were inside (a member who comes
// back sees it, a stranger never receives it), travels sealed in an end-to-end encrypted room
// (no plaintext in any WebSocket frame), is shown as text whatever it holds, pauses with panic
// and is cleared by the owner. At most three browser contexts at once (two cores).

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  PHONE, createRoomViaApi, dumpLogs, join, launchBrowser, newGuest, openHostTools, ownedRoom, rawSocket, screenshot,
  scrollsSideways, staysTrue, startServer, tileOf, waitFor,
} from './helpers.js';

/** Every WebSocket frame a page sends or receives, as text. */
function recordFrames(page) {
  const frames = [];
  page.on('websocket', (ws) => {
    ws.on('framesent', ({ payload }) => frames.push({ dir: 'out', text: String(payload) }));
    ws.on('framereceived', ({ payload }) => frames.push({ dir: 'in', text: String(payload) }));
  });
  return frames;
}

const framesOfType = (frames, type) => frames.filter((f) => f.text.includes(`"type":"${type}"`));

/** The texts of the chat messages a page shows (from the DOM, as a person sees them). */
const chatTexts = (page) => page.$$eval('[data-testid=chat-message] .chat-text', (els) => els.map((e) => e.textContent));

async function sendChat(page, text) {
  if (!(await page.getByTestId('chat-input').isVisible())) await page.getByTestId('chat-open').click();
  await page.getByTestId('chat-input').fill(text);
  await page.getByTestId('chat-input').press('Enter');
}

function waitForChat(guest, text, timeout = 10000) {
  return waitFor(async () => (await chatTexts(guest.page)).includes(text), {
    timeout, message: `${guest.label} to show the chat message ${JSON.stringify(text)}`,
  });
}

/** base64url(0x01 || id || nonce || AES-256-GCM(...)) under `secret`, as core/e2ee/src/chat.rs. */
function sealChat(secret, text) {
  const hkdf = (info, length) => Buffer.from(crypto.hkdfSync('sha256', secret, Buffer.alloc(0), info, length));
  const key = hkdf('salon/e2ee/v1/chat', 32);
  const header = Buffer.concat([Buffer.from([1]), hkdf('salon/e2ee/v1/chat-id', 8)]);
  const nonce = crypto.randomBytes(12);
  const cipher = crypto.createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(header);
  const body = Buffer.concat([cipher.update(text, 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return Buffer.concat([header, nonce, body]).toString('base64url');
}

/**
 * Routes a page's signaling WebSocket through the test, which can drop it (both ends) as a
 * network blip would, and counts the `chat_history` messages the page received.
 */
async function tapSignaling(page) {
  const tap = {
    sockets: [],
    histories: 0,
    /** While true, the page's new sockets are closed at once (it stays away, retrying). */
    blocked: false,
    drop() {
      const last = this.sockets.at(-1);
      last?.page.close({ code: 1006, reason: 'blip' }).catch(() => {});
      last?.server.close().catch(() => {});
    },
  };
  await page.routeWebSocket(/\/api\/rooms\/[^/]+\/ws$/u, (ws) => {
    if (tap.blocked) {
      ws.close({ code: 1006, reason: 'still away' }).catch(() => {});
      return;
    }
    const server = ws.connectToServer();
    tap.sockets.push({ page: ws, server });
    ws.onMessage((message) => server.send(message));
    server.onMessage((message) => {
      if (typeof message === 'string' && message.includes('"type":"chat_history"')) tap.histories += 1;
      ws.send(message);
    });
  });
  return tap;
}

describe('reactions, hands and chat', () => {
  let server;
  let browser;
  let guests = [];

  before(async () => {
    server = await startServer();
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  const cleanUp = (t) => t.after(async () => {
    if (t.failed) dumpLogs(guests, server);
    for (const guest of guests) await guest.context.close().catch(() => {});
    guests = [];
  });

  const guest = async (label, options) => {
    const g = await newGuest(browser, label, options);
    guests.push(g);
    return g;
  };

  it('a reaction and a raised hand reach the other browser; the host lowers hands from the queue', async (t) => {
    cleanUp(t);
    const { room, host } = await ownedRoom(browser, server, { roomName: 'Reactions' });
    guests.push(host);
    const bo = await guest('bo');
    await join(bo, room.url, 'Bo');

    // Bo reacts: it floats over Bo's tile for the host, and over Bo's own tile.
    await bo.page.getByTestId('react').click();
    assert.equal(await bo.page.getByTestId('react').getAttribute('aria-expanded'), 'true');
    assert.equal(await bo.page.getByTestId('reaction-choice').count(), 8);
    await bo.page.locator('[data-testid=reaction-choice][data-emoji="🎉"]').click();
    await waitFor(() => tileOf(host.page, bo.id).locator('[data-testid=reaction][data-emoji="🎉"]').count(), {
      message: "the host to see Bo's 🎉 float over Bo's tile",
    });
    await waitFor(() => bo.page.locator('[data-testid=self-tile] [data-testid=reaction]').count(), {
      message: 'Bo to see the reaction over their own tile',
    });
    await screenshot(host.page, 'reaction');
    // It goes away by itself.
    await waitFor(async () => (await host.page.getByTestId('reaction').count()) === 0, {
      timeout: 8000, message: 'the reaction to float away',
    });

    // A burst beyond the budget is held back with a gentle word, and nothing breaks.
    await bo.page.evaluate(() => {
      const thumbs = document.querySelector('[data-testid=reaction-choice][data-emoji="👍"]');
      for (let i = 0; i < 12; i += 1) thumbs.click();
    });
    await bo.page.getByTestId('social-notice').waitFor({ state: 'visible' });
    assert.match(await bo.page.getByTestId('social-notice').innerText(), /a few reactions a second/u);
    const floated = await waitFor(() => host.page.locator('[data-testid=reaction][data-emoji="👍"]').count(), {
      message: 'the host to see the burst',
    });
    assert.ok(floated <= 6, `${floated} reactions on one tile at once`);
    await bo.page.keyboard.press('Escape');
    assert.equal(await bo.page.getByTestId('reaction-tray').isVisible(), false);

    // Bo raises a hand: the button is pressed, the host sees the badge and the queue.
    await bo.page.getByTestId('raise-hand').click();
    assert.equal(await bo.page.getByTestId('raise-hand').getAttribute('aria-pressed'), 'true');
    await tileOf(host.page, bo.id).getByTestId('tile-hand').waitFor({ state: 'visible' });
    await host.page.getByTestId('hands').waitFor({ state: 'visible' });
    assert.deepEqual(await host.page.$$eval('[data-testid=hand]', (els) => els.map((e) => e.dataset.participant)), [bo.id]);
    assert.equal(await bo.page.getByTestId('hands').isVisible(), false, 'a guest sees the host queue');
    await bo.page.locator('[data-testid=self-tile] [data-testid=tile-hand]').waitFor({ state: 'visible' });
    await screenshot(host.page, 'hand-queue');

    // The host raises theirs too: the queue is in order, and Lower all lowers both.
    await host.page.getByTestId('raise-hand').click();
    await waitFor(async () => (await host.page.$$eval('[data-testid=hand]', (els) => els.map((e) => e.dataset.participant))).join() === [bo.id, host.id].join(), {
      message: 'the queue to list Bo, then the host',
    });
    await waitFor(async () => (await tileOf(bo.page, host.id).getByTestId('tile-hand').innerText()).includes('2'), {
      message: "Bo to see the host's hand second",
    });
    await host.page.getByTestId('lower-all-hands').click();
    await waitFor(async () => (await bo.page.getByTestId('raise-hand').getAttribute('aria-pressed')) === 'false', {
      message: "Bo's hand button to reset after Lower all",
    });
    await bo.page.getByTestId('social-notice').filter({ hasText: 'A host lowered your hand' }).waitFor({ state: 'visible' });
    await host.page.getByTestId('hands').waitFor({ state: 'hidden' });
    assert.equal(await host.page.getByTestId('raise-hand').getAttribute('aria-pressed'), 'false');
    assert.equal(await tileOf(host.page, bo.id).getByTestId('tile-hand').isVisible(), false);

    // Up again, and the host lowers just Bo's.
    await bo.page.getByTestId('raise-hand').click();
    await host.page.getByTestId('hand').filter({ hasText: 'Bo' }).getByTestId('lower-hand').click();
    await waitFor(async () => (await bo.page.getByTestId('raise-hand').getAttribute('aria-pressed')) === 'false', {
      message: "Bo's hand button to reset after the host lowered it",
    });
    await waitFor(() => bo.page.evaluate(() => window.salon.hands().length === 0), { message: 'no hands up' });
  });

  it('chat stays with its members: sealed on the wire, back for a member who returns, never sent to a stranger', async (t) => {
    cleanUp(t);
    const room = await createRoomViaApi(server.url, 'Chat stays');
    const host = await guest('host');
    const hostFrames = recordFrames(host.page);
    await host.page.goto(`${server.url}/`);
    await host.page.evaluate(([id, key, secret]) => {
      localStorage.setItem(`salon.host.${id}`, key);
      localStorage.setItem(`salon.secret.${id}`, secret);
    }, [room.id, room.host_key, room.secret]);
    await join(host, room.url, 'Hana Host');
    const ada = await guest('ada');
    const adaFrames = recordFrames(ada.page);
    await join(ada, room.url, 'Ada');

    // Ada writes; the host reads it, decrypted, with an unread count on the closed panel.
    const secretText = 'The spare key is under the blue pot 🌼';
    await sendChat(ada.page, secretText);
    await waitForChat(host, secretText);
    await waitForChat(ada, secretText);
    assert.equal(await host.page.getByTestId('chat-unread').innerText(), '1');
    assert.match(await host.page.getByTestId('chat-open').getAttribute('aria-label'), /1 unread/u);
    const shown = await host.page.evaluate(() => window.salon.chat());
    assert.equal(shown.length, 1);
    assert.equal(shown[0].name, 'Ada');
    assert.equal(shown[0].from, ada.id);
    await host.page.getByTestId('chat-open').click();
    assert.equal(await host.page.getByTestId('chat-unread').isVisible(), false);
    const meta = await host.page.locator('[data-testid=chat-message] .chat-meta').innerText();
    assert.match(meta, /Ada/u);
    assert.match(meta, /\d{1,2}[:.]\d{2}/u, 'the time is shown');

    // On the wire: a sealed body, and not one frame (either page, either way) holds the text.
    const sent = framesOfType(adaFrames, 'chat_send');
    assert.equal(sent.length, 1);
    assert.match(JSON.parse(sent[0].text).sealed, /^[A-Za-z0-9_-]{40,}$/u);
    assert.equal(JSON.parse(sent[0].text).text, undefined);
    for (const f of [...hostFrames, ...adaFrames]) {
      assert.ok(!f.text.includes('spare key') && !f.text.includes('blue pot'), `plaintext in a frame: ${f.text.slice(0, 200)}`);
    }
    assert.ok(framesOfType(hostFrames, 'chat').length >= 1, 'the host received no chat frame');

    // Shift+Enter breaks the line; Enter sends.
    await ada.page.getByTestId('chat-input').fill('line one');
    await ada.page.getByTestId('chat-input').press('Shift+Enter');
    await ada.page.getByTestId('chat-input').type('line two');
    await ada.page.getByTestId('chat-send').click();
    await waitForChat(host, 'line one\nline two');

    // Markup and links are text: nothing is created, nothing runs.
    const xss = '<img src=x onerror="window.__xss=1"> <script>window.__xss=2</script> https://example.org/?a=1&b=<b>';
    await sendChat(ada.page, xss);
    await waitForChat(host, xss);
    for (const g of [host, ada]) {
      const created = await g.page.evaluate(() => ({
        img: document.querySelectorAll('#chat-panel img, [data-testid=chat-message] img').length,
        script: document.querySelectorAll('[data-testid=chat-message] script').length,
        link: document.querySelectorAll('[data-testid=chat-message] a, [data-testid=chat-message] b').length,
        xss: window.__xss ?? null,
      }));
      assert.deepEqual(created, { img: 0, script: 0, link: 0, xss: null }, g.label);
    }
    await screenshot(host.page, 'chat-panel');

    // A message sealed under a secret this page never had says so (never shows ciphertext).
    const mallory = await rawSocket(`${server.url}/api/rooms/${room.id}/ws`);
    mallory.send({
      type: 'join', version: 1, name: 'Mallory', device: 'device-mmmmmmmmmmmm',
      e2ee: { commit: crypto.randomBytes(32).toString('base64url') },
    });
    await mallory.next((m) => m.type === 'joined');
    const foreign = sealChat(crypto.randomBytes(32), 'not for you');
    mallory.send({ type: 'chat_send', sealed: foreign });
    await waitForChat(host, "Can't be read with this link");
    assert.equal(await host.page.locator('[data-testid=chat-message] [data-unreadable=true]').count(), 1);
    assert.ok(!(await host.page.locator('#chat-panel').innerText()).includes(foreign.slice(0, 20)));
    mallory.send({ type: 'leave' });
    mallory.close();

    // Ada leaves and comes back (same browser: same device id, a new participant): the chat
    // is there again, once each.
    const before = await chatTexts(ada.page);
    assert.equal(before.length, 4);
    await ada.page.getByTestId('leave').click();
    await ada.page.getByTestId('left').waitFor({ state: 'visible' });
    await ada.page.getByTestId('rejoin').click();
    await waitFor(() => ada.page.evaluate(() => window.salon.state === 'joined'), { message: 'Ada to rejoin' });
    await staysTrue(async () => (await chatTexts(ada.page)).length === 4, 2000, 'each message to be shown once');
    // A fresh page load in the same profile: only the server's history can show it.
    await ada.page.close();
    ada.page = await ada.context.newPage();
    await join(ada, room.url, 'Ada');
    await waitForChat(ada, secretText);
    await waitForChat(ada, xss);
    assert.deepEqual(await chatTexts(ada.page), before);

    // A stranger (another browser profile, the same whole link) gets none of it.
    const cy = await guest('cy');
    const cyFrames = recordFrames(cy.page);
    await join(cy, room.url, 'Cy');
    await staysTrue(async () => (await chatTexts(cy.page)).length === 0, 3000, 'the stranger to see no chat');
    const cyHistory = framesOfType(cyFrames, 'chat_history');
    assert.equal(cyHistory.length, 1, 'one (empty) chat_history after joined');
    assert.deepEqual(JSON.parse(cyHistory[0].text).messages, [], 'the stranger was sent chat history');
    assert.ok(!cyFrames.some((f) => f.text.includes(JSON.parse(sent[0].text).sealed.slice(0, 30))), 'the stranger received the sealed message');
    // What is said now, Cy reads.
    await sendChat(host.page, 'Welcome, Cy');
    await waitForChat(cy, 'Welcome, Cy');
  });

  it('after a new link, chat written before still opens: the page keeps the secrets it has known', async (t) => {
    cleanUp(t);
    const { room, host } = await ownedRoom(browser, server, { roomName: 'Chat across links' });
    guests.push(host);
    const bo = await guest('bo');
    const boFrames = recordFrames(bo.page);
    await join(bo, room.url, 'Bo');
    await sendChat(bo.page, 'written under the first link');
    await waitForChat(host, 'written under the first link');

    await openHostTools(host.page);
    await host.page.getByTestId('rotate-link').click();
    const newUrl = await waitFor(() => {
      const url = bo.page.url();
      // The new id comes first, its secret a moment later (boxed to Bo by the host).
      const secret = /#k=([A-Za-z0-9_-]{43})$/u.exec(url)?.[1];
      return !url.startsWith(room.plainUrl) && secret && secret !== room.secret ? url : null;
    }, { timeout: 20000, message: "Bo's address bar to show the new link with its new key" });
    // Bo's next message is sealed with the new secret (another key id), and still reads.
    await sendChat(bo.page, 'written under the second link');
    await waitForChat(host, 'written under the second link');
    const keyIds = framesOfType(boFrames, 'chat_send')
      .map((f) => Buffer.from(JSON.parse(f.text).sealed, 'base64url').subarray(1, 9).toString('hex'));
    assert.equal(keyIds.length, 2);
    assert.notEqual(keyIds[0], keyIds[1], 'the second message was sealed with the old secret');

    // A fresh load of the new link: the history holds both, and both open (the old secret was
    // kept in this browser), none as "can't be read".
    await bo.page.close();
    bo.page = await bo.context.newPage();
    await join(bo, newUrl, 'Bo');
    await waitForChat(bo, 'written under the first link');
    await waitForChat(bo, 'written under the second link');
    assert.equal(await bo.page.locator('[data-testid=chat-message] [data-unreadable=true]').count(), 0);
    const kept = await bo.page.evaluate(() => JSON.parse(localStorage.getItem('salon.chatSecrets')));
    const newId = new URL(newUrl).pathname.split('/').pop();
    assert.equal(kept[0].id, newId);
    assert.deepEqual(new Set(kept[0].secrets), new Set([room.secret, newUrl.split('#k=')[1]]));

    // Someone who only ever had the new link cannot read the old message (and is not sent it:
    // they were not inside), but reads what is written now.
    const cy = await guest('cy');
    await join(cy, newUrl, 'Cy');
    await sendChat(host.page, 'hello Cy');
    await waitForChat(cy, 'hello Cy');
    assert.deepEqual(await chatTexts(cy.page), ['hello Cy']);
  });

  it('a resume gets the history again and shows nothing twice; a raised hand stays up', async (t) => {
    cleanUp(t);
    const { room, host } = await ownedRoom(browser, server, { roomName: 'Chat resume' });
    guests.push(host);
    const bo = await guest('bo');
    const tap = await tapSignaling(bo.page);
    await join(bo, room.url, 'Bo');
    await sendChat(host.page, 'one');
    await waitForChat(bo, 'one');
    await sendChat(host.page, 'two');
    await waitForChat(bo, 'two');
    await bo.page.getByTestId('raise-hand').click();
    await tileOf(host.page, bo.id).getByTestId('tile-hand').waitFor({ state: 'visible' });
    const historiesBefore = tap.histories;

    tap.drop();
    await waitFor(() => bo.page.evaluate(() => window.salon.state === 'reconnecting'), { message: 'Bo to notice the blip' });
    await waitFor(() => bo.page.evaluate(() => window.salon.state === 'joined'), { timeout: 20000, message: 'Bo to resume' });
    assert.equal(await bo.page.evaluate(() => window.salon.participantId), bo.id, 'not a resume');
    await waitFor(() => tap.histories > historiesBefore, { message: 'the history sent again after the resume' });
    await staysTrue(async () => JSON.stringify(await chatTexts(bo.page)) === JSON.stringify(['one', 'two']), 2000,
      'each message to be shown once, in order');
    assert.equal(await bo.page.getByTestId('raise-hand').getAttribute('aria-pressed'), 'true');
    assert.equal(await tileOf(host.page, bo.id).getByTestId('tile-hand').isVisible(), true);
    // And chat goes on both ways.
    await sendChat(bo.page, 'back');
    await waitForChat(host, 'back');

    // Away while the owner clears the chat: once back, Bo's page shows none of it (the first
    // history after joined is the whole chat, here empty).
    tap.blocked = true;
    tap.drop();
    await waitFor(() => bo.page.evaluate(() => window.salon.state === 'reconnecting'), { message: 'Bo to be away' });
    await host.page.getByTestId('chat-clear').click();
    await host.page.getByTestId('chat-clear-confirm').click();
    await waitFor(async () => (await chatTexts(host.page)).length === 0, { message: 'the owner to see the chat cleared' });
    assert.deepEqual(await chatTexts(bo.page), ['one', 'two', 'back'], 'Bo was away and did not hear of the clear');
    tap.blocked = false;
    await waitFor(() => bo.page.evaluate(() => window.salon.state === 'joined'), { timeout: 30000, message: 'Bo to come back' });
    await waitFor(async () => (await chatTexts(bo.page)).length === 0, { message: "Bo's page to drop the cleared chat" });
  });

  it('in a room without encryption chat is plain text; panic pauses guests; the owner clears it', async (t) => {
    cleanUp(t);
    const room = await createRoomViaApi(server.url, 'Plain chat', { e2ee: false });
    const host = await guest('host');
    await host.page.goto(`${server.url}/`);
    await host.page.evaluate(([id, key]) => localStorage.setItem(`salon.host.${id}`, key), [room.id, room.host_key]);
    await join(host, room.url, 'Hana Host');
    await waitFor(() => host.page.evaluate(() => window.salon.role === 'owner'), { message: 'the owner' });
    const bo = await guest('bo', PHONE);
    const boFrames = recordFrames(bo.page);
    await join(bo, room.url, 'Bo');

    await sendChat(bo.page, 'hello plain');
    await waitForChat(host, 'hello plain');
    // On a phone the chat covers the stage; the bar wraps; nothing scrolls sideways.
    assert.equal(await scrollsSideways(bo.page), false, 'the phone page scrolls sideways');
    assert.equal(await bo.page.getByTestId('leave').isVisible(), true);
    await screenshot(bo.page, 'chat-phone');
    assert.equal(JSON.parse(framesOfType(boFrames, 'chat_send')[0].text).text, 'hello plain');
    assert.equal(await bo.page.getByTestId('chat-clear').isVisible(), false, 'a guest can clear the chat');

    // Panic: the guest's input is disabled and says why; reactions too; the host may still write.
    await host.page.getByTestId('panic').click();
    await waitFor(() => bo.page.getByTestId('chat-input').isDisabled(), { message: "Bo's chat input to be disabled" });
    assert.equal(await bo.page.getByTestId('chat-paused').innerText(), 'Chat is paused by a host');
    assert.equal(await bo.page.getByTestId('react').isDisabled(), true);
    await sendChat(host.page, 'calm down please');
    await waitForChat(bo, 'calm down please');
    await host.page.getByTestId('panic').click();
    await waitFor(async () => !(await bo.page.getByTestId('chat-input').isDisabled()), { message: "Bo's chat input back" });
    assert.equal(await bo.page.getByTestId('chat-paused').isVisible(), false);

    // A burst is held back next to the input (the page keeps to the server's budget).
    for (let i = 0; i < 6; i += 1) await sendChat(bo.page, `burst ${i}`);
    await bo.page.getByTestId('chat-error').filter({ hasText: /Slow down/u }).waitFor({ state: 'visible' });

    // The owner clears it, for everyone.
    await host.page.getByTestId('chat-clear').click();
    await host.page.getByTestId('chat-clear-confirm').click();
    for (const g of [host, bo]) {
      await waitFor(async () => (await chatTexts(g.page)).length === 0, { message: `${g.label}'s chat to empty` });
    }
    assert.match(await bo.page.locator('.chat-empty').innerText(), /cleared/u);
    // And it stays cleared for someone coming back (panic locked the room: unlock it first).
    await host.page.getByTestId('lock-toggle').click();
    await waitFor(async () => (await host.page.getByTestId('lock-toggle').getAttribute('aria-pressed')) === 'false', {
      message: 'the room to unlock',
    });
    await bo.page.reload();
    await join(bo, null, 'Bo');
    await staysTrue(async () => (await chatTexts(bo.page)).length === 0, 2000, 'the cleared chat to stay empty');
  });
});
