// Host controls in real browsers against a real salon-server (docs/protocol.md, "Hosts, the
// lobby and removal"): a removal sticks (reload, new name, new browser profile) until a host
// lifts the ban; a locked room keeps newcomers in a lobby where they get nothing until admitted;
// panic turns guests off at the server; a new link retires the old one.
//
// Every browser here comes from 127.0.0.1, and a removal bans the address too: each test has a
// room of its own. At most three browser contexts at once (the CI machine has two cores).

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  PHONE, dumpLogs, expectReceiving, expectTiles, join, joinRefused, knock, launchBrowser, newGuest,
  openHostTools, ownedRoom, sampleMedia, screenshot, scrollsSideways, staysTrue, startServer, tileAction,
  tileOf, waitFor,
} from './helpers.js';

describe('host controls', () => {
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

  /** Per test: dump logs if it failed, then close its browser contexts. */
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

  const pageState = (g) => g.page.evaluate(() => ({
    state: window.salon.state, role: window.salon.role, room: window.salon.room, errorCode: window.salon.errorCode,
  }));

  it('a removed guest stays out — reload, new name, new browser — until a host lifts the ban', async (t) => {
    cleanUp(t);
    const { room, host } = await ownedRoom(browser, server, { roomName: 'Remove test' });
    guests.push(host);
    const bo = await guest('bo');
    await join(bo, room.url, 'Bo');
    await expectTiles(host, [bo.id]);
    await expectTiles(bo, [host.id]);

    // The guest sees the owner labelled as host, and no host controls of their own.
    await waitFor(async () => (await tileOf(bo.page, host.id).locator('.tile-role').textContent()) === 'host', {
      message: "Bo to see the owner's host label",
    });
    assert.equal(await bo.page.getByTestId('host-bar').isVisible(), false, 'a guest sees host controls');
    assert.equal(await bo.page.getByTestId('participant-menu').count(), 0, 'a guest has tile menus');
    assert.equal(await host.page.getByTestId('lock-toggle').getAttribute('aria-pressed'), 'false');

    await tileAction(host.page, bo.id, 'remove');
    const notice = bo.page.getByTestId('removed-notice');
    await notice.waitFor({ state: 'visible', timeout: 10000 });
    assert.match(await notice.innerText(), /You were removed from this room/u);
    await screenshot(bo.page, 'removed');
    await expectTiles(host, [], 10000);
    // A removal locks the room, and the host sees the ban.
    await waitFor(async () => (await host.page.getByTestId('lock-toggle').getAttribute('aria-pressed')) === 'true', {
      message: 'the lock toggle to show the room locked',
    });
    assert.equal((await pageState(host)).room.locked, true);
    await waitFor(() => host.page.evaluate(() => window.salon.bans().map((b) => b.name).join() === 'Bo'), {
      message: 'the host to see Bo in the ban list',
    });
    // Removed means no reconnecting by itself: the page stays on the notice, nobody knocks.
    await staysTrue(async () => {
      const state = await pageState(bo);
      const knocks = await host.page.evaluate(() => window.salon.knocks().length);
      return state.state === 'error' && state.errorCode === 'removed' && knocks === 0;
    }, 3000, 'Bo to stay out without trying again');

    // Reloading does not help.
    await bo.page.reload();
    await joinRefused(bo, null, null, 'removed-notice');
    // Nor does another browser profile (a new device id) with another name: the address is banned.
    const cy = await guest('cy');
    await joinRefused(cy, room.url, 'Not Bo', 'removed-notice');
    const devices = await Promise.all([bo, cy].map((g) => g.page.evaluate(() => localStorage.getItem('salon.device'))));
    assert.match(devices[0], /^[A-Za-z0-9_-]{22}$/u);
    assert.notEqual(devices[0], devices[1], 'two browser profiles share a device id');
    await bo.context.close();
    await cy.context.close();

    // The host lifts the ban: the next newcomer knocks (the room is still locked) and is let in.
    await openHostTools(host.page);
    await screenshot(host.page, 'host-tools-ban');
    await host.page.getByTestId('ban').filter({ hasText: 'Bo' }).getByTestId('unban').click();
    await waitFor(() => host.page.evaluate(() => window.salon.bans().length === 0), { message: 'the ban list to empty' });
    const dee = await guest('dee');
    await knock(dee, room.url, 'Dee');
    await waitFor(() => host.page.evaluate(() => window.salon.knocks().map((k) => k.name).join() === 'Dee'), {
      message: 'the host to see Dee knock',
    });
    await host.page.getByTestId('knock').filter({ hasText: 'Dee' }).getByTestId('knock-admit').click();
    await waitFor(() => dee.page.evaluate(() => window.salon.state === 'joined'), { message: 'Dee to be let in' });
    dee.id = await dee.page.evaluate(() => window.salon.participantId);
    await expectTiles(host, [dee.id]);
    await expectTiles(dee, [host.id]);
  });

  it('a locked room keeps a newcomer in the lobby with nothing until a host admits them', async (t) => {
    cleanUp(t);
    const { room, host } = await ownedRoom(browser, server, { roomName: 'Knock test' });
    guests.push(host);
    await host.page.getByTestId('lock-toggle').click();
    await waitFor(async () => (await host.page.getByTestId('lock-toggle').getAttribute('aria-pressed')) === 'true', {
      message: 'the lock toggle to show the room locked',
    });
    assert.equal(await host.page.getByTestId('lock-badge').isVisible(), true, 'no lock badge');

    // With the host gone, a knocker is told that nobody can answer yet.
    await host.page.getByTestId('leave').click();
    await host.page.getByTestId('left').waitFor({ state: 'visible' });
    const bo = await guest('bo');
    await bo.page.goto(room.url);
    await bo.page.getByTestId('lobby-locked').waitFor({ state: 'visible' });
    assert.equal(await bo.page.getByTestId('join-submit').innerText(), 'Ask to join');
    await knock(bo, null, 'Bo');
    assert.match(await bo.page.getByTestId('lobby-wait').innerText(), /Waiting for a host to let you in/u);
    assert.match(await bo.page.getByTestId('lobby-wait').innerText(), /No host is here yet/u);
    await screenshot(bo.page, 'lobby-wait');

    // The host comes back and finds the knock waiting.
    await host.page.getByTestId('rejoin').click();
    await waitFor(() => host.page.evaluate(() => window.salon.state === 'joined'), { message: 'the host to rejoin' });
    await host.page.getByTestId('knock').filter({ hasText: 'Bo' }).waitFor({ state: 'visible' });
    await screenshot(host.page, 'host-knock');
    // The knocker is told that a host is there now.
    await waitFor(
      async () => !/No host is here yet/u.test(await bo.page.getByTestId('lobby-wait').innerText()),
      { message: 'the lobby to say a host arrived' },
    );
    // Meanwhile the knocker has no tiles, no participant list and no media.
    assert.deepEqual(await bo.page.evaluate(() => window.salon.remoteParticipants()), []);
    assert.equal(await bo.page.locator('[data-testid=tile]').count(), 0);
    assert.equal(await bo.page.evaluate(() => window.salon.stats()), null, 'a knocker has a peer connection');
    assert.equal(await bo.page.evaluate(() => window.salon.state), 'waiting');

    await host.page.getByTestId('knock').filter({ hasText: 'Bo' }).getByTestId('knock-deny').click();
    const error = bo.page.getByTestId('room-error');
    await error.waitFor({ state: 'visible', timeout: 10000 });
    assert.match(await error.innerText(), /The host didn't let you in\./u);
    assert.equal((await pageState(bo)).errorCode, 'knock_denied');
    await waitFor(() => host.page.evaluate(() => window.salon.knocks().length === 0), { message: 'the knock to go' });

    // Knocking again: the host sees it is the second time, and admits.
    await bo.page.getByRole('button', { name: 'Knock again' }).click();
    await waitFor(() => bo.page.evaluate(() => window.salon.state === 'preview'), { message: 'Bo back at the preview' });
    await knock(bo, null, null);
    const second = host.page.getByTestId('knock').filter({ hasText: 'Bo' });
    await second.waitFor({ state: 'visible' });
    assert.match(await second.innerText(), /denied once already/u);
    await second.getByTestId('knock-admit').click();
    await waitFor(() => bo.page.evaluate(() => window.salon.state === 'joined'), { message: 'Bo to be let in' });
    bo.id = await bo.page.evaluate(() => window.salon.participantId);
    host.id = await host.page.evaluate(() => window.salon.participantId);
    await expectTiles(host, [bo.id]);
    await expectTiles(bo, [host.id]);
    await expectReceiving(host, [bo.id], { audio: false });
    await expectReceiving(bo, [host.id], { audio: false });
  });

  it('panic turns guests off at the server until a host releases it', async (t) => {
    cleanUp(t);
    const { room, host } = await ownedRoom(browser, server, { roomName: 'Panic test' });
    guests.push(host);
    const bo = await guest('bo');
    await join(bo, room.url, 'Bo');
    await expectReceiving(host, [bo.id]);

    const panic = host.page.getByTestId('panic');
    assert.equal(await panic.innerText(), 'Panic');
    await panic.click();
    await waitFor(async () => (await panic.innerText()) === 'Release panic', { message: 'the panic button to read "Release panic"' });
    await waitFor(() => bo.page.evaluate(() => window.salon.room?.panic === true), { message: 'Bo to see panic' });
    const mic = bo.page.getByTestId('mic-toggle');
    const camera = bo.page.getByTestId('cam-toggle');
    await waitFor(async () => (await mic.isDisabled()) && (await camera.isDisabled()), { message: "Bo's buttons to be disabled" });
    assert.equal(await mic.getAttribute('aria-pressed'), 'false', "Bo's microphone is still on");
    assert.equal(await camera.getAttribute('aria-pressed'), 'false', "Bo's camera is still on");
    assert.match(await bo.page.getByTestId('panic-banner').innerText(), /Paused by host/u);
    assert.equal((await pageState(host)).room.locked, true, 'panic did not lock the room');
    await screenshot(bo.page, 'panic-guest');

    // The host stops receiving Bo's audio: the packet count stops growing.
    const packets = async () => (await sampleMedia(host.page))[bo.id]?.audioPackets ?? 0;
    let previous = -1;
    await waitFor(async () => {
      const now = await packets();
      const still = now === previous;
      previous = now;
      return still;
    }, { timeout: 10000, interval: 1000, message: "Bo's audio to stop arriving at the host" });
    const stopped = previous;
    await staysTrue(async () => (await packets()) === stopped, 2000, "no audio packets from Bo during panic");
    // On the host's side, Bo's tile shows microphone and camera off.
    await waitFor(async () => (await tileOf(host.page, bo.id).getAttribute('data-audio')) === 'off', {
      message: "the host to see Bo's microphone off",
    });

    await panic.click();
    await waitFor(async () => (await panic.innerText()) === 'Panic', { message: 'the panic button to read "Panic"' });
    await waitFor(async () => !(await mic.isDisabled()), { message: "Bo's microphone button to work again" });
    assert.equal(await bo.page.getByTestId('panic-banner').isVisible(), false);
    await mic.click();
    await camera.click();
    await waitFor(async () => (await mic.getAttribute('aria-pressed')) === 'true', { message: 'Bo to unmute' });
    await expectReceiving(host, [bo.id]);
  });

  it('a new link retires the old one; people inside follow it', async (t) => {
    cleanUp(t);
    const { room, host } = await ownedRoom(browser, server, { roomName: 'Rotate test' });
    guests.push(host);
    const bo = await guest('bo');
    await join(bo, room.url, 'Bo');
    await expectTiles(host, [bo.id]);

    // As if the landing page of this browser had created the room: it is in "Your rooms".
    await host.page.evaluate((r) => localStorage.setItem('salon.rooms', JSON.stringify([{ id: r.id, name: r.name, url: r.plainUrl }])), room);
    await openHostTools(host.page);
    assert.equal(await host.page.getByTestId('invite-link').inputValue(), room.url);
    await host.page.getByTestId('rotate-link').click();
    const newId = await waitFor(() => host.page.evaluate((old) => (window.salon.roomId !== old ? window.salon.roomId : null), room.id), {
      message: 'a new room id',
    });
    assert.match(newId, /^[A-Za-z0-9_-]{22}$/u);
    // The room is end-to-end encrypted: the new link has a new secret, made by this host and
    // boxed to the people inside (docs/adr/0003-e2ee.md §2.4).
    const newUrl = await waitFor(() => {
      const url = host.page.url();
      return url.startsWith(`${server.url}/r/${newId}#k=`) ? url : null;
    }, { message: 'the address bar to show the new link with its key' });
    assert.match(newUrl, /#k=[A-Za-z0-9_-]{43}$/u);
    assert.notEqual(newUrl.split('#k=')[1], room.secret, 'a new link gets a new room secret');
    await waitFor(async () => (await host.page.getByTestId('invite-link').inputValue()) === newUrl, {
      message: 'the invite link to show the new id',
    });
    await waitFor(() => bo.page.url() === newUrl, { message: "Bo's address bar to show the new link" });
    // The host key follows the room to its new id.
    const keys = await host.page.evaluate(([oldId, id]) => [localStorage.getItem(`salon.host.${oldId}`), localStorage.getItem(`salon.host.${id}`)], [room.id, newId]);
    assert.deepEqual(keys, [null, room.host_key]);
    const remembered = await host.page.evaluate(() => JSON.parse(localStorage.getItem('salon.rooms')));
    assert.deepEqual(remembered, [{ id: newId, name: 'Rotate test', url: `${server.url}/r/${newId}` }]);
    assert.equal(await host.page.evaluate((id) => localStorage.getItem(`salon.secret.${id}`), newId), newUrl.split('#k=')[1],
      'the new secret kept next to the host key');

    // The old link leads nowhere now.
    const cy = await guest('cy');
    await cy.page.goto(room.url);
    const error = cy.page.getByTestId('room-error');
    await error.waitFor({ state: 'visible', timeout: 10000 });
    assert.match(await error.innerText(), /Room not found/u);
    await cy.context.close();

    // The new one works, and the owner is still the owner there (after a reload too).
    const dee = await guest('dee');
    await join(dee, newUrl, 'Dee');
    await expectTiles(dee, [host.id, bo.id]);
    await expectReceiving(dee, [host.id, bo.id]);
    await expectReceiving(bo, [host.id, dee.id]);
    await waitFor(async () => {
      const codes = await Promise.all([host, bo, dee].map((g) => g.page.getByTestId('safety-code').innerText()));
      return /^\d{4} \d{4} \d{4}$/u.test(codes[0]) && codes.every((c) => c === codes[0]);
    }, { message: 'the same safety code on the three pages after the new link' });
    await host.page.reload();
    await host.page.getByTestId('join-submit').click();
    await waitFor(() => host.page.evaluate(() => window.salon.state === 'joined' && window.salon.role === 'owner'), {
      message: 'the host back in as owner at the new link',
    });
  });

  it('asks to mute, mutes, and names a co-host — from a phone', async (t) => {
    cleanUp(t);
    const { room, host } = await ownedRoom(browser, server, { roomName: 'Mute test', label: 'host-phone' });
    guests.push(host);
    await host.page.setViewportSize(PHONE.viewport);
    const bo = await guest('bo');
    await join(bo, room.url, 'Bo');
    await expectTiles(host, [bo.id]);
    const mic = bo.page.getByTestId('mic-toggle');
    const boOnHost = tileOf(host.page, bo.id);
    const hostSees = (value) => waitFor(async () => (await boOnHost.getAttribute('data-audio')) === value, {
      message: `the host to see Bo's microphone ${value}`,
    });

    // Ask to mute: Bo decides, and does.
    await boOnHost.getByTestId('participant-menu').click();
    await screenshot(host.page, 'host-menu-phone');
    assert.equal(await scrollsSideways(host.page), false, 'the host controls scroll sideways on a phone');
    await host.page.getByTestId('ask-mute').click();
    const request = bo.page.getByTestId('mute-request');
    await request.waitFor({ state: 'visible' });
    assert.match(await request.innerText(), /Hana Host asks you to mute/u);
    await bo.page.getByTestId('mute-accept').click();
    assert.equal(await mic.getAttribute('aria-pressed'), 'false');
    await hostSees('off');
    await mic.click();
    await hostSees('on');

    // Mute: done for Bo, who is told and may switch the microphone back on.
    await tileAction(host.page, bo.id, 'mute');
    await waitFor(async () => (await mic.getAttribute('aria-pressed')) === 'false', { message: "Bo's microphone to go off" });
    await waitFor(async () => /Hana Host muted you/u.test(await bo.page.locator('#toast').innerText()), {
      message: 'Bo to be told who muted them',
    });
    await hostSees('off');
    assert.equal(await mic.isDisabled(), false);
    await mic.click();
    await hostSees('on');

    // Co-host: Bo gets host controls, but none over the owner.
    await boOnHost.getByTestId('participant-menu').click();
    assert.equal(await host.page.getByTestId('cohost-toggle').innerText(), 'Make co-host');
    await host.page.getByTestId('cohost-toggle').click();
    await waitFor(() => bo.page.evaluate(() => window.salon.role === 'cohost'), { message: 'Bo to become co-host' });
    await bo.page.getByTestId('host-bar').waitFor({ state: 'visible' });
    assert.equal(await tileOf(bo.page, host.id).getByTestId('participant-menu').count(), 0, 'a co-host can act on the owner');
    await waitFor(async () => (await boOnHost.locator('.tile-role').innerText()) === 'co-host', { message: 'the co-host label' });
    await boOnHost.getByTestId('participant-menu').click();
    assert.equal(await host.page.getByTestId('cohost-toggle').innerText(), 'Remove co-host');
    await host.page.getByTestId('cohost-toggle').click();
    await waitFor(() => bo.page.evaluate(() => window.salon.role === 'guest'), { message: 'Bo to be a guest again' });
    await bo.page.getByTestId('host-bar').waitFor({ state: 'hidden' });
  });
});
