import AVFoundation
import SalonCore

/// Plays other participants' decoded audio: one player node per participant on one engine,
/// which mixes them. Use it from one task at a time.
final class AudioOut {
    private struct Player {
        let node: AVAudioPlayerNode
        let format: AVAudioFormat
        let channels: Int
    }

    private let engine = AVAudioEngine()
    private var players: [String: Player] = [:]

    init() {
        let session = AVAudioSession.sharedInstance()
        try? session.setCategory(.playAndRecord, mode: .voiceChat, options: [.defaultToSpeaker, .allowBluetooth])
        try? session.setActive(true)
    }

    func play(_ audio: RemoteAudio) {
        guard audio.channels > 0, let player = player(for: audio) else { return }
        let frames = audio.pcm.count / audio.channels
        guard frames > 0,
              let buffer = AVAudioPCMBuffer(pcmFormat: player.format, frameCapacity: AVAudioFrameCount(frames)),
              let channelData = buffer.floatChannelData
        else { return }
        buffer.frameLength = AVAudioFrameCount(frames)
        // Interleaved 16-bit in, one float array per channel out.
        for channel in 0..<player.channels {
            let out = channelData[channel]
            for frame in 0..<frames {
                out[frame] = Float(audio.pcm[frame * player.channels + channel]) / 32_768
            }
        }
        player.node.scheduleBuffer(buffer)
    }

    func stop() {
        for player in players.values { player.node.stop() }
        engine.stop()
        players.removeAll()
    }

    private func player(for audio: RemoteAudio) -> Player? {
        if let player = players[audio.participantId], player.channels == audio.channels { return player }
        guard let format = AVAudioFormat(standardFormatWithSampleRate: 48_000, channels: AVAudioChannelCount(audio.channels))
        else { return nil }
        let node = AVAudioPlayerNode()
        engine.attach(node)
        engine.connect(node, to: engine.mainMixerNode, format: format)
        if !engine.isRunning {
            do { try engine.start() } catch { return nil }
        }
        node.play()
        let player = Player(node: node, format: format, channels: audio.channels)
        players[audio.participantId] = player
        return player
    }
}
