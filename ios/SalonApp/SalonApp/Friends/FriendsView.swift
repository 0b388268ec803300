import SalonCore
import SwiftUI

/// The friend list, wired to its model; drop-ins go to `onDropIn`.
struct FriendsRoute: View {
    @StateObject private var model: FriendsModel
    private let onDropIn: (FriendRow) -> Void

    init(salon: any SalonService, onDropIn: @escaping (FriendRow) -> Void) {
        _model = StateObject(wrappedValue: FriendsModel(salon: salon))
        self.onDropIn = onDropIn
    }

    var body: some View {
        FriendsView(state: model.state) { event in
            if case let .dropIn(friend) = event { onDropIn(friend) } else { model.send(event) }
        }
        // Whose room is open changes all the time: look again whenever the list comes into view.
        .onAppear { model.send(.refresh) }
    }
}

struct FriendsView: View {
    let state: FriendsState
    let send: (FriendsEvent) -> Void

    var body: some View {
        List {
            if let error = state.error {
                Text(error)
                    .foregroundStyle(.red)
                    .onTapGesture { send(.dismissError) }
            }
            ForEach(state.friends) { friend in
                Button { send(.dropIn(friend)) } label: { FriendRowView(friend: friend) }
                    .swipeActions {
                        Button(role: .destructive) { send(.removeFriend(id: friend.id)) } label: { Text("Remove") }
                    }
            }
        }
        .overlay {
            if state.loading {
                ProgressView()
            } else if state.friends.isEmpty {
                Text("No friends yet. Add one with their room link or friend card.")
                    .multilineTextAlignment(.center)
                    .padding()
            }
        }
        .navigationTitle("Friends")
        .toolbar {
            ToolbarItem(placement: .primaryAction) {
                Button("Add") { send(.openAddSheet) }
            }
        }
        .refreshable { send(.refresh) }
        .sheet(isPresented: Binding(get: { state.addSheetOpen }, set: { open in if !open { send(.closeAddSheet) } })) {
            AddFriendSheet(send: send)
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
        }
    }

    private var isOpen: Bool {
        if case .open = friend.presence { return true }
        return false
    }

    private var label: String {
        switch friend.presence {
        case .checking: return "…"
        case let .open(people): return people == 1 ? "Open · 1 person" : "Open · \(people) people"
        case .closed: return "Closed"
        case .gone: return "This room no longer exists"
        case .unknown: return "Can't reach their server"
        }
    }
}

private struct AddFriendSheet: View {
    let send: (FriendsEvent) -> Void
    @State private var name = ""
    @State private var link = ""

    var body: some View {
        NavigationStack {
            Form {
                TextField("Name", text: $name)
                TextField("Room link or friend card", text: $link)
                    .textInputAutocapitalization(.never)
                    .autocorrectionDisabled()
            }
            .navigationTitle("Add a friend")
            .toolbar {
                ToolbarItem(placement: .cancellationAction) { Button("Cancel") { send(.closeAddSheet) } }
                ToolbarItem(placement: .confirmationAction) {
                    Button("Add") { send(.addFriend(name: name, linkOrCard: link)) }
                        .disabled(link.trimmingCharacters(in: .whitespaces).isEmpty)
                }
            }
        }
    }
}

#Preview {
    NavigationStack {
        FriendsView(
            state: FriendsState(
                friends: [
                    FriendRow(id: 1, name: "Ada", roomLink: "https://salon.example.org/r/a", presence: .open(people: 2)),
                    FriendRow(id: 2, name: "Bob", roomLink: "https://salon.example.org/r/b", presence: .closed),
                    FriendRow(id: 3, name: "Cy", roomLink: "https://salon.example.org/r/c", presence: .checking),
                ],
                loading: false),
            send: { _ in })
    }
}
