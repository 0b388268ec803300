import Foundation

/// Fans one callback out to any number of `AsyncStream` readers. The core takes its listeners
/// once, when a call is joined; each `stream` reader registers here and unregisters when its
/// stream ends. `publish` never blocks: it runs on the core's threads, and a full reader loses
/// its oldest values. Mirrors `Broadcast.kt`.
final class Broadcast<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var readers: [UUID: AsyncStream<T>.Continuation] = [:]
    private var closed = false

    var hasReaders: Bool { locked { !readers.isEmpty } }

    func publish(_ value: T) {
        for reader in locked({ Array(readers.values) }) {
            reader.yield(value)
        }
    }

    /// Finishes every reader, now and later.
    func close() {
        let finishing: [AsyncStream<T>.Continuation] = locked {
            closed = true
            defer { readers.removeAll() }
            return Array(readers.values)
        }
        for reader in finishing {
            reader.finish()
        }
    }

    /// A stream of what is published from now on, keeping at most `newest` values for a slow
    /// reader; `first`, if given, is yielded before anything else. (The stream registers before
    /// this returns: AsyncStream runs its build closure at once.)
    func stream(bufferingNewest newest: Int, first: T? = nil) -> AsyncStream<T> {
        AsyncStream(bufferingPolicy: .bufferingNewest(newest)) { continuation in
            let id = UUID()
            continuation.onTermination = { [weak self] _ in
                self?.remove(id)
            }
            let added: Bool = self.locked {
                guard !self.closed else { return false }
                if let first { continuation.yield(first) }
                self.readers[id] = continuation
                return true
            }
            if !added {
                if let first { continuation.yield(first) }
                continuation.finish()
            }
        }
    }

    private func locked<R>(_ body: () throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    private func remove(_ id: UUID) {
        locked { _ = readers.removeValue(forKey: id) }
    }
}
