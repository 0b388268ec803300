import Foundation
import SalonCore

/// Everything the rooms screen shows: my rooms with their doors, and my friends' rooms.
struct FriendsState: Equatable {
    var friends: [FriendRow] = []
    var myRooms: [MyRoomRow] = []
    var loading = true
    var addSheetOpen = false
    var error: String?
    /// "Ada's door is open", until dismissed.
    var doorOpened: String?
}

struct FriendRow: Equatable, Identifiable {
    let id: Int64
    let name: String
    let roomLink: String
    var presence: Presence
    /// Tell me when their door opens.
    var notify = false
}

/// One of my rooms and its door.
struct MyRoomRow: Equatable, Identifiable {
    let id: String
    let name: String
    let link: String
    /// Nil until the server answered.
    var doorOpen: Bool?
    var people = 0
    var names: [String]?
}

/// Whether a friend's room is open to drop in on, and who is inside.
enum Presence: Equatable {
    case checking
    /// The door is open; `names` when the owner shows them.
    case open(people: Int, names: [String]?)
    case closed
    /// The room no longer exists on its server.
    case gone
    /// Their card's presence key no longer works (they made a new one or a new link).
    case notShared
    /// The server could not be asked.
    case unknown
}

/// Everything the user can do on the rooms screen.
enum FriendsEvent {
    case refresh
    case openAddSheet
    case closeAddSheet
    /// `linkOrCard`: a room link, or a friend card (`salon:friend?…`) that carries the name too.
    case addFriend(name: String, linkOrCard: String)
    case removeFriend(id: Int64)
    /// Be told (or not) when this friend's door opens.
    case setNotify(id: Int64, notify: Bool)
    /// Open or close the door of one of my rooms.
    case setDoor(link: String, open: Bool)
    /// Handled by navigation, not by the model.
    case dropIn(FriendRow)
    /// Handled by navigation: enter one of my rooms.
    case enterMyRoom(MyRoomRow)
    case dismissError
    case dismissDoorOpened
}

/// My rooms and my friends' rooms; mirrors the Android `FriendsViewModel`. Friends whose card
/// carried a presence key are watched live (one connection per server for the whole list); the
/// others are asked once per refresh. "Door opened" goes to `onDoorOpened` (the app raises a
/// local notification) and to a banner.
@MainActor
final class FriendsModel: ObservableObject {
    @Published private(set) var state = FriendsState()
    /// The add-a-friend sheet makes its own model over the same service.
    let salon: any SalonService
    private var loading: Task<Void, Never>?
    private var watching: Task<Void, Never>?
    private var watched: Set<Int64> = []
    /// Called with "Ada's door is open" for each door-opened event (rate-limited by the core).
    var onDoorOpened: (String) -> Void = { _ in }

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
        case let .setNotify(id, notify):
            change { [salon] in try await salon.setFriendNotify(id: id, notify: notify) }
        case let .setDoor(link, open):
            Task { [salon] in
                do {
                    let door = try await salon.setDoor(roomLink: link, mode: open ? .open : .closed)
                    self.updateRoom(link) { $0.doorOpen = door.doorOpen; $0.people = door.people }
                } catch {
                    self.state.error = error.localizedDescription
                }
            }
        case .dropIn, .enterMyRoom: break
        case .dismissError: state.error = nil
        case .dismissDoorOpened: state.doorOpened = nil
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

    private func updateRoom(_ link: String, _ change: (inout MyRoomRow) -> Void) {
        if let index = state.myRooms.firstIndex(where: { $0.link == link }) { change(&state.myRooms[index]) }
    }

    private func updateFriend(_ id: Int64, _ change: (inout FriendRow) -> Void) {
        if let index = state.friends.firstIndex(where: { $0.id == id }) { change(&state.friends[index]) }
    }

    /// Reads my rooms and friends; watches the friends with a presence key, asks about the rest.
    private func reload() {
        loading?.cancel()
        loading = Task { [salon] in
            let friends: [Friend]
            let rooms: [MyRoom]
            do {
                friends = try await salon.friends()
                rooms = try await salon.myRooms()
            } catch {
                self.state.loading = false
                self.state.error = error.localizedDescription
                return
            }
            let known = Dictionary(
                self.state.friends.map { ($0.id, $0.presence) }, uniquingKeysWith: { first, _ in first })
            let knownRooms = Dictionary(
                self.state.myRooms.map { ($0.link, $0) }, uniquingKeysWith: { first, _ in first })
            self.state.loading = false
            self.state.friends = friends.map {
                FriendRow(
                    id: $0.id, name: $0.name, roomLink: $0.roomLink, presence: known[$0.id] ?? .checking,
                    notify: $0.notify)
            }
            self.state.myRooms = rooms.map {
                knownRooms[$0.link] ?? MyRoomRow(id: $0.id, name: $0.name ?? "My room", link: $0.link)
            }
            self.watch(Set(friends.filter(\.hasPresence).map(\.id)))
            for room in rooms {
                let peek = try? await salon.peek(link: room.link)
                self.updateRoom(room.link) {
                    $0.doorOpen = peek?.doorOpen
                    $0.people = peek?.people ?? 0
                    $0.names = peek?.names
                }
            }
            await withTaskGroup(of: (Int64, Presence).self) { group in
                for friend in friends where !friend.hasPresence {
                    group.addTask { (friend.id, await Self.status(of: friend.roomLink, salon: salon)) }
                }
                for await (id, presence) in group {
                    self.updateFriend(id) { $0.presence = presence }
                }
            }
        }
    }

    /// (Re)starts the live watch when the set of friends with presence changed.
    private func watch(_ ids: Set<Int64>) {
        if ids == watched, watching != nil { return }
        watching?.cancel()
        watching = nil
        watched = ids
        if ids.isEmpty { return }
        let updates = salon.presence()
        // Weak: when the screen's model goes away, the next update ends the loop and with it the
        // stream, which stops the core's watch.
        watching = Task { [weak self] in
            for await update in updates {
                guard let self, !Task.isCancelled else { break }
                self.apply(update)
            }
        }
    }

    /// One presence update from the core (also used by tests).
    func apply(_ update: PresenceUpdate) {
        switch update {
        case let .friends(list):
            for p in list where p.friend.hasPresence {
                updateFriend(p.friend.id) { $0.presence = Self.presence(of: p) }
            }
        case let .doorOpened(p):
            let text = "\(p.friend.name)'s door is open"
            state.doorOpened = text
            onDoorOpened(text)
        }
    }

    nonisolated static func presence(of p: FriendPresence) -> Presence {
        if !p.connected { return .checking }  // not answered yet, or reconnecting
        if !p.available { return .notShared }
        return p.doorOpen ? .open(people: p.people, names: p.names) : .closed
    }

    private nonisolated static func status(of link: String, salon: any SalonService) async -> Presence {
        do {
            let status = try await salon.roomStatus(link: link)
            return status.isOpen ? .open(people: status.participants, names: nil) : .closed
        } catch SalonError.roomNotFound {
            return .gone
        } catch {
            return .unknown
        }
    }
}

/// What a row says about a door and who is inside.
func doorLabel(open: Bool, people: Int, names: [String]?) -> String {
    guard open else { return "Door closed" }
    let count = people == 1 ? "1 person inside" : "\(people) people inside"
    guard let names, !names.isEmpty else { return "Door open · \(count)" }
    return "Door open · \(count): \(names.joined(separator: ", "))"
}
