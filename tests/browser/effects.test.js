// Backgrounds and face effects (server/web/effects*.js, MediaPipe served by the server): a guest
// turns on blur (on the pre-join screen, with its live preview) and a face effect in the call,
// and the other browser's received frames differ from the unprocessed camera where they should:
// the background loses its detail under blur while the face keeps it, glasses darken the eyes
// where the face mesh found them and leave the mouth alone, a party hat covers the wall above
// the head. No Content-Security-Policy violation, no request to another origin. (Your own
// picture and a device too slow for the effects: effects-fallback.test.js.)
//
// The fake camera shows a face (fixtures/README.md). Without a GPU, MediaPipe runs on SwiftShader
// at a few frames a second (docs/performance.md), so the tests keep the effects on whatever the
// speed (`salon.effects.minFps` = 0) except where slowness is the point.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import {
  FACE_PICTURE, colourDiff, faceY4m, launchFaceBrowser, measureInPage, regionsFor,
} from './face-camera.js';
import {
  createRoomViaApi, dumpLogs, join, newGuest, screenshot, startServer, waitFor, withQuery,
  explain,
} from './helpers.js';

describe('backgrounds and face effects', () => {
  let server;
  let browser;
  let room;
  let reference; // the unprocessed camera picture, measured
  let face; // where the face mesh finds the face (ada's pipeline, 640×360)
  const guests = [];
  const requests = [];
  let ada;
  let bo;

  before(async () => {
    server = await startServer();
    browser = await launchFaceBrowser(await faceY4m());
    room = await createRoomViaApi(server.url, 'Birthday');
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  const showLogsIfFailed = (t) => t.after(() => {
    if (t.failed) dumpLogs(guests, server);
  });

  async function guest(label, { minFps = '0' } = {}) {
    const g = await newGuest(browser, label);
    await g.context.addInitScript((fps) => {
      window.cspViolations = [];
      document.addEventListener('securitypolicyviolation', (event) => {
        window.cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`);
      });
      if (fps !== null) localStorage.setItem('salon.effects.minFps', fps);
    }, minFps);
    g.context.on('request', (request) => requests.push(request.url()));
    guests.push(g);
    return g;
  }

  const effectsState = (g) => g.page.evaluate(() => window.salon.effects());
  /** Waits until the pipeline made `more` frames beyond now (the new choice is in them). */
  async function framesMade(g, more = 2) {
    const start = (await effectsState(g)).frames?.frames ?? 0;
    await waitFor(async () => ((await effectsState(g)).frames?.frames ?? 0) >= start + more, {
      timeout: 60000, interval: 500, message: `${g.label}'s effects to make ${more} more frames`,
    });
  }
  const measure = (page, selector, regions) => page.$eval(selector, (el, arg) => measureInPage([el, arg]), regions);
  const adaOnBo = () => `[data-testid=tile][data-participant="${ada.id}"] video`;

  it('blur on the pre-join screen: the preview changes, the models come from this server', async (t) => {
    showLogsIfFailed(t);
    ada = await guest('ada');
    bo = await guest('bo');
    // The unprocessed camera, measured in a blank page (the room page's policy allows no data: image).
    const blank = await browser.newPage();
    const jpeg = fs.readFileSync(FACE_PICTURE).toString('base64');
    await blank.evaluate(`window.measureInPage = ${measureInPage.toString()}`);

    await ada.page.goto(withQuery(room.url, 'data-saver=1'));
    await ada.page.evaluate(`window.measureInPage = ${measureInPage.toString()}`);
    await waitFor(() => ada.page.evaluate(() => document.querySelector('#preview-video')?.videoWidth > 0), {
      message: 'the camera preview',
    });
    assert.equal(await ada.page.getByTestId('effects-menu').isVisible(), false);
    // Nothing of MediaPipe is loaded before an effect is picked.
    assert.ok(!requests.some((url) => url.includes('/vendor/')), 'MediaPipe loaded before any effect was chosen');
    await ada.page.getByTestId('effects').click();
    await ada.page.getByTestId('effects-menu').waitFor({ state: 'visible' });
    // The face mesh finds the face: it tells us where to look.
    await ada.page.getByTestId('effect-face-glasses').click();
    await waitFor(async () => (await effectsState(ada)).face, { timeout: 90000, interval: 500, message: 'the face mesh to find the face' });
    face = (await effectsState(ada)).face;
    // The photo's eyes: around (255, 128) and (308, 131) in 640×360.
    assert.ok(face.left.x > 220 && face.left.x < 290 && face.right.x > 280 && face.right.x < 350, JSON.stringify(face));
    assert.ok(face.left.y > 95 && face.left.y < 165 && face.right.y > 95 && face.right.y < 165, JSON.stringify(face));
    reference = await blank.evaluate(async ([data, regions]) => {
      const image = new Image();
      image.src = `data:image/jpeg;base64,${data}`;
      await image.decode();
      return window.measureInPage([image, regions]);
    }, [jpeg, regionsFor(face)]);
    await blank.close();

    await ada.page.getByTestId('effect-face-none').click();
    await ada.page.getByTestId('effect-blur').click();
    assert.equal(await ada.page.getByTestId('effect-blur').getAttribute('aria-pressed'), 'true');
    await framesMade(ada, 3);
    const preview = await measure(ada.page, '#preview-video', regionsFor(face));
    assert.ok(preview.background.grad < reference.background.grad * 0.5,
      `the preview's background is not blurred: gradient ${preview.background.grad} against ${reference.background.grad}`);
    assert.ok(colourDiff(preview.mouth, reference.mouth) < 25, `the preview's face changed: ${colourDiff(preview.mouth, reference.mouth)}`);
    await screenshot(ada.page, 'effects-preview-blur');
    // Kept for next time, in this browser only.
    assert.deepEqual(JSON.parse(await ada.page.evaluate(() => localStorage.getItem('salon.effects'))), { background: 'blur', face: 'none' });
    assert.ok(requests.some((url) => url.includes('/assets/vendor/mediapipe/selfie_segmentation-')), 'the segmentation model was not fetched from this server');
    await ada.page.getByTestId('effects').click();
    await ada.page.getByTestId('effects-menu').waitFor({ state: 'hidden' });
  });

  it('in the call, the other browser receives the blurred background, then glasses and a hat on the face', async (t) => {
    showLogsIfFailed(t);
    await join(ada, null, 'Ada');
    await join(bo, room.url, 'Bo');
    await bo.page.evaluate(`window.measureInPage = ${measureInPage.toString()}`);
    const regions = regionsFor(face);
    const received = () => measure(bo.page, adaOnBo(), regions);
    await waitFor(() => bo.page.$eval(adaOnBo(), (v) => v.videoWidth >= 320).catch(() => false), {
      timeout: 30000, message: "Ada's video on Bo's page",
    });

    let last;
    await waitFor(async () => {
      last = await received();
      return last.background.grad < reference.background.grad * 0.5 && colourDiff(last.mouth, reference.mouth) < 30;
    }, { timeout: 60000, interval: 1000, message: 'Bo to receive a blurred background around a sharp face' }).catch((error) => {
      explain(error, ` (background gradient ${last?.background.grad} against ${reference.background.grad}, mouth ${last && colourDiff(last.mouth, reference.mouth)})`);
      throw error;
    });

    // A face effect on top of the blur, chosen in the call.
    await ada.page.getByTestId('effects').click();
    await ada.page.getByTestId('effect-face-glasses').click();
    await framesMade(ada, 2);
    await waitFor(async () => {
      last = await received();
      return reference.eyes.lum - last.eyes.lum > 25 && colourDiff(last.mouth, reference.mouth) < 30
        && last.background.grad < reference.background.grad * 0.5;
    }, { timeout: 60000, interval: 1000, message: 'Bo to receive dark glasses over the eyes (and nothing over the mouth)' }).catch((error) => {
      explain(error, ` (eyes ${last?.eyes.lum} against ${reference.eyes.lum}, mouth ${last && colourDiff(last.mouth, reference.mouth)})`);
      throw error;
    });
    assert.ok(colourDiff(last.aboveHead, reference.aboveHead) < 30, 'glasses changed the wall above the head');
    await screenshot(bo.page, 'effects-received-glasses');

    await ada.page.getByTestId('effect-face-hat').click();
    await framesMade(ada, 2);
    await waitFor(async () => {
      last = await received();
      return colourDiff(last.aboveHead, reference.aboveHead) > 30 && Math.abs(reference.eyes.lum - last.eyes.lum) < 25;
    }, { timeout: 60000, interval: 1000, message: 'Bo to receive a hat above the head (and no glasses)' }).catch((error) => {
      explain(error, ` (above the head ${last && colourDiff(last.aboveHead, reference.aboveHead)}, eyes ${last?.eyes.lum} against ${reference.eyes.lum})`);
      throw error;
    });
    await screenshot(bo.page, 'effects-received-hat');

    // No effects: the camera as it is, again.
    await ada.page.getByTestId('effect-none').click();
    await waitFor(async () => {
      last = await received();
      return last.background.grad > reference.background.grad * 0.7 && colourDiff(last.aboveHead, reference.aboveHead) < 30;
    }, { timeout: 30000, interval: 1000, message: 'Bo to receive the unprocessed camera again' }).catch((error) => {
      explain(error, ` (background gradient ${last?.background.grad} against ${reference.background.grad})`);
      throw error;
    });
    assert.equal((await effectsState(ada)).active, false);
    assert.equal(await ada.page.evaluate(() => localStorage.getItem('salon.effects')), null);
  });

  it('no policy violation and no request to another origin', async () => {
    for (const g of [ada, bo]) {
      assert.deepEqual(await g.page.evaluate(() => window.cspViolations), [], `${g.label}: CSP violations`);
      const refused = g.logs.filter((line) => /Content Security Policy|Refused to|pageerror/u.test(line));
      assert.deepEqual(refused, [], `${g.label}: refused or failed`);
    }
    const origin = new URL(server.url).origin;
    const foreign = requests.filter((url) => !url.startsWith('data:') && !url.startsWith('blob:') && new URL(url).origin !== origin);
    assert.deepEqual(foreign, [], 'requests left the server\'s origin');
  });
});

