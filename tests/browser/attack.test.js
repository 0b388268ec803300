// A guest who tries host actions anyway. From inside the guest's page, a script opens its own
// signaling socket, joins (with a made-up host key, too), and sends every host action straight
// over the wire. Each one must come back as `not_allowed`, and nothing may change for the
// people in the call: the host stays host, the room stays unlocked, on its link, with everyone
// in it and their microphones on.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  dumpLogs, expectReceiving, expectTiles, join, launchBrowser, newGuest, ownedRoom, startServer, tileOf,
  waitFor,
} from './helpers.js';

describe('a guest trying host actions', () => {
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

  it('gets not_allowed for each one, and nothing changes for the others', async (t) => {
    t.after(() => { if (t.failed) dumpLogs(guests, server); });
    const { room, host } = await ownedRoom(browser, server, { roomName: 'Attack test' });
    const bo = await newGuest(browser, 'bo');
    guests.push(host, bo);
    await join(bo, room.url, 'Bo');
    await expectTiles(host, [bo.id]);
    await expectTiles(bo, [host.id]);

    // The page of a guest shows no host controls at all.
    assert.equal(await bo.page.getByTestId('host-bar').isVisible(), false);
    assert.equal(await tileOf(bo.page, host.id).getByTestId('participant-menu').count(), 0);
    assert.equal(await bo.page.evaluate(() => window.salon.role), 'guest');

    const report = await bo.page.evaluate(async ({ roomId, hostId, boId }) => {
      const ws = new WebSocket(`${location.origin.replace(/^http/u, 'ws')}/api/rooms/${roomId}/ws`);
      const inbox = [];
      ws.onmessage = (event) => { inbox.push(JSON.parse(event.data)); };
      const next = (pred, ms = 5000) => new Promise((resolve, reject) => {
        const deadline = Date.now() + ms;
        const look = () => {
          const at = inbox.findIndex(pred);
          if (at >= 0) {
            resolve(inbox.splice(at, 1)[0]);
          } else if (Date.now() > deadline) {
            reject(new Error(`no matching message; inbox: ${JSON.stringify(inbox.map((m) => m.type))}`));
          } else {
            setTimeout(look, 50);
          }
        };
        look();
      });
      await new Promise((resolve, reject) => {
        ws.onopen = resolve;
        ws.onerror = () => reject(new Error('socket failed'));
      });
      const send = (message) => ws.send(JSON.stringify(message));
      // A made-up host key: refused (not fatal), and the join goes on as a guest.
      send({
        type: 'join', version: 1, name: 'Mallory', media: { audio: false, video: false },
        host_key: 'A'.repeat(43), device: 'M'.repeat(22),
        // The room is end-to-end encrypted: Mallory commits to a key she never announces.
        e2ee: { commit: 'A'.repeat(43) },
      });
      const keyRefused = await next((m) => m.type === 'error');
      const joined = await next((m) => m.type === 'joined');
      const me = joined.participant_id;
      const attempts = [
        { type: 'set_locked', locked: true },
        { type: 'set_panic', active: true },
        { type: 'remove', participant_id: hostId },
        { type: 'remove', participant_id: boId },
        { type: 'mute', participant_id: boId, video: true },
        { type: 'mute', participant_id: hostId },
        { type: 'ask_mute', participant_id: boId },
        { type: 'set_cohost', participant_id: me, cohost: true },
        { type: 'set_cohost', participant_id: boId, cohost: true },
        { type: 'admit', knock_id: 'K'.repeat(22) },
        { type: 'deny', knock_id: 'K'.repeat(22) },
        { type: 'unban', ban_id: 'B'.repeat(22) },
        { type: 'rotate_link' },
        { type: 'end_room' },
      ];
      const answers = [];
      for (const attempt of attempts) {
        send(attempt);
        const answer = await next((m) => m.type === 'error');
        answers.push({ sent: attempt.type, code: answer.code, fatal: answer.fatal });
      }
      // Still connected afterwards: a ping gets its pong.
      send({ type: 'ping' });
      const pong = await next((m) => m.type === 'pong');
      const leftOver = inbox.filter((m) => ['room_updated', 'muted', 'mute_requested', 'bans', 'knock_received'].includes(m.type));
      send({ type: 'leave' });
      ws.close();
      return {
        keyRefused, role: joined.role, answers, pong: pong.type, leftOver, me,
      };
    }, { roomId: room.id, hostId: host.id, boId: bo.id });

    assert.equal(report.keyRefused.code, 'not_allowed', `wrong host key: ${JSON.stringify(report.keyRefused)}`);
    assert.equal(report.keyRefused.fatal, false);
    assert.equal(report.role, 'guest', 'a wrong host key made an owner');
    for (const answer of report.answers) {
      assert.deepEqual(answer, { sent: answer.sent, code: 'not_allowed', fatal: false }, `${answer.sent} was not refused`);
    }
    assert.equal(report.answers.length, 14);
    assert.equal(report.pong, 'pong');
    assert.deepEqual(report.leftOver, [], 'the guest was told of a change');

    // Nothing changed for the others.
    await expectTiles(host, [bo.id], 10000); // Mallory came and went
    const hostView = await host.page.evaluate(() => ({
      state: window.salon.state, role: window.salon.role, room: window.salon.room, bans: window.salon.bans(),
      knocks: window.salon.knocks(), url: location.pathname,
    }));
    assert.equal(hostView.state, 'joined');
    assert.equal(hostView.role, 'owner');
    assert.equal(hostView.room.id, room.id);
    assert.equal(hostView.room.locked, false);
    assert.equal(hostView.room.panic, false);
    assert.deepEqual(hostView.bans, []);
    assert.deepEqual(hostView.knocks, []);
    assert.equal(hostView.url, `/r/${room.id}`);
    assert.equal(await host.page.getByTestId('lock-toggle').getAttribute('aria-pressed'), 'false');
    const boView = await bo.page.evaluate(() => ({
      state: window.salon.state, role: window.salon.role, room: window.salon.room,
    }));
    assert.equal(boView.state, 'joined');
    assert.equal(boView.role, 'guest');
    assert.equal(boView.room.locked, false);
    assert.equal(await bo.page.getByTestId('mic-toggle').getAttribute('aria-pressed'), 'true');
    assert.equal(await bo.page.getByTestId('mute-request').isVisible(), false);
    assert.equal(await tileOf(host.page, bo.id).getAttribute('data-audio'), 'on');
    assert.equal((await fetch(`${server.url}/api/rooms/${room.id}`)).status, 200, 'the link was rotated');
    // And the call itself goes on, both ways.
    await expectReceiving(host, [bo.id]);
    await expectReceiving(bo, [host.id]);
  });
});
