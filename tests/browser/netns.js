// Network namespaces for browsers on hostile networks: a namespace joined to this machine by a
// veth pair, with a firewall (nftables) that lets only chosen ports out, and a Chromium that
// runs inside it. Needs root, `ip` and `nft` (the test command installs nftables).

import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** Why namespaces cannot be made here, or null when they can. */
export function namespacesUnavailable() {
  if (process.getuid?.() !== 0) return 'needs root (ip netns, nft)';
  for (const tool of ['/usr/sbin/ip', '/usr/sbin/nft', '/usr/bin/turnserver']) {
    if (!fs.existsSync(tool)) return `${tool} is missing (scripts/test-all.sh installs iproute2, nftables and coturn)`;
  }
  // Root in a container may still lack CAP_NET_ADMIN.
  const probe = `salon-probe-${process.pid}`;
  try {
    run('ip', ['netns', 'add', probe]);
    run('ip', ['netns', 'exec', probe, 'nft', 'add', 'table', 'inet', 'probe']);
  } catch (error) {
    return `cannot make a network namespace with a firewall here: ${String(error.stderr ?? error.message).trim()}`;
  } finally {
    try { run('ip', ['netns', 'del', probe]); } catch { /* never made */ }
  }
  return null;
}

function run(cmd, args, input) {
  return execFileSync(cmd, args, { input, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] }).toString();
}

let counter = 0;

/** A script that starts Chromium inside namespace `name` (Playwright's executablePath). */
function chromiumLauncher(name) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'salon-netns-'));
  const launcher = path.join(dir, 'chromium-in-namespace');
  const chromium = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';
  fs.writeFileSync(launcher, `#!/bin/sh\nexec /usr/sbin/ip netns exec ${name} ${chromium} "$@"\n`, { mode: 0o755 });
  return { dir, launcher };
}

/**
 * A namespace at 10.213.<k>.2 whose only neighbour is this machine at 10.213.<k>.1 (`host`)
 * and 10.213.<k>.3 (`host2`, for a second server on the same port): bind the servers the
 * namespace may reach to these.
 */
export function makeNamespace() {
  counter += 1;
  const k = ((process.pid + counter * 7) % 200) + 20;
  const name = `salon-t${k}`;
  const host = `10.213.${k}.1`;
  const inside = `10.213.${k}.2`;
  const host2 = `10.213.${k}.3`;
  const outer = `slh${k}`;
  const inner = `sln${k}`;
  // Left over from a crashed run.
  try { run('ip', ['netns', 'del', name]); } catch { /* none */ }
  try { run('ip', ['link', 'del', outer]); } catch { /* none */ }
  run('ip', ['netns', 'add', name]);
  run('ip', ['link', 'add', outer, 'type', 'veth', 'peer', 'name', inner]);
  run('ip', ['link', 'set', inner, 'netns', name]);
  run('ip', ['addr', 'add', `${host}/24`, 'dev', outer]);
  run('ip', ['addr', 'add', `${host2}/24`, 'dev', outer]);
  run('ip', ['link', 'set', outer, 'up']);
  run('ip', ['netns', 'exec', name, 'ip', 'addr', 'add', `${inside}/24`, 'dev', inner]);
  run('ip', ['netns', 'exec', name, 'ip', 'link', 'set', inner, 'up']);
  run('ip', ['netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up']);
  const { dir, launcher } = chromiumLauncher(name);
  return {
    name,
    host,
    host2,
    inside,
    launcher,
    /**
     * Lets out of the namespace only loopback and, to `host` and `host2`, the given TCP and
     * UDP ports; everything else is dropped (replaces the previous rules).
     */
    allowOnly({ tcp = [], udp = [] }) {
      const set = (ports) => (ports.length ? `{ ${ports.join(', ')} }` : null);
      const rules = [
        'flush ruleset',
        'table inet salon {',
        '  chain out {',
        '    type filter hook output priority 0; policy drop;',
        '    oif "lo" accept',
        '    ct state established,related accept',
        tcp.length ? `    ip daddr { ${host}, ${host2} } tcp dport ${set(tcp)} accept` : '',
        udp.length ? `    ip daddr { ${host}, ${host2} } udp dport ${set(udp)} accept` : '',
        '  }',
        // Nothing comes in unasked either (a NAT would not let it): else the server's own
        // connectivity checks would open the UDP path they are meant to find closed.
        '  chain in {',
        '    type filter hook input priority 0; policy drop;',
        '    iif "lo" accept',
        '    ct state established,related accept',
        '  }',
        '}',
      ].filter(Boolean).join('\n');
      run('ip', ['netns', 'exec', name, 'nft', '-f', '-'], `${rules}\n`);
    },
    /** Drops every UDP datagram in and out, flows already open included (replaces the rules). */
    blockUdp() {
      const rules = [
        'flush ruleset',
        'table inet salon {',
        '  chain out { type filter hook output priority 0; policy accept; meta l4proto udp drop; }',
        '  chain in { type filter hook input priority 0; policy accept; meta l4proto udp drop; }',
        '}',
      ].join('\n');
      run('ip', ['netns', 'exec', name, 'nft', '-f', '-'], `${rules}\n`);
    },
    /** No firewall rules: everything passes. */
    openAll() {
      run('ip', ['netns', 'exec', name, 'nft', 'flush', 'ruleset']);
    },
    destroy() {
      try { run('ip', ['netns', 'del', name]); } catch { /* gone */ }
      try { run('ip', ['link', 'del', outer]); } catch { /* gone with the namespace */ }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A coturn on `ip` configured as docs/deploy.md says (TURN REST secret, no relaying to private
 * or loopback ranges except `salon`, quotas), listening on `port` for UDP and TCP and, with a
 * certificate, for TLS on `tlsPort`. Resolves once it listens.
 */
export async function startCoturn({ ip, port, secret, salon, tlsPort = null, cert = null, key = null }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'salon-coturn-'));
  const conf = path.join(dir, 'turnserver.conf');
  const lines = [
    `listening-ip=${ip}`,
    `relay-ip=${ip}`,
    `listening-port=${port}`,
    'min-port=53000',
    'max-port=53999',
    'realm=salon.test',
    'use-auth-secret',
    `static-auth-secret=${secret}`,
    'fingerprint',
    'no-dtls',
    'no-cli',
    'no-multicast-peers',
    'allow-loopback-peers',
    'denied-peer-ip=0.0.0.0-0.255.255.255',
    'denied-peer-ip=10.0.0.0-10.255.255.255',
    'denied-peer-ip=100.64.0.0-100.127.255.255',
    'denied-peer-ip=127.0.0.0-127.255.255.255',
    'denied-peer-ip=169.254.0.0-169.254.255.255',
    'denied-peer-ip=172.16.0.0-172.31.255.255',
    'denied-peer-ip=192.168.0.0-192.168.255.255',
    `allowed-peer-ip=${salon}`,
    'user-quota=12',
    'total-quota=1200',
    `pidfile=${path.join(dir, 'turnserver.pid')}`,
    `log-file=${path.join(dir, 'turnserver.log')}`,
    'simple-log',
    'verbose',
  ];
  if (tlsPort && cert && key) {
    lines.push(`tls-listening-port=${tlsPort}`, `cert=${cert}`, `pkey=${key}`);
  } else {
    lines.push('no-tls');
  }
  fs.writeFileSync(conf, `${lines.join('\n')}\n`);
  const child = spawn('/usr/bin/turnserver', ['-c', conf], { stdio: 'ignore' });
  const reap = () => child.kill('SIGKILL');
  process.once('exit', reap);
  const logPath = path.join(dir, 'turnserver.log');
  const deadline = Date.now() + 10000;
  // coturn logs its listeners once they are open.
  while (Date.now() < deadline) {
    const log = fs.existsSync(logPath) ? fs.readFileSync(logPath, 'utf8') : '';
    if (/Total General servers/u.test(log) || /relay .* initialized/u.test(log)) break;
    if (child.exitCode !== null) throw new Error(`turnserver exited: ${log.slice(-2000)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await new Promise((resolve) => setTimeout(resolve, 300));
  return {
    log: () => (fs.existsSync(logPath) ? fs.readFileSync(logPath, 'utf8') : ''),
    stop: () => stopDaemon(child, reap, dir),
  };
}

/** Ends a daemon a test started (SIGTERM, SIGKILL after 3 s) and removes its folder. */
async function stopDaemon(child, reap, dir) {
  process.removeListener('exit', reap);
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  }
  fs.rmSync(dir, { recursive: true, force: true });
}

/**
 * nginx's `stream` module sharing one TCP port by the name a TLS client asks for (SNI), as
 * docs/deploy.md configures it: connections naming a host in `routes` go to its address, every
 * other one (other names, and plain HTTP, which names none) to `fallback`. Needs Debian's nginx
 * and libnginx-mod-stream.
 */
export async function startSniProxy({ listen, routes, fallback }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'salon-nginx-'));
  const conf = path.join(dir, 'nginx.conf');
  const errorLog = path.join(dir, 'error.log');
  const names = Object.entries(routes).map(([name, to]) => `      ${name} ${to};`).join('\n');
  fs.writeFileSync(conf, `load_module /usr/lib/nginx/modules/ngx_stream_module.so;
daemon off;
worker_processes 1;
pid ${path.join(dir, 'nginx.pid')};
error_log ${errorLog} info;
events { worker_connections 256; }
stream {
  map $ssl_preread_server_name $backend {
${names}
      default ${fallback};
  }
  server {
    listen ${listen};
    ssl_preread on;
    proxy_pass $backend;
  }
}
`);
  const child = spawn('/usr/sbin/nginx', ['-p', dir, '-c', conf, '-e', errorLog], { stdio: 'ignore' });
  const reap = () => child.kill('SIGKILL');
  process.once('exit', reap);
  const [host, port] = [listen.slice(0, listen.lastIndexOf(':')), Number(listen.slice(listen.lastIndexOf(':') + 1))];
  const deadline = Date.now() + 10000;
  for (;;) {
    if (child.exitCode !== null) {
      throw new Error(`nginx exited: ${fs.existsSync(errorLog) ? fs.readFileSync(errorLog, 'utf8').slice(-2000) : ''}`);
    }
    const open = await new Promise((resolve) => {
      const socket = net.connect({ host, port }, () => { socket.destroy(); resolve(true); });
      socket.on('error', () => resolve(false));
    });
    if (open) break;
    if (Date.now() > deadline) throw new Error(`nginx does not listen on ${listen}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    log: () => (fs.existsSync(errorLog) ? fs.readFileSync(errorLog, 'utf8') : ''),
    stop: () => stopDaemon(child, reap, dir),
  };
}

/** Whether Debian's nginx with its stream module is here (for `startSniProxy`). */
export function sniProxyAvailable() {
  return fs.existsSync('/usr/sbin/nginx') && fs.existsSync('/usr/lib/nginx/modules/ngx_stream_module.so');
}

/** A self-signed certificate for `ip` (and `name`), as PEM files in a new folder. */
export function selfSignedCert(ip, name = 'turn.salon.test') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'salon-cert-'));
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', cert, '-days', '2', '-subj', `/CN=${name}`,
    '-addext', `subjectAltName=DNS:${name},IP:${ip}`]);
  return { cert, key, dir };
}

/**
 * A namespace with two uplinks (10.216.<k>.2 on link A, 10.217.<k>.2 on link B) to this
 * machine, which serves on 10.218.<k>.1 (`host`, an address added to its loopback interface)
 * reachable through either: A first, B when A is down (as a phone with Wi-Fi and mobile data).
 * No firewall.
 */
export function makeDualHomedNamespace() {
  counter += 1;
  const k = ((process.pid + counter * 7) % 200) + 20;
  const name = `salon-u${k}`;
  const host = `10.218.${k}.1`;
  const links = {
    a: { outer: `sua${k}`, inner: `sna${k}`, near: `10.216.${k}.1`, inside: `10.216.${k}.2`, metric: 10 },
    b: { outer: `sub${k}`, inner: `snb${k}`, near: `10.217.${k}.1`, inside: `10.217.${k}.2`, metric: 20 },
  };
  const cleanup = () => {
    try { run('ip', ['netns', 'del', name]); } catch { /* none */ }
    for (const l of Object.values(links)) {
      try { run('ip', ['link', 'del', l.outer]); } catch { /* none */ }
    }
    try { run('ip', ['addr', 'del', `${host}/32`, 'dev', 'lo']); } catch { /* none */ }
  };
  cleanup();
  run('ip', ['addr', 'add', `${host}/32`, 'dev', 'lo']);
  run('ip', ['netns', 'add', name]);
  run('ip', ['netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up']);
  for (const l of Object.values(links)) {
    run('ip', ['link', 'add', l.outer, 'type', 'veth', 'peer', 'name', l.inner]);
    run('ip', ['link', 'set', l.inner, 'netns', name]);
    run('ip', ['addr', 'add', `${l.near}/24`, 'dev', l.outer]);
    run('ip', ['link', 'set', l.outer, 'up']);
    run('ip', ['netns', 'exec', name, 'ip', 'addr', 'add', `${l.inside}/24`, 'dev', l.inner]);
    run('ip', ['netns', 'exec', name, 'ip', 'link', 'set', l.inner, 'up']);
    run('ip', ['netns', 'exec', name, 'ip', 'route', 'add', `${host}/32`, 'via', l.near, 'dev', l.inner, 'metric', String(l.metric)]);
  }
  const { dir, launcher } = chromiumLauncher(name);
  return {
    name,
    host,
    launcher,
    /** The uplink ('a' or 'b') that has `address` inside the namespace, or null. */
    linkOf(address) {
      return Object.keys(links).find((key) => links[key].inside === address) ?? null;
    },
    /** Bytes sent so far through an uplink, from inside the namespace. */
    txBytes(key) {
      return Number(run('ip', ['netns', 'exec', name, 'cat', `/sys/class/net/${links[key].inner}/statistics/tx_bytes`]).toString().trim());
    },
    /**
     * Open TCP connections from the namespace to the server's `port` (a page's WebSocket, its
     * kept-alive page loads): the uplink each leaves by and its local address.
     */
    tcpSocketsTo(port) {
      const out = run('ip', ['netns', 'exec', name, 'ss', '-Htn', 'state', 'established', 'dst', `${host}:${port}`]);
      const sockets = [];
      for (const line of out.split('\n')) {
        const local = line.trim().split(/\s+/u)[2] ?? '';
        const link = Object.keys(links).find((k) => local.startsWith(`${links[k].inside}:`));
        if (link) sockets.push({ link, local });
      }
      return sockets;
    },
    /** The command line that runs `argv` inside the namespace. */
    inside(argv) {
      return ['ip', ['netns', 'exec', name, ...argv]];
    },
    /**
     * Takes an uplink down, as when a phone leaves a Wi-Fi network; with `forget`, its address
     * goes too (as a phone's does), so nothing can be sent from it through the other uplink.
     */
    drop(key, { forget = false } = {}) {
      run('ip', ['netns', 'exec', name, 'ip', 'link', 'set', links[key].inner, 'down']);
      if (forget) run('ip', ['netns', 'exec', name, 'ip', 'addr', 'flush', 'dev', links[key].inner]);
    },
    /** Brings an uplink back (its address and route to the server too). */
    restore(key) {
      const l = links[key];
      run('ip', ['netns', 'exec', name, 'ip', 'addr', 'replace', `${l.inside}/24`, 'dev', l.inner]);
      run('ip', ['netns', 'exec', name, 'ip', 'link', 'set', l.inner, 'up']);
      run('ip', ['netns', 'exec', name, 'ip', 'route', 'replace', `${host}/32`, 'via', l.near, 'dev', l.inner, 'metric', String(l.metric)]);
    },
    destroy() {
      cleanup();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
