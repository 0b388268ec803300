// Another website's page tries to use Salon through its visitors' browsers: create rooms (a
// form post, a fetch that needs no preflight) and join a room over a WebSocket to hold a seat.
// Browsers send that page's Origin with each, so the server refuses them (403
// forbidden_origin): no room is made and no seat is taken. Salon's own pages still work.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import {
  createRoomViaApi, dumpLogs, join, launchBrowser, newGuest, startServer, waitFor,
} from './helpers.js';

// Room creations are counted in the server's log ("room created", at info level).
process.env.SALON_TEST_LOG = `${process.env.SALON_TEST_LOG ?? 'warn'},salon_server::http=info`;

/** A page on another origin (another loopback port): a harmless-looking site. */
async function startOtherSite() {
  const site = http.createServer((_request, response) => {
    response.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    response.end('<!doctype html><title>Cute cats</title><h1>Cute cats</h1>');
  });
  await new Promise((resolve) => site.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${site.address().port}`,
    stop: () => new Promise((resolve) => site.close(resolve)),
  };
}

describe('a page on another website', () => {
  let server;
  let other;
  let browser;
  const guests = [];

  const roomsCreated = () => (fs.readFileSync(server.logPath, 'utf8').match(/room created/gu) ?? []).length;
  const participants = async (id) => (await (await fetch(`${server.url}/api/rooms/${id}`)).json()).participants;

  before(async () => {
    server = await startServer();
    other = await startOtherSite();
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await other?.stop();
    await server?.stop();
  });

  it('cannot create rooms or join them through its visitors, and Salon\'s own page still can', async (t) => {
    t.after(() => { if (t.failed) dumpLogs(guests, server); });
    // A room made by a native client (no Origin): allowed, and counted.
    const room = await createRoomViaApi(server.url, 'Friday');
    await waitFor(() => roomsCreated() === 1, { message: 'the first room in the log' });

    const visitor = await newGuest(browser, 'visitor');
    guests.push(visitor);
    await visitor.page.goto(`${other.url}/`);
    const report = await visitor.page.evaluate(async ({ salon, roomId }) => {
      const out = {};
      // A "simple" cross-origin POST: no preflight, so the browser sends it as is. The page
      // cannot read the answer, but before the defense the room was made all the same.
      try {
        const response = await fetch(`${salon}/api/rooms`, {
          method: 'POST', mode: 'no-cors', headers: { 'Content-Type': 'text/plain' }, body: '{"name":"Spam"}',
        });
        out.noCors = response.type;
      } catch (error) {
        out.noCors = `failed: ${error.message}`;
      }
      try {
        const response = await fetch(`${salon}/api/rooms`, {
          method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: '{}',
        });
        out.cors = `read ${response.status}`;
      } catch (error) {
        out.cors = 'failed';
      }
      // A WebSocket that joins the room and sits on a seat.
      out.socket = await new Promise((resolve) => {
        const events = [];
        const ws = new WebSocket(`${salon.replace(/^http/u, 'ws')}/api/rooms/${roomId}/ws`);
        ws.onopen = () => {
          events.push('open');
          ws.send(JSON.stringify({ type: 'join', version: 1, name: 'Seat holder', media: { audio: false, video: false } }));
        };
        ws.onmessage = (event) => events.push(`message ${String(event.data).slice(0, 60)}`);
        ws.onerror = () => events.push('error');
        ws.onclose = () => { events.push('close'); resolve(events); };
        setTimeout(() => resolve(events), 5000);
      });
      return out;
    }, { salon: server.url, roomId: room.id });

    assert.equal(report.cors, 'failed', 'the page must not read an answer');
    assert.ok(!report.socket.includes('open'), `the socket must not open: ${JSON.stringify(report.socket)}`);
    assert.ok(report.socket.includes('close'), `the socket must fail: ${JSON.stringify(report.socket)}`);
    assert.equal(await participants(room.id), 0, 'no seat taken');

    // A classic cross-site form post: the browser navigates to Salon's answer.
    await visitor.page.evaluate((salon) => {
      const form = document.createElement('form');
      form.method = 'POST';
      form.action = `${salon}/api/rooms`;
      form.enctype = 'text/plain';
      const field = document.createElement('input');
      field.name = '{"name":"Spam","x":"';
      field.value = '"}';
      form.append(field);
      document.body.append(form);
      form.submit();
    }, server.url);
    await visitor.page.waitForURL(`${server.url}/api/rooms`);
    const answer = JSON.parse(await visitor.page.locator('body').innerText());
    assert.equal(answer.error?.code, 'forbidden_origin', JSON.stringify(answer));
    assert.match(answer.error.message, /another website/u);

    // Nothing above made a room (give the log a moment to catch up).
    await new Promise((resolve) => setTimeout(resolve, 1000));
    assert.equal(roomsCreated(), 1, 'no room made from the other website');
    assert.equal(await participants(room.id), 0, 'still no seat taken');

    // Salon's own pages (same origin) still create and join rooms.
    const host = await newGuest(browser, 'host');
    guests.push(host);
    await host.page.goto(`${server.url}/`);
    await host.page.getByTestId('create-room').click();
    const link = await waitFor(() => host.page.getByTestId('room-link').inputValue(), { message: 'the invite link' });
    await waitFor(() => roomsCreated() === 2, { message: 'the landing page\'s room in the log' });
    await join(host, link, 'Hana');
    const guest = await newGuest(browser, 'guest');
    guests.push(guest);
    await join(guest, room.url, 'Bo');
    assert.equal(await participants(room.id), 1);
  });
});
