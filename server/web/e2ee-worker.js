// The e2ee worker (docs/adr/0003-e2ee.md §5): one module worker per page that every
// RTCRtpScriptTransform of the call runs in. Send side: seals each encoded frame with this
// participant's current sender key (one CTR per key across audio and every simulcast layer).
// Receive side: opens each frame with the keys of the participant who owns the section (mid)
// now; anything that does not open is dropped and counted, never passed on as it came.
//
// Messages from the page:
//   {type: 'setSendKey', kid, key, reset?}         key: 16 raw bytes (Uint8Array)
//   {type: 'reset'}                                a fresh join: forget every key
//   {type: 'setReceiveKey', participantId, kid, key}
//   {type: 'removeParticipant', participantId}
//   {type: 'owner', mid, participantId}
//   {type: 'codecs', map: {payloadType: 'opus'|'vp8'|'h264'}}
// To the page, once a second while anything flows: {type: 'stats', sent, sendDropped,
// receivers: {[participantId]: {opened, failed, noKey, lastOpenedAt, lastFailedAt,
// failingSince}}} (Date.now() times) and
// {type: 'opened', participantId} when someone's frames open after failing.
// Key bytes are never logged or posted back.

import { SenderKeys, codecOf, deriveSFrameKeys, openFromSender, protectFrame } from './sframe.js';

const state = {
  send: null, // {keys, ctr} of the current sender key
  pendingSend: Promise.resolve(),
  receivers: new Map(), // participantId → SenderKeys
  owners: new Map(), // mid → participantId
  codecs: new Map(), // payload type → codec
  transformers: new Map(), // mid → receive transformer (for keyframe requests)
  sent: 0,
  sendDropped: 0,
  counts: new Map(), // participantId → {opened, failed, noKey, lastOpenedAt, lastFailedAt}
  dirty: false,
};

const now = () => performance.now();

function countsOf(participantId) {
  let counts = state.counts.get(participantId);
  if (!counts) {
    counts = { opened: 0, failed: 0, noKey: 0, lastOpenedAt: 0, lastFailedAt: 0, failingSince: 0 };
    state.counts.set(participantId, counts);
  }
  return counts;
}

function frameCodec(frame) {
  let meta = null;
  try {
    meta = frame.getMetadata?.() ?? null;
  } catch {
    meta = null;
  }
  return codecOf(meta?.mimeType) ?? state.codecs.get(meta?.payloadType) ?? null;
}

async function sealFrame(frame, controller, kind) {
  const send = state.send;
  const data = new Uint8Array(frame.data);
  if (data.length === 0) {
    controller.enqueue(frame);
    return;
  }
  // No key yet (the first moments of a call): drop rather than send anything in the clear.
  const codec = frameCodec(frame) ?? (kind === 'audio' ? 'opus' : null);
  if (!send || !codec) {
    state.sendDropped += 1;
    return;
  }
  const ctr = send.ctr;
  send.ctr += 1;
  const sealed = await protectFrame(codec, data, send.keys, ctr);
  if (!sealed) {
    state.sendDropped += 1;
    return;
  }
  frame.data = sealed.buffer.byteLength === sealed.length ? sealed.buffer : sealed.slice().buffer;
  state.sent += 1;
  controller.enqueue(frame);
}

async function openFrame(frame, controller, mid) {
  const data = new Uint8Array(frame.data);
  if (data.length === 0) {
    controller.enqueue(frame);
    return;
  }
  const participantId = state.owners.get(mid);
  if (!participantId) return; // nobody owns this section yet: drop
  const counts = countsOf(participantId);
  const codec = frameCodec(frame);
  try {
    if (!codec) throw Object.assign(new Error('unknown codec'), { code: 'malformed' });
    const clear = await openFromSender(codec, data, state.receivers.get(participantId), now());
    frame.data = clear.buffer.byteLength === clear.length ? clear.buffer : clear.slice().buffer;
    const wasFailing = counts.lastFailedAt > counts.lastOpenedAt;
    counts.opened += 1;
    counts.lastOpenedAt = Date.now();
    state.dirty = true;
    if (wasFailing) self.postMessage({ type: 'opened', participantId });
    controller.enqueue(frame);
  } catch (error) {
    if (!(counts.lastFailedAt > counts.lastOpenedAt)) counts.failingSince = Date.now();
    if (error.code === 'no_key') counts.noKey += 1;
    else counts.failed += 1;
    counts.lastFailedAt = Date.now();
    state.dirty = true;
  }
}

function attach(transformer) {
  const options = transformer.options ?? {};
  const transform = options.side === 'send'
    ? (frame, controller) => sealFrame(frame, controller, options.kind)
    : (frame, controller) => openFrame(frame, controller, options.mid);
  if (options.side !== 'send' && options.mid != null) state.transformers.set(String(options.mid), transformer);
  transformer.readable
    .pipeThrough(new TransformStream({
      transform: (frame, controller) => transform(frame, controller).catch(() => {
        if (options.side === 'send') state.sendDropped += 1;
      }),
    }))
    .pipeTo(transformer.writable)
    .catch(() => {}); // the section went away
}

self.addEventListener('rtctransform', (event) => attach(event.transformer));

/** Asks the publisher of every section `participantId` owns for a keyframe, where possible. */
function requestKeyFrames(participantId) {
  for (const [mid, owner] of state.owners) {
    if (owner !== participantId) continue;
    const transformer = state.transformers.get(mid);
    try {
      transformer?.sendKeyFrameRequest?.()?.catch?.(() => {});
    } catch {
      // Not for audio, or not supported: the page's keyframe_request does it.
    }
  }
}

self.addEventListener('message', (event) => {
  const message = event.data ?? {};
  switch (message.type) {
    case 'setSendKey': {
      const { kid, key, reset } = message;
      // Keys in order, so a slow derivation never replaces a newer key with an older one.
      state.pendingSend = state.pendingSend.then(async () => {
        const keys = await deriveSFrameKeys(new Uint8Array(key), BigInt(kid));
        if (reset || !state.send || state.send.keys.kid < keys.kid) state.send = { keys, ctr: 0 };
      }).catch(() => {});
      break;
    }
    case 'setReceiveKey': {
      const { participantId, kid, key } = message;
      deriveSFrameKeys(new Uint8Array(key), BigInt(kid)).then((keys) => {
        let table = state.receivers.get(participantId);
        if (!table) {
          table = new SenderKeys();
          state.receivers.set(participantId, table);
        }
        if (table.add(keys.kid, keys)) {
          const counts = state.counts.get(participantId);
          if (counts && counts.lastFailedAt > counts.lastOpenedAt) requestKeyFrames(participantId);
        }
      }).catch(() => {});
      break;
    }
    case 'reset':
      // A fresh join (a new participant id): no sender key until the next setSendKey.
      state.send = null;
      state.receivers.clear();
      state.counts.clear();
      break;
    case 'removeParticipant':
      state.receivers.delete(message.participantId);
      state.counts.delete(message.participantId);
      break;
    case 'owner':
      if (message.mid != null) state.owners.set(String(message.mid), message.participantId);
      break;
    case 'codecs':
      for (const [pt, codec] of Object.entries(message.map ?? {})) state.codecs.set(Number(pt), codec);
      break;
    default:
      break;
  }
});

setInterval(() => {
  if (!state.dirty && state.sent === 0) return;
  state.dirty = false;
  const receivers = {};
  for (const [id, counts] of state.counts) receivers[id] = { ...counts };
  self.postMessage({ type: 'stats', sent: state.sent, sendDropped: state.sendDropped, receivers });
}, 1000);
