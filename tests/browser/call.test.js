// Real calls through a real salon-server: three browsers see and hear each other, leaving and
// closing the page remove the tile for the others, a guest without a camera still joins, and the
// phone layout does not scroll sideways. At most three browsers at once (the CI machine has two
// cores).

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  PHONE, createRoomViaApi, dumpLogs, expectReceiving, join, launchBrowser, newGuest,
  remoteTileIds, screenshot, scrollsSideways, startServer, waitFor,
} from './helpers.js';

const GONE_WITHIN_MS = 5000;

describe('a call between browsers', () => {
  let server;
  let browser;
  let room;
  const guests = [];
  let ada;
  let bo;
  let cy;
  let dee;

  before(async () => {
    server = await startServer();
    browser = await launchBrowser();
    room = await createRoomViaApi(server.url, 'Friday drinks');
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  const showLogsIfFailed = (t) => t.after(() => {
    if (t.failed) dumpLogs(guests, server);
  });

  const expectTiles = (guest, ids, timeout = 15000) => waitFor(async () => {
    const tiles = await remoteTileIds(guest.page);
    return JSON.stringify(tiles) === JSON.stringify([...ids].sort());
  }, { timeout, message: `${guest.label} to show exactly the tiles ${JSON.stringify(ids)}` });

  it('three guests join and each sees and hears the two others', async (t) => {
    showLogsIfFailed(t);
    ada = await newGuest(browser, 'ada');
    bo = await newGuest(browser, 'bo');
    cy = await newGuest(browser, 'cy', PHONE);
    guests.push(ada, bo, cy);

    // Cy is on a phone: the preview must fit the screen.
    await cy.page.goto(room.url);
    await waitFor(() => cy.page.evaluate(() => document.querySelector('#preview-video')?.videoWidth > 0), {
      message: 'the camera preview on the phone',
    });
    await cy.page.getByTestId('join-name').fill('Cy');
    assert.equal(await scrollsSideways(cy.page), false, 'the preview scrolls sideways on a phone');
    await screenshot(cy.page, 'preview-phone');

    await join(ada, room.url, 'Ada Lovelace');
    await join(bo, room.url, 'Bo');
    await join(cy, room.url, 'Cy');
    for (const [guest, others] of [[ada, [bo, cy]], [bo, [ada, cy]], [cy, [ada, bo]]]) {
      await expectTiles(guest, others.map((g) => g.id));
    }
    try {
      for (const [guest, others] of [[ada, [bo, cy]], [bo, [ada, cy]], [cy, [ada, bo]]]) {
        await expectReceiving(guest, others.map((g) => g.id));
      }
    } finally {
      // Pictures of the 3-way call either way: they show what a failure looked like.
      await screenshot(ada.page, 'call-desktop');
      await screenshot(cy.page, 'call-phone');
    }

    // The fake microphone beeps every second: the speaking indicator lights up for the others.
    await waitFor(() => ada.page.locator(`[data-testid=tile][data-participant="${bo.id}"]`)
      .evaluate((tile) => tile.dataset.speaking === 'true'), {
      timeout: 5000,
      interval: 100,
      message: 'Ada to see Bo speaking',
    });

    // Names are on the tiles; the video codec is H.264, as protocol.md asks of browsers.
    const names = await ada.page.$$eval('[data-testid=tile] .tile-name', (els) => els.map((e) => e.textContent).sort());
    assert.deepEqual(names, ['Bo', 'Cy']);
    const stats = await ada.page.evaluate(() => window.salon.stats());
    assert.equal(stats.outbound.video?.codec, 'video/H264', `Ada sends ${JSON.stringify(stats.outbound)}`);

    // Bo's browser's sender reports reach Ada through the server, in the numbering Ada receives
    // (the server sends none of its own: without the relay there would be none).
    await waitFor(async () => {
      const inbound = (await ada.page.evaluate(() => window.salon.stats())).inbound[bo.id] ?? {};
      return inbound.audio?.senderReports > 0 && inbound.video?.senderReports > 0;
    }, { timeout: 10000, message: 'Ada to get sender reports for Bo\'s audio and video' });

    assert.equal(await scrollsSideways(cy.page), false, 'the call scrolls sideways on a phone');
  });

  it('turning the microphone and camera off shows on the others\' tiles', async (t) => {
    showLogsIfFailed(t);
    const adaOnBo = bo.page.locator(`[data-testid=tile][data-participant="${ada.id}"]`);
    const attribute = (name, value) => waitFor(async () => (await adaOnBo.getAttribute(name)) === value, {
      timeout: 5000,
      message: `Bo to see Ada's ${name} = ${value}`,
    });
    const mic = ada.page.getByTestId('mic-toggle');
    const camera = ada.page.getByTestId('cam-toggle');
    await mic.click();
    assert.equal(await mic.getAttribute('aria-pressed'), 'false');
    await attribute('data-audio', 'off');
    assert.equal(await adaOnBo.locator('.tile-mic-off').isVisible(), true, 'mic-off icon on the tile');
    await camera.click();
    assert.equal(await camera.getAttribute('aria-pressed'), 'false');
    await attribute('data-video', 'off');
    assert.equal(await adaOnBo.locator('.tile-avatar').isVisible(), true, 'initials instead of video');
    await screenshot(bo.page, 'call-muted');
    await mic.click();
    await camera.click();
    await attribute('data-audio', 'on');
    await attribute('data-video', 'on');
  });

  it('a guest who presses Leave disappears for the others', async (t) => {
    showLogsIfFailed(t);
    await cy.page.getByTestId('leave').click();
    await cy.page.getByTestId('left').waitFor({ state: 'visible', timeout: 5000 });
    assert.equal(await cy.page.evaluate(() => window.salon.state), 'left');
    assert.match(await cy.page.getByTestId('left').innerText(), /You left/u);
    await cy.page.getByTestId('rejoin').waitFor({ state: 'visible' });
    await expectTiles(ada, [bo.id], GONE_WITHIN_MS);
    await expectTiles(bo, [ada.id], GONE_WITHIN_MS);
    await cy.context.close();
  });

  it('a guest without a camera joins with audio, and the others see a camera-off tile', async (t) => {
    showLogsIfFailed(t);
    dee = await newGuest(browser, 'dee', { denyCamera: true });
    guests.push(dee);
    await dee.page.goto(room.url);
    await waitFor(async () => /Camera blocked/u.test(await dee.page.getByTestId('media-notice').innerText()), {
      message: 'the lobby to say the camera is blocked',
    });
    await screenshot(dee.page, 'preview-no-camera');
    await join(dee, room.url, 'Dee Dee');

    for (const guest of [ada, bo]) {
      const other = guest === ada ? bo : ada;
      await expectTiles(guest, [other.id, dee.id]);
      const tile = guest.page.locator(`[data-testid=tile][data-participant="${dee.id}"]`);
      await waitFor(async () => (await tile.getAttribute('data-video')) === 'off', {
        message: `${guest.label} to show Dee's camera as off`,
      });
      assert.equal(await tile.locator('.tile-avatar').isVisible(), true, 'initials instead of video');
      assert.equal(await tile.locator('.tile-avatar').innerText(), 'DD');
      await screenshot(guest.page, `call-camera-off-${guest.label}`);
      await expectReceiving(guest, [other.id, dee.id], { videoOff: [dee.id] });
    }
    assert.equal(await dee.page.getByTestId('self-tile').getAttribute('data-video'), 'off');
    await expectReceiving(dee, [ada.id, bo.id]);

    // Pressing the camera button while the camera is still blocked says so.
    const camera = dee.page.getByTestId('cam-toggle');
    await camera.click();
    await waitFor(async () => /Camera blocked/u.test(await dee.page.locator('#toast').innerText()), {
      message: 'Dee to be told the camera is blocked',
    });
    assert.equal(await camera.getAttribute('aria-pressed'), 'false');
  });

  it('a guest who joined without a camera can switch one on later, without renegotiating', async (t) => {
    showLogsIfFailed(t);
    await dee.page.evaluate(() => { window.testAllowCamera = true; });
    const camera = dee.page.getByTestId('cam-toggle');
    await camera.click();
    await waitFor(async () => (await camera.getAttribute('aria-pressed')) === 'true', {
      message: "Dee's camera button to show the camera on",
    });
    for (const guest of [ada, bo]) {
      const other = guest === ada ? bo : ada;
      await waitFor(async () => (await guest.page
        .locator(`[data-testid=tile][data-participant="${dee.id}"]`).getAttribute('data-video')) === 'on', {
        message: `${guest.label} to see Dee's camera on`,
      });
      await expectReceiving(guest, [other.id, dee.id]);
    }
  });

  it('a guest who closes the page disappears for the others', async (t) => {
    showLogsIfFailed(t);
    await dee.context.close();
    await expectTiles(ada, [bo.id], GONE_WITHIN_MS);
    await expectTiles(bo, [ada.id], GONE_WITHIN_MS);
  });
});
