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
  cleanName, errorWords, gridShape, initials, isFatalForRetry, mediaNotice, orderVideoCodecs, presenceText,
  reconnectDelay, speakingNow,
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
