import Foundation

/// The microphone's Float32 buffers (whatever their size and rate) to what `Call.sendAudioFrame`
/// takes: 48 kHz mono Int16, exactly `samplesPerChunk` (480 = 10 ms, or 960 = 20 ms) at a time.
/// Resamples by linear interpolation when the input rate is not 48 kHz (a Bluetooth headset's
/// 16 kHz, an old route's 44.1 kHz), and carries both the resampler's position and the samples
/// short of a chunk over to the next buffer, so that nothing is lost or repeated between
/// buffers. Foundation only: tested on Linux. Not thread-safe: feed it from one thread (the
/// input tap's).
struct MicChunker {
    static let outputRate = 48_000.0

    let samplesPerChunk: Int
    /// The rate the last buffer came at.
    private(set) var inputRate: Double?
    /// Converted samples that do not yet make a chunk.
    private var pending: [Int16] = []
    /// The last input sample of the previous buffer: position 0 of the next one's timeline.
    private var previous: Float?
    /// Where the next output sample falls, in input samples counted from `previous` (or from
    /// the buffer's first sample when there is none), in units of 1/48000 of an input sample:
    /// whole numbers, so that no rounding error builds up over a call.
    private var position = 0

    /// `samplesPerChunk` must be 480 or 960 (the core refuses anything else).
    init(samplesPerChunk: Int = 960) {
        precondition(samplesPerChunk == 480 || samplesPerChunk == 960, "the core takes 10 or 20 ms chunks")
        self.samplesPerChunk = samplesPerChunk
        pending.reserveCapacity(samplesPerChunk * 2)
    }

    /// Output samples still waiting for a full chunk (for tests and flushes).
    var pendingCount: Int { pending.count }

    /// Takes one buffer of mono samples at `rate` Hz and returns the whole chunks it completes
    /// (none, one or several). A change of rate (a new route) restarts the resampler, keeping
    /// the samples already converted.
    mutating func push(_ samples: UnsafeBufferPointer<Float>, rate: Double) -> [[Int16]] {
        // Hardware rates are whole numbers of hertz (48000, 44100, 24000, 16000).
        let step = Int(rate.rounded())
        guard step > 0, !samples.isEmpty else { return [] }
        if rate != inputRate {
            inputRate = rate
            previous = nil
            position = 0
        }
        let unit = Int(Self.outputRate)
        // The timeline: `previous` (if any) at 0, then this buffer's samples.
        let offset = previous == nil ? 0 : 1
        let last = samples.count - 1 + offset
        func sample(_ i: Int) -> Float { i < offset ? previous ?? 0 : samples[i - offset] }

        var t = position
        while t <= last * unit {
            let i = t / unit
            let fraction = t % unit
            let value = fraction == 0
                ? sample(i)
                : sample(i) + (sample(i + 1) - sample(i)) * Float(fraction) / Float(unit)
            pending.append(Self.int16(value))
            t += step
        }
        previous = samples[samples.count - 1]
        position = t - last * unit
        return takeChunks()
    }

    mutating func push(_ samples: [Float], rate: Double) -> [[Int16]] {
        samples.withUnsafeBufferPointer { push($0, rate: rate) }
    }

    /// Forgets everything (the engine restarted, the call ended).
    mutating func reset() {
        pending.removeAll(keepingCapacity: true)
        previous = nil
        position = 0
        inputRate = nil
    }

    private mutating func takeChunks() -> [[Int16]] {
        let whole = pending.count / samplesPerChunk
        guard whole > 0 else { return [] }
        var chunks: [[Int16]] = []
        chunks.reserveCapacity(whole)
        for k in 0..<whole {
            chunks.append(Array(pending[(k * samplesPerChunk)..<((k + 1) * samplesPerChunk)]))
        }
        pending.removeFirst(whole * samplesPerChunk)
        return chunks
    }

    /// -1…1 to Int16, clipped (a loud voice past full scale clips rather than wraps), rounded.
    static func int16(_ value: Float) -> Int16 {
        guard value.isFinite else { return 0 }
        let scaled = (min(max(value, -1), 1) * 32_767).rounded()
        return Int16(scaled)
    }
}

/// Remote audio to what an `AVAudioPCMBuffer` in the standard (deinterleaved Float32) format
/// holds. Foundation only.
enum PlaybackSamples {
    /// Interleaved Int16 (`RemoteAudio.pcm`) as one Float array per channel, -1…1. A trailing
    /// partial frame is dropped; `channels` below 1 gives nothing.
    static func planar(_ interleaved: [Int16], channels: Int) -> [[Float]] {
        guard channels > 0 else { return [] }
        let frames = interleaved.count / channels
        var planes = [[Float]](repeating: [Float](repeating: 0, count: frames), count: channels)
        for channel in 0..<channels {
            planes[channel].withUnsafeMutableBufferPointer { out in
                for frame in 0..<frames {
                    out[frame] = Float(interleaved[frame * channels + channel]) / 32_768
                }
            }
        }
        return planes
    }
}
