import AVFoundation
import SalonCore

/// A call's sound, in one `AVAudioEngine`: the microphone through Apple's voice processing
/// (echo cancellation, noise suppression, automatic gain) to 20 ms chunks for the core
/// (`MicChunker`), and the other participants' audio on one player node each, mixed by the
/// engine. Capture and playback must share the engine: the echo canceller hears what plays.
/// Without microphone permission it only plays.
///
/// Each player's queue is kept short (`PlaybackQueue`: at most about 200 ms waits to play), so
/// that a burst from the network or a sender's fast clock does not delay them for the rest of
/// the call.
///
/// Threads: the audio task plays from its own thread while the main actor starts, restarts,
/// mutes and stops; `lock` keeps the engine's graph, the players and `playback` to one of them
/// at a time. The players' completion handlers (on AVFoundation's threads, or inside
/// `AVAudioPlayerNode.stop()` under `lock`) only leave their ticket in `completions`, which
/// `play` counts in under `lock`.
final class CallAudio: @unchecked Sendable {
    private struct Player {
        let node: AVAudioPlayerNode
        let format: AVAudioFormat
        let channels: Int
    }

    private let lock = NSLock()
    // Under `lock`. A `var`: after the media services were reset the old engine is dead.
    private var engine = AVAudioEngine()
    private var players: [String: Player] = [:]
    /// How much waits on each player. Under `lock`.
    private var playback = PlaybackQueue(sampleRate: MicChunker.outputRate)
    /// Buffers the players are done with, not yet counted in `playback`. Its own lock.
    private let completions = PlaybackCompletions()
    private var microphoneMuted = false
    private let captures: Bool
    /// Only touched by the input tap's thread.
    private var chunker = MicChunker(samplesPerChunk: 960)
    private let send: ([Int16]) -> Void

    /// `send` gets each 20 ms chunk of the microphone (on the tap's thread; it must not block).
    init(captures: Bool, send: @escaping ([Int16]) -> Void) {
        self.captures = captures
        self.send = send
    }

    /// The session for a call: play and record, voice-chat processing, Bluetooth allowed, 48 kHz
    /// and 10 ms buffers if the hardware allows. No `.defaultToSpeaker`: with it the speaker is
    /// the default route and `overrideOutputAudioPort(.none)` could never reach the earpiece;
    /// the loudspeaker comes from `apply(.speaker)` (what `AudioRoutes` chooses by default).
    static func activateSession() throws {
        let session = AVAudioSession.sharedInstance()
        try session.setCategory(.playAndRecord, mode: .voiceChat, options: [.allowBluetooth, .allowBluetoothA2DP])
        try? session.setPreferredSampleRate(48_000)
        try? session.setPreferredIOBufferDuration(0.01)
        try session.setActive(true)
    }

    static func deactivateSession() {
        try? AVAudioSession.sharedInstance().setActive(false, options: .notifyOthersOnDeactivation)
    }

    func start() throws {
        lock.lock()
        defer { lock.unlock() }
        try startEngine()
    }

    /// After an interruption or a configuration change the engine has stopped: start it again
    /// and let the players go on (without what they had queued: it would play late). Does
    /// nothing if it cannot start yet (still interrupted).
    func restart() {
        try? AVAudioSession.sharedInstance().setActive(true)
        lock.lock()
        defer { lock.unlock() }
        if !engine.isRunning { try? startEngine() }
    }

    /// After the media services were reset every audio object is gone: a new engine, set up like
    /// the first (the session must have been set up again before).
    func rebuild() {
        lock.lock()
        defer { lock.unlock() }
        players.removeAll()
        playback.forgetAll()
        _ = completions.take()
        engine = AVAudioEngine()
        try? startEngine()
    }

    /// Mutes the microphone inside voice processing (the chunks become silence).
    func setMicrophoneMuted(_ muted: Bool) {
        guard captures else { return }
        lock.lock()
        defer { lock.unlock() }
        microphoneMuted = muted
        engine.inputNode.isVoiceProcessingInputMuted = muted
    }

    func stop() {
        lock.lock()
        defer { lock.unlock() }
        if captures { engine.inputNode.removeTap(onBus: 0) }
        for player in players.values { player.node.stop() }
        players.removeAll()
        playback.forgetAll()
        _ = completions.take()
        engine.stop()
    }

    /// Sets up the microphone (when captured) and starts the engine and the players. Under `lock`.
    private func startEngine() throws {
        if captures {
            let input = engine.inputNode
            // Before the engine starts: it turns voice processing on for the output too.
            if !input.isVoiceProcessingEnabled { try input.setVoiceProcessingEnabled(true) }
            input.isVoiceProcessingInputMuted = microphoneMuted
            // The tap must be in the input's current format, which changes with the route (a
            // Bluetooth headset's 16 kHz): a tap in another format makes the engine raise. So it is
            // put in again on every start. No format (no input right now): no tap until the next
            // configuration change restarts the engine.
            input.removeTap(onBus: 0)
            let format = input.outputFormat(forBus: 0)
            if format.sampleRate > 0 && format.channelCount > 0 {
                input.installTap(onBus: 0, bufferSize: 960, format: format) { [weak self] buffer, _ in
                    self?.captured(buffer)
                }
            }
        }
        _ = engine.mainMixerNode  // connects the mixer to the output
        engine.prepare()
        try engine.start()
        for (participantId, player) in players where !player.node.isPlaying {
            // What was queued before the engine stopped would only play late: start afresh
            // (`stop()` lets go of the buffers; their completions no longer count).
            playback.forget(participantId)
            player.node.stop()
            player.node.play()
        }
    }

    private func captured(_ buffer: AVAudioPCMBuffer) {
        guard let channel = buffer.floatChannelData?[0], buffer.frameLength > 0 else { return }
        let samples = UnsafeBufferPointer(start: channel, count: Int(buffer.frameLength))
        for chunk in chunker.push(samples, rate: buffer.format.sampleRate) { send(chunk) }
    }

    /// Schedules someone's decoded audio on their player, unless too much of theirs already
    /// waits to play (`PlaybackQueue`): then it is dropped.
    func play(_ audio: RemoteAudio) {
        let planes = PlaybackSamples.planar(audio.pcm, channels: audio.channels)
        let frames = planes.first?.count ?? 0
        guard frames > 0 else { return }
        lock.lock()
        defer { lock.unlock() }
        // While the engine is stopped (an interruption, a route change) the audio is dropped:
        // queued, it would all play late afterwards; and a player started then raises.
        guard engine.isRunning, let player = player(for: audio) else { return }
        for ticket in completions.take() { playback.completed(ticket) }
        guard case let .schedule(ticket) = playback.offer(audio.participantId, frames: frames) else { return }
        guard let buffer = AVAudioPCMBuffer(pcmFormat: player.format, frameCapacity: AVAudioFrameCount(frames)),
              let channelData = buffer.floatChannelData
        else {
            playback.completed(ticket)  // never scheduled
            return
        }
        buffer.frameLength = AVAudioFrameCount(frames)
        for (channel, plane) in planes.enumerated() {
            plane.withUnsafeBufferPointer { channelData[channel].update(from: $0.baseAddress!, count: frames) }
        }
        // Called once the player has rendered the buffer, or let go of it when stopped (maybe
        // right inside `stop()`, under `lock`: hence only the list, with its own lock).
        player.node.scheduleBuffer(buffer, completionCallbackType: .dataConsumed) { [completions] _ in
            completions.add(ticket)
        }
    }

    /// Someone left: their player goes.
    func forget(participantId: String) {
        lock.lock()
        defer { lock.unlock() }
        guard let player = players.removeValue(forKey: participantId) else { return }
        playback.forget(participantId)
        player.node.stop()
        engine.detach(player.node)
    }

    /// Their player, made (and started) the first time. Under `lock`, with the engine running.
    private func player(for audio: RemoteAudio) -> Player? {
        guard audio.channels > 0 else { return nil }
        if let player = players[audio.participantId], player.channels == audio.channels { return player }
        guard let format = AVAudioFormat(
            standardFormatWithSampleRate: MicChunker.outputRate, channels: AVAudioChannelCount(audio.channels))
        else { return nil }
        if let old = players[audio.participantId] {
            playback.forget(audio.participantId)
            old.node.stop()
            engine.detach(old.node)
        }
        let node = AVAudioPlayerNode()
        engine.attach(node)
        engine.connect(node, to: engine.mainMixerNode, format: format)
        node.play()
        let player = Player(node: node, format: format, channels: audio.channels)
        players[audio.participantId] = player
        return player
    }

    /// The outputs of the current route, for `AudioRoutes`.
    static func currentOutputs() -> [AudioOutput] {
        AVAudioSession.sharedInstance().currentRoute.outputs.map { port in
            switch port.portType {
            case .builtInSpeaker: return .speaker
            case .builtInReceiver: return .receiver
            case .headphones, .headsetMic: return .headphones
            case .bluetoothA2DP, .bluetoothHFP, .bluetoothLE: return .bluetooth(name: port.portName)
            case .carAudio: return .carAudio
            case .airPlay: return .airPlay(name: port.portName)
            default: return .external(name: port.portName)
            }
        }
    }

    static func apply(_ override: AudioRoutes.Override) {
        let session = AVAudioSession.sharedInstance()
        // Already so (the speaker on, or no speaker override to lift): asking again would only
        // post another route change, which comes back here.
        let onSpeaker = session.currentRoute.outputs.contains { $0.portType == .builtInSpeaker }
        if (override == .speaker) == onSpeaker { return }
        try? session.overrideOutputAudioPort(override == .speaker ? .speaker : .none)
    }
}
