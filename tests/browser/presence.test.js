// Drop-in presence on the guest page: the owner opens and closes the door from the room view
// and the landing page's "Your rooms" follows; the pre-join screen shows who is inside only
// when the owner allows names; guests get no door controls.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  dumpLogs, join, launchBrowser, newGuest, screenshot, startServer, waitFor,
} from './helpers.js';

describe('door and peek', () => {
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

  it('the owner toggles the door in the room and the landing page follows; names show before joining when allowed', async (t) => {
    const owner = await newGuest(browser, 'owner');
    guests.push(owner);
    t.after(() => { if (t.failed) dumpLogs(guests, server); });

    // The owner creates a room on the landing page (which keeps its host key) and enters it.
    await owner.page.goto(`${server.url}/`);
    await owner.page.locator('#room-name').fill('Drop-in test');
    await owner.page.getByTestId('create-room').click();
    const link = await waitFor(() => owner.page.getByTestId('room-link').inputValue(), { message: 'the invite link' });
    const id = link.split('/r/')[1].split('#')[0]; // the link ends in the room secret (#k=…)
    await join(owner, link, 'Hana Host');
    assert.equal(await owner.page.evaluate(() => window.salon.role), 'owner');

    // Owner inside, door on auto: it shows open.
    const toggle = owner.page.getByTestId('door-toggle');
    await toggle.waitFor({ state: 'visible' });
    await waitFor(async () => (await toggle.getAttribute('aria-pressed')) === 'true', { message: 'the door to show open' });
    await screenshot(owner.page, 'door-open-room');

    // The landing page (a second tab of the same browser) lists the room with its door.
    const landing = await owner.context.newPage();
    await landing.goto(`${server.url}/`);
    const state = landing.locator(`[data-testid=door-state][data-room="${id}"]`);
    await waitFor(async () => (await state.getAttribute('data-open')) === 'true', { message: 'landing: door open' });
    assert.match(await state.innerText(), /Door open · 1 inside/u);

    // Close it from the room view: the server and the landing page follow.
    await toggle.click();
    await waitFor(async () => (await toggle.getAttribute('aria-pressed')) === 'false', { message: 'the toggle to show closed' });
    const info = await (await fetch(`${server.url}/api/rooms/${id}`)).json();
    assert.equal(info.door_open, false);
    await waitFor(async () => (await state.getAttribute('data-open')) === 'false', { timeout: 10000, message: 'landing: door closed' });
    assert.equal(await state.innerText(), 'Door closed');
    await screenshot(landing, 'door-closed-landing');

    // A guest on the pre-join screen: the door is closed, nobody is seen, no names.
    const guest = await newGuest(browser, 'guest');
    guests.push(guest);
    await guest.page.goto(link);
    await waitFor(() => guest.page.evaluate(() => window.salon?.state === 'preview'), { message: 'the pre-join screen' });
    assert.equal(await guest.page.getByTestId('lobby-door').innerText(), 'Door closed');
    assert.equal(await guest.page.getByTestId('peek').isVisible(), false);

    // Open again and allow names: the landing page shows who is inside, and so does the guest's
    // pre-join screen.
    await toggle.click();
    await waitFor(async () => (await toggle.getAttribute('aria-pressed')) === 'true', { message: 'the toggle to show open' });
    await owner.page.getByTestId('host-tools').click();
    await owner.page.getByTestId('names-toggle').check();
    await waitFor(async () => (await fetch(`${server.url}/api/rooms/${id}`).then((r) => r.json())).names?.length === 1, {
      message: 'names to be shown',
    });
    await waitFor(async () => (await state.innerText()) === 'Door open · 1 inside: Hana Host', { timeout: 10000, message: 'landing: names' });
    await guest.page.reload();
    const peek = guest.page.getByTestId('peek');
    await peek.waitFor({ state: 'visible', timeout: 10000 });
    assert.deepEqual(await peek.locator('li').allInnerTexts(), ['Hana Host']);
    assert.match(await guest.page.getByTestId('lobby-door').innerText(), /Door open · 1 inside/u);
    await screenshot(guest.page, 'peek-pre-join');

    // The guest joins: no door controls for them; the owner's landing counts two.
    await guest.page.getByTestId('join-name').fill('Gus Guest');
    await guest.page.getByTestId('join-submit').click();
    await waitFor(() => guest.page.evaluate(() => window.salon?.state === 'joined'), { timeout: 15000, message: 'the guest to join' });
    assert.equal(await guest.page.getByTestId('door-toggle').isVisible(), false);
    await waitFor(async () => (await state.innerText()) === 'Door open · 2 inside: Hana Host, Gus Guest', {
      timeout: 10000,
      message: 'landing: two inside',
    });

    // A guest cannot change the door: the server wants the host key.
    const refused = await guest.page.evaluate(async (roomId) => {
      const response = await fetch(`/api/rooms/${roomId}/door`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ host_key: 'not-the-key', door: 'closed' }),
      });
      return response.status;
    }, id);
    assert.equal(refused, 403);
    assert.equal((await (await fetch(`${server.url}/api/rooms/${id}`)).json()).door_open, true);
  });
});
