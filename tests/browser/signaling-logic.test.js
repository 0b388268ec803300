// Unit tests of the page's signaling socket (server/web/signaling.js), run in Node with a fake
// WebSocket: `probe`, which tells a live socket from one that went silent with an old network,
// and the regular ping that gives a silent socket up.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

// Not helpers.js: this test needs no browser (nor playwright installed).
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const source = fs.readFileSync(path.join(repoRoot, 'server', 'web', 'signaling.js'), 'utf8');
const { Signaling } = await import(`data:text/javascript;base64,${Buffer.from(source).toString('base64')}`);

/** Just enough of a browser WebSocket: opens at once, records what is sent, answers on cue. */
class FakeSocket extends EventTarget {
  static OPEN = 1;

  static last = null;

  constructor(url) {
    super();
    this.url = url;
    this.readyState = 0;
    this.sent = [];
    FakeSocket.last = this;
    setTimeout(() => {
      this.readyState = 1;
      this.dispatchEvent(new Event('open'));
    }, 0);
  }

  send(text) { this.sent.push(JSON.parse(text)); }

  receive(message) {
    const event = new Event('message');
    event.data = JSON.stringify(message);
    this.dispatchEvent(event);
  }

  close() {
    this.readyState = 3;
    const event = new Event('close');
    event.code = 1006;
    this.dispatchEvent(event);
  }
}
globalThis.WebSocket = FakeSocket;

async function opened(times = {}) {
  const closes = [];
  const sig = new Signaling('ws://salon.test/api/rooms/x/ws', { onMessage: () => {}, onClose: (info) => closes.push(info), ...times });
  await sig.open();
  return { sig, ws: FakeSocket.last, closes };
}

describe('Signaling.probe', () => {
  it('a socket that answers is alive, as soon as anything arrives', async () => {
    const { sig, ws } = await opened();
    const started = Date.now();
    const probe = sig.probe(5000);
    assert.deepEqual(ws.sent.at(-1), { type: 'ping' });
    setTimeout(() => ws.receive({ type: 'pong' }), 20);
    assert.equal(await probe, true);
    assert.ok(Date.now() - started < 1000);
    sig.close();
  });

  it('a silent socket is not, after the time given', async () => {
    const { sig } = await opened();
    const started = Date.now();
    assert.equal(await sig.probe(100), false);
    assert.ok(Date.now() - started >= 90);
    sig.close();
  });

  it('a socket that closes meanwhile, or was never open, is not', async () => {
    const { sig, ws, closes } = await opened();
    const probe = sig.probe(5000);
    ws.close();
    assert.equal(await probe, false);
    assert.equal(closes.length, 1);
    assert.equal(await sig.probe(5000), false);
    const fresh = new Signaling('ws://salon.test/x', { onMessage: () => {}, onClose: () => {} });
    assert.equal(await fresh.probe(5000), false);
  });
});

describe('the regular ping', () => {
  it('keeps a socket that answers, and gives a silent one up (reported as closed)', async () => {
    const { sig, ws, closes } = await opened({ pingEveryMs: 30, pongWithinMs: 60 });
    const answering = setInterval(() => ws.receive({ type: 'pong' }), 10);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(closes.length, 0);
    assert.ok(ws.sent.filter((m) => m.type === 'ping').length >= 3);
    clearInterval(answering);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual(closes, [{ opened: true, code: 4000 }]);
    assert.equal(sig.closed, true);
    // Given up once: nothing more is sent, and a late close of the socket says nothing more.
    const sent = ws.sent.length;
    ws.close();
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(ws.sent.length, sent);
    assert.equal(closes.length, 1);
  });
});
