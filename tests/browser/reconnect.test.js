// When the connection drops after joining (here: the server dies and comes back on the same
// address with the same rooms), the page says so in words, retries with backoff, and is back in
// the call with media flowing, without the user doing anything.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  createRoomViaApi, dumpLogs, expectReceiving, join, launchBrowser, newGuest, remoteTileIds,
  screenshot, startServer, waitFor,
} from './helpers.js';

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
