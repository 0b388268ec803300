// A small signaling client of its own (docs/protocol.md, "Flow") run inside a blank page of the
// server's origin, not the guest page: for tests that need a participant with exact `view`s or a
// simulcast camera of their own (simulcast.test.js, dynacast.test.js).

import { waitFor } from './helpers.js';

/**
 * The page's signaling client, run in the page: joins over the WebSocket, publishes (`publish`:
 * 'camera' — a 1280×720 camera in three simulcast layers and a microphone —, 'mic', or nothing),
 * answers the server's offers, and exposes its participant id, what it sees and a `view` sender
 * on `window.sc`. With `secret` (the room secret, base64url) it takes part in an end-to-end
 * encrypted room as the guest page does: the page's own e2ee.js and e2ee-worker.js exchange keys
 * and seal and open every frame.
 */
export async function pageClient({ wsUrl, name, publish, secret = null }) {
  const sc = { id: null, joined: false, offersAnswered: 0, errors: [] };
  window.sc = sc;
  let e2ee = null;
  let worker = null;
  const sendLater = (message) => send(message);
  if (secret) {
    const E = await import('/assets/e2ee.js');
    worker = new Worker('/assets/e2ee-worker.js', { type: 'module' });
    e2ee = new E.E2ee({
      secret: E.secretFromHash(`#k=${secret}`).secret,
      send: sendLater,
      post: (message) => worker.postMessage(message),
    });
    worker.addEventListener('message', (event) => {
      if (event.data?.type === 'stats') {
        sc.frames = { sent: event.data.sent, dropped: event.data.sendDropped };
        e2ee.onWorkerStats(event.data.receivers);
      }
    });
    await e2ee.newIdentity();
    sc.e2ee = () => e2ee.state();
  }
  /** Sends every frame of a new sender through the worker (before the first offer). */
  const encrypt = (transceiver, kind) => {
    if (worker) transceiver.sender.transform = new RTCRtpScriptTransform(worker, { side: 'send', kind });
    return transceiver;
  };
  const postCodecs = (sdp) => {
    if (!worker) return;
    const map = {};
    for (const m of sdp.matchAll(/^a=rtpmap:(\d+) (opus|VP8|H264)\//gmu)) map[m[1]] = m[2].toLowerCase();
    worker.postMessage({ type: 'codecs', map });
  };
  const ws = new WebSocket(wsUrl);
  const send = (message) => ws.send(JSON.stringify(message));
  const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle' });
  sc.pc = pc;
  pc.addEventListener('track', (event) => {
    if (!worker) return;
    const mid = event.transceiver?.mid ?? null;
    const participantId = event.streams[0]?.id;
    if (participantId && mid != null) worker.postMessage({ type: 'owner', mid, participantId });
    event.receiver.transform ??= new RTCRtpScriptTransform(worker, { side: 'receive', mid });
  });
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
  ws.addEventListener('open', () => send({
    type: 'join', version: 1, name, media, ...(e2ee ? { e2ee: e2ee.joinField() } : {}),
  }));
  ws.addEventListener('message', (event) => {
    const message = JSON.parse(event.data);
    switch (message.type) {
      case 'joined':
        sc.id = message.participant_id;
        sc.joined = true;
        e2ee?.onJoined({
          selfId: sc.id, roomId: message.room?.id ?? null,
          participants: (message.participants ?? []).filter((p) => p.id !== sc.id),
        });
        enqueue(async () => {
          if (publish === 'camera') {
            const stream = await navigator.mediaDevices.getUserMedia({
              audio: true,
              video: { width: 1280, height: 720 },
            });
            encrypt(pc.addTransceiver(stream.getAudioTracks()[0], { direction: 'sendonly', streams: [stream] }), 'audio');
            sc.video = encrypt(pc.addTransceiver(stream.getVideoTracks()[0], {
              direction: 'sendonly',
              streams: [stream],
              sendEncodings: [
                { rid: 'q', scaleResolutionDownBy: 4 },
                { rid: 'h', scaleResolutionDownBy: 2 },
                { rid: 'f' },
              ],
            }), 'video');
          } else if (publish === 'mic') {
            const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
            encrypt(pc.addTransceiver(stream.getAudioTracks()[0], { direction: 'sendonly', streams: [stream] }), 'audio');
            encrypt(pc.addTransceiver('video', { direction: 'sendonly' }), 'video');
          } else {
            encrypt(pc.addTransceiver('audio', { direction: 'sendonly' }), 'audio');
            encrypt(pc.addTransceiver('video', { direction: 'sendonly' }), 'video');
          }
          await pc.setLocalDescription(await pc.createOffer());
          postCodecs(pc.localDescription.sdp);
          send({ type: 'offer', sdp: pc.localDescription.sdp });
          offerSent = true;
          for (const m of pending.splice(0)) send(m);
        });
        break;
      case 'answer':
        enqueue(async () => {
          await pc.setRemoteDescription({ type: 'answer', sdp: message.sdp });
          postCodecs(message.sdp);
        });
        break;
      case 'offer':
        enqueue(async () => {
          await pc.setRemoteDescription({ type: 'offer', sdp: message.sdp });
          postCodecs(message.sdp);
          await pc.setLocalDescription(await pc.createAnswer());
          send({ type: 'answer', sdp: pc.localDescription.sdp });
          sc.offersAnswered += 1;
        });
        break;
      case 'ping':
        send({ type: 'pong' });
        break;
      case 'participant_joined':
      case 'participant_updated':
        if (message.participant?.id !== sc.id) e2ee?.onParticipant(message.participant);
        break;
      case 'participant_left':
        e2ee?.onLeft(message.participant_id);
        break;
      case 'e2ee_announce':
        e2ee?.onAnnounce(message);
        break;
      case 'e2ee_key':
        e2ee?.onKeyBox(message);
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
 * {name, page, id, logs}. `secret`: the room's secret, for an end-to-end encrypted room.
 */
export async function signalingClient(browser, server, wsUrl, name, publish, { secret = null } = {}) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const logs = [];
  page.on('console', (m) => logs.push(`[${name}] ${m.type()}: ${m.text()}`));
  // A page of the server's origin (the server accepts signaling only from its own pages).
  await page.goto(`${server.url}/simulcast-test`);
  await page.evaluate(pageClient, { wsUrl, name, publish, secret });
  await waitFor(() => page.evaluate(() => window.sc.joined), { message: `${name} to join` });
  const id = await page.evaluate(() => window.sc.id);
  return { name, page, id, logs };
}
