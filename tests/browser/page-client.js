// A small signaling client of its own (docs/protocol.md, "Flow") run inside a blank page of the
// server's origin, not the guest page: for tests that need a participant with exact `view`s or a
// simulcast camera of their own (simulcast.test.js, dynacast.test.js).

import { waitFor } from './helpers.js';

/**
 * The page's signaling client, run in the page: joins over the WebSocket, publishes (`publish`:
 * 'camera' — a 1280×720 camera in three simulcast layers and a microphone —, 'mic', or nothing),
 * answers the server's offers, and exposes its participant id, what it sees and a `view` sender
 * on `window.sc`.
 */
export function pageClient({ wsUrl, name, publish }) {
  const sc = { id: null, joined: false, offersAnswered: 0, errors: [] };
  window.sc = sc;
  const ws = new WebSocket(wsUrl);
  const send = (message) => ws.send(JSON.stringify(message));
  const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle' });
  sc.pc = pc;
  let chain = Promise.resolve();
  const enqueue = (step) => {
    chain = chain.then(step).catch((error) => sc.errors.push(String(error)));
  };
  const pending = [];
  let offerSent = false;
  pc.addEventListener('icecandidate', ({ candidate }) => {
    const message = candidate && candidate.candidate
      ? { type: 'ice_candidate', ...candidate.toJSON() }
      : { type: 'ice_candidate', candidate: '' };
    if (offerSent) send(message); else pending.push(message);
  });
  sc.view = (tiles) => send({ type: 'view', tiles });
  const media = { audio: publish !== 'none', video: publish === 'camera' };
  ws.addEventListener('open', () => send({ type: 'join', version: 1, name, media }));
  ws.addEventListener('message', (event) => {
    const message = JSON.parse(event.data);
    switch (message.type) {
      case 'joined':
        sc.id = message.participant_id;
        sc.joined = true;
        enqueue(async () => {
          if (publish === 'camera') {
            const stream = await navigator.mediaDevices.getUserMedia({
              audio: true,
              video: { width: 1280, height: 720 },
            });
            pc.addTransceiver(stream.getAudioTracks()[0], { direction: 'sendonly', streams: [stream] });
            sc.video = pc.addTransceiver(stream.getVideoTracks()[0], {
              direction: 'sendonly',
              streams: [stream],
              sendEncodings: [
                { rid: 'q', scaleResolutionDownBy: 4 },
                { rid: 'h', scaleResolutionDownBy: 2 },
                { rid: 'f' },
              ],
            });
          } else if (publish === 'mic') {
            const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
            pc.addTransceiver(stream.getAudioTracks()[0], { direction: 'sendonly', streams: [stream] });
            pc.addTransceiver('video', { direction: 'sendonly' });
          } else {
            pc.addTransceiver('audio', { direction: 'sendonly' });
            pc.addTransceiver('video', { direction: 'sendonly' });
          }
          await pc.setLocalDescription(await pc.createOffer());
          send({ type: 'offer', sdp: pc.localDescription.sdp });
          offerSent = true;
          for (const m of pending.splice(0)) send(m);
        });
        break;
      case 'answer':
        enqueue(() => pc.setRemoteDescription({ type: 'answer', sdp: message.sdp }));
        break;
      case 'offer':
        enqueue(async () => {
          await pc.setRemoteDescription({ type: 'offer', sdp: message.sdp });
          await pc.setLocalDescription(await pc.createAnswer());
          send({ type: 'answer', sdp: pc.localDescription.sdp });
          sc.offersAnswered += 1;
        });
        break;
      case 'ping':
        send({ type: 'pong' });
        break;
      case 'error':
        sc.errors.push(`${message.code}: ${message.message}`);
        break;
      default:
    }
  });
  /** The received video from each publisher: frame height and frames decoded. */
  sc.inbound = async () => {
    const out = [];
    (await pc.getStats()).forEach((r) => {
      if (r.type === 'inbound-rtp' && r.kind === 'video') {
        out.push({ frameHeight: r.frameHeight ?? 0, framesDecoded: r.framesDecoded ?? 0, ssrc: r.ssrc });
      }
    });
    return out;
  };
  /** What each of our layers sends (publisher). */
  sc.outbound = async () => {
    const out = {};
    (await pc.getStats()).forEach((r) => {
      if (r.type === 'outbound-rtp' && r.kind === 'video') {
        out[r.rid] = {
          frameHeight: r.frameHeight ?? 0,
          framesEncoded: r.framesEncoded ?? 0,
          active: r.active,
          limitedBy: r.qualityLimitationReason,
        };
      }
    });
    return out;
  };
}

/**
 * A participant in a fresh context of `browser` running `pageClient`; resolves once joined to
 * {name, page, id, logs}.
 */
export async function signalingClient(browser, server, wsUrl, name, publish) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const logs = [];
  page.on('console', (m) => logs.push(`[${name}] ${m.type()}: ${m.text()}`));
  // A page of the server's origin (the server accepts signaling only from its own pages).
  await page.goto(`${server.url}/simulcast-test`);
  await page.evaluate(pageClient, { wsUrl, name, publish });
  await waitFor(() => page.evaluate(() => window.sc.joined), { message: `${name} to join` });
  const id = await page.evaluate(() => window.sc.id);
  return { name, page, id, logs };
}
