// Guests on networks with no direct path to the media port reach the room through TURN (a real
// coturn, configured as docs/deploy.md says): one browser runs in a network namespace whose
// firewall lets out only what such a network would, the other on this machine. Each must see
// the other's video, and the namespaced one's selected candidate pair must be a relay.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  createRoomViaApi, dumpLogs, join, launchBrowser, newGuest, startServer, waitFor,
  explain,
} from './helpers.js';
import {
  makeNamespace, namespacesUnavailable, selfSignedCert, sniProxyAvailable, startCoturn, startSniProxy,
} from './netns.js';

const SECRET = 'browser-test-secret-0123456789';
const unavailable = namespacesUnavailable();

/** The path the page's media takes now (see `stats().path` in call.js). */
async function pathOf(page) {
  return (await page.evaluate(() => window.salon.stats()))?.path ?? null;
}

/** Waits until `viewer` decodes video frames from `publisher`. */
async function seesVideo(viewer, publisher, timeout = 30000) {
  let last = null;
  await waitFor(async () => {
    const stats = await viewer.page.evaluate(() => window.salon.stats());
    const before = stats?.inbound?.[publisher.id]?.video?.framesDecoded ?? 0;
    await new Promise((resolve) => setTimeout(resolve, 700));
    const now = (await viewer.page.evaluate(() => window.salon.stats()))?.inbound?.[publisher.id]?.video;
    last = now;
    return (now?.framesDecoded ?? 0) > before;
  }, { timeout, interval: 0, message: `${viewer.label} to decode ${publisher.label}'s video` }).catch((error) => {
    explain(error, `\nlast: ${JSON.stringify(last)}`);
    throw error;
  });
}

describe('through TURN', { skip: unavailable ?? false }, () => {
  const cleanups = [];
  const guests = [];
  let server = null;

  after(async () => {
    for (const cleanup of cleanups.reverse()) {
      await Promise.resolve().then(cleanup).catch(() => {});
    }
  });

  /**
   * A server on the namespace's neighbour address, a browser outside and one inside. The one
   * inside loads the page on `boPort` if given (a proxy in front of the server) and gets
   * `boArgs` on its command line.
   */
  async function setup({ ns, port = 0, turnUrls, args = [], boPort = null, boArgs = [] }) {
    const turn = turnUrls.length ? ['--turn-secret', SECRET, ...turnUrls.flatMap((u) => ['--turn-url', u])] : [];
    server = await startServer({
      host: ns.host,
      port,
      args: ['--media-ip', ns.host, ...turn, ...args],
    });
    cleanups.push(() => server.stop());
    const forBo = (url) => {
      if (!boPort) return url;
      const u = new URL(url);
      u.port = String(boPort);
      return u.toString();
    };
    const secure = `--unsafely-treat-insecure-origin-as-secure=${server.url}`;
    const outside = await launchBrowser({ args: [secure] });
    cleanups.push(() => outside.close());
    // TURN over TLS to a self-signed certificate: this Chromium accepts it.
    const inside = await launchBrowser({
      executablePath: ns.launcher,
      args: [`--unsafely-treat-insecure-origin-as-secure=${new URL(forBo(server.url)).origin}`, '--ignore-certificate-errors', ...boArgs],
    });
    cleanups.push(() => inside.close());
    const room = await createRoomViaApi(server.url, 'Hotel wifi', { e2ee: false });
    const ada = await newGuest(outside, 'ada');
    const bo = await newGuest(inside, 'bo');
    guests.push(ada, bo);
    await join(ada, room.url, 'Ada');
    await join(bo, forBo(room.url), 'Bo');
    return { ada, bo };
  }

  const withLogs = (body) => async () => {
    try {
      await body();
    } catch (error) {
      dumpLogs(guests, server);
      throw error;
    }
  };

  let ns = null;
  before(() => {
    ns = makeNamespace();
    cleanups.push(() => ns.destroy());
  });

  it('no UDP to the media port: the guest relays over TURN/UDP', { timeout: 120000 }, withLogs(async () => {
    const turnPort = 3478;
    const coturn = await startCoturn({ ip: ns.host2, port: turnPort, secret: SECRET, salon: ns.host });
    cleanups.push(() => coturn.stop());
    // The page (HTTP on a port chosen below) and TURN: nothing else, so no UDP to the media port.
    ns.allowOnly({ tcp: [8443], udp: [turnPort] });
    const { ada, bo } = await setup({ ns, port: 8443, turnUrls: [`turn:${ns.host2}:${turnPort}?transport=udp`] });
    await seesVideo(ada, bo);
    await seesVideo(bo, ada);
    const path = await pathOf(bo.page);
    assert.equal(path?.local.type, 'relay', JSON.stringify(path));
    assert.equal(path?.local.relayProtocol, 'udp', JSON.stringify(path));
    // Ada, outside, goes straight to the server.
    assert.equal((await pathOf(ada.page))?.local.type, 'host');
    await Promise.all(guests.splice(0).map((g) => g.context.close()));
    await server.stop();
    await coturn.stop();
  }));

  it('no UDP at all, TCP to the media port open: the guest connects over ICE-TCP', { timeout: 120000 }, withLogs(async () => {
    // The page's port and the server's ICE-TCP port; no TURN is configured, and no UDP goes out.
    ns.allowOnly({ tcp: [8443, 8444] });
    const { ada, bo } = await setup({ ns, port: 8443, turnUrls: [], args: ['--tcp-port', '8444'] });
    await seesVideo(ada, bo, 45000);
    await seesVideo(bo, ada, 45000);
    const path = await pathOf(bo.page);
    assert.equal(path?.local.protocol, 'tcp', JSON.stringify(path));
    assert.equal(path?.remote.protocol, 'tcp', JSON.stringify(path));
    assert.equal(path?.remote.port, 8444, JSON.stringify(path));
    assert.notEqual(path?.local.type, 'relay', JSON.stringify(path));
    // Ada, outside, stays on UDP.
    assert.equal((await pathOf(ada.page))?.local.protocol, 'udp');
    await Promise.all(guests.splice(0).map((g) => g.context.close()));
    await server.stop();
  }));

  it('only TCP 443 open: the guest loads the page and relays over TURN/TLS on 443', { timeout: 120000 }, withLogs(async () => {
    const { cert, key } = selfSignedCert(ns.host2);
    // The Salon server and coturn's TLS each on port 443 of their own address (docs/deploy.md
    // shows how one address shares 443 between them).
    const coturn = await startCoturn({ ip: ns.host2, port: 3478, secret: SECRET, salon: ns.host, tlsPort: 443, cert, key });
    cleanups.push(() => coturn.stop());
    ns.allowOnly({ tcp: [443] });
    const { ada, bo } = await setup({
      ns,
      port: 443,
      turnUrls: [`turn:${ns.host2}:3478?transport=udp`, `turns:${ns.host2}:443?transport=tcp`],
    });
    await seesVideo(ada, bo, 45000);
    await seesVideo(bo, ada, 45000);
    const path = await pathOf(bo.page);
    assert.equal(path?.local.type, 'relay', JSON.stringify(path));
    assert.equal(path?.local.relayProtocol, 'tls', JSON.stringify(path));
    await Promise.all(guests.splice(0).map((g) => g.context.close()));
    await server.stop();
    await coturn.stop();
  }));

  it('only TCP 443 open, one address for both: nginx passes the page to Salon and TURN/TLS to coturn by name (SNI)', {
    timeout: 120000, skip: sniProxyAvailable() ? false : 'no nginx with its stream module here',
  }, withLogs(async () => {
    // docs/deploy.md, "Sharing 443 with the web server": the server's address serves both on
    // 443 through nginx's ssl_preread; coturn's TLS listens on 5349 of another address.
    const name = 'turn.salon.test';
    const { cert, key } = selfSignedCert(ns.host, name);
    const coturn = await startCoturn({ ip: ns.host2, port: 3478, secret: SECRET, salon: ns.host, tlsPort: 5349, cert, key });
    cleanups.push(() => coturn.stop());
    const proxy = await startSniProxy({ listen: `${ns.host}:443`, routes: { [name]: `${ns.host2}:5349` }, fallback: `${ns.host}:8443` });
    cleanups.push(() => proxy.stop());
    ns.allowOnly({ tcp: [443] });
    const { ada, bo } = await setup({
      ns,
      port: 8443,
      turnUrls: [`turns:${name}:443?transport=tcp`],
      // Bo loads the page through nginx; the TURN server's name resolves to the same address.
      boPort: 443,
      boArgs: [`--host-resolver-rules=MAP ${name} ${ns.host}`],
    });
    await seesVideo(ada, bo, 45000);
    await seesVideo(bo, ada, 45000);
    const path = await pathOf(bo.page);
    assert.equal(path?.local.type, 'relay', JSON.stringify(path));
    assert.equal(path?.local.relayProtocol, 'tls', JSON.stringify(path));
    // nginx sent the page's connections to Salon and the one that named coturn to coturn.
    const routed = proxy.log();
    assert.ok(routed.includes(`connected to ${ns.host}:8443`), `nginx passed nothing to Salon:\n${routed}`);
    assert.ok(routed.includes(`connected to ${ns.host2}:5349`), `nginx passed nothing to coturn:\n${routed}`);
  }));
});
