// Screen sharing in real browsers against a real salon-server (docs/protocol.md, "Screen
// sharing"): a guest's share reaches the others as a tile of its own, large, decoded (end-to-end
// encrypted like the camera); one share at a time; a host stops it for everyone; the browser's
// own "Stop sharing" ends it too.
//
// Headless Chromium shares a fake 1280×720 screen without a prompt with the flags every test
// browser has (`--use-fake-ui-for-media-stream`, `--use-fake-device-for-media-stream`); the
// button's click is the user gesture getDisplayMedia needs.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  dumpLogs, expectTiles, join, launchBrowser, newGuest, ownedRoom, screenshot, startServer, waitFor,
  explain,
} from './helpers.js';

describe('screen sharing', () => {
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

  const guest = async (label) => {
    const g = await newGuest(browser, label);
    guests.push(g);
    return g;
  };

  /** What `g` shows of a share: the layout's share, and the share's inbound video stats. */
  const shareSeen = (g, presenter) => g.page.evaluate(async (id) => {
    const stats = (await window.salon.stats()) ?? { inbound: {} };
    const tile = document.querySelector('[data-testid=share-tile]');
    const box = tile?.getBoundingClientRect();
    const grid = document.querySelector('#grid').getBoundingClientRect();
    return {
      share: window.salon.layout().share,
      framesDecoded: stats.inbound[`${id}|screen`]?.video?.framesDecoded ?? 0,
      // The share's tile against the whole call area: the large one.
      area: box ? (box.width * box.height) / (grid.width * grid.height) : 0,
      label: tile?.querySelector('[data-testid=presenting]')?.textContent ?? null,
      name: tile?.querySelector('.tile-name')?.textContent ?? null,
      view: window.salon.view,
    };
  }, presenter);

  /** Waits until `g` shows `presenter`'s share large and decodes frames that keep coming. */
  const expectShare = async (g, presenter, name) => {
    let last = null;
    const first = await waitFor(async () => {
      last = await shareSeen(g, presenter);
      return last.share?.id === presenter && last.framesDecoded > 0 ? last : null;
    }, { timeout: 30000, message: `${g.label} to decode ${name}'s share` }).catch((error) => {
      explain(error, `\nlast seen: ${JSON.stringify(last)}`);
      throw error;
    });
    const later = await waitFor(async () => {
      const seen = await shareSeen(g, presenter);
      return seen.framesDecoded > first.framesDecoded + 10 && seen.share?.width > 0 ? seen : null;
    }, { timeout: 20000, message: `${g.label}'s share of ${name} to keep playing` });
    assert.equal(later.share.large, true, 'the share is the main tile');
    assert.ok(later.area > 0.35, `the share takes most of the call area (${later.area})`);
    assert.equal(later.label, 'Presenting');
    assert.match(later.name, new RegExp(name));
    // The fake screen is 1280×720: the share is forwarded whole, not as a thumbnail layer.
    assert.ok(later.share.width >= 640, `share decoded at ${later.share.width} px wide`);
    const tile = later.view.tiles.find((t) => t.source === 'screen');
    assert.deepEqual({ id: tile?.participant_id, size: tile?.size }, { id: presenter, size: 'large' });
    return later;
  };

  const noShare = (g) => waitFor(async () => (await shareSeen(g, '')).share === null
    && (await g.page.getByTestId('share-tile').count()) === 0, {
    timeout: 15000, message: `${g.label} to show no share`,
  });

  const shareButton = async (g) => ({
    pressed: await g.page.getByTestId('share-screen').getAttribute('aria-pressed'),
    sharing: await g.page.evaluate(() => window.salon.sharing),
  });

  it('a guest presents large for everyone; one at a time; a host stops it', async (t) => {
    cleanUp(t);
    const { room, host } = await ownedRoom(browser, server, { roomName: 'Share test' });
    guests.push(host);
    const bo = await guest('bo');
    await join(bo, room.url, 'Bo');
    const cy = await guest('cy');
    await join(cy, room.url, 'Cy');
    await expectTiles(host, [bo.id, cy.id]);
    await expectTiles(cy, [host.id, bo.id]);

    // Bo shares: the host and Cy get a tile of its own, large, with decoded frames.
    await bo.page.getByTestId('share-screen').click();
    await waitFor(async () => (await shareButton(bo)).pressed === 'true', { message: "Bo's button to be pressed" });
    await expectShare(host, bo.id, 'Bo');
    await expectShare(cy, bo.id, 'Bo');
    await screenshot(cy.page, 'share-guest-view');
    // Bo's camera tile stays in the strip for the others.
    await expectTiles(cy, [host.id, bo.id]);

    // One at a time: Cy cannot share while Bo presents (the page says so without asking for a
    // screen; the server would refuse it too: core/tests/screen.rs), and Cy's button stays off.
    await cy.page.getByTestId('share-screen').click();
    await waitFor(async () => {
      const state = await shareButton(cy);
      return state.pressed === 'false' && state.sharing === false;
    }, { timeout: 10000, message: "Cy's refused share to reset its button" });
    const stillBo = await shareSeen(host, bo.id);
    assert.equal(stillBo.share?.id, bo.id, 'Bo still presents');

    // The owner stops Bo's share: it goes away for everyone and Bo's button resets.
    await host.page.getByTestId('share-tile').hover();
    await host.page.getByTestId('stop-share').click();
    await noShare(host);
    await noShare(cy);
    await waitFor(async () => {
      const state = await shareButton(bo);
      return state.pressed === 'false' && state.sharing === false;
    }, { timeout: 10000, message: "Bo's share button to reset" });
    // A guest has no stop button on someone's share: Cy shares now, Bo sees no stop-share.
    await cy.page.getByTestId('share-screen').click();
    await expectShare(bo, cy.id, 'Cy');
    assert.equal(await bo.page.getByTestId('stop-share').count(), 0, 'guests cannot stop a share');

    // The browser's own "Stop sharing" (the capture ends): the share ends for everyone.
    await cy.page.evaluate(() => window.salon.endShareCapture());
    await noShare(bo);
    await noShare(host);
    assert.deepEqual(await shareButton(cy), { pressed: 'false', sharing: false });
  });
});
