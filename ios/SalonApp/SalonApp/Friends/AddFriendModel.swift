import Foundation
import SalonCore

/// Everything the "Add a friend" screen shows: what I pasted or scanned, my own card (as a QR
/// code and to share) for the room I pick, and progress and errors.
struct AddFriendState: Equatable {
    var name = ""
    /// A pasted friend card or room link.
    var text = ""
    var adding = false
    var error: String?
    /// The scanner is open.
    var scanning = false
    /// My rooms, to make my card from.
    var myRooms: [RoomChoice] = []
    var selectedRoom: String?
    /// My card for the selected room: the QR code shows it, the share sheet sends it.
    var myCard: String?
    var loadingCard = false

    var input: FriendInput { FriendInput(text) }
    /// A room link needs a name; a card carries one.
    var needsName: Bool {
        if case .roomLink = input { return true }
        return false
    }
    var canAdd: Bool {
        guard !adding else { return false }
        switch input {
        case .card: return true
        case .roomLink: return !name.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
        case .empty, .notALink: return false
        }
    }
}

struct RoomChoice: Equatable, Identifiable {
    var id: String { link }
    let name: String
    let link: String
}

/// What a pasted or scanned text is.
enum FriendInput: Equatable {
    /// A friend card: `salon:friend?…` or `https://host/friend?…`.
    case card(String)
    /// An invite link `https://host/r/<id>` (or another http link: the core will say what is wrong).
    case roomLink(String)
    case empty
    case notALink

    init(_ text: String) {
        let text = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if text.isEmpty {
            self = .empty
        } else if let url = URL(string: text), let opened = OpenedLink(url) {
            switch opened {
            case let .friend(card): self = .card(card)
            case let .room(link, _): self = .roomLink(link)
            }
        } else if text.lowercased().hasPrefix("https://") || text.lowercased().hasPrefix("http://") {
            self = .roomLink(text)
        } else {
            self = .notALink
        }
    }
}

enum AddFriendEvent {
    case appeared
    case nameChanged(String)
    case textChanged(String)
    case add
    case startScanning
    case stopScanning
    /// The camera read a QR code.
    case scanned(String)
    /// The camera cannot scan (no camera, or not allowed).
    case scannerFailed(String)
    case chooseRoom(link: String)
    case dismissError
}

/// Adds a friend from a pasted or scanned card or link, and shows my own card for one of my
/// rooms. `onAdded` gets the new friend (the rooms screen closes the sheet and reloads).
/// Mirrors the Android add-friend screen.
@MainActor
final class AddFriendModel: ObservableObject {
    @Published private(set) var state = AddFriendState()
    private let salon: any SalonService
    private let myName: String
    var onAdded: (Friend) -> Void = { _ in }

    init(salon: any SalonService, myName: String) {
        self.salon = salon
        self.myName = myName
    }

    func send(_ event: AddFriendEvent) {
        switch event {
        case .appeared: loadRooms()
        case let .nameChanged(name): state.name = name
        case let .textChanged(text): state.text = text
        case .add: add()
        case .startScanning:
            state.error = nil
            state.scanning = true
        case .stopScanning: state.scanning = false
        case let .scanned(text):
            // One code is enough: the scanner closes and the card is added at once.
            guard state.scanning else { return }
            state.scanning = false
            state.text = text
            switch state.input {
            case .card: add()
            case .roomLink: break  // a room link needs a name: the form shows it, filled in
            case .empty, .notALink: state.error = "This QR code isn't a Salon friend card."
            }
        case let .scannerFailed(why):
            state.scanning = false
            state.error = why
        case let .chooseRoom(link):
            guard link != state.selectedRoom else { return }
            state.selectedRoom = link
            loadCard()
        case .dismissError: state.error = nil
        }
    }

    private func loadRooms() {
        Task { [salon] in
            do {
                let rooms = try await salon.myRooms()
                state.myRooms = rooms.map { RoomChoice(name: $0.name ?? "My room", link: $0.link) }
                if state.selectedRoom == nil || !state.myRooms.contains(where: { $0.link == state.selectedRoom }) {
                    state.selectedRoom = state.myRooms.first?.link
                }
                loadCard()
            } catch {
                state.error = error.localizedDescription
            }
        }
    }

    private func loadCard() {
        guard let link = state.selectedRoom else {
            state.myCard = nil
            return
        }
        state.loadingCard = true
        Task { [salon, myName] in
            let card = try? await salon.myFriendCard(myName: myName, roomLink: link)
            // Only the answer for the room still selected counts.
            guard state.selectedRoom == link else { return }
            state.loadingCard = false
            state.myCard = card
            if card == nil { state.error = "Couldn't make your card for this room." }
        }
    }

    private func add() {
        guard state.canAdd else { return }
        let input = state.input
        let name = state.name.trimmingCharacters(in: .whitespacesAndNewlines)
        state.adding = true
        state.error = nil
        Task { [salon] in
            do {
                let friend: Friend
                switch input {
                case let .card(card): friend = try await salon.addFriendFromCard(card)
                case let .roomLink(link): friend = try await salon.addFriend(name: name, roomLink: link)
                case .empty, .notALink:
                    state.adding = false
                    return
                }
                state.adding = false
                state.text = ""
                state.name = ""
                onAdded(friend)
            } catch {
                state.adding = false
                state.error = Self.describe(error)
            }
        }
    }

    nonisolated static func describe(_ error: Error) -> String {
        switch error as? SalonError {
        case .duplicateFriend?: return "This friend is already in your list."
        case .invalidLink?: return "That isn't a Salon room link or friend card."
        case .network?: return "Can't reach their server. Check your connection and try again."
        default: return error.localizedDescription
        }
    }
}
