// Unit tests of the guest page's pure decisions (server/web/logic.js), run in Node: no browser.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { repoRoot } from './helpers.js';

// server/web has no package.json saying its .js files are ES modules (the browser needs none), so
// load the file as one explicitly; logic.js imports nothing, which makes this possible.
const source = fs.readFileSync(path.join(repoRoot, 'server', 'web', 'logic.js'), 'utf8');
const {
  addKnock, agoText, base64Url, cleanName, devicesToTurnOff, doorText, errorWords, gridShape, initials, isDeviceId,
  isFatalForRetry, isHost, knockNote, mediaLocked, mediaNotice, orderVideoCodecs, outranks, presenceText,
  reconnectDelay, renameRoom, roleLabel, speakingNow, tileActions, waitingText,
} = await import(`data:text/javascript;base64,${Buffer.from(source).toString('base64')}`);

describe('reconnect backoff', () => {
  it('doubles from 1 s and stops at 15 s', () => {
    assert.deepEqual([0, 1, 2, 3, 4, 5, 50].map(reconnectDelay), [1000, 2000, 4000, 8000, 15000, 15000, 15000]);
  });

  it('never retries a missing or full room', () => {
    assert.equal(isFatalForRetry('room_not_found'), true);
    assert.equal(isFatalForRetry('room_full'), true);
    assert.equal(isFatalForRetry('internal'), false);
  });

  it('never comes back by itself after a host removed us, turned us away or ended the call', () => {
    for (const code of ['removed', 'knock_denied', 'room_ended']) assert.equal(isFatalForRetry(code), true, code);
    for (const code of ['not_allowed', 'not_found', 'rate_limited']) assert.equal(isFatalForRetry(code), false, code);
  });
});

describe('names', () => {
  it('takes initials of the first and last word', () => {
    assert.equal(initials('Ada Lovelace'), 'AL');
    assert.equal(initials('  bo '), 'B');
    assert.equal(initials('Jean Paul Sartre'), 'JS');
    assert.equal(initials('😀 Smile'), '😀S');
    assert.equal(initials(''), '?');
  });

  it('cleans names the way the server checks them', () => {
    assert.equal(cleanName('  Ada\u0007 '), 'Ada');
    assert.equal(cleanName('x'.repeat(80)).length, 64);
    assert.equal(cleanName('   '), '');
  });

  it('says how many are here', () => {
    assert.equal(presenceText(0), 'Nobody is here yet');
    assert.equal(presenceText(1), '1 person is here');
    assert.equal(presenceText(7), '7 people are here');
  });
});

describe('video codec order', () => {
  const codec = (mimeType, sdpFmtpLine) => ({ mimeType, sdpFmtpLine, clockRate: 90000 });
  const chrome = [
    codec('video/VP8'),
    codec('video/rtx', 'apt=96'),
    codec('video/H264', 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f'),
    codec('video/H264', 'level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42e01f'),
    codec('video/H264', 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f'),
    codec('video/VP9', 'profile-id=0'),
  ];

  it('puts constrained-baseline H.264 first, then other H.264 mode 1, then VP8, then the rest', () => {
    const ordered = orderVideoCodecs(chrome).map((c) => `${c.mimeType} ${c.sdpFmtpLine ?? ''}`.trim());
    assert.deepEqual(ordered, [
      'video/H264 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f',
      'video/H264 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f',
      'video/VP8',
      'video/rtx apt=96',
      'video/H264 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42e01f',
      'video/VP9 profile-id=0',
    ]);
  });

  it('keeps VP8 first without H.264, and leaves the defaults alone without either', () => {
    assert.equal(orderVideoCodecs([codec('video/VP9'), codec('video/VP8')])[0].mimeType, 'video/VP8');
    assert.equal(orderVideoCodecs([codec('video/AV1'), codec('video/VP9')]), null);
  });
});

describe('grid shape', () => {
  it('fills a landscape screen side by side', () => {
    assert.equal(gridShape(2, 1280, 600).cols, 2);
    assert.equal(gridShape(4, 1280, 700).cols, 2);
    assert.equal(gridShape(9, 1600, 900).cols, 3);
  });

  it('stacks on a portrait phone', () => {
    const shape = gridShape(3, 374, 640, { aspect: 4 / 3, minWidth: 140 });
    assert.equal(shape.cols, 1);
    assert.ok(shape.tileWidth <= 374);
  });

  it('never makes tiles wider than the screen, and scrolls instead of shrinking forever', () => {
    for (let n = 1; n <= 50; n += 1) {
      const shape = gridShape(n, 374, 640, { aspect: 4 / 3, minWidth: 140 });
      const width = shape.cols * shape.tileWidth + (shape.cols - 1) * 8;
      assert.ok(width <= 374, `n=${n}: ${width}px`);
      assert.ok(shape.tileWidth >= 140 || shape.cols === 1, `n=${n}: tile ${shape.tileWidth}px`);
    }
  });
});

describe('media notice', () => {
  it('says nothing when all is well', () => {
    assert.equal(mediaNotice({ audio: true, video: true }), null);
  });

  it('names what is missing and what happens instead', () => {
    assert.match(mediaNotice({ audio: true, video: false }, { video: 'NotAllowedError' }), /Camera blocked.*audio only/u);
    assert.match(mediaNotice({ audio: false, video: false }, { audio: 'NotFoundError', video: 'NotFoundError' }), /not found.*see and hear/u);
  });
});

describe('error words', () => {
  it('says what happened in words, and falls back to the server\'s message', () => {
    assert.equal(errorWords('room_not_found')[0], 'Room not found');
    assert.deepEqual(errorWords('internal', 'The room is busy; please try again.'), ['Something went wrong', 'The room is busy; please try again.']);
  });
});

describe('host decisions in words', () => {
  it('says what a host decided', () => {
    assert.equal(errorWords('removed')[0], 'You were removed from this room');
    assert.equal(errorWords('knock_denied', "The host didn't let you in.")[0], "The host didn't let you in.");
    assert.match(errorWords('knock_denied', "The host didn't let you in.")[1], /knock again/u);
    assert.match(errorWords('knock_denied', 'The hosts turned you away twice; you cannot knock again.')[1], /twice/u);
    assert.equal(errorWords('room_ended', 'Ada ended the call for everyone.')[0], 'The host ended the call');
  });

  it('tells a waiting guest whether a host is there', () => {
    assert.equal(waitingText(false), "No host is here yet; you'll get in when one arrives and admits you");
    assert.match(waitingText(true), /host/u);
  });

  it('marks a second knock', () => {
    assert.equal(knockNote({ denied_before: 1 }), 'denied once already');
    assert.equal(knockNote({ denied_before: 0 }), '');
    assert.equal(knockNote({}), '');
  });

  it('keeps each knock once, newest last', () => {
    const a = { id: 'a', name: 'A', denied_before: 0 };
    const b = { id: 'b', name: 'B', denied_before: 0 };
    const a2 = { id: 'a', name: 'A', denied_before: 1 };
    assert.deepEqual(addKnock(addKnock(addKnock([], a), b), a2), [b, a2]);
  });

  it('says when a ban happened', () => {
    const now = 1_800_000_000_000;
    assert.equal(agoText(now / 1000 - 5, now), 'just now');
    assert.equal(agoText(now / 1000 - 300, now), '5 min ago');
    assert.equal(agoText(now / 1000 - 3 * 3600, now), '3 h ago');
    assert.equal(agoText(now / 1000 - 5 * 86400, now), '5 days ago');
  });
});

describe('roles', () => {
  it('knows who is a host', () => {
    assert.equal(isHost('owner'), true);
    assert.equal(isHost('cohost'), true);
    assert.equal(isHost('guest'), false);
    assert.equal(isHost(undefined), false);
  });

  it('lets hosts act only downwards', () => {
    assert.equal(outranks('owner', 'cohost'), true);
    assert.equal(outranks('owner', 'guest'), true);
    assert.equal(outranks('cohost', 'guest'), true);
    assert.equal(outranks('cohost', 'cohost'), false);
    assert.equal(outranks('cohost', 'owner'), false);
    assert.equal(outranks('owner', 'owner'), false);
    assert.equal(outranks('guest', 'guest'), false);
  });

  it('offers the actions my role allows on theirs', () => {
    assert.deepEqual(tileActions('owner', 'guest'), ['ask_mute', 'mute', 'mute_video', 'cohost', 'remove']);
    assert.deepEqual(tileActions('owner', 'cohost'), ['ask_mute', 'mute', 'mute_video', 'cohost', 'remove']);
    assert.deepEqual(tileActions('cohost', 'guest'), ['ask_mute', 'mute', 'mute_video', 'remove']);
    assert.deepEqual(tileActions('cohost', 'cohost'), []);
    assert.deepEqual(tileActions('cohost', 'owner'), []);
    assert.deepEqual(tileActions('guest', 'guest'), []);
    assert.deepEqual(tileActions('guest', 'owner'), []);
  });

  it('labels hosts on their tiles', () => {
    assert.equal(roleLabel('owner'), 'host');
    assert.equal(roleLabel('cohost'), 'co-host');
    assert.equal(roleLabel('guest'), '');
  });

  it('locks a guest\'s microphone and camera during panic only', () => {
    assert.equal(mediaLocked('guest', { panic: true }), true);
    assert.equal(mediaLocked('cohost', { panic: true }), false);
    assert.equal(mediaLocked('owner', { panic: true }), false);
    assert.equal(mediaLocked('guest', { panic: false }), false);
    assert.equal(mediaLocked('guest', null), false);
  });

  it('turns off what the server turned off, and never turns anything on', () => {
    assert.deepEqual(devicesToTurnOff({ audio: true, video: true }, { audio: false, video: true }), ['audio']);
    assert.deepEqual(devicesToTurnOff({ audio: true, video: true }, { audio: false, video: false }), ['audio', 'video']);
    assert.deepEqual(devicesToTurnOff({ audio: false, video: false }, { audio: true, video: true }), []);
    assert.deepEqual(devicesToTurnOff({ audio: true, video: false }, undefined), []);
  });
});

describe('device id and rotated links', () => {
  it('encodes 16 random bytes as 22 URL-safe characters', () => {
    const id = base64Url(new Uint8Array(16).fill(255));
    assert.equal(id, '_'.repeat(21) + 'w');
    assert.equal(id.length, 22);
    assert.equal(isDeviceId(id), true);
    const bytes = Uint8Array.from({ length: 16 }, (_, i) => i * 17);
    assert.equal(base64Url(bytes), Buffer.from(bytes).toString('base64url'));
    assert.equal(base64Url(Uint8Array.of(0xfb, 0xff)), Buffer.from([0xfb, 0xff]).toString('base64url'));
  });

  it('accepts only ids the server accepts', () => {
    assert.equal(isDeviceId('a'.repeat(16)), true);
    assert.equal(isDeviceId('a'.repeat(15)), false);
    assert.equal(isDeviceId('a'.repeat(65)), false);
    assert.equal(isDeviceId('abc+/abcabcabcabcabc'), false);
    assert.equal(isDeviceId(null), false);
  });

  it('moves a remembered room to its new link, in place', () => {
    const rooms = [{ id: 'new1', name: 'X', url: 'o/r/new1' }, { id: 'old', name: 'Y', url: 'o/r/old' }];
    assert.deepEqual(renameRoom(rooms, 'old', 'fresh', 'https://s.example'), [
      { id: 'new1', name: 'X', url: 'o/r/new1' },
      { id: 'fresh', name: 'Y', url: 'https://s.example/r/fresh' },
    ]);
    assert.deepEqual(renameRoom(rooms, 'missing', 'fresh', 'o'), rooms);
  });
});

describe('speaking indicator', () => {
  it('lights up on sound and holds briefly after it', () => {
    let state = speakingNow(0.2, null, 1000);
    assert.equal(state.speaking, true);
    state = speakingNow(0, state.lastLoudAt, 1400);
    assert.equal(state.speaking, true);
    state = speakingNow(0, state.lastLoudAt, 1700);
    assert.equal(state.speaking, false);
  });
});

describe('door text', () => {
  it('says closed, or open with the count and the names the room shows', () => {
    assert.equal(doorText(null), 'Door closed');
    assert.equal(doorText({ door_open: false, participants: 3, names: ['A'] }), 'Door closed');
    assert.equal(doorText({ door_open: true, participants: 0 }), 'Door open · 0 inside');
    assert.equal(doorText({ door_open: true, participants: 2, names: ['Ada', 'Bo'] }), 'Door open · 2 inside: Ada, Bo');
    assert.equal(doorText({ door_open: true, people: 1, names: [] }), 'Door open · 1 inside');
  });
});
