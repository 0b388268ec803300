// Backgrounds and face effects, continued from effects.test.js (each file must finish within the
// runner's per-file timeout): your own picture replaces the background, read in the browser and
// never uploaded; a device too slow for the effects steps down, then turns them off with a
// notice and sends the camera as it is; effects that cannot load say so. No policy violation,
// no request to another origin.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import {
  FACE_PICTURE, bmp, colourDiff, faceY4m, launchFaceBrowser, measureInPage, regionsFor,
} from './face-camera.js';
import { createRoomViaApi, dumpLogs, newGuest, startServer, waitFor, withQuery, explain } from './helpers.js';

/** Where the face mesh finds the photo's face in 640×360 (effects.test.js checks it does). */
const FACE = { left: { x: 255, y: 128 }, right: { x: 308, y: 131 }, forehead: { x: 284, y: 86 } };

describe('effects: your own picture, and a device too slow for them', () => {
  let server;
  let browser;
  let room;
  let reference;
  const guests = [];
  const requests = [];

  before(async () => {
    server = await startServer();
    browser = await launchFaceBrowser(await faceY4m());
    room = await createRoomViaApi(server.url, 'Picture');
    const blank = await browser.newPage();
    await blank.evaluate(`window.measureInPage = ${measureInPage.toString()}`);
    reference = await blank.evaluate(async ([data, regions]) => {
      const image = new Image();
      image.src = `data:image/jpeg;base64,${data}`;
      await image.decode();
      return window.measureInPage([image, regions]);
    }, [fs.readFileSync(FACE_PICTURE).toString('base64'), regionsFor(FACE)]);
    await blank.close();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  const showLogsIfFailed = (t) => t.after(() => {
    if (t.failed) dumpLogs(guests, server);
  });

  async function guest(label, minFps) {
    const g = await newGuest(browser, label);
    await g.context.addInitScript((fps) => {
      window.cspViolations = [];
      document.addEventListener('securitypolicyviolation', (event) => {
        window.cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`);
      });
      localStorage.setItem('salon.effects.minFps', fps);
    }, minFps);
    g.context.on('request', (request) => requests.push(request.url()));
    guests.push(g);
    await g.page.goto(withQuery(room.url, 'data-saver=1'));
    await g.page.evaluate(`window.measureInPage = ${measureInPage.toString()}`);
    await waitFor(() => g.page.evaluate(() => document.querySelector('#preview-video')?.videoWidth > 0), { message: `${label}'s preview` });
    return g;
  }
  const effectsState = (g) => g.page.evaluate(() => window.salon.effects());

  it('your own picture replaces the background: read here, kept here, never uploaded', async (t) => {
    showLogsIfFailed(t);
    const ada = await guest('ada', '0');
    await ada.page.getByTestId('effects').click();
    const [chooser] = await Promise.all([
      ada.page.waitForEvent('filechooser'),
      ada.page.getByTestId('effect-bg-own').click(),
    ]);
    const sentBefore = requests.length;
    await chooser.setFiles({ name: 'magenta.bmp', mimeType: 'image/bmp', buffer: bmp(64, 36, [230, 20, 200]) });
    let last;
    await waitFor(async () => {
      last = await ada.page.$eval('#preview-video', (el, regions) => window.measureInPage([el, regions]), regionsFor(FACE));
      const [r, g, b] = last.background.cells.reduce((s, c) => s.map((v, i) => v + c[i] / 36), [0, 0, 0]);
      return r > 150 && g < 100 && b > 130 && colourDiff(last.mouth, reference.mouth) < 30;
    }, { timeout: 90000, interval: 1000, message: 'the preview to show Ada in front of her own (magenta) picture' }).catch((error) => {
      explain(error, ` (background cells ${JSON.stringify(last?.background.cells.slice(0, 3))}, mouth ${last && colourDiff(last.mouth, reference.mouth)})`);
      throw error;
    });
    assert.equal(await ada.page.getByTestId('effect-bg-own').getAttribute('aria-pressed'), 'true');
    const [choice, picture] = await ada.page.evaluate(() => [localStorage.getItem('salon.effects'), localStorage.getItem('salon.effects.picture')]);
    assert.deepEqual(JSON.parse(choice), { background: 'own', face: 'none' });
    assert.match(picture, /^data:image\/jpeg;base64,/u);
    // Since it was picked, the page fetched only its own files (the models): nothing went up.
    assert.deepEqual(requests.slice(sentBefore).filter((url) => !new URL(url).pathname.startsWith('/assets/')), []);

    // Kept for next time: a reload starts the same effect with the same picture.
    await ada.page.reload();
    await ada.page.evaluate(`window.measureInPage = ${measureInPage.toString()}`);
    await waitFor(async () => (await effectsState(ada)).active && (await effectsState(ada)).frames?.frames > 2, {
      timeout: 90000, interval: 500, message: 'the remembered effect to start again after a reload',
    });
    assert.deepEqual((await effectsState(ada)).choice, { background: 'own', face: 'none' });
  });

  it('a device too slow for the effects steps down, then turns them off with a notice', async (t) => {
    showLogsIfFailed(t);
    // Nothing is fast enough for 1000 frames a second.
    const slow = await guest('slow', '1000');
    await slow.page.getByTestId('effects').click();
    await slow.page.getByTestId('effect-blur').click();
    await waitFor(async () => (await effectsState(slow)).slowed >= 1, { timeout: 60000, interval: 500, message: 'the effects to step down' });
    await waitFor(async () => (await effectsState(slow)).choice.background === 'none', { timeout: 60000, interval: 500, message: 'the effects to turn off' });
    const state = await effectsState(slow);
    assert.equal(state.active, false);
    assert.match(state.error, /too slow/u);
    assert.match(await slow.page.getByTestId('effects-status').textContent(), /too slow/u);
    // The preview (and what would be sent) is the camera itself again.
    assert.equal(await slow.page.evaluate(() => document.querySelector('#preview-video').srcObject.getVideoTracks()[0] instanceof MediaStreamTrackGenerator), false);
    assert.equal(await slow.page.evaluate(() => localStorage.getItem('salon.effects')), null);
  });

  it('effects that cannot load say so and leave the camera as it is', async (t) => {
    showLogsIfFailed(t);
    const offline = await guest('offline', '0');
    // As if the server's MediaPipe files could not be had (a proxy in the way, a broken install).
    await offline.page.route('**/assets/vendor/mediapipe/**', (route) => route.abort());
    await offline.page.getByTestId('effects').click();
    await offline.page.getByTestId('effect-blur').click();
    await waitFor(async () => (await effectsState(offline)).error, { timeout: 30000, interval: 250, message: 'the effects to fail' });
    const state = await effectsState(offline);
    assert.deepEqual(state.choice, { background: 'none', face: 'none' });
    assert.equal(state.active, false);
    assert.match(await offline.page.getByTestId('effects-status').textContent(), /could not start/u);
    assert.equal(await offline.page.getByTestId('effect-blur').getAttribute('aria-pressed'), 'false');
    assert.equal(await offline.page.evaluate(() => document.querySelector('#preview-video').srcObject.getVideoTracks()[0] instanceof MediaStreamTrackGenerator), false);
    // Failed loads are the test's doing: not what the policy check below looks for.
    guests.splice(guests.indexOf(offline), 1);
  });

  it('no policy violation and no request to another origin', async () => {
    for (const g of guests) {
      assert.deepEqual(await g.page.evaluate(() => window.cspViolations), [], `${g.label}: CSP violations`);
      assert.deepEqual(g.logs.filter((line) => /Content Security Policy|Refused to|pageerror/u.test(line)), [], `${g.label}: refused or failed`);
    }
    const origin = new URL(server.url).origin;
    assert.deepEqual(requests.filter((url) => !url.startsWith('data:') && !url.startsWith('blob:') && new URL(url).origin !== origin), []);
  });
});
