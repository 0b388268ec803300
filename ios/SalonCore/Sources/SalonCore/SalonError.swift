import Foundation

/// Everything the core can refuse, as one enum an app can `switch` over. The generated
/// `SalonCoreFFI.SalonError` is mapped to it in one place (FfiMapping.swift), so apps never see
/// generated types. Same cases as the Kotlin `SalonError`.
public enum SalonError: Error, Equatable, Hashable, Sendable, LocalizedError {
    case roomNotFound
    case roomFull
    case invalidLink(String)
    case invalidInput(String)
    case network(String)
    case server(String)
    /// The server speaks another protocol version: update the app.
    case incompatible(String)
    case media(String)
    case storage(String)
    case duplicateFriend
    case notFound
    case callEnded
    /// A host removed me from this room, or I am banned from it.
    case removed
    /// A host did not let me in (or turned me away twice already).
    case knockDenied
    /// A host ended the call for everyone.
    case roomEnded
    /// Not now: e.g. turning the microphone on while a host holds every guest's off (panic).
    case notAllowed(String)
    /// End-to-end encryption stands in the way: a link without its key (the part after #), or a
    /// server that says an encrypted room is not. The reason is a sentence written for people: show
    /// it as it is.
    case e2ee(String)
    /// A bug in the core (including a Rust panic).
    case internalError(String)

    public var errorDescription: String? {
        switch self {
        case .roomNotFound: return "room not found"
        case .roomFull: return "the room is full"
        case let .invalidLink(reason): return "invalid link: \(reason)"
        case let .invalidInput(reason): return "invalid input: \(reason)"
        case let .network(reason): return "network error: \(reason)"
        case let .server(reason): return "server error: \(reason)"
        case let .incompatible(reason): return "incompatible server: \(reason)"
        case let .media(reason): return "media error: \(reason)"
        case let .storage(reason): return "storage error: \(reason)"
        case .duplicateFriend: return "this friend is already in your list"
        case .notFound: return "not found"
        case .callEnded: return "the call has ended"
        case .removed: return "you were removed from this room"
        case .knockDenied: return "the host didn't let you in"
        case .roomEnded: return "the host ended the call"
        case let .notAllowed(reason): return "not allowed: \(reason)"
        case let .e2ee(reason): return reason
        case let .internalError(reason): return "internal error: \(reason)"
        }
    }
}
