// The browser's side of the media session (docs/protocol.md, "Flow"): one RTCPeerConnection
// that publishes one audio and two video sections (camera, then screen; all sendonly) with the
// first offer, then answers the server's offers, which carry everyone else's tracks.

import { activeEncodings, cameraLayers, orderVideoCodecs, splitStreamId } from './logic.js';

/** What a screen share may send (one encoding: text stays sharp, the server sends it to all). */
const SCREEN_MAX_BITRATE = 2_500_000;

/**
 * How long ICE may stay "disconnected" before we restart it. Short: a phone that left one
 * network never comes back on the old path, and a blip shorter than this needs nothing.
 */
const DISCONNECTED_GRACE_MS = 2000;
/** How long an ICE restart may take to reconnect before the call counts as lost. */
const RESTART_TIMEOUT_MS = 10000;

export class Call {
  /**
   * @param {object} options
   * @param {MediaStream} options.localStream what we publish (may have no tracks)
   * @param {(message: object) => void} options.send sends a signaling message
   * @param {(participantId: string, track: MediaStreamTrack, source: string) => void} options.onRemoteTrack
   *   `source` is 'camera' (audio too) or 'screen'
   * @param {(reason: string) => void} options.onLost the call cannot continue (ICE failed, …)
   * @param {() => boolean} [options.canSignal] whether signaling is up now (an ICE restart needs it)
   * @param {(reason: string) => void} [options.onPathTrouble] an ICE restart was just offered, or
   *   the browser moved the media to another local address: a network change, most often (the
   *   room checks that its signaling socket survived it)
   * @param {object[]} [options.layers] the camera's simulcast encodings, lowest first
   *   (`cameraLayers` in logic.js); fixed for the life of the connection
   * @param {boolean} [options.watched] the latest `video_watched` (default true)
   * @param {string[]|null} [options.videoLayers] the latest `video_layers` (default: all)
   * @param {Worker|null} [options.e2eeWorker] end-to-end encrypted room: every frame we send and
   *   receive goes through this worker (e2ee-worker.js) as an RTCRtpScriptTransform
   * @param {RTCIceServer[]} [options.iceServers] TURN servers from `joined` (`iceServersFrom`),
   *   for networks with no direct path to the server's media port
   * @param {MediaStreamTrack|null} [options.screenTrack] the screen we share now, if any (later
   *   ones come through `replaceTrack('screen', …)`)
   */
  constructor({
    localStream, send, onRemoteTrack, onLost, canSignal = () => true, onPathTrouble = () => {},
    layers = cameraLayers(360), watched = true, videoLayers = null, e2eeWorker = null, screenTrack = null,
    iceServers = [],
  }) {
    this.screenTrack = screenTrack;
    this.e2eeWorker = e2eeWorker;
    this.localStream = localStream;
    this.send = send;
    this.canSignal = canSignal;
    this.onPathTrouble = onPathTrouble;
    this.restarting = null; // the timer of an ICE restart in progress
    this.iceRestarts = 0;
    this.pathWatched = false; // watchPath() listens to the selected candidate pair
    this.onRemoteTrack = onRemoteTrack;
    this.onLost = onLost;
    this.pc = null;
    this.transceivers = {};
    this.chain = Promise.resolve();
    this.offerSent = false;
    this.pendingCandidates = [];
    this.ownerByMid = new Map();
    this.ownerByTrack = new Map();
    this.disconnectedTimer = null;
    this.closed = false;
    this.layers = layers;
    this.videoActive = watched !== false; // whether anyone watches our video (`video_watched`)
    this.videoLayers = videoLayers; // the rids someone watches (`video_layers`), null = all
    this.parameters = Promise.resolve(); // setParameters calls, one at a time
    this.parameterRetries = 0;
    this.iceServers = iceServers;
  }

  /** New TURN credentials (a resume that kept the media): used by the next ICE restart. */
  setIceServers(iceServers) {
    this.iceServers = iceServers;
    try {
      this.pc?.setConfiguration({ ...this.pc.getConfiguration(), iceServers });
    } catch (error) {
      console.warn('salon: cannot update the TURN servers:', error);
    }
  }

  /** Creates the peer connection and sends the publishing offer. */
  start() {
    const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle', iceServers: this.iceServers });
    this.pc = pc;
    pc.addEventListener('icecandidate', (event) => this.trickle(event.candidate));
    pc.addEventListener('track', (event) => this.remoteTrack(event));
    pc.addEventListener('connectionstatechange', () => this.connectionChanged());

    for (const kind of ['audio', 'video']) {
      const track = this.localStream.getTracks().find((t) => t.kind === kind);
      const init = { direction: 'sendonly', streams: [this.localStream] };
      // The camera goes out as simulcast layers; the server gives each viewer the one that
      // fits its tile. Encodings start active as the latest `video_watched`/`video_layers` say.
      if (kind === 'video') {
        const active = activeEncodings(this.layers.map((layer) => layer.rid), this.encodingState());
        init.sendEncodings = this.layers.map((layer, i) => ({ ...layer, active: active[i] }));
      }
      this.transceivers[kind] = pc.addTransceiver(track ?? kind, init);
      // Before the first offer, so that no frame ever leaves unencrypted.
      if (this.e2eeWorker) {
        this.transceivers[kind].sender.transform = new RTCRtpScriptTransform(this.e2eeWorker, { side: 'send', kind });
      }
    }
    // The screen: the second video section, always there (the server forbids adding sections
    // later), sending only while we share (`replaceTrack('screen', …)`).
    this.transceivers.screen = pc.addTransceiver(this.screenTrack ?? 'video', {
      direction: 'sendonly', sendEncodings: [{ maxBitrate: SCREEN_MAX_BITRATE }],
    });
    if (this.e2eeWorker) {
      this.transceivers.screen.sender.transform = new RTCRtpScriptTransform(this.e2eeWorker, { side: 'send', kind: 'video' });
    }
    preferCodecs(this.transceivers.video);
    preferCodecs(this.transceivers.screen);

    this.enqueue('publish', async () => {
      const offer = await pc.createOffer();
      await pc.setLocalDescription(offer);
      this.postCodecs(pc.localDescription.sdp);
      this.send({ type: 'offer', sdp: pc.localDescription.sdp });
      this.offerSent = true;
      for (const candidate of this.pendingCandidates.splice(0)) this.send(candidate);
      this.applyEncodings();
    });
  }

  encodingState() {
    return { watched: this.videoActive, layers: this.videoLayers };
  }

  /**
   * Nobody watches our video (`video_watched: false`): stop encoding and sending it, keeping the
   * track (the camera stays on and the preview keeps playing); `true` resumes it, with the
   * layers the latest `video_layers` asked for.
   */
  setVideoSending(active) {
    this.videoActive = !!active;
    return this.applyEncodings();
  }

  /**
   * Dynacast (`video_layers`): keep sending the layers (rids) someone watches, pause the others.
   * `null` sends every layer.
   */
  setVideoLayers(layers) {
    this.videoLayers = layers;
    return this.applyEncodings();
  }

  /**
   * Makes the camera sender's encodings active as the latest state says, in one setParameters
   * call. Calls run one after another, each reading the state when its turn comes, so a burst of
   * messages ends in the last one's state; a call that fails (the parameters changed under it)
   * is tried again 0.5 s later, up to three times in a row.
   */
  applyEncodings() {
    this.parameters = this.parameters.then(async () => {
      const sender = this.transceivers.video?.sender;
      if (!sender || this.closed) return;
      const params = sender.getParameters();
      if (!params.encodings?.length) return;
      const want = activeEncodings(params.encodings.map((encoding) => encoding.rid), this.encodingState());
      if (params.encodings.every((encoding, i) => encoding.active === want[i])) return;
      params.encodings.forEach((encoding, i) => { encoding.active = want[i]; });
      await sender.setParameters(params);
      this.parameterRetries = 0;
    }).catch((error) => {
      console.warn('salon: could not change the camera sender\'s layers', error);
      if (this.parameterRetries < 3 && !this.closed) {
        this.parameterRetries += 1;
        setTimeout(() => this.applyEncodings(), 500);
      }
    });
    return this.parameters;
  }

  /** Whether our camera's encodings are active now (for tests and debugging). */
  videoSending() {
    const encodings = this.transceivers.video?.sender.getParameters().encodings ?? [];
    return encodings.length > 0 && encodings.some((encoding) => encoding.active !== false);
  }

  /** Our camera's encodings now: [{rid, active, scaleResolutionDownBy, maxBitrate}]. */
  videoEncodings() {
    const encodings = this.transceivers.video?.sender.getParameters().encodings ?? [];
    return encodings.map(({ rid, active, scaleResolutionDownBy, maxBitrate }) => ({
      rid: rid ?? null, active: active !== false, scaleResolutionDownBy, maxBitrate,
    }));
  }

  /** The server's answer to our publishing offer. */
  acceptAnswer(sdp) {
    this.enqueue('answer', async () => {
      await this.pc.setRemoteDescription({ type: 'answer', sdp });
      this.postCodecs(sdp);
    });
  }

  /** A server offer (others' tracks added or removed): answer it, one at a time. */
  acceptOffer(sdp) {
    this.enqueue('offer', async () => {
      await this.pc.setRemoteDescription({ type: 'offer', sdp });
      this.postCodecs(sdp);
      const answer = await this.pc.createAnswer();
      await this.pc.setLocalDescription(answer);
      this.send({ type: 'answer', sdp: this.pc.localDescription.sdp });
    });
  }

  /**
   * Replaces what we send for `kind` (null sends nothing); no renegotiation. A new camera keeps
   * the layers the latest `video_watched`/`video_layers` asked for.
   */
  async replaceTrack(kind, track) {
    const transceiver = this.transceivers[kind];
    if (!transceiver || this.closed) return;
    await transceiver.sender.replaceTrack(track);
    if (kind === 'video') await this.applyEncodings();
  }

  /** Runs negotiation steps strictly in order; a failed step ends the call. */
  enqueue(what, step) {
    this.chain = this.chain.then(async () => {
      if (this.closed) return;
      try {
        await step();
      } catch (error) {
        if (this.closed) return;
        console.error(`salon: negotiation step "${what}" failed`, error);
        this.lose(`negotiation (${what}) failed: ${error.message}`);
      }
    });
  }

  trickle(candidate) {
    if (this.closed) return;
    // A null candidate (or an empty one) means gathering is complete.
    const message = candidate && candidate.candidate
      ? { type: 'ice_candidate', ...candidate.toJSON() }
      : { type: 'ice_candidate', candidate: '' };
    if (this.offerSent) this.send(message);
    else this.pendingCandidates.push(message);
  }

  /** E2EE: tells the worker which codec each payload type is (for frames without a mime type). */
  postCodecs(sdp) {
    if (!this.e2eeWorker) return;
    const map = payloadCodecs(sdp);
    if (Object.keys(map).length) this.e2eeWorker.postMessage({ type: 'codecs', map });
  }

  remoteTrack(event) {
    // The server names each forwarded stream after the publishing participant (`|screen` for a
    // share: docs/protocol.md).
    const streamId = event.streams[0]?.id ?? /^(.*)-(audio|video)$/u.exec(event.track.id)?.[1];
    const { participantId = null, source = 'camera' } = splitStreamId(streamId) ?? {};
    if (this.e2eeWorker) {
      // Synchronously, before any frame of the section reaches the decoder. A parked section
      // that starts carrying someone else keeps its transform and gets a new owner.
      const mid = event.transceiver?.mid ?? null;
      if (participantId && mid != null) this.e2eeWorker.postMessage({ type: 'owner', mid, participantId });
      event.receiver.transform ??= new RTCRtpScriptTransform(this.e2eeWorker, { side: 'receive', mid });
    }
    if (!participantId) return;
    // Stats name a share by its stream id (`<id>|screen`), a camera by its publisher.
    const owner = source === 'screen' ? streamId : participantId;
    if (event.transceiver?.mid != null) this.ownerByMid.set(event.transceiver.mid, owner);
    this.ownerByTrack.set(event.track.id, owner);
    this.onRemoteTrack(participantId, event.track, source);
  }

  connectionChanged() {
    if (this.closed) return;
    const state = this.pc.connectionState;
    clearTimeout(this.disconnectedTimer);
    this.disconnectedTimer = null;
    if (state === 'connected' && this.restarting) {
      clearTimeout(this.restarting);
      this.restarting = null;
    }
    if (state === 'connected') this.watchPath();
    if (state === 'failed') {
      this.recover('ICE failed');
    } else if (state === 'disconnected') {
      // (A busy machine can look disconnected for a moment: the signaling socket is checked
      // with the restart, or when the browser moves the media to another address by itself.)
      this.disconnectedTimer = setTimeout(() => this.recover('ICE disconnected'), DISCONNECTED_GRACE_MS);
    }
  }

  /**
   * The media path broke (a network change, most often) while the call is otherwise fine: try
   * one ICE restart on the same peer connection — new credentials, the same sections, nobody
   * else renegotiated — and give the call up only if that does not reconnect.
   */
  recover(reason) {
    if (this.closed) return;
    if (this.restarting || !this.canSignal()) {
      this.lose(reason);
      return;
    }
    this.restartIce(reason);
  }

  /** Restarts ICE: an offer with new ICE credentials, answered by the server. */
  restartIce(reason = 'requested') {
    if (this.closed || this.restarting || !this.offerSent) return;
    console.info(`salon: restarting ICE (${reason})`);
    this.iceRestarts += 1;
    this.restarting = setTimeout(() => {
      this.restarting = null;
      // A restart on a working path (a network change the browser told us of) keeps the state
      // "connected" throughout: nothing to give up then.
      if (this.pc?.connectionState !== 'connected') this.lose(`ICE restart did not reconnect (${reason})`);
    }, RESTART_TIMEOUT_MS);
    this.enqueue('ice restart', async () => {
      const offer = await this.pc.createOffer({ iceRestart: true });
      await this.pc.setLocalDescription(offer);
      this.send({ type: 'offer', sdp: this.pc.localDescription.sdp });
    });
    this.onPathTrouble(`ICE restart: ${reason}`);
  }

  /**
   * The signaling socket was replaced by a resume that kept this connection. An ICE restart
   * offered on the old socket may never have reached the server (or its answer never reached
   * us): take it back and offer it again here.
   */
  resumed() {
    if (this.closed || !this.restarting) return;
    clearTimeout(this.restarting);
    this.restarting = null;
    this.enqueue('ice restart rollback', async () => {
      if (this.pc.signalingState === 'have-local-offer') await this.pc.setLocalDescription({ type: 'rollback' });
    });
    this.restartIce('again, on the resumed socket');
  }

  /**
   * Notes the local address of ICE's selected pair, and tells `onPathTrouble` when the browser
   * moves the media to a pair on another address by itself (another network, most often: the
   * signaling socket stayed on the old one). Once per connection; browsers without the event
   * skip it.
   */
  watchPath() {
    if (this.pathWatched) return;
    const ice = this.pc.getSenders().find((sender) => sender.transport)?.transport?.iceTransport
      ?? this.pc.getReceivers().find((receiver) => receiver.transport)?.transport?.iceTransport;
    if (!ice?.getSelectedCandidatePair) return;
    this.pathWatched = true;
    let address = ice.getSelectedCandidatePair()?.local?.address ?? null;
    ice.addEventListener('selectedcandidatepairchange', () => {
      const now = ice.getSelectedCandidatePair()?.local?.address ?? null;
      if (this.closed || !now || now === address) return;
      const before = address;
      address = now;
      // (Also when the browser merely prefers another pair that works: the probe is one ping.)
      if (before) this.onPathTrouble('the media moved to another network');
    });
  }

  lose(reason) {
    if (this.closed) return;
    this.onLost(reason);
  }

  ownerOf(stat) {
    return this.ownerByMid.get(stat.mid) ?? this.ownerByTrack.get(stat.trackIdentifier);
  }

  /** A small summary of what flows, for diagnostics and the browser tests. */
  async stats() {
    const summary = { connectionState: this.pc?.connectionState ?? 'new', outbound: {}, inbound: {} };
    if (!this.pc || this.closed) return summary;
    const report = await this.pc.getStats();
    const codec = (stat) => report.get(stat.codecId)?.mimeType ?? null;
    // The path media takes now: the selected candidate pair (direct over UDP or TCP, or through
    // a TURN relay, and how the browser reaches that relay).
    report.forEach((stat) => {
      if (stat.type !== 'transport' || !stat.selectedCandidatePairId) return;
      const pair = report.get(stat.selectedCandidatePairId);
      const local = pair && report.get(pair.localCandidateId);
      const remote = pair && report.get(pair.remoteCandidateId);
      if (!local || !remote) return;
      summary.path = {
        local: { type: local.candidateType, protocol: local.protocol, relayProtocol: local.relayProtocol ?? null },
        remote: { type: remote.candidateType, protocol: remote.protocol, address: remote.address ?? null, port: remote.port ?? null },
        localAddress: local.address ?? null,
      };
    });
    report.forEach((stat) => {
      // The browser's estimate of its uplink (what simulcast layers it can afford).
      if (stat.type === 'candidate-pair' && stat.nominated && stat.availableOutgoingBitrate !== undefined) {
        summary.availableOutgoingBitrate = stat.availableOutgoingBitrate;
      }
      if (stat.type === 'outbound-rtp') {
        // Simulcast: one entry per layer, summed up (and listed). The screen is on its own.
        const screen = stat.mid != null && stat.mid === this.transceivers.screen?.mid;
        const entry = (summary.outbound[screen ? 'screen' : stat.kind] ??= {
          codec: codec(stat), packetsSent: 0, framesEncoded: undefined, active: false, layers: [],
        });
        entry.packetsSent += stat.packetsSent ?? 0;
        if (stat.framesEncoded !== undefined) entry.framesEncoded = (entry.framesEncoded ?? 0) + stat.framesEncoded;
        entry.active = entry.active || stat.active !== false;
        entry.layers.push({
          rid: stat.rid ?? null, active: stat.active, frameWidth: stat.frameWidth ?? 0,
          frameHeight: stat.frameHeight ?? 0, framesEncoded: stat.framesEncoded ?? 0, bytesSent: stat.bytesSent ?? 0,
          // 'cpu' or 'bandwidth' when the browser sends less than asked (smaller frames, fewer).
          limitedBy: stat.qualityLimitationReason ?? null,
        });
      } else if (stat.type === 'inbound-rtp') {
        const owner = this.ownerOf(stat);
        if (!owner) return;
        const entry = (summary.inbound[owner] ??= {});
        // Two streams for one person's kind (a section being reused): keep the live one.
        const seen = entry[stat.kind];
        if (seen) summary.duplicateStreams = (summary.duplicateStreams ?? 0) + 1;
        if (seen && (seen.lastPacketAt ?? 0) > (stat.lastPacketReceivedTimestamp ?? 0)) return;
        // The publisher's sender reports, which the server passes on (lip sync rests on them).
        const senderReports = report.get(stat.remoteId)?.reportsSent ?? 0;
        entry[stat.kind] = stat.kind === 'audio'
          ? {
              codec: codec(stat),
              senderReports,
              packetsReceived: stat.packetsReceived ?? 0,
              totalAudioEnergy: stat.totalAudioEnergy ?? 0,
              audioLevel: stat.audioLevel ?? 0,
            }
          : {
              codec: codec(stat),
              senderReports,
              packetsReceived: stat.packetsReceived ?? 0,
              framesDecoded: stat.framesDecoded ?? 0,
              frameWidth: stat.frameWidth ?? 0,
              frameHeight: stat.frameHeight ?? 0,
            };
        entry[stat.kind].lastPacketAt = stat.lastPacketReceivedTimestamp ?? 0;
        entry[stat.kind].ssrc = stat.ssrc;
        summary.inboundStreams = (summary.inboundStreams ?? 0) + 1;
      }
    });
    return summary;
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.disconnectedTimer);
    clearTimeout(this.restarting);
    this.pc?.close();
  }
}

/** {payloadType: 'opus'|'vp8'|'h264'} from an SDP's rtpmap lines. */
export function payloadCodecs(sdp) {
  const map = {};
  for (const match of String(sdp ?? '').matchAll(/^a=rtpmap:(\d+) ([A-Za-z0-9-]+)\//gmu)) {
    const name = match[2].toLowerCase();
    if (name === 'opus' || name === 'vp8' || name === 'h264') map[match[1]] = name;
  }
  return map;
}

/** H.264 first, then VP8 (see logic.js), when the browser lets us choose. */
function preferCodecs(transceiver) {
  if (typeof transceiver.setCodecPreferences !== 'function') return;
  const capabilities = RTCRtpReceiver.getCapabilities?.('video') ?? RTCRtpSender.getCapabilities?.('video');
  const ordered = capabilities && orderVideoCodecs(capabilities.codecs);
  if (!ordered) return;
  try {
    transceiver.setCodecPreferences(ordered);
  } catch (error) {
    console.warn('salon: could not set video codec preferences', error);
  }
}
