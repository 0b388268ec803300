import Foundation
#if canImport(Network)
import Network
#endif

/// The device's network as `NWPathMonitor` reports it, reduced to what tells whether a call's
/// media has to move.
struct NetworkPath: Equatable, Sendable {
    /// There is a usable route (`NWPath.status == .satisfied`).
    var satisfied: Bool
    /// The interfaces the path may use, the preferred one first (`NWPath.availableInterfaces`),
    /// as "<type> <name>", e.g. "wifi en0", "cellular pdp_ip0".
    var interfaces: [String]
}

/// Whether a path update means the call's media has to move, that is, the call restarts ICE
/// (`Call.onNetworkChanged()`): a usable path again after none, or another set of interfaces or
/// another preferred one (Wi-Fi to mobile data and back, a VPN). Not the first update, which
/// `NWPathMonitor` sends right after starting and which describes the network the call already
/// uses; nor updates that keep the interfaces (costs, constraints, DNS), which would only
/// interrupt the media if each restarted ICE.
struct NetworkChangePolicy {
    private var last: NetworkPath?

    /// Whether the call should be told about `path`.
    mutating func changed(to path: NetworkPath) -> Bool {
        defer { last = path }
        // Nothing to move to without a route: the next usable path is the change.
        guard let last, path.satisfied else { return false }
        return !last.satisfied
            || path.interfaces.first != last.interfaces.first
            || Set(path.interfaces) != Set(last.interfaces)
    }
}

/// The device's network paths, the current one first, then every update; ending the iteration
/// stops watching. `DevicePaths` is the real one; tests drive their own.
protocol NetworkPaths: Sendable {
    func paths() -> AsyncStream<NetworkPath>
}

/// `NetworkPaths` from an `NWPathMonitor` on a queue of its own: one monitor per stream,
/// cancelled when the stream ends. Without the Network framework (Linux, where only the tests
/// run, with paths of their own) the stream ends at once.
struct DevicePaths: NetworkPaths {
    func paths() -> AsyncStream<NetworkPath> {
        AsyncStream { continuation in
            #if canImport(Network)
            let monitor = NWPathMonitor()
            monitor.pathUpdateHandler = { path in
                continuation.yield(NetworkPath(
                    satisfied: path.status == .satisfied,
                    interfaces: path.availableInterfaces.map { "\($0.type) \($0.name)" }))
            }
            continuation.onTermination = { _ in monitor.cancel() }
            monitor.start(queue: DispatchQueue(label: "org.salon.network-paths"))
            #else
            continuation.finish()
            #endif
        }
    }
}
