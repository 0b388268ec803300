import AVFoundation
import SalonCore

/// A call's sound, in one `AVAudioEngine`: the microphone through Apple's voice processing
/// (echo cancellation, noise suppression, automatic gain) to 20 ms chunks for the core
/// (`MicChunker`), and the other participants' audio on one player node each, mixed by the
/// engine. Capture and playback must share the engine: the echo canceller hears what plays.
/// Without microphone permission it only plays.
final class CallAudio: @unchecked Sendable {
    private struct Player {
        let node: AVAudioPlayerNode
        let format: AVAudioFormat
        let channels: Int
    }

    private let engine = AVAudioEngine()
    private let captures: Bool
    private let lock = NSLock()
    private var players: [String: Player] = [:]
    /// Only touched by the input tap's thread.
    private var chunker = MicChunker(samplesPerChunk: 960)
    private let send: ([Int16]) -> Void

    /// `send` gets each 20 ms chunk of the microphone (on the tap's thread; it must not block).
    init(captures: Bool, send: @escaping ([Int16]) -> Void) {
        self.captures = captures
        self.send = send
    }

    /// The session for a call: play and record, voice-chat processing, the loudspeaker unless a
    /// headset or Bluetooth is there, 48 kHz and 10 ms buffers if the hardware allows.
    static func activateSession() throws {
        let session = AVAudioSession.sharedInstance()
        try session.setCategory(
            .playAndRecord, mode: .voiceChat, options: [.defaultToSpeaker, .allowBluetooth, .allowBluetoothA2DP])
        try? session.setPreferredSampleRate(48_000)
        try? session.setPreferredIOBufferDuration(0.01)
        try session.setActive(true)
    }

    static func deactivateSession() {
        try? AVAudioSession.sharedInstance().setActive(false, options: .notifyOthersOnDeactivation)
    }

    func start() throws {
        if captures {
            let input = engine.inputNode
            // Before the engine starts: it turns voice processing on for the output too.
            try input.setVoiceProcessingEnabled(true)
            let format = input.outputFormat(forBus: 0)
            input.installTap(onBus: 0, bufferSize: 960, format: format) { [weak self] buffer, _ in
                self?.captured(buffer)
            }
        }
        _ = engine.mainMixerNode  // connects the mixer to the output
        engine.prepare()
        try engine.start()
    }

    /// After an interruption or a configuration change the engine has stopped: start it again
    /// and let the players go on.
    func restart() {
        try? AVAudioSession.sharedInstance().setActive(true)
        if !engine.isRunning { try? engine.start() }
        lock.lock()
        defer { lock.unlock() }
        for player in players.values where !player.node.isPlaying { player.node.play() }
    }

    /// Mutes the microphone inside voice processing (the chunks become silence).
    func setMicrophoneMuted(_ muted: Bool) {
        guard captures else { return }
        engine.inputNode.isVoiceProcessingInputMuted = muted
    }

    func stop() {
        if captures { engine.inputNode.removeTap(onBus: 0) }
        lock.lock()
        for player in players.values { player.node.stop() }
        players.removeAll()
        lock.unlock()
        engine.stop()
    }

    private func captured(_ buffer: AVAudioPCMBuffer) {
        guard let channel = buffer.floatChannelData?[0], buffer.frameLength > 0 else { return }
        let samples = UnsafeBufferPointer(start: channel, count: Int(buffer.frameLength))
        for chunk in chunker.push(samples, rate: buffer.format.sampleRate) { send(chunk) }
    }

    /// Schedules someone's decoded audio on their player.
    func play(_ audio: RemoteAudio) {
        guard let player = player(for: audio) else { return }
        let planes = PlaybackSamples.planar(audio.pcm, channels: audio.channels)
        let frames = planes.first?.count ?? 0
        guard frames > 0,
              let buffer = AVAudioPCMBuffer(pcmFormat: player.format, frameCapacity: AVAudioFrameCount(frames)),
              let channelData = buffer.floatChannelData
        else { return }
        buffer.frameLength = AVAudioFrameCount(frames)
        for (channel, plane) in planes.enumerated() {
            plane.withUnsafeBufferPointer { channelData[channel].update(from: $0.baseAddress!, count: frames) }
        }
        player.node.scheduleBuffer(buffer)
    }

    /// Someone left: their player goes.
    func forget(participantId: String) {
        lock.lock()
        let player = players.removeValue(forKey: participantId)
        lock.unlock()
        guard let player else { return }
        player.node.stop()
        engine.detach(player.node)
    }

    private func player(for audio: RemoteAudio) -> Player? {
        guard audio.channels > 0 else { return nil }
        lock.lock()
        defer { lock.unlock() }
        if let player = players[audio.participantId], player.channels == audio.channels { return player }
        guard let format = AVAudioFormat(
            standardFormatWithSampleRate: MicChunker.outputRate, channels: AVAudioChannelCount(audio.channels))
        else { return nil }
        if let old = players[audio.participantId] {
            old.node.stop()
            engine.detach(old.node)
        }
        let node = AVAudioPlayerNode()
        engine.attach(node)
        engine.connect(node, to: engine.mainMixerNode, format: format)
        if !engine.isRunning { try? engine.start() }
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
        try? AVAudioSession.sharedInstance().overrideOutputAudioPort(override == .speaker ? .speaker : .none)
    }
}
