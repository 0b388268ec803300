import Foundation
import SalonCore

/// Everything the friend list shows.
struct FriendsState: Equatable {
    var friends: [FriendRow] = []
    var loading = true
    var addSheetOpen = false
    var error: String?
}

struct FriendRow: Equatable, Identifiable {
    let id: Int64
    let name: String
    let roomLink: String
    var presence: Presence
}

/// Whether a friend's room is open, i.e. whether someone is in it to drop in on.
enum Presence: Equatable {
    case checking
    case open(people: Int)
    case closed
    /// The room no longer exists on its server.
    case gone
    /// The server could not be asked.
    case unknown
}

/// Everything the user can do on the friend list.
enum FriendsEvent {
    case refresh
    case openAddSheet
    case closeAddSheet
    /// `linkOrCard`: a room link, or a friend card (`salon:friend?…`) that carries the name too.
    case addFriend(name: String, linkOrCard: String)
    case removeFriend(id: Int64)
    /// Handled by navigation, not by the model.
    case dropIn(FriendRow)
    case dismissError
}

/// The friend list's state and logic; mirrors the Android `FriendsViewModel`.
@MainActor
final class FriendsModel: ObservableObject {
    @Published private(set) var state = FriendsState()
    private let salon: any SalonService
    private var loading: Task<Void, Never>?

    init(salon: any SalonService) {
        self.salon = salon
    }

    func send(_ event: FriendsEvent) {
        switch event {
        case .refresh: reload()
        case .openAddSheet: state.addSheetOpen = true
        case .closeAddSheet: state.addSheetOpen = false
        case let .addFriend(name, linkOrCard):
            change { [salon] in
                let text = linkOrCard.trimmingCharacters(in: .whitespacesAndNewlines)
                if text.hasPrefix("salon:") || text.contains("/friend?") {
                    _ = try await salon.addFriendFromCard(text)
                } else {
                    _ = try await salon.addFriend(
                        name: name.trimmingCharacters(in: .whitespacesAndNewlines), roomLink: text)
                }
                self.state.addSheetOpen = false
            }
        case let .removeFriend(id):
            change { [salon] in _ = try await salon.removeFriend(id: id) }
        case .dropIn: break
        case .dismissError: state.error = nil
        }
    }

    /// Runs a change to the list, then shows the list again; a refusal becomes an error line.
    private func change(_ body: @escaping @MainActor () async throws -> Void) {
        Task {
            do {
                try await body()
                self.reload()
            } catch {
                self.state.error = error.localizedDescription
            }
        }
    }

    /// Reads the list, then asks each friend's server, all at once, whether their room is open.
    private func reload() {
        loading?.cancel()
        loading = Task { [salon] in
            let friends: [Friend]
            do {
                friends = try await salon.friends()
            } catch {
                self.state.loading = false
                self.state.error = error.localizedDescription
                return
            }
            let known = Dictionary(
                self.state.friends.map { ($0.id, $0.presence) }, uniquingKeysWith: { first, _ in first })
            self.state.loading = false
            self.state.friends = friends.map {
                FriendRow(id: $0.id, name: $0.name, roomLink: $0.roomLink, presence: known[$0.id] ?? .checking)
            }
            await withTaskGroup(of: (Int64, Presence).self) { group in
                for friend in friends {
                    group.addTask { (friend.id, await Self.presence(of: friend.roomLink, salon: salon)) }
                }
                for await (id, presence) in group {
                    if let index = self.state.friends.firstIndex(where: { $0.id == id }) {
                        self.state.friends[index].presence = presence
                    }
                }
            }
        }
    }

    private nonisolated static func presence(of link: String, salon: any SalonService) async -> Presence {
        do {
            let status = try await salon.roomStatus(link: link)
            return status.isOpen ? .open(people: status.participants) : .closed
        } catch SalonError.roomNotFound {
            return .gone
        } catch {
            return .unknown
        }
    }
}
