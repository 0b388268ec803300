// The landing page creates rooms, and bad links say "room not found" in words.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  PHONE, dumpLogs, launchBrowser, newGuest, screenshot, scrollsSideways, startServer, waitFor,
} from './helpers.js';

describe('landing page and bad links', () => {
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

  it('creates a room and shows its invite link', async (t) => {
    const host = await newGuest(browser, 'host');
    guests.push(host);
    t.after(() => { if (t.failed) dumpLogs(guests, server); });
    const { page } = host;
    await page.goto(`${server.url}/`);
    await screenshot(page, 'landing');
    await page.locator('#room-name').fill('Friday drinks');
    await page.getByTestId('create-room').click();
    const link = await waitFor(() => page.getByTestId('room-link').inputValue(), {
      message: 'the invite link',
    });
    // End-to-end encrypted: the room secret rides in the link's fragment (docs/adr/0003-e2ee.md).
    assert.match(link, new RegExp(`^${server.url}/r/[A-Za-z0-9_-]{22}#k=[A-Za-z0-9_-]{43}$`, 'u'));
    await screenshot(page, 'landing-created');

    const [id, secret] = link.split('/r/')[1].split('#k=');
    const hostKey = await page.evaluate((roomId) => localStorage.getItem(`salon.host.${roomId}`), id);
    assert.ok(hostKey && hostKey.length >= 40, `host key kept in localStorage, got ${hostKey}`);
    assert.equal(await page.evaluate((roomId) => localStorage.getItem(`salon.secret.${roomId}`), id), secret,
      'the room secret kept next to the host key');

    const info = await (await fetch(`${server.url}/api/rooms/${id}`)).json();
    assert.equal(info.name, 'Friday drinks');
    assert.equal(info.e2ee, true);

    // "Enter the room" leads to the room's page.
    await page.getByTestId('enter-room').click();
    await page.waitForURL(link);
    await waitFor(() => page.evaluate(() => window.salon?.state === 'preview'), { message: 'the preview' });
    assert.equal(await page.locator('#lobby-title').textContent(), 'Friday drinks');
  });

  it('fits a phone screen', async () => {
    const phone = await newGuest(browser, 'phone', PHONE);
    guests.push(phone);
    await phone.page.goto(`${server.url}/`);
    await phone.page.getByTestId('create-room').click();
    await waitFor(() => phone.page.getByTestId('room-link').inputValue(), { message: 'the invite link' });
    assert.equal(await scrollsSideways(phone.page), false, 'landing page scrolls sideways on a phone');
    await screenshot(phone.page, 'landing-phone');
    await phone.context.close();
  });

  for (const bad of ['AAAAAAAAAAAAAAAAAAAAAA', 'nonsense']) {
    it(`says "room not found" for /r/${bad}`, async () => {
      const lost = await newGuest(browser, `lost-${bad}`);
      guests.push(lost);
      await lost.page.goto(`${server.url}/r/${bad}`);
      const error = lost.page.getByTestId('room-error');
      await error.waitFor({ state: 'visible', timeout: 10000 });
      assert.match(await error.innerText(), /room not found/iu);
      assert.equal(await lost.page.evaluate(() => window.salon.state), 'error');
      // No join form for a room that does not exist.
      assert.equal(await lost.page.getByTestId('join-submit').isVisible(), false);
      if (bad === 'nonsense') await screenshot(lost.page, 'room-not-found');
      await lost.context.close();
    });
  }
  it('opens a friend card without the app: offers the app and dropping in, and shows names as text', async () => {
    const room = await (await fetch(`${server.url}/api/rooms`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}',
    })).json();
    const name = '<img src=x onerror="window.pwned=1">Ada';
    const query = new URLSearchParams({ v: '1', name, room: `${server.url}/r/${room.id}`, presence: 'p'.repeat(43) });
    const friend = await newGuest(browser, 'friend-card', PHONE);
    guests.push(friend);
    const { page } = friend;
    await page.goto(`${server.url}/friend?${query}`);
    await page.getByTestId('friend-card').waitFor({ state: 'visible', timeout: 10000 });
    assert.equal(await page.getByTestId('friend-title').textContent(), `${name}'s room`);
    assert.equal(await page.evaluate(() => window.pwned), undefined);
    assert.equal(await page.getByTestId('open-app').getAttribute('href'), `salon:friend?${query}`);
    assert.equal(await page.getByTestId('join-web').getAttribute('href'), `${server.url}/r/${room.id}`);
    assert.equal(await page.getByTestId('elsewhere').isVisible(), false);
    assert.equal(await scrollsSideways(page), false, 'friend card page scrolls sideways on a phone');
    await screenshot(page, 'friend-card');
    // Dropping in from the browser lands on the room's own page.
    await page.getByTestId('join-web').click();
    await page.waitForURL(`${server.url}/r/${room.id}`);
    await page.getByTestId('join-submit').waitFor({ state: 'visible', timeout: 10000 });

    // A room on another server says where it goes; a card that is no card says why.
    const other = new URLSearchParams({ v: '1', name: 'Bo', room: 'https://elsewhere.example/r/AAAAAAAAAAAAAAAAAAAAAA' });
    await page.goto(`${server.url}/friend?${other}`);
    await page.getByTestId('elsewhere').waitFor({ state: 'visible', timeout: 10000 });
    assert.match(await page.getByTestId('elsewhere').textContent(), /elsewhere\.example/u);
    const bad = new URLSearchParams({ v: '1', name: 'Eve', room: 'javascript:alert(1)//r/AAAAAAAAAAAAAAAAAAAAAA' });
    await page.goto(`${server.url}/friend?${bad}`);
    await page.getByTestId('bad-card').waitFor({ state: 'visible', timeout: 10000 });
    assert.match(await page.getByTestId('bad-reason').textContent(), /not a Salon invite link/u);
    assert.equal(await page.getByTestId('friend-card').isVisible(), false);

    // An end-to-end encrypted room's card carries its secret in the card's own fragment (never
    // sent to the server): both ways in carry it on (docs/adr/0003-e2ee.md §2.1).
    const secret = 'S'.repeat(42) + 'A';
    await page.goto(`${server.url}/friend?${query}#k=${secret}`);
    await page.getByTestId('friend-card').waitFor({ state: 'visible', timeout: 10000 });
    assert.equal(await page.getByTestId('open-app').getAttribute('href'), `salon:friend?${query}#k=${secret}`);
    assert.equal(await page.getByTestId('join-web').getAttribute('href'), `${server.url}/r/${room.id}#k=${secret}`);
    await friend.context.close();
  });
});
