// Cluster mode in real browsers (docs/deploy.md): three salon-server nodes sharing rooms through a
// real redis-server. Guests opening one link through two different nodes land in one room on its
// owner — the page connects to the owner's node (another origin: the page policy and the Origin
// check must let it) — and when the owner is killed (-9) they come back on a survivor by
// themselves, through the node that served their page, and see each other again.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  createRoomViaApi, dumpLogs, expectReceiving, join, launchBrowser, newGuest, remoteTileIds,
  startServer, waitFor,
} from './helpers.js';

const REDIS = '/usr/bin/redis-server';

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function startRedis() {
  if (!fs.existsSync(REDIS)) {
    throw new Error(`${REDIS} is missing: the test command installs it (apt-get install redis-server)`);
  }
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'salon-redis-'));
  const child = spawn(REDIS, ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  const reap = () => child.kill('SIGKILL');
  process.once('exit', reap);
  await waitFor(() => new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => { socket.end(); resolve(true); });
    socket.once('error', () => resolve(false));
  }), { timeout: 10000, message: 'redis-server to listen' });
  return {
    url: `redis://127.0.0.1:${port}`,
    stop() {
      child.kill('SIGKILL');
      process.removeListener('exit', reap);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The room's path on another node's origin (the same link, entered elsewhere). */
function through(node, roomUrl) {
  const url = new URL(roomUrl);
  return `${node.url}${url.pathname}${url.hash}`;
}

describe('three nodes sharing rooms through Redis', () => {
  let redis;
  let browser;
  const nodes = [];
  const guests = [];

  before(async () => {
    redis = await startRedis();
    for (const id of ['n1', 'n2', 'n3']) {
      const node = await startServer({ args: ['--redis', redis.url, '--node-id', id] });
      node.id = id;
      nodes.push(node);
    }
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    for (const node of nodes) await node.stop({ signal: 'SIGKILL' });
    redis?.stop();
  });

  it('guests entering through two nodes meet on the owner, and after the owner dies on a survivor', async (t) => {
    t.after(() => {
      if (t.failed) {
        dumpLogs(guests);
        for (const node of nodes) console.log(`--- ${node.id}\n${node.logTail(40)}`);
      }
    });
    const room = await createRoomViaApi(nodes[0].url, 'Across nodes');
    const info = await (await fetch(`${nodes[1].url}/api/rooms/${room.id}`)).json();
    assert.match(info.ws_url, /^ws:\/\/127\.0\.0\.1:\d+\/api\/rooms\/[\w-]+\/ws$/u, 'the look-up names the owner\'s socket');
    const owner = nodes.find((n) => n.id === info.node);
    assert.ok(owner, `the owner ${info.node} is one of the nodes`);
    // The two guests' pages come from the two other nodes.
    const [first, second] = nodes.filter((n) => n !== owner);

    const ada = await newGuest(browser, 'ada');
    const bo = await newGuest(browser, 'bo');
    guests.push(ada, bo);
    await join(ada, through(first, room.url), 'Ada');
    await join(bo, through(second, room.url), 'Bo');
    await expectReceiving(ada, [bo.id]);
    await expectReceiving(bo, [ada.id]);
    for (const guest of guests) {
      assert.ok(!guest.logs.some((l) => /Content Security Policy|Refused to connect/u.test(l)), `${guest.label}: ${guest.logs.join('\n')}`);
    }

    // The owner dies: both pages find the room again on a survivor, by themselves.
    await owner.stop({ signal: 'SIGKILL', keepData: true });
    await waitFor(async () => {
      const now = await (await fetch(`${first.url}/api/rooms/${room.id}`)).json();
      return now.node && now.node !== owner.id;
    }, { timeout: 15000, message: 'a survivor to own the room' });
    await waitFor(async () => {
      const [a, b] = await Promise.all([ada, bo].map((g) => g.page.evaluate(() => window.salon?.state)));
      return a === 'joined' && b === 'joined';
    }, { timeout: 30000, message: 'both guests to be back in the room' });
    await waitFor(async () => (await remoteTileIds(ada.page)).length === 1 && (await remoteTileIds(bo.page)).length === 1, {
      timeout: 20000,
      message: 'each guest to see the other again',
    });
    ada.id = await ada.page.evaluate(() => window.salon.participantId);
    bo.id = await bo.page.evaluate(() => window.salon.participantId);
    await expectReceiving(ada, [bo.id], { timeout: 30000 });
    await expectReceiving(bo, [ada.id], { timeout: 30000 });
  });
});
