// A phone leaves its Wi-Fi for mobile data: the guest's browser runs in a network namespace with
// two uplinks to the server, and the one its media uses goes down. The media must come back on
// the other uplink by itself, quickly, as the same participant: the others see no one leave or
// join, and the page never starts the call over.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  createRoomViaApi, dumpLogs, join, newGuest, repoRoot, serveNamespace, waitFor,
} from './helpers.js';
import { makeDualHomedNamespace, namespacesUnavailable } from './netns.js';

const unavailable = namespacesUnavailable();

/** Frames of `publisher`'s video that `viewer` decoded so far. */
async function framesFrom(viewer, publisher) {
  const stats = await viewer.page.evaluate(() => window.salon.stats());
  return stats?.inbound?.[publisher.id]?.video?.framesDecoded ?? 0;
}

/** Waits until `viewer` decodes new frames of `publisher`'s video; resolves to when it did. */
async function framesFlow(viewer, publisher, timeout) {
  const start = await framesFrom(viewer, publisher);
  await waitFor(async () => (await framesFrom(viewer, publisher)) > start + 3, {
    timeout, interval: 100, message: `${viewer.label} to decode ${publisher.label}'s video`,
  });
  return Date.now();
}

/** From now on `viewer`'s page notes every moment `publisher` is missing, and everyone it shows. */
function watchRoster(viewer, publisher) {
  return viewer.page.evaluate((id) => {
    window.testRoster = { missing: 0, ids: new Set() };
    window.testRosterTimer = setInterval(() => {
      const ids = window.salon.remoteParticipants();
      if (!ids.includes(id)) window.testRoster.missing += 1;
      ids.forEach((other) => window.testRoster.ids.add(other));
    }, 50);
  }, publisher.id);
}

/** What `watchRoster` noted: moments someone was missing, and the ids seen. */
function rosterSeen(viewer) {
  return viewer.page.evaluate(() => {
    clearInterval(window.testRosterTimer);
    return { missing: window.testRoster.missing, ids: [...window.testRoster.ids] };
  });
}

describe('changing networks in a call', { skip: unavailable ?? false }, () => {
  let ns;
  let setup;
  let server;
  let outside;
  let inside;
  const guests = [];

  before(async () => {
    ns = makeDualHomedNamespace();
    setup = await serveNamespace(ns);
    ({ server, outside, inside } = setup);
  });

  after(async () => {
    await setup?.close();
    ns?.destroy();
  });

  /**
   * Ada (outside) and Bo (inside the namespace) in a new room, video flowing both ways, Ada's
   * page noting every moment Bo is missing and every Bo she sees; and the uplink Bo's media
   * leaves by.
   */
  async function callOverAnUplink(title, suffix = '') {
    const room = await createRoomViaApi(server.url, title, { e2ee: false });
    const ada = await newGuest(outside, `ada${suffix}`);
    const bo = await newGuest(inside, `bo${suffix}`);
    guests.push(ada, bo);
    await join(ada, room.url, 'Ada');
    await join(bo, room.url, 'Bo');
    await framesFlow(ada, bo, 30000);
    await framesFlow(bo, ada, 30000);
    await watchRoster(ada, bo);
    const path = (await bo.page.evaluate(() => window.salon.stats())).path;
    const link = ns.linkOf(path?.localAddress);
    assert.ok(link, `Bo's media leaves from ${JSON.stringify(path)}, not one of the namespace's uplinks`);
    return { ada, bo, link };
  }

  /** How many times the server saw a media connection's path move to another client address. */
  async function pathChanges() {
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    return Number(/^salon_media_path_changes_total (\d+)/mu.exec(metrics)?.[1] ?? 0);
  }

  /** Ada saw Bo neither leave nor come back as someone else, and Bo kept his participant. */
  async function nobodyNoticed(ada, bo) {
    const roster = await rosterSeen(ada);
    assert.equal(roster.missing, 0, 'Ada saw Bo leave');
    assert.deepEqual(roster.ids, [bo.id], 'Ada saw someone else join');
    assert.equal(await bo.page.evaluate(() => window.salon.participantId), bo.id, 'Bo joined again');
  }

  it('the uplink in use goes down: media comes back on the other, same participant, nobody notices', { timeout: 120000 }, async () => {
    try {
      const { ada, bo, link } = await callOverAnUplink('On the move');
      const changesBefore = await pathChanges();
      const dropped = Date.now();
      ns.drop(link);

      // Bo's own traffic may still leave through the remaining uplink for a moment (the source
      // address lingers); what counts is media both ways once his browser moved. The issue asks
      // for frames back within 5 s; this Chromium takes about 3.6 s to notice the interface is
      // gone, and the server follows its media at once (docs/protocol.md, "Changing networks":
      // about 4 s in all here). The bound here is 15 s from the drop, for a loaded machine.
      const deadline = dropped + 15000;
      await waitFor(async () => {
        const now = (await bo.page.evaluate(() => window.salon.stats())).path;
        return ns.linkOf(now?.localAddress) !== link;
      }, { timeout: 15000, interval: 100, message: 'Bo to move to the other uplink' });
      const moved = Date.now();
      const left = () => Math.max(1000, deadline - Date.now());
      const [adaSeesBo, boSeesAda] = await Promise.all([framesFlow(ada, bo, left()), framesFlow(bo, ada, left())]);
      const after = (await bo.page.evaluate(() => window.salon.stats())).path;
      assert.notEqual(ns.linkOf(after?.localAddress), link, `Bo still on the dropped uplink: ${JSON.stringify(after)}`);

      await nobodyNoticed(ada, bo);
      assert.equal(await bo.page.evaluate(() => window.salon.state), 'joined');
      // The server saw Bo's path move, and asked for keyframes both ways then.
      assert.ok(await pathChanges() > changesBefore, 'the server did not see Bo\'s path move');
      const restarts = await bo.page.evaluate(() => window.salon.iceRestarts);
      console.log(`# uplink ${link} down: Bo's browser moved after ${moved - dropped} ms; Ada decoded Bo again after ${adaSeesBo - dropped} ms, Bo decoded Ada after ${boSeesAda - dropped} ms; ICE restarts ${restarts}; now ${JSON.stringify(after)}`);
    } catch (error) {
      dumpLogs(guests, server);
      throw error;
    }
  });

  it('the uplink in use goes down with its address, as a phone leaves Wi-Fi: the page replaces its silent socket, media comes back, nobody notices', { timeout: 120000 }, async () => {
    try {
      ns.restore('a');
      ns.restore('b');
      const port = Number(new URL(server.url).port);
      // Sockets left from the test before (dead ones linger in the namespace's kernel).
      const earlier = new Set(ns.tcpSocketsTo(port).map((s) => s.local));
      // His signaling socket leaves by the preferred route: the media's uplink ('a') unless the
      // browser chose the other for the media.
      const { ada, bo, link } = await callOverAnUplink('Leaving the Wi-Fi', '-forget');
      // Bo's connections to the server (the page's loads and its signaling socket).
      const socketLinks = [...new Set(ns.tcpSocketsTo(port).filter((s) => !earlier.has(s.local)).map((s) => s.link))];
      const keptBefore = await bo.page.evaluate(() => window.salon.mediaKept);
      const dropped = Date.now();
      // The address goes with the link: the socket on it is never reset, it just goes silent.
      ns.drop(link, { forget: true });
      const [adaSeesBo, boSeesAda] = await Promise.all([framesFlow(ada, bo, 20000), framesFlow(bo, ada, 20000)]);
      const after = (await bo.page.evaluate(() => window.salon.stats())).path;
      assert.notEqual(ns.linkOf(after?.localAddress), link, `Bo still on the dropped uplink: ${JSON.stringify(after)}`);
      const mediaKept = () => bo.page.evaluate(() => window.salon.mediaKept);
      if (socketLinks.includes(link)) {
        // His socket went with the uplink: the page noticed it was silent (5 s after the media
        // moved) and resumed on a new one, keeping its peer connection.
        await waitFor(async () => (await mediaKept()) > keptBefore, {
          timeout: 20000, message: 'Bo to resume on a new socket keeping his media',
        });
        // (The old one may linger in the namespace's kernel: nothing can reach it to end it.)
        assert.ok(ns.tcpSocketsTo(port).some((s) => s.link !== link), 'no signaling socket on the other uplink');
        await framesFlow(ada, bo, 10000);
      }
      const resumed = Date.now();
      const kept = (await mediaKept()) - keptBefore;

      await nobodyNoticed(ada, bo);
      await waitFor(async () => (await bo.page.evaluate(() => window.salon.state)) === 'joined', {
        timeout: 10000, message: 'Bo to be in the room',
      });
      console.log(`# uplink ${link} down with its address (signaling socket on ${socketLinks.join(',') || 'none'}): `
        + `Ada decoded Bo again after ${adaSeesBo - dropped} ms, Bo decoded Ada after ${boSeesAda - dropped} ms; `
        + `resumes keeping media ${kept} (done ${resumed - dropped} ms after the drop); ICE restarts ${await bo.page.evaluate(() => window.salon.iceRestarts)}`);
      await Promise.all([ada, bo].map((g) => g.context.close()));
    } catch (error) {
      dumpLogs(guests, server);
      throw error;
    }
  });

  it('the native core on a phone: its uplink goes down, the app reports the change, media comes back, nobody notices', { timeout: 120000 }, async () => {
    const bin = process.env.SALON_CLI_BIN ?? path.join(repoRoot, 'target', 'debug', 'salon-cli');
    assert.ok(fs.existsSync(bin), `salon-cli not found at ${bin}: run \`cargo build -p salon-cli\``);
    const data = fs.mkdtempSync(path.join(os.tmpdir(), 'salon-cli-'));
    let cli = null;
    let err = '';
    try {
      // Both uplinks up (the test before took one down).
      ns.restore('a');
      ns.restore('b');
      const room = await createRoomViaApi(server.url, 'Core on the move', { e2ee: false });
      const ada = await newGuest(outside, 'ada-core');
      guests.push(ada);
      await join(ada, room.url, 'Ada');
      // salon-cli is the core as the apps use it, inside the namespace with two uplinks.
      const [cmd, args] = ns.inside([bin, '--data-dir', data, 'join', room.url, '--name', 'Bo',
        '--seconds', '55', '--width', '320', '--height', '240', '--fps', '15', '--report', 'json']);
      // The core says when it restarts ICE and resumes (shown with the result).
      cli = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SALON_LOG: 'warn,salon_core::call=info' } });
      let out = '';
      cli.stdout.on('data', (chunk) => { out += chunk; });
      cli.stderr.on('data', (chunk) => { err += chunk; });
      const report = new Promise((resolve, reject) => {
        cli.on('exit', (code) => {
          if (code !== 0) reject(new Error(`salon-cli exited with ${code}: ${err.slice(-2000)}`));
          else {
            try { resolve(JSON.parse(out)); } catch (error) { reject(new Error(`no JSON report (${error.message}): ${err.slice(-1000)}`)); }
          }
        });
      });
      report.catch(() => {}); // awaited below; a failure before that kills the process
      const bo = { label: 'Bo', id: null };
      await waitFor(async () => {
        const ids = await ada.page.evaluate(() => window.salon.remoteParticipants());
        bo.id = ids[0] ?? null;
        return ids.length === 1;
      }, { timeout: 30000, message: 'Ada to see the core join' });
      await framesFlow(ada, bo, 30000);
      await watchRoster(ada, bo);

      // The uplink the core's media leaves by: the one whose byte count grows.
      const before = { a: ns.txBytes('a'), b: ns.txBytes('b') };
      await sleep(1000);
      const sent = { a: ns.txBytes('a') - before.a, b: ns.txBytes('b') - before.b };
      const link = sent.a >= sent.b ? 'a' : 'b';
      assert.ok(sent[link] > 20000, `the core sends little media: ${JSON.stringify(sent)} bytes in 1 s`);
      const dropped = Date.now();
      ns.drop(link, { forget: true });
      // What the phone's operating system says at once; the apps pass it on (on_network_changed).
      cli.kill('SIGHUP');
      const back = await framesFlow(ada, bo, 15000);
      const other = link === 'a' ? 'b' : 'a';
      const moved = { a: ns.txBytes('a'), b: ns.txBytes('b') };
      await sleep(1000);
      assert.ok(ns.txBytes(other) - moved[other] > 20000, 'the media does not leave by the other uplink');

      // Back on the first uplink, then the second goes down with no word from the system (or
      // one that comes late): the core restarts ICE by itself once its media has been silent
      // for about 3 s (and resumes on a new socket if the old one went with the uplink).
      ns.restore(link);
      await sleep(2000);
      const droppedAgain = Date.now();
      ns.drop(other, { forget: true });
      // What was in flight has arrived: from here on, frames are new ones.
      await sleep(1500);
      const backAgain = await framesFlow(ada, bo, 25000);

      const roster = await rosterSeen(ada);
      assert.equal(roster.missing, 0, 'Ada saw the core leave');
      assert.deepEqual(roster.ids, [bo.id], 'Ada saw someone else join');
      const result = await report;
      assert.equal(result.participant_id, bo.id, 'the core joined again as someone else');
      assert.ok(result.ice_restarts >= 2, `the core did not restart ICE twice: ${JSON.stringify(result)}`);
      const fromAda = result.remote.find((r) => r.participant_id === ada.id);
      assert.ok(fromAda?.frames_decoded > 0, `the core decoded nothing of Ada: ${JSON.stringify(result.remote)}`);
      const steps = err.split('\n').filter((line) => /network|restart|resum|disconnected|reconnect|ICE-TCP/u.test(line))
        .map((line) => line.replace(/\x1b\[[0-9;]*m/gu, '').replace(/^\S+\s+INFO\s+/u, ''));
      console.log(`# the core's steps:\n# ${steps.join('\n# ')}`);
      console.log(`# core: uplink ${link} down and reported: Ada decoded the core's video again after ${back - dropped} ms; `
        + `uplink ${other} down unreported: after ${backAgain - droppedAgain} ms; ICE restarts ${result.ice_restarts}`);
    } catch (error) {
      dumpLogs(guests, server);
      console.log(`--- salon-cli ---\n${err.slice(-3000)}`);
      throw error;
    } finally {
      cli?.kill('SIGKILL');
      fs.rmSync(data, { recursive: true, force: true });
    }
  });
});
