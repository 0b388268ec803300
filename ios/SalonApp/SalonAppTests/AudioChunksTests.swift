import XCTest

@testable import SalonApp

/// The microphone's Float32 buffers to the core's 10/20 ms Int16 chunks.
final class AudioChunksTests: XCTestCase {
    func testFloatsBecomeClippedRoundedInt16() {
        XCTAssertEqual(MicChunker.int16(0), 0)
        XCTAssertEqual(MicChunker.int16(1), 32_767)
        XCTAssertEqual(MicChunker.int16(-1), -32_767)
        XCTAssertEqual(MicChunker.int16(2.5), 32_767)
        XCTAssertEqual(MicChunker.int16(-3), -32_767)
        XCTAssertEqual(MicChunker.int16(0.5), 16_384)
        XCTAssertEqual(MicChunker.int16(.nan), 0)
    }

    func testBuffersOfAnySizeAt48kHzBecomeWholeChunksWithTheRestCarriedOver() {
        var chunker = MicChunker(samplesPerChunk: 480)
        // 1024-frame buffers, as the input tap often gives: the samples count up so that order shows.
        var counter = 0
        var chunks: [[Int16]] = []
        for _ in 0..<3 {
            let buffer = (0..<1024).map { _ -> Float in
                counter += 1
                return Float(counter) / 32_767
            }
            chunks += chunker.push(buffer, rate: 48_000)
        }
        XCTAssertEqual(chunks.count, 6)  // 3072 samples: six chunks of 480, 192 left
        XCTAssertTrue(chunks.allSatisfy { $0.count == 480 })
        XCTAssertEqual(chunker.pendingCount, 192)
        XCTAssertEqual(chunks.flatMap { $0 }, (1...2880).map { Int16($0) })
    }

    func testUpsamplingFrom16kHzKeepsTheTimelineAcrossBuffers() {
        var chunker = MicChunker(samplesPerChunk: 960)
        // A ramp at 16 kHz: every output sample at 48 kHz falls a third of the way further.
        var chunks: [[Int16]] = []
        var next = 0
        for size in [100, 57, 3, 160, 320] {  // 640 input samples, cut anyhow
            let buffer = (0..<size).map { _ -> Float in
                defer { next += 1 }
                return Float(next * 30) / 32_767
            }
            chunks += chunker.push(buffer, rate: 16_000)
        }
        // 640 input samples span 639 intervals: 3 × 639 + 1 = 1918 outputs, one chunk of 960.
        XCTAssertEqual(chunks.count, 1)
        XCTAssertEqual(chunker.pendingCount, 1918 - 960)
        // Linear interpolation of the ramp: output k is 10 × k, with no jump where buffers meet.
        let expected = (0..<960).map { Int16($0 * 10) }
        for (k, (got, want)) in zip(chunks[0], expected).enumerated() {
            XCTAssertLessThanOrEqual(abs(Int(got) - Int(want)), 1, "sample \(k)")
        }
    }

    func testUpsamplingFrom44_1kHzGivesTheRightNumberOfSamples() {
        var chunker = MicChunker(samplesPerChunk: 480)
        var total = 0
        for _ in 0..<100 {  // one second at 44.1 kHz in 441-sample buffers
            total += chunker.push([Float](repeating: 0.25, count: 441), rate: 44_100).count * 480
        }
        total += chunker.pendingCount
        XCTAssertEqual(Double(total), 48_000, accuracy: 2)
    }

    func testANewRateRestartsTheResamplerAndResetForgetsEverything() {
        var chunker = MicChunker(samplesPerChunk: 480)
        _ = chunker.push([Float](repeating: 0.1, count: 300), rate: 48_000)
        XCTAssertEqual(chunker.pendingCount, 300)
        // 24 kHz: 100 samples span 99 intervals, 199 outputs; with the 300 kept, one chunk.
        XCTAssertEqual(chunker.push([Float](repeating: 0.1, count: 100), rate: 24_000).count, 1)
        XCTAssertEqual(chunker.inputRate, 24_000)
        XCTAssertEqual(chunker.pendingCount, 300 + 199 - 480)
        chunker.reset()
        XCTAssertEqual(chunker.pendingCount, 0)
        XCTAssertNil(chunker.inputRate)
        XCTAssertEqual(chunker.push([], rate: 48_000).count, 0)
    }

    func testRemoteAudioIsDeinterleavedIntoFloatPlanes() {
        let planes = PlaybackSamples.planar([16_384, -16_384, 0, 32_767, 5], channels: 2)
        XCTAssertEqual(planes.count, 2)
        XCTAssertEqual(planes[0], [0.5, 0])
        XCTAssertEqual(planes[1][0], -0.5)
        XCTAssertEqual(planes[1][1], 32_767 / 32_768, accuracy: 1e-6)
        XCTAssertEqual(PlaybackSamples.planar([1, 2, 3], channels: 0), [])
    }
}
