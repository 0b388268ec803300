// Unit tests of the page's cluster routing (server/web/cluster-logic.js), run in Node: which
// `moved` URLs are followed, at most three in a row, and the fall back to the page's own origin
// when the room's node cannot be reached.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

// Not helpers.js: this test needs no browser (nor playwright installed).
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

// cluster-logic.js imports nothing: load it as a module from its source.
const source = fs.readFileSync(path.join(repoRoot, 'server', 'web', 'cluster-logic.js'), 'utf8');
const L = await import(`data:text/javascript;base64,${Buffer.from(source).toString('base64')}`);

const ID = 'abcdefghijklmnopqrstuv';
const ENTRY = `ws://salon.example/api/rooms/${ID}/ws`;
const SECURE_ENTRY = `wss://salon.example/api/rooms/${ID}/ws`;
const at = (base) => `${base}/api/rooms/${ID}/ws`;

describe('cluster-logic.js', () => {
  it('follows ws: and wss: moves and keeps the node base (with a path prefix)', () => {
    assert.deepEqual(L.checkMovedUrl(at('ws://10.0.0.2:8080'), ENTRY), {
      ok: true, url: at('ws://10.0.0.2:8080'), base: 'ws://10.0.0.2:8080',
    });
    const prefixed = L.checkMovedUrl(at('wss://salon.example/n/b'), SECURE_ENTRY);
    assert.equal(prefixed.ok, true);
    assert.equal(prefixed.base, 'wss://salon.example/n/b');
    assert.equal(L.checkMovedUrl(at('wss://b.example'), ENTRY).ok, true);
  });

  it('refuses moves that are not a room\'s signaling socket', () => {
    for (const [url, from] of [
      ['', ENTRY],
      ['not a url', ENTRY],
      [at('http://b.example'), ENTRY],
      [at('https://b.example'), ENTRY],
      [at('javascript://b.example'), ENTRY],
      [at('ws://b.example'), SECURE_ENTRY], // a downgrade
      [at('ws://user:pw@b.example'), ENTRY],
      [at('ws://user@b.example'), ENTRY],
      [`${at('ws://b.example')}?x=1`, ENTRY],
      [`${at('ws://b.example')}#x`, ENTRY],
      [`ws://b.example/api/rooms/${ID}`, ENTRY],
      [`ws://b.example/api/room/${ID}/ws`, ENTRY],
      ['ws://b.example/api/rooms/short/ws', ENTRY],
      ['ws://b.example/api/rooms//ws', ENTRY],
      [`ws://b.example/api/rooms/${ID}/x/ws`, ENTRY],
      [{ url: at('ws://b.example') }, ENTRY],
    ]) {
      assert.equal(L.checkMovedUrl(url, from).ok, false, String(url));
    }
  });

  it('goes to the entry until it knows the room\'s node, then there (also after a new link)', () => {
    const route = new L.SignalRoute();
    assert.equal(route.url(ENTRY, ID), ENTRY);
    assert.equal(route.fromRoomInfo({ ws_url: at('ws://node-b:8080') }, ENTRY), true);
    assert.equal(route.url(ENTRY, ID), at('ws://node-b:8080'));
    assert.equal(route.url(ENTRY, 'zyxwvutsrqponmlkjihgfe'), 'ws://node-b:8080/api/rooms/zyxwvutsrqponmlkjihgfe/ws');
    // A single node says nothing; a bad ws_url is ignored.
    const plain = new L.SignalRoute();
    assert.equal(plain.fromRoomInfo({ id: ID, participants: 0 }, ENTRY), false);
    assert.equal(plain.fromRoomInfo({ ws_url: 'http://x/api/rooms/abc/ws' }, ENTRY), false);
    assert.equal(plain.url(ENTRY, ID), ENTRY);
  });

  it('follows three moves in a row, not a fourth', () => {
    const route = new L.SignalRoute();
    let from = ENTRY;
    for (let n = 1; n <= L.MAX_MOVES; n += 1) {
      const to = at(`ws://node${n}.example`);
      assert.deepEqual(route.moved(to, from), { connect: to });
      from = to;
    }
    const fourth = route.moved(at('ws://node9.example'), from);
    assert.match(fourth.fail, /more than 3 times/u);
    // In the room: the count starts again; a node giving the room up starts a new walk.
    route.arrived();
    assert.deepEqual(route.moved(at('ws://node4.example'), from), { connect: at('ws://node4.example') });
    for (let n = 0; n < 3; n += 1) route.moved(at('ws://node5.example'), from);
    assert.deepEqual(route.moved(at('ws://node6.example'), from, { newWalk: true }), { connect: at('ws://node6.example') });
  });

  it('an invalid move fails and sends the next try to the entry', () => {
    const route = new L.SignalRoute();
    route.fromRoomInfo({ ws_url: at('wss://node-b.example') }, SECURE_ENTRY);
    const step = route.moved(at('ws://evil.example'), at('wss://node-b.example'));
    assert.match(step.fail, /invalid address/u);
    assert.equal(route.url(SECURE_ENTRY, ID), SECURE_ENTRY);
  });

  it('a dead node: back to the entry once a walk, then give up for the backoff', () => {
    const route = new L.SignalRoute();
    route.fromRoomInfo({ ws_url: at('ws://dead:8080') }, ENTRY);
    const dead = route.url(ENTRY, ID);
    assert.deepEqual(route.unreachable(dead, ENTRY), { connect: ENTRY });
    assert.equal(route.url(ENTRY, ID), ENTRY);
    // The entry still points at the dead node (its lease has not lapsed yet).
    assert.deepEqual(route.moved(dead, ENTRY), { connect: dead });
    assert.deepEqual(route.unreachable(dead, ENTRY), { fail: 'unreachable' });
    assert.equal(route.url(ENTRY, ID), ENTRY);
    // The entry itself unreachable: nothing else to try.
    assert.deepEqual(route.unreachable(ENTRY, ENTRY), { fail: 'unreachable' });
    // In again: the next loss may fall back again.
    route.arrived();
    route.moved(dead, ENTRY);
    assert.deepEqual(route.unreachable(dead, ENTRY), { connect: ENTRY });
  });
});
