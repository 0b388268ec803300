// The browser's side of the media session (docs/protocol.md, "Flow"): one RTCPeerConnection
// that publishes exactly one audio and one video section (both sendonly) with the first offer,
// then answers the server's offers, which carry everyone else's tracks.

import { orderVideoCodecs } from './logic.js';

/** How long ICE may stay "disconnected" before we act (the server uses 5 s). */
const DISCONNECTED_GRACE_MS = 5000;
/** How long an ICE restart may take to reconnect before the call counts as lost. */
const RESTART_TIMEOUT_MS = 10000;

export class Call {
  /**
   * @param {object} options
   * @param {MediaStream} options.localStream what we publish (may have no tracks)
   * @param {(message: object) => void} options.send sends a signaling message
   * @param {(participantId: string, track: MediaStreamTrack) => void} options.onRemoteTrack
   * @param {(reason: string) => void} options.onLost the call cannot continue (ICE failed, …)
   * @param {() => boolean} [options.canSignal] whether signaling is up now (an ICE restart needs it)
   */
  constructor({ localStream, send, onRemoteTrack, onLost, canSignal = () => true }) {
    this.localStream = localStream;
    this.send = send;
    this.canSignal = canSignal;
    this.restarting = null; // the timer of an ICE restart in progress
    this.iceRestarts = 0;
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
    this.videoActive = true; // whether anyone watches our video (`video_watched`)
    this.parameters = Promise.resolve();
  }

  /** Creates the peer connection and sends the publishing offer. */
  start() {
    const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle' });
    this.pc = pc;
    pc.addEventListener('icecandidate', (event) => this.trickle(event.candidate));
    pc.addEventListener('track', (event) => this.remoteTrack(event));
    pc.addEventListener('connectionstatechange', () => this.connectionChanged());

    for (const kind of ['audio', 'video']) {
      const track = this.localStream.getTracks().find((t) => t.kind === kind);
      const init = { direction: 'sendonly', streams: [this.localStream] };
      // The camera goes out as simulcast layers; the server gives each viewer the one that
      // fits its tile.
      if (kind === 'video') init.sendEncodings = CAMERA_LAYERS.map((layer) => ({ ...layer }));
      this.transceivers[kind] = pc.addTransceiver(track ?? kind, init);
    }
    preferCodecs(this.transceivers.video);

    this.enqueue('publish', async () => {
      const offer = await pc.createOffer();
      await pc.setLocalDescription(offer);
      this.send({ type: 'offer', sdp: pc.localDescription.sdp });
      this.offerSent = true;
      for (const candidate of this.pendingCandidates.splice(0)) this.send(candidate);
      this.applyVideoActive();
    });
  }

  /**
   * Nobody watches our video (`video_watched: false`): stop encoding and sending it, keeping the
   * track (the camera stays on and the preview keeps playing); `true` resumes it.
   */
  setVideoSending(active) {
    this.videoActive = !!active;
    this.applyVideoActive();
  }

  applyVideoActive() {
    this.parameters = this.parameters.then(async () => {
      const sender = this.transceivers.video?.sender;
      if (!sender || this.closed) return;
      const params = sender.getParameters();
      if (!params.encodings?.length) return;
      const want = this.videoActive;
      if (params.encodings.every((encoding) => encoding.active === want)) return;
      for (const encoding of params.encodings) encoding.active = want;
      await sender.setParameters(params);
    }).catch((error) => {
      console.warn('salon: could not pause or resume the camera sender', error);
    });
    return this.parameters;
  }

  /** Whether our camera's encodings are active now (for tests and debugging). */
  videoSending() {
    const encodings = this.transceivers.video?.sender.getParameters().encodings ?? [];
    return encodings.length > 0 && encodings.some((encoding) => encoding.active !== false);
  }

  /** The server's answer to our publishing offer. */
  acceptAnswer(sdp) {
    this.enqueue('answer', () => this.pc.setRemoteDescription({ type: 'answer', sdp }));
  }

  /** A server offer (others' tracks added or removed): answer it, one at a time. */
  acceptOffer(sdp) {
    this.enqueue('offer', async () => {
      await this.pc.setRemoteDescription({ type: 'offer', sdp });
      const answer = await this.pc.createAnswer();
      await this.pc.setLocalDescription(answer);
      this.send({ type: 'answer', sdp: this.pc.localDescription.sdp });
    });
  }

  /** Replaces what we send for `kind` (null sends nothing); no renegotiation. */
  async replaceTrack(kind, track) {
    const transceiver = this.transceivers[kind];
    if (transceiver && !this.closed) await transceiver.sender.replaceTrack(track);
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

  remoteTrack(event) {
    // The server names each forwarded stream after the publishing participant.
    const participantId = event.streams[0]?.id ?? /^(.*)-(audio|video)$/u.exec(event.track.id)?.[1];
    if (!participantId) return;
    if (event.transceiver?.mid != null) this.ownerByMid.set(event.transceiver.mid, participantId);
    this.ownerByTrack.set(event.track.id, participantId);
    this.onRemoteTrack(participantId, event.track);
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
    if (state === 'failed') {
      this.recover('ICE failed');
    } else if (state === 'disconnected') {
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
    this.restarting = setTimeout(() => this.lose(`ICE restart did not reconnect (${reason})`), RESTART_TIMEOUT_MS);
    this.enqueue('ice restart', async () => {
      const offer = await this.pc.createOffer({ iceRestart: true });
      await this.pc.setLocalDescription(offer);
      this.send({ type: 'offer', sdp: this.pc.localDescription.sdp });
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
    report.forEach((stat) => {
      if (stat.type === 'outbound-rtp') {
        // Simulcast: one entry per layer, summed up (and listed).
        const entry = (summary.outbound[stat.kind] ??= {
          codec: codec(stat), packetsSent: 0, framesEncoded: undefined, active: false, layers: [],
        });
        entry.packetsSent += stat.packetsSent ?? 0;
        if (stat.framesEncoded !== undefined) entry.framesEncoded = (entry.framesEncoded ?? 0) + stat.framesEncoded;
        entry.active = entry.active || stat.active !== false;
        entry.layers.push({
          rid: stat.rid ?? null, active: stat.active, frameHeight: stat.frameHeight ?? 0,
          framesEncoded: stat.framesEncoded ?? 0,
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

/**
 * The camera's simulcast layers, lowest first (the server's rule): half size for thumbnails
 * (320×180 of the 640×360 capture) and full size for large tiles. Two, not three: the capture is
 * 360p (browsers send at most two layers of it), which keeps a phone's encoder load low.
 */
const CAMERA_LAYERS = [
  { rid: 'q', scaleResolutionDownBy: 2, maxBitrate: 200_000 },
  { rid: 'f', maxBitrate: 900_000 },
];

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
