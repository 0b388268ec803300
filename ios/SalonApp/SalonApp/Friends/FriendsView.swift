import SalonCore
import SwiftUI

/// The rooms screen, wired to its model: drop-ins go to `onDropIn`, my own rooms to
/// `onEnterMyRoom`, and "door opened" to `onDoorOpened` (a local notification).
struct FriendsRoute: View {
    @StateObject private var model: FriendsModel
    private let onDropIn: (FriendRow) -> Void
    private let onEnterMyRoom: (MyRoomRow) -> Void
    private let onDoorOpened: (String) -> Void
    /// The name on my card (the one I joined calls with last, else the device's).
    private let myName: String
    /// A friend card the app was opened with: the add sheet opens with it filled in.
    private let card: String?
    private let onCardHandled: () -> Void
    @State private var openedCard: String?

    init(
        salon: any SalonService,
        onDropIn: @escaping (FriendRow) -> Void,
        onEnterMyRoom: @escaping (MyRoomRow) -> Void = { _ in },
        myName: String = "",
        onDoorOpened: @escaping (String) -> Void = { _ in },
        card: String? = nil,
        onCardHandled: @escaping () -> Void = {}
    ) {
        _model = StateObject(wrappedValue: FriendsModel(salon: salon))
        self.onDropIn = onDropIn
        self.onEnterMyRoom = onEnterMyRoom
        self.onDoorOpened = onDoorOpened
        self.myName = Preferences().myName ?? myName
        self.card = card
        self.onCardHandled = onCardHandled
    }

    private func add(card: String?) {
        guard let card else { return }
        onCardHandled()
        openedCard = card
        model.send(.openAddSheet)
    }

    var body: some View {
        FriendsView(state: model.state, salon: model.salon, myName: myName, openedCard: openedCard) { event in
            switch event {
            case let .dropIn(friend): onDropIn(friend)
            case let .enterMyRoom(room): onEnterMyRoom(room)
            case .closeAddSheet:
                openedCard = nil
                model.send(event)
            default: model.send(event)
            }
        }
        // Friends with a presence key are watched live; the others and my rooms are asked again
        // whenever the screen comes into view.
        .onAppear {
            model.onDoorOpened = onDoorOpened
            model.send(.refresh)
            add(card: card)
        }
        .onChange(of: card) { add(card: $0) }
    }
}

struct FriendsView: View {
    let state: FriendsState
    /// For the add-a-friend sheet, which has its own model.
    var salon: (any SalonService)?
    var myName = ""
    /// A card to fill in when the add sheet opens (the app was opened with it).
    var openedCard: String?
    let send: (FriendsEvent) -> Void

    var body: some View {
        List {
            if let error = state.error {
                Text(error)
                    .foregroundStyle(.red)
                    .onTapGesture { send(.dismissError) }
            }
            if let opened = state.doorOpened {
                Text(opened)
                    .foregroundStyle(.green)
                    .onTapGesture { send(.dismissDoorOpened) }
            }
            if !state.myRooms.isEmpty {
                Section("My rooms") {
                    ForEach(state.myRooms) { room in
                        HStack {
                            Button { send(.enterMyRoom(room)) } label: { MyRoomRowView(room: room) }
                            Spacer()
                            Button(room.doorOpen == true ? "Close door" : "Open door") {
                                send(.setDoor(link: room.link, open: room.doorOpen != true))
                            }
                            .buttonStyle(.borderless)
                            .disabled(room.doorOpen == nil)
                        }
                    }
                }
            }
            Section("Friends") {
                ForEach(state.friends) { friend in
                    Button { send(.dropIn(friend)) } label: { FriendRowView(friend: friend) }
                        .swipeActions {
                            Button(role: .destructive) { send(.removeFriend(id: friend.id)) } label: { Text("Remove") }
                            Button(friend.notify ? "Mute" : "Notify") {
                                send(.setNotify(id: friend.id, notify: !friend.notify))
                            }
                        }
                }
            }
        }
        .overlay {
            if state.loading {
                ProgressView()
            } else if state.friends.isEmpty && state.myRooms.isEmpty {
                Text("No friends yet. Add one with their friend card or room link.")
                    .multilineTextAlignment(.center)
                    .padding()
            }
        }
        .navigationTitle("Rooms")
        .toolbar {
            ToolbarItem(placement: .primaryAction) {
                Button("Add") { send(.openAddSheet) }
            }
        }
        .refreshable { send(.refresh) }
        .sheet(isPresented: Binding(get: { state.addSheetOpen }, set: { open in if !open { send(.closeAddSheet) } })) {
            if let salon {
                AddFriendRoute(salon: salon, myName: myName, card: openedCard) {
                    send(.closeAddSheet)
                    send(.refresh)
                }
            }
        }
    }
}

private struct MyRoomRowView: View {
    let room: MyRoomRow

    var body: some View {
        HStack(spacing: 12) {
            Circle()
                .fill(room.doorOpen == true ? Color.green : Color.gray.opacity(0.4))
                .frame(width: 10, height: 10)
            VStack(alignment: .leading) {
                Text(room.name).font(.headline)
                Text(room.doorOpen == nil ? "…" : doorLabel(open: room.doorOpen == true, people: room.people, names: room.names))
                    .font(.caption).foregroundStyle(.secondary)
            }
        }
    }
}

private struct FriendRowView: View {
    let friend: FriendRow

    var body: some View {
        HStack(spacing: 12) {
            Circle()
                .fill(isOpen ? Color.green : Color.gray.opacity(0.4))
                .frame(width: 10, height: 10)
            VStack(alignment: .leading) {
                Text(friend.name).font(.headline)
                Text(label).font(.caption).foregroundStyle(.secondary)
            }
            if friend.notify {
                Spacer()
                Image(systemName: "bell.fill").foregroundStyle(.secondary)
            }
        }
    }

    private var isOpen: Bool {
        if case .open = friend.presence { return true }
        return false
    }

    private var label: String {
        switch friend.presence {
        case .checking: return "…"
        case let .open(people, names): return doorLabel(open: true, people: people, names: names)
        case .closed: return "Door closed"
        case .gone: return "This room no longer exists"
        case .notShared: return "They stopped sharing their door: ask for a new card"
        case .unknown: return "Can't reach their server"
        }
    }
}

#Preview {
    NavigationStack {
        FriendsView(
            state: FriendsState(
                friends: [
                    FriendRow(
                        id: 1, name: "Ada", roomLink: "https://salon.example.org/r/a",
                        presence: .open(people: 2, names: ["Ada", "Bo"]), notify: true),
                    FriendRow(id: 2, name: "Bob", roomLink: "https://salon.example.org/r/b", presence: .closed),
                    FriendRow(id: 3, name: "Cy", roomLink: "https://salon.example.org/r/c", presence: .checking),
                ],
                myRooms: [MyRoomRow(id: "m", name: "Kitchen", link: "https://salon.example.org/r/m", doorOpen: true, people: 1)],
                loading: false),
            send: { _ in })
    }
}
