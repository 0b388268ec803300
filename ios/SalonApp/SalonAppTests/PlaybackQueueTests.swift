import XCTest

@testable import SalonApp

/// The playback delay stays bounded: a burst or a fast sender's clock is dropped past 200 ms,
/// with one skip back down to 100 ms, per participant.
final class PlaybackQueueTests: XCTestCase {
    /// 20 ms at 48 kHz: what the core decodes per packet.
    private let packet = 960

    private func ticket(_ decision: PlaybackQueue.Decision, file: StaticString = #filePath, line: UInt = #line) -> PlaybackQueue.Ticket? {
        guard case let .schedule(ticket) = decision else {
            XCTFail("dropped", file: file, line: line)
            return nil
        }
        return ticket
    }

    func testSteadyAudioIsAllScheduledAndCompletionsBringTheQueueDown() throws {
        var queue = PlaybackQueue()
        XCTAssertEqual(queue.capFrames, 9_600)
        XCTAssertEqual(queue.resumeFrames, 4_800)
        // Two packets ahead, then one in for each one played: the queue stays at 40 ms.
        var pending = [try XCTUnwrap(ticket(queue.offer("a", frames: packet))),
                       try XCTUnwrap(ticket(queue.offer("a", frames: packet)))]
        XCTAssertEqual(queue.queuedDuration("a"), 0.04, accuracy: 1e-9)
        for _ in 0..<500 {
            queue.completed(pending.removeFirst())
            pending.append(try XCTUnwrap(ticket(queue.offer("a", frames: packet))))
        }
        XCTAssertEqual(queue.queuedFrames("a"), 2 * packet)
        XCTAssertEqual(queue.droppedFrames, 0)
        pending.forEach { queue.completed($0) }
        XCTAssertEqual(queue.queuedFrames("a"), 0)
    }

    func testABurstIsCutAtTheCapThenSkipsDownToTheResumeMark() throws {
        var queue = PlaybackQueue()
        // A stall, then 500 ms at once: 200 ms is scheduled, the rest dropped.
        var scheduled: [PlaybackQueue.Ticket] = []
        var dropped = 0
        for _ in 0..<25 {
            switch queue.offer("a", frames: packet) {
            case let .schedule(ticket): scheduled.append(ticket)
            case .drop: dropped += 1
            }
        }
        XCTAssertEqual(scheduled.count, 10)
        XCTAssertEqual(dropped, 15)
        XCTAssertEqual(queue.queuedDuration("a"), 0.2, accuracy: 1e-9)
        XCTAssertEqual(queue.droppedFrames, 15 * packet)

        // Packets keep coming at the real rate: while the queue plays down to 100 ms they are
        // skipped (the catch-up), after that scheduled again.
        var decisions: [Bool] = []
        for _ in 0..<10 {
            queue.completed(scheduled.removeFirst())
            let decision = queue.offer("a", frames: packet)
            if case let .schedule(ticket) = decision { scheduled.append(ticket) }
            decisions.append(decision != .drop)
        }
        XCTAssertEqual(decisions, [false, false, false, false, true, true, true, true, true, true])
        // Down to 100 ms, plus the one packet taken since: the delay came back down and stays.
        XCTAssertEqual(queue.queuedDuration("a"), 0.12, accuracy: 1e-9)
    }

    func testAFastSendersClockIsHeldAtTheCap() {
        var queue = PlaybackQueue()
        // 21 packets arrive for every 20 played (5 % fast, to be quick): without the cap the
        // delay would grow without end.
        var scheduled: [PlaybackQueue.Ticket] = []
        var highest = 0
        for step in 0..<2_000 {
            if case let .schedule(ticket) = queue.offer("a", frames: packet) { scheduled.append(ticket) }
            if step % 21 != 20, !scheduled.isEmpty { queue.completed(scheduled.removeFirst()) }
            highest = max(highest, queue.queuedFrames("a"))
        }
        XCTAssertLessThanOrEqual(highest, queue.capFrames)
        XCTAssertGreaterThan(queue.droppedFrames, 0)
    }

    func testParticipantsAreCountedApartAndAnEmptyQueueTakesALongBuffer() {
        var queue = PlaybackQueue()
        for _ in 0..<10 { _ = queue.offer("a", frames: packet) }
        XCTAssertEqual(queue.offer("a", frames: packet), .drop)
        XCTAssertNotEqual(queue.offer("b", frames: packet), .drop, "b has nothing queued")
        // Longer than the cap on its own: still played, the queue being empty.
        XCTAssertNotEqual(queue.offer("c", frames: 12_000), .drop)
        XCTAssertEqual(queue.offer("c", frames: packet), .drop)
        XCTAssertEqual(queue.offer("d", frames: 0), .drop, "nothing to play")
    }

    func testAForgottenPlayersLateCompletionsDoNotCount() throws {
        var queue = PlaybackQueue()
        let old = try XCTUnwrap(ticket(queue.offer("a", frames: packet)))
        // The player is replaced (another channel count) or stopped: its buffers go.
        queue.forget("a")
        XCTAssertEqual(queue.queuedFrames("a"), 0)
        let new = try XCTUnwrap(ticket(queue.offer("a", frames: packet)))
        XCTAssertNotEqual(old.generation, new.generation)
        // Stopping the old player fires its completion: not the new player's buffer.
        queue.completed(old)
        XCTAssertEqual(queue.queuedFrames("a"), packet)
        queue.completed(new)
        XCTAssertEqual(queue.queuedFrames("a"), 0)
        // A completion counted twice never takes the queue below zero.
        queue.completed(new)
        XCTAssertEqual(queue.queuedFrames("a"), 0)

        _ = queue.offer("b", frames: packet)
        queue.forgetAll()
        XCTAssertEqual(queue.queuedFrames("b"), 0)
    }

    func testCompletionsWaitInTheirOwnListUntilTaken() throws {
        let completions = PlaybackCompletions()
        var queue = PlaybackQueue()
        let first = try XCTUnwrap(ticket(queue.offer("a", frames: packet)))
        let second = try XCTUnwrap(ticket(queue.offer("a", frames: packet)))
        DispatchQueue.concurrentPerform(iterations: 2) { i in completions.add(i == 0 ? first : second) }
        let taken = completions.take()
        XCTAssertEqual(Set(taken), [first, second])
        XCTAssertEqual(completions.take(), [])
        taken.forEach { queue.completed($0) }
        XCTAssertEqual(queue.queuedFrames("a"), 0)
    }
}
