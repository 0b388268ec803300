import Foundation

/// How much of each participant's audio waits on their player, and whether the next buffer may
/// join it. `AVAudioPlayerNode.scheduleBuffer` queues without limit: a burst from the network (a
/// stall, then everything at once) or a sender whose clock runs a little fast would otherwise
/// grow the delay for the rest of the call. So a buffer that would take the queue past `cap`
/// (200 ms) is dropped, and from then on new ones too until the queue has played down to
/// `resume` (100 ms): one short skip brings the delay back, rather than staying at the cap.
/// An empty queue always takes the next buffer, however long.
///
/// `CallAudio` offers each decoded buffer (`offer`), schedules it only on `.schedule`, and
/// hands the ticket back when the player has consumed it (`completed`). A player that is
/// stopped or replaced is `forget`-ten: its buffers' late completions no longer count.
/// Counts in frames at `sampleRate`, so no rounding builds up. Foundation only: tested on
/// Linux. Not thread-safe: `CallAudio` keeps it under its lock.
struct PlaybackQueue {
    /// One scheduled buffer: what its completion hands back.
    struct Ticket: Equatable, Hashable, Sendable {
        let participantId: String
        /// Which player of theirs it was scheduled on (a new one after `forget`).
        let generation: Int
        let frames: Int
    }

    enum Decision: Equatable, Sendable {
        case schedule(Ticket)
        case drop
    }

    private struct Entry {
        let generation: Int
        var queuedFrames = 0
        /// Went past the cap: dropping until the queue is down to `resume`.
        var catchingUp = false
    }

    let sampleRate: Double
    let capFrames: Int
    let resumeFrames: Int
    private var entries: [String: Entry] = [:]
    private var nextGeneration = 0
    /// Frames dropped so far, everyone together (for logs and tests).
    private(set) var droppedFrames = 0

    /// `cap` and `resume` in seconds; `resume` is at most `cap`.
    init(sampleRate: Double = 48_000, cap: TimeInterval = 0.2, resume: TimeInterval = 0.1) {
        precondition(sampleRate > 0 && cap > 0 && resume >= 0, "a positive rate and cap")
        self.sampleRate = sampleRate
        capFrames = Int((cap * sampleRate).rounded())
        resumeFrames = min(Int((resume * sampleRate).rounded()), capFrames)
    }

    /// A buffer of `frames` frames for `participantId`: schedule it (and keep the ticket for its
    /// completion), or drop it.
    mutating func offer(_ participantId: String, frames: Int) -> Decision {
        guard frames > 0 else { return .drop }
        var entry = entries[participantId] ?? newEntry()
        defer { entries[participantId] = entry }
        if entry.catchingUp && entry.queuedFrames <= resumeFrames { entry.catchingUp = false }
        if entry.queuedFrames > 0 && (entry.catchingUp || entry.queuedFrames + frames > capFrames) {
            entry.catchingUp = true
            droppedFrames += frames
            return .drop
        }
        entry.queuedFrames += frames
        return .schedule(Ticket(participantId: participantId, generation: entry.generation, frames: frames))
    }

    /// The player consumed (or, stopped, let go of) the ticket's buffer.
    mutating func completed(_ ticket: Ticket) {
        guard var entry = entries[ticket.participantId], entry.generation == ticket.generation else { return }
        entry.queuedFrames = max(0, entry.queuedFrames - ticket.frames)
        entries[ticket.participantId] = entry
    }

    /// Their player was stopped or replaced: nothing of theirs is queued any more, and the old
    /// player's completions are ignored.
    mutating func forget(_ participantId: String) {
        entries[participantId] = nil
    }

    /// Every player went (the call stopped, the engine was rebuilt).
    mutating func forgetAll() {
        entries.removeAll()
    }

    /// Frames waiting on their player now.
    func queuedFrames(_ participantId: String) -> Int {
        entries[participantId]?.queuedFrames ?? 0
    }

    /// Seconds waiting on their player now.
    func queuedDuration(_ participantId: String) -> TimeInterval {
        Double(queuedFrames(participantId)) / sampleRate
    }

    private mutating func newEntry() -> Entry {
        nextGeneration += 1
        return Entry(generation: nextGeneration)
    }
}

/// Where the players' completion handlers leave their tickets until `CallAudio` next takes
/// its lock. A lock of its own, held only around the list: `AVAudioPlayerNode.stop()` may call
/// completion handlers on the calling thread, which holds `CallAudio`'s lock, so a handler
/// must never wait for that one.
final class PlaybackCompletions: @unchecked Sendable {
    private let lock = NSLock()
    private var tickets: [PlaybackQueue.Ticket] = []

    func add(_ ticket: PlaybackQueue.Ticket) {
        lock.lock()
        defer { lock.unlock() }
        tickets.append(ticket)
    }

    /// Everything completed since the last call, oldest first.
    func take() -> [PlaybackQueue.Ticket] {
        lock.lock()
        defer { lock.unlock() }
        let taken = tickets
        tickets.removeAll(keepingCapacity: true)
        return taken
    }
}
