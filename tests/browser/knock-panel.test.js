// A knock flood (issue 8, item 10): dozens of knocks on a locked room must not bury the host's
// page. The knock list stays a bounded panel that never covers the Mic/Camera/Leave bar nor the
// tiles' host menus, on a laptop and on a phone; past a few knocks it folds into "N people
// knocking" with Deny all, which sends one `deny` per knock and empties the lobby.
//
// The knockers are bare signaling sockets from Node. The server runs as if behind a proxy and
// each knocker sends its own X-Forwarded-For, so the per-address knock limit (a burst of 20)
// does not apply to the flood as a whole; the browsers send none and count as 127.0.0.1.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  PHONE, dumpLogs, expectTiles, join, launchBrowser, newGuest, rawSocket, scrollsSideways, startServer, tileOf,
  waitFor,
} from './helpers.js';

const SHOTS = process.env.SALON_KNOCK_SHOTS_DIR ?? '/tmp/salon-knock-panel';

describe('a knock flood', () => {
  let server;
  let browser;
  const guests = [];
  const sockets = [];

  before(async () => {
    process.env.SALON_BEHIND_PROXY = 'true'; // read by salon-server (--behind-proxy)
    server = await startServer();
    browser = await launchBrowser();
  });

  after(async () => {
    for (const socket of sockets) socket.close();
    await browser?.close();
    await server?.stop();
  });

  /** `count` bare sockets knock, each from an address of its own; resolves once all wait. */
  const knockers = async (roomId, count, batch) => {
    const made = [];
    for (let i = 0; i < count; i += 1) {
      const socket = await rawSocket(`${server.url}/api/rooms/${roomId}/ws`, {
        headers: { 'X-Forwarded-For': `10.${batch}.${Math.floor(i / 200)}.${(i % 200) + 1}` },
      });
      sockets.push(socket);
      socket.send({
        type: 'join',
        version: 1,
        name: `Knocker ${batch}-${String(i + 1).padStart(2, '0')}`,
        media: { audio: false, video: false },
        device: crypto.randomBytes(16).toString('base64url'),
        // The room is end-to-end encrypted: a join must commit to a key (it never announces one).
        e2ee: { commit: crypto.randomBytes(32).toString('base64url') },
      });
      made.push(socket);
    }
    await Promise.all(made.map((socket) => socket.next((m) => m.type === 'waiting' || m.type === 'error')
      .then((m) => assert.equal(m.type, 'waiting', `a knocker was not put in the lobby: ${JSON.stringify(m)}`))));
    return made;
  };

  const knocksOn = (page) => page.evaluate(() => window.salon.knocks().length);

  /**
   * Where things are on the host's page: the knock panel and the call controls, and whether the
   * centre of Mic, Camera and Leave hits those buttons (nothing drawn over them).
   */
  const layout = (page) => page.evaluate(() => {
    const box = (el) => {
      const r = el.getBoundingClientRect();
      return { left: r.left, top: r.top, right: r.right, bottom: r.bottom, width: r.width, height: r.height };
    };
    const hits = {};
    for (const id of ['mic-toggle', 'cam-toggle', 'leave']) {
      const button = document.querySelector(`[data-testid=${id}]`);
      const r = button.getBoundingClientRect();
      const at = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
      hits[id] = !!at && button.contains(at);
    }
    const list = document.querySelector('[data-testid=knock-list]');
    return {
      panel: box(document.querySelector('[data-testid=knocks]')),
      controls: box(document.querySelector('nav.controls')),
      hits,
      list: list ? { visible: list.offsetParent !== null, scrollHeight: list.scrollHeight, clientHeight: list.clientHeight } : null,
      viewport: { width: innerWidth, height: innerHeight },
    };
  });

  const intersects = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;

  /** The panel is on screen, clear of the controls bar, and the controls answer at their centre. */
  const expectClearOfControls = (where, view) => {
    assert.ok(view.panel.width > 0 && view.panel.height > 0, `${where}: no knock panel on screen: ${JSON.stringify(view)}`);
    assert.ok(!intersects(view.panel, view.controls), `${where}: the knock panel covers the call controls: ${JSON.stringify(view)}`);
    assert.ok(view.panel.bottom <= view.viewport.height && view.panel.right <= view.viewport.width,
      `${where}: the knock panel runs off the screen: ${JSON.stringify(view)}`);
    assert.deepEqual(view.hits, { 'mic-toggle': true, 'cam-toggle': true, leave: true },
      `${where}: something covers Mic, Camera or Leave: ${JSON.stringify(view)}`);
  };

  /** The host menu on Bo's tile opens with a plain (actionable, not forced) click, and closes. */
  const expectMenuReachable = async (page, boId, where) => {
    await tileOf(page, boId).getByTestId('participant-menu').click({ timeout: 5000 });
    await page.getByTestId('participant-actions').waitFor({ state: 'visible', timeout: 5000 });
    assert.ok(await page.getByTestId('remove').isVisible(), `${where}: the tile menu has no Remove`);
    await page.keyboard.press('Escape');
    await page.getByTestId('participant-actions').waitFor({ state: 'hidden', timeout: 5000 });
  };

  const expectSummary = async (page, count, where) => {
    const summary = page.getByTestId('knock-count');
    await waitFor(async () => new RegExp(`^${count} people (are )?knocking$`, 'u').test((await summary.innerText({ timeout: 1000 })).trim()), {
      message: `${where}: the summary to say ${count} people are knocking`,
    });
    const toggle = page.getByTestId('knocks-toggle');
    assert.ok(await toggle.isVisible(), `${where}: no way to expand the knock list`);
    assert.equal(await toggle.getAttribute('aria-expanded'), 'false', `${where}: the list is expanded by itself`);
    assert.equal(await toggle.getAttribute('aria-controls'), 'knock-list');
    assert.equal(await page.getByTestId('knock-list').isVisible(), false, `${where}: the folded list still shows`);
    const denyAll = page.getByTestId('deny-all');
    assert.ok(await denyAll.isVisible(), `${where}: no Deny all`);
    assert.match(await denyAll.getAttribute('aria-label'), new RegExp(`^Deny all ${count} `, 'u'));
    // Screen readers hear the count (once it settles), from a live region outside the panel.
    await waitFor(() => page.evaluate((n) => {
      const live = document.querySelector('#knock-live');
      return live?.getAttribute('aria-live') === 'polite' && live.textContent.includes(`${n} people`);
    }, count), { message: `${where}: the live region to announce ${count} people` });
  };

  const expandAndCheck = async (page, count, where, shot) => {
    // The rows are updated in place, never rebuilt (a rebuilt row slips from under a click):
    // marked now, they are the same elements once the toggle has redrawn the panel.
    await page.locator('[data-testid=knock]').evaluateAll((rows) => rows.forEach((row) => { row.dataset.kept = 'yes'; }));
    await page.getByTestId('knocks-toggle').click();
    assert.equal(await page.getByTestId('knocks-toggle').getAttribute('aria-expanded'), 'true');
    await page.getByTestId('knock-list').waitFor({ state: 'visible' });
    assert.equal(await page.getByTestId('knock').count(), count);
    assert.equal(await page.locator('[data-testid=knock][data-kept=yes]').count(), count, `${where}: the panel rebuilt its rows`);
    const view = await layout(page);
    expectClearOfControls(`${where}, expanded`, view);
    assert.ok(view.list.scrollHeight > view.list.clientHeight, `${where}: ${count} knocks fit without scrolling? ${JSON.stringify(view.list)}`);
    // Bounded: at most about half of the screen, whatever the number of knocks.
    assert.ok(view.panel.height <= view.viewport.height * 0.5, `${where}: the expanded panel is too tall: ${JSON.stringify(view)}`);
    // The last knock can be scrolled to and answered.
    const last = page.getByTestId('knock').last();
    await last.scrollIntoViewIfNeeded();
    assert.ok(await last.getByTestId('knock-deny').isVisible());
    if (shot) await page.screenshot({ path: path.join(SHOTS, shot) });
    await page.getByTestId('knocks-toggle').click();
    assert.equal(await page.getByTestId('knocks-toggle').getAttribute('aria-expanded'), 'false');
    await page.getByTestId('knock-list').waitFor({ state: 'hidden' });
  };

  it('keeps the controls and tile menus usable with 10 and 30 knocks, and Deny all empties the lobby', async (t) => {
    t.after(() => { if (t.failed) dumpLogs(guests, server); });
    fs.mkdirSync(SHOTS, { recursive: true });

    // The owner creates the room on the landing page (laptop).
    const laptop = await newGuest(browser, 'host-laptop');
    guests.push(laptop);
    await laptop.page.goto(`${server.url}/`);
    await laptop.page.locator('#room-name').fill('Knock flood');
    await laptop.page.getByTestId('create-room').click();
    const link = await waitFor(() => laptop.page.getByTestId('room-link').inputValue(), { message: 'the invite link' });
    const roomId = link.split('/r/')[1].split('#')[0];
    const hostKey = await laptop.page.evaluate((id) => localStorage.getItem(`salon.host.${id}`), roomId);
    assert.ok(hostKey, 'the landing page kept no host key');
    await join(laptop, link, 'Hana Host');
    assert.equal(await laptop.page.evaluate(() => window.salon.role), 'owner');

    // Bo is in the call before the lock: the hosts have a menu on Bo's tile.
    const bo = await newGuest(browser, 'bo');
    guests.push(bo);
    await join(bo, link, 'Bo');
    await expectTiles(laptop, [bo.id]);

    await laptop.page.getByTestId('lock-toggle').click();
    await waitFor(async () => (await laptop.page.getByTestId('lock-toggle').getAttribute('aria-pressed')) === 'true', {
      message: 'the room to be locked',
    });

    // The owner on a phone too (owners skip the lobby).
    const phone = await newGuest(browser, 'host-phone', PHONE);
    guests.push(phone);
    await phone.page.goto(`${server.url}/`);
    await phone.page.evaluate(([id, key]) => localStorage.setItem(`salon.host.${id}`, key), [roomId, hostKey]);
    await join(phone, link, 'Hana Phone');
    assert.equal(await phone.page.evaluate(() => window.salon.role), 'owner');
    await expectTiles(phone, [laptop.id, bo.id]);
    const hosts = [['laptop', laptop.page], ['phone', phone.page]];

    // --- 10 knocks --------------------------------------------------------------------------
    const ten = await knockers(roomId, 10, 1);
    for (const [where, page] of hosts) {
      await waitFor(async () => (await knocksOn(page)) === 10, { message: `the ${where} host to see 10 knocks` });
      expectClearOfControls(`${where}, 10 knocks`, await layout(page));
      await expectMenuReachable(page, bo.id, `${where}, 10 knocks`);
      await expectSummary(page, 10, `${where}, 10 knocks`);
      await expandAndCheck(page, 10, `${where}, 10 knocks`);
    }

    // Deny all, from the laptop: every knocker is refused, and the panel goes on both pages.
    await laptop.page.getByTestId('deny-all').click();
    await Promise.all(ten.map((socket) => socket.next((m) => m.type === 'error').then((m) => {
      assert.equal(m.code, 'knock_denied', `a knocker got ${JSON.stringify(m)}`);
    })));
    for (const [where, page] of hosts) {
      await waitFor(async () => (await knocksOn(page)) === 0, { message: `the ${where} host's knock list to empty` });
      await page.getByTestId('knocks').waitFor({ state: 'hidden', timeout: 5000 });
    }

    // --- 30 knocks --------------------------------------------------------------------------
    const thirty = await knockers(roomId, 30, 2);
    for (const [where, page] of hosts) {
      await waitFor(async () => (await knocksOn(page)) === 30, { message: `the ${where} host to see 30 knocks` });
      expectClearOfControls(`${where}, 30 knocks`, await layout(page));
      await expectMenuReachable(page, bo.id, `${where}, 30 knocks`);
      await expectSummary(page, 30, `${where}, 30 knocks`);
      assert.equal(await scrollsSideways(page), false, `${where}: the page scrolls sideways`);
      await page.screenshot({ path: path.join(SHOTS, `${where}-30-knocks.png`) });
      await expandAndCheck(page, 30, `${where}, 30 knocks`, `${where}-30-knocks-expanded.png`);
    }
    // Expanded, the panel still leaves the tile menus and controls alone.
    for (const [where, page] of hosts) {
      await page.getByTestId('knocks-toggle').click();
      await expectMenuReachable(page, bo.id, `${where}, 30 knocks, expanded`);
      expectClearOfControls(`${where}, 30 knocks, expanded`, await layout(page));
      await page.getByTestId('knocks-toggle').click();
    }

    // Deny all, from the phone this time.
    await phone.page.getByTestId('deny-all').click();
    await Promise.all(thirty.map((socket) => socket.next((m) => m.type === 'error', 15000).then((m) => {
      assert.equal(m.code, 'knock_denied', `a knocker got ${JSON.stringify(m)}`);
    })));
    for (const [where, page] of hosts) {
      await waitFor(async () => (await knocksOn(page)) === 0, { message: `the ${where} host's knock list to empty` });
      await page.getByTestId('knocks').waitFor({ state: 'hidden', timeout: 5000 });
      // No deny went out twice or to a knock that was gone: no error toast.
      assert.equal(await page.locator('#toast').isVisible(), false, `${where}: ${await page.locator('#toast').textContent()}`);
    }
    // The call itself went on all along, and the pages ran clean (no script error, nothing the
    // Content-Security-Policy had to block).
    assert.equal(await bo.page.evaluate(() => window.salon.state), 'joined');
    assert.equal(await laptop.page.evaluate(() => window.salon.state), 'joined');
    for (const g of guests) {
      const bad = g.logs.filter((line) => /pageerror|Content Security Policy|Refused to/u.test(line));
      assert.deepEqual(bad, [], `${g.label}: ${bad.join('\n')}`);
    }
  });
});
