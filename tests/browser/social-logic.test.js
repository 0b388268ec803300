// Unit tests of the social side's pure decisions (server/web/social-logic.js), run in Node: the
// page's budgets, which request a refusal answers, the hand queue, chat text and ordering.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { repoRoot } from './helpers.js';

// social-logic.js imports nothing: load it as a module from its source.
const source = fs.readFileSync(path.join(repoRoot, 'server', 'web', 'social-logic.js'), 'utf8');
const L = await import(`data:text/javascript;base64,${Buffer.from(source).toString('base64')}`);

describe('social-logic.js', () => {
  it('has the server\'s 8 reactions, each with a spoken name', () => {
    const rust = fs.readFileSync(path.join(repoRoot, 'core', 'protocol', 'src', 'social.rs'), 'utf8');
    const line = /pub const REACTIONS: \[&str; 8\] = \[(.*)\];/u.exec(rust)?.[1];
    assert.ok(line, 'REACTIONS not found in core/protocol/src/social.rs');
    assert.deepEqual([...L.REACTIONS], [...line.matchAll(/"([^"]+)"/gu)].map((m) => m[1]));
    for (const r of L.REACTIONS) assert.ok(L.REACTION_NAMES[r], r);
  });

  it('keeps to a budget in its own time', () => {
    const b = new L.TokenBucket(2, 6, 0);
    let taken = 0;
    for (let i = 0; i < 10; i += 1) taken += b.take(0) ? 1 : 0;
    assert.equal(taken, 6);
    assert.equal(b.take(400), false);
    assert.equal(b.take(500), true, 'one more after half a second');
    b.giveBack();
    assert.equal(b.take(500), true);
    const chat = L.budgets(0).chat;
    for (let i = 0; i < 5; i += 1) assert.ok(chat.take(0));
    assert.equal(chat.take(1999), false);
    assert.equal(chat.take(2000), true);
  });

  it('a refusal answers the oldest request still waiting; answered and old ones are gone', () => {
    const p = new L.PendingRequests();
    assert.equal(p.errored(0), null, 'nothing of ours waits');
    p.sent('react', 0);
    p.sent('chat', 10, 'hello');
    p.sent('react', 20);
    p.answered('chat', 30); // my chat came back: the reaction before it was dropped quietly
    assert.deepEqual(p.errored(40), { kind: 'react', at: 20, detail: null });
    assert.equal(p.errored(40), null);
    p.sent('hand', 100);
    assert.equal(p.errored(100 + L.PENDING_MS + 1), null, 'too old to be the one');
    p.sent('chat', 0, 'x');
    p.clear();
    assert.equal(p.errored(1), null);
  });

  it('orders raised hands by when they went up', () => {
    const hands = new Map([['b', 7], ['a', 3], ['c', null], ['d', 12], ['e', 0]]);
    assert.deepEqual(L.handQueue(hands), [
      { id: 'a', hand: 3, position: 1 }, { id: 'b', hand: 7, position: 2 }, { id: 'd', hand: 12, position: 3 },
    ]);
    assert.equal(L.handOf({ id: 'x', hand: 4 }), 4);
    assert.equal(L.handOf({ id: 'x' }), null);
    assert.equal(L.handOf({ id: 'x', hand: '4' }), null);
    assert.deepEqual([1, 2, 3, 4, 11, 12, 13, 21, 22, 101].map(L.ordinal),
      ['1st', '2nd', '3rd', '4th', '11th', '12th', '13th', '21st', '22nd', '101st']);
  });

  it('cleans chat text as the server wants it, and says why it cannot go', () => {
    assert.equal(L.cleanChatText('  a\r\nb\rc\td  '), 'a\nb\nc\td');
    assert.equal(L.cleanChatText('x\u202Ey\u0007z\u200F'), 'xyz');
    assert.equal(L.cleanChatText('<img src=x onerror=alert(1)>'), '<img src=x onerror=alert(1)>');
    assert.equal(L.chatTextProblem(''), 'Type a message first.');
    assert.equal(L.chatTextProblem('é'.repeat(1000)), null);
    assert.equal(L.chatTextProblem('👋'.repeat(1000)), null, 'characters, not UTF-16 units');
    assert.match(L.chatTextProblem('a'.repeat(1001)), /at most 1000/u);
  });

  it('takes only well-formed messages, and places them by id', () => {
    const ok = { id: 3, from: 'p', name: 'Ada', at: 1, text: 'hi' };
    assert.deepEqual(L.chatMessageOf(ok), { ...ok, sealed: null });
    assert.equal(L.chatMessageOf({ ...ok, sealed: 'AQ' }), null, 'both text and sealed');
    assert.equal(L.chatMessageOf({ ...ok, text: undefined }), null, 'neither');
    assert.equal(L.chatMessageOf({ ...ok, id: -1 }), null);
    assert.equal(L.chatMessageOf({ ...ok, name: 5 }), null);
    assert.equal(L.chatMessageOf(null), null);
    assert.equal(L.insertionIndex([], 4), 0);
    assert.equal(L.insertionIndex([1, 2, 5], 6), 3);
    assert.equal(L.insertionIndex([1, 2, 5], 3), 2);
    assert.equal(L.insertionIndex([1, 2, 5], 0), 0);
    assert.equal(L.insertionIndex([1, 2, 5], 2), -1, 'already there');
  });

  it('words for times, the chat button and refusals', () => {
    const now = new Date(2026, 2, 3, 15, 0).getTime();
    assert.equal(L.chatTime(new Date(2026, 2, 3, 14, 5).getTime(), now, 'en-GB'), '14:05');
    assert.equal(L.chatTime(new Date(2026, 2, 1, 9, 7).getTime(), now, 'en-GB'), '1 Mar, 09:07');
    assert.equal(L.chatTime(0, now), '');
    assert.equal(L.chatButtonLabel(0), 'Chat');
    assert.equal(L.chatButtonLabel(3), 'Chat, 3 unread');
    assert.equal(L.chatButtonLabel(250), 'Chat, 99+ unread');
    assert.match(L.refusalWords('react', 'rate_limited'), /few reactions/u);
    assert.equal(L.refusalWords('chat', 'not_allowed'), 'Chat is paused by a host.');
    assert.equal(L.refusalWords('chat', 'internal'), null, "the server's own words");
  });
});
