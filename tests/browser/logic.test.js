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
  activeEncodings, addKnock, agoText, base64Url, buildView, cameraLayers, chooseMain, cleanName, dataSaverFromQuery,
  readFriendCard, iceServersFrom,
  devicesToTurnOff, doorText, errorWords, gridShape, initials, isDeviceId, isFatalForRetry, isHost, isLargeTile,
  knockNote, mediaLocked, mediaNotice, orderVideoCodecs, outranks, pageLabel, pageShape, paging, presenceText, presenterOf,
  reconnectDelay, renameRoom, roleLabel, speakingChanges, speakingNow, splitStreamId, tileActions, videoLayersOf, viewChanged,
  waitingText,
} = await import(`data:text/javascript;base64,${Buffer.from(source).toString('base64')}`);

describe('TURN servers from joined', () => {
  it('keeps TURN URLs with their credential and drops anything else', () => {
    const good = { urls: ['turn:t.example:3478?transport=udp', 'turns:t.example:443?transport=tcp'], username: '1796000000:p1', credential: 'c2VjcmV0' };
    assert.deepEqual(iceServersFrom({ ice_servers: [good] }), [good]);
    assert.deepEqual(iceServersFrom({}), []);
    assert.deepEqual(iceServersFrom({ ice_servers: 'turn:x' }), []);
    assert.deepEqual(iceServersFrom({ ice_servers: [{ urls: ['stun:t.example', 'javascript:alert(1)', 'turn:t.example bad'], username: 'u', credential: 'c' }] }), []);
    assert.deepEqual(iceServersFrom({ ice_servers: [{ urls: ['turn:t.example'], username: 1, credential: 'c' }] }), []);
    const many = { urls: Array.from({ length: 12 }, (_, i) => `turn:t${i}.example`), username: 'u', credential: 'c' };
    assert.equal(iceServersFrom({ ice_servers: [many, good] })[0].urls.length, 8);
    assert.equal(iceServersFrom({ ice_servers: [many, good] }).length, 1);
  });
});

describe('reconnect backoff', () => {
  it('doubles from 1 s and stops at 15 s', () => {
    assert.deepEqual([0, 1, 2, 3, 4, 5, 50].map(reconnectDelay), [1000, 2000, 4000, 8000, 15000, 15000, 15000]);
  });

  it('never retries a missing or full room, or an encrypted room this client cannot join', () => {
    assert.equal(isFatalForRetry('e2ee_required'), true);
    assert.deepEqual(errorWords('e2ee_required', 'whatever the server says'),
      ["Can't join this room", 'This room is end-to-end encrypted. Update Salon, or use a current browser.']);
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

describe('friend cards opened in a browser', () => {
  const room = 'https://salon.example.org/r/AAAAAAAAAAAAAAAAAAAAAA';
  const q = (params) => `?${new URLSearchParams(params)}`;

  it('reads name and room, and gives the canonical invite link', () => {
    const card = readFriendCard(q({ v: '1', name: ' Ada ', room: `${room}/`, presence: 'x'.repeat(43), later: 'ignored' }));
    assert.equal(card.name, 'Ada');
    assert.equal(card.room.href, room);
    const prefixed = readFriendCard(q({ v: '1', name: 'Bo', room: 'http://LAN.local:8080/salon/r/AAAAAAAAAAAAAAAAAAAAAA?x#y' }));
    assert.equal(prefixed.room.href, 'http://lan.local:8080/salon/r/AAAAAAAAAAAAAAAAAAAAAA');
  });

  it('refuses what is not a card, in words', () => {
    assert.match(readFriendCard('').error, /not a Salon friend card/u);
    assert.match(readFriendCard(q({ v: '2', name: 'Ada', room })).error, /newer Salon/u);
    assert.match(readFriendCard(q({ v: '1', room })).error, /no name/u);
    assert.match(readFriendCard(q({ v: '1', name: '\u0007 ', room })).error, /no name/u);
    assert.match(readFriendCard(q({ v: '1', name: 'Ada' })).error, /no room link/u);
    assert.match(readFriendCard(`?v=1&name=Ada&name=Eve&room=${encodeURIComponent(room)}`).error, /two "name"/u);
    assert.match(readFriendCard(`?v=1&name=Ada&room=x${'y'.repeat(9000)}`).error, /too long/u);
    for (const bad of [
      'javascript:alert(1)//r/AAAAAAAAAAAAAAAAAAAAAA',
      'https://salon.example.org/r/short',
      'https://salon.example.org/evil?r/AAAAAAAAAAAAAAAAAAAAAA',
      'https://user:pw@salon.example.org/r/AAAAAAAAAAAAAAAAAAAAAA',
      'data:text/html,hi',
    ]) {
      assert.match(readFriendCard(q({ v: '1', name: 'Ada', room: bad })).error, /not a Salon invite link/u, bad);
    }
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

describe('pages of the grid', () => {
  it('holds 5 × 5 on a desktop, 2 × 3 on a phone, and something in between on a tablet', () => {
    // The tile area of a 1280 × 800 window (top bar, controls and pager taken off).
    assert.deepEqual(pageShape(1256, 600), { cols: 5, rows: 5, size: 25 });
    assert.deepEqual(pageShape(1900, 1000), { cols: 5, rows: 5, size: 25 });
    // A 390 × 844 phone, portrait.
    assert.deepEqual(pageShape(374, 660), { cols: 2, rows: 3, size: 6 });
    // The same phone, landscape: wide and low.
    assert.deepEqual(pageShape(828, 230), { cols: 4, rows: 2, size: 8 });
    assert.deepEqual(pageShape(820, 196), { cols: 4, rows: 2, size: 8 });
    // A tablet.
    assert.deepEqual(pageShape(752, 860), { cols: 4, rows: 5, size: 20 });
  });

  it('never holds more than 25, nor fewer than 2 (you and one other)', () => {
    for (let w = 0; w <= 4000; w += 97) {
      for (let h = 0; h <= 3000; h += 89) {
        const { size, cols, rows } = pageShape(w, h);
        assert.ok(size <= 25 && size >= 2, `${w}×${h}: ${size}`);
        assert.equal(size, cols * rows);
        if (w < 560) assert.ok(size <= 6, `a phone-sized ${w}×${h} page holds ${size}`);
      }
    }
  });

  it('pages the others with your own tile on every page', () => {
    // 49 others, 25 tiles a page: 24 others a page → 3 pages (24, 24, 1).
    assert.deepEqual(paging(49, 25, 0), { pages: 3, page: 0, start: 0, end: 24 });
    assert.deepEqual(paging(49, 25, 1), { pages: 3, page: 1, start: 24, end: 48 });
    assert.deepEqual(paging(49, 25, 2), { pages: 3, page: 2, start: 48, end: 49 });
    // A phone: 5 others a page.
    assert.equal(paging(47, 6, 0).pages, 10);
    // Nobody else: one empty page.
    assert.deepEqual(paging(0, 25, 0), { pages: 1, page: 0, start: 0, end: 0 });
  });

  it('keeps the page in range when people leave or the screen shrinks', () => {
    assert.deepEqual(paging(10, 25, 2), { pages: 1, page: 0, start: 0, end: 10 });
    assert.equal(paging(30, 6, 99).page, 5);
    assert.equal(paging(30, 6, -1).page, 0);
    assert.equal(paging(30, 6, Number.NaN).page, 0);
  });

  it('shows every other participant exactly once over all pages', () => {
    for (const [count, size] of [[47, 25], [47, 6], [49, 8], [3, 2], [24, 25], [25, 25]]) {
      const { pages } = paging(count, size, 0);
      const seen = [];
      for (let p = 0; p < pages; p += 1) {
        const { start, end } = paging(count, size, p);
        assert.ok(end - start + 1 <= size, 'a page holds at most `size` tiles with yours');
        for (let i = start; i < end; i += 1) seen.push(i);
      }
      assert.deepEqual(seen, [...Array(count).keys()], `${count} on pages of ${size}`);
    }
  });

  it('says which page this is', () => {
    assert.deepEqual(pageLabel(1, 3), { text: '2 / 3', label: 'Page 2 of 3' });
  });
});

describe('speaker view', () => {
  const others = ['a', 'b', 'c', 'd'];

  it('shows the pinned person whatever is said', () => {
    assert.equal(chooseMain({ pinned: 'c', current: 'a', speakers: ['b'], selfId: 'me', others }), 'c');
  });

  it('forgets a pin on someone who left', () => {
    assert.equal(chooseMain({ pinned: 'gone', current: null, speakers: ['b'], selfId: 'me', others }), 'b');
  });

  it('follows the loudest other speaker, never me', () => {
    assert.equal(chooseMain({ current: null, speakers: ['me', 'c', 'b'], selfId: 'me', others }), 'c');
    assert.equal(chooseMain({ current: 'a', speakers: ['d'], selfId: 'me', others }), 'd');
  });

  it('keeps the last speaker through a pause, and while they still speak', () => {
    assert.equal(chooseMain({ current: 'b', speakers: [], selfId: 'me', others }), 'b');
    assert.equal(chooseMain({ current: 'b', speakers: ['me'], selfId: 'me', others }), 'b');
    // Two talking at once: no flicker when the loudness order flips.
    assert.equal(chooseMain({ current: 'b', speakers: ['c', 'b'], selfId: 'me', others }), 'b');
    assert.equal(chooseMain({ current: 'b', speakers: ['b', 'c'], selfId: 'me', others }), 'b');
  });

  it('starts with the first of the others, and has nobody when alone', () => {
    assert.equal(chooseMain({ current: null, speakers: [], selfId: 'me', others }), 'a');
    assert.equal(chooseMain({ current: 'gone', speakers: ['gone'], selfId: 'me', others }), 'a');
    assert.equal(chooseMain({ current: null, speakers: ['me'], selfId: 'me', others: [] }), null);
  });

  it('asks for large video for the main tile and for a grid of 4 or fewer', () => {
    assert.equal(isLargeTile({ layout: 'speaker', main: 'a', id: 'a', pageTiles: 40 }), true);
    assert.equal(isLargeTile({ layout: 'speaker', main: 'a', id: 'b', pageTiles: 40 }), false);
    assert.equal(isLargeTile({ layout: 'grid', main: null, id: 'b', pageTiles: 4 }), true);
    assert.equal(isLargeTile({ layout: 'grid', main: null, id: 'b', pageTiles: 5 }), false);
  });
});

describe('the view the page sends', () => {
  it('lists each shown video once with its size class and device pixels', () => {
    assert.deepEqual(buildView([
      { id: 'a', large: true, width: 1279.6, height: 720.2 },
      { id: 'b', large: false, width: 320, height: 180 },
      { id: 'a', large: false, width: 1, height: 1 },
      { id: 'c', large: false, width: 0, height: 0 },
    ]), {
      type: 'view',
      tiles: [
        { participant_id: 'a', size: 'large', width: 1280, height: 720 },
        { participant_id: 'b', size: 'thumbnail', width: 320, height: 180 },
        { participant_id: 'c', size: 'thumbnail' },
      ],
    });
  });

  it('stays within the protocol: at most 50 tiles, at most 16384 pixels', () => {
    const many = Array.from({ length: 60 }, (_, i) => ({ id: `p${i}`, width: 99999, height: -5 }));
    const view = buildView(many);
    assert.equal(view.tiles.length, 50);
    assert.deepEqual(view.tiles[0], { participant_id: 'p0', size: 'thumbnail' });
    const big = buildView([{ id: 'x', width: 99999, height: 20000 }]);
    assert.deepEqual(big.tiles[0], { participant_id: 'x', size: 'thumbnail', width: 16384, height: 16384 });
    assert.deepEqual(buildView([]), { type: 'view', tiles: [] });
  });

  it('is sent again only when it changed enough', () => {
    const view = (tiles) => buildView(tiles);
    const a = view([{ id: 'a', large: false, width: 320, height: 180 }]);
    assert.equal(viewChanged(null, a), true);
    assert.equal(viewChanged(a, view([{ id: 'a', width: 330, height: 185 }])), false);
    assert.equal(viewChanged(a, view([{ id: 'a', width: 640, height: 360 }])), true);
    assert.equal(viewChanged(a, view([{ id: 'a', large: true, width: 320, height: 180 }])), true);
    assert.equal(viewChanged(a, view([{ id: 'b', width: 320, height: 180 }])), true);
    assert.equal(viewChanged(a, view([])), true);
    assert.equal(viewChanged(view([]), view([])), false);
  });
});

describe('speaking rings from the server', () => {
  it('touches only the tiles whose state changes', () => {
    assert.deepEqual(speakingChanges([], ['a', 'b']), { on: ['a', 'b'], off: [] });
    assert.deepEqual(speakingChanges(['a', 'b'], ['b', 'c']), { on: ['c'], off: ['a'] });
    assert.deepEqual(speakingChanges(['a'], ['a']), { on: [], off: [] });
    assert.deepEqual(speakingChanges(['a', 'b'], []), { on: [], off: ['a', 'b'] });
  });
});

describe('the camera\'s layers and dynacast', () => {
  it('sends a 720p capture in three layers and a smaller one in two, lowest first', () => {
    const three = cameraLayers(720);
    assert.deepEqual(three.map((l) => l.rid), ['q', 'h', 'f']);
    assert.deepEqual(three.map((l) => 720 / l.scaleResolutionDownBy), [180, 360, 720]);
    assert.ok(three.every((l, i) => i === 0 || l.maxBitrate > three[i - 1].maxBitrate));
    assert.deepEqual(cameraLayers(540).map((l) => l.rid), ['q', 'h', 'f']);
    for (const height of [360, 480, 539, undefined, Number.NaN]) {
      const two = cameraLayers(height);
      assert.deepEqual(two.map((l) => l.rid), ['q', 'f'], `height ${height}`);
      assert.deepEqual(two.map((l) => l.scaleResolutionDownBy), [2, 1]);
    }
  });

  it('reads the rids of a `video_layers` message and nothing else', () => {
    assert.deepEqual(videoLayersOf({ type: 'video_layers', layers: ['q', 'h'] }), ['q', 'h']);
    assert.deepEqual(videoLayersOf({ layers: ['q', 7, null, '', 'x'.repeat(17), { rid: 'f' }, 'f'] }), ['q', 'f']);
    assert.deepEqual(videoLayersOf({ layers: [] }), []);
    for (const message of [{}, { layers: 'q' }, { layers: null }, null, undefined, 'video_layers']) {
      assert.equal(videoLayersOf(message), null, JSON.stringify(message));
    }
  });

  it('keeps the watched layers active and pauses the others', () => {
    const rids = ['q', 'h', 'f'];
    assert.deepEqual(activeEncodings(rids), [true, true, true]);
    assert.deepEqual(activeEncodings(rids, { layers: ['q'] }), [true, false, false]);
    assert.deepEqual(activeEncodings(rids, { layers: ['q', 'h'] }), [true, true, false]);
    assert.deepEqual(activeEncodings(rids, { layers: ['f'] }), [false, false, true]);
    assert.deepEqual(activeEncodings(['q', 'f'], { layers: ['q', 'f'] }), [true, true]);
  });

  it('pauses every layer while nobody watches, and restores the last layers after', () => {
    const rids = ['q', 'h', 'f'];
    assert.deepEqual(activeEncodings(rids, { watched: false, layers: ['q'] }), [false, false, false]);
    assert.deepEqual(activeEncodings(rids, { watched: false }), [false, false, false]);
    assert.deepEqual(activeEncodings(rids, { watched: true, layers: ['q'] }), [true, false, false]);
    assert.deepEqual(activeEncodings([undefined], { watched: false }), [false]);
    assert.deepEqual(activeEncodings([undefined], { watched: true, layers: ['q'] }), [true]);
  });

  it('ignores rids it does not send, and never turns the camera off for a message it cannot match', () => {
    assert.deepEqual(activeEncodings(['q', 'f'], { layers: ['q', 'h'] }), [true, false]);
    assert.deepEqual(activeEncodings(['q', 'f'], { layers: ['h'] }), [true, true]);
    assert.deepEqual(activeEncodings(['q', 'h', 'f'], { layers: [] }), [true, true, true]);
    assert.deepEqual(activeEncodings(['q', 'h', 'f'], { layers: ['x', 'y'] }), [true, true, true]);
  });

  it('takes the data saver from the link when it says', () => {
    assert.equal(dataSaverFromQuery(''), null);
    assert.equal(dataSaverFromQuery('?name=x'), null);
    for (const on of ['?data-saver', '?data-saver=1', '?data-saver=on', '?a=b&data-saver=true']) {
      assert.equal(dataSaverFromQuery(on), true, on);
    }
    for (const off of ['?data-saver=0', '?data-saver=off', '?data-saver=false', '?data-saver=No']) {
      assert.equal(dataSaverFromQuery(off), false, off);
    }
  });
});

describe('screen sharing', () => {
  it('tells a share from a camera by its stream id', () => {
    assert.deepEqual(splitStreamId('Qw9-x_'), { participantId: 'Qw9-x_', source: 'camera' });
    assert.deepEqual(splitStreamId('Qw9-x_|screen'), { participantId: 'Qw9-x_', source: 'screen' });
    assert.equal(splitStreamId('|screen'), null);
    assert.equal(splitStreamId(''), null);
    assert.equal(splitStreamId(undefined), null);
  });

  it('finds who presents, and lists the share in the view next to the cameras', () => {
    assert.equal(presenterOf([{ id: 'a' }, { id: 'b', screen: true }]), 'b');
    assert.equal(presenterOf([{ id: 'a', screen: false }]), null);
    const view = buildView([
      { id: 'b', source: 'screen', large: true, width: 1280, height: 720 },
      { id: 'b', large: false, width: 192, height: 108 },
      { id: 'b', source: 'screen', large: true },
    ]);
    assert.deepEqual(view.tiles, [
      { participant_id: 'b', size: 'large', source: 'screen', width: 1280, height: 720 },
      { participant_id: 'b', size: 'thumbnail', width: 192, height: 108 },
    ]);
    // A share tile coming or going is a change worth a message.
    assert.equal(viewChanged(view, buildView([{ id: 'b', large: true }, { id: 'b', large: false }])), true);
    // Fifty cameras and the share fit in one view.
    const many = Array.from({ length: 60 }, (_, i) => ({ id: `p${i}` }));
    const big = buildView([{ id: 'p1', source: 'screen', large: true }, ...many]);
    assert.equal(big.tiles.length, 51);
  });
});
