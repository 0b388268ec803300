import SalonCore
import SwiftUI

/// The call screen, wired to its model; `onClose` goes back to the friend list.
struct CallRoute: View {
    @StateObject private var model: CallModel
    private let title: String
    private let onClose: () -> Void

    init(salon: any SalonService, target: CallTarget, myName: String, onClose: @escaping () -> Void) {
        _model = StateObject(wrappedValue: CallModel(salon: salon, link: target.link, myName: myName))
        title = target.title
        self.onClose = onClose
    }

    var body: some View {
        CallView(state: model.state, title: title) { event in
            model.send(event)
            if case .leave = event { onClose() }
        }
        // Joins on appear; leaving the screen cancels this, which leaves the call.
        .task { await model.run() }
    }
}

struct CallView: View {
    let state: CallState
    let title: String
    let send: (CallEvent) -> Void

    var body: some View {
        if case let .waiting(hostPresent) = state.status {
            LobbyView(roomName: state.roomName ?? title, hostPresent: hostPresent) { send(.leave) }
        } else {
            room
        }
    }

    private var room: some View {
        VStack(spacing: 0) {
            if let line = statusLine {
                Text(line).foregroundStyle(.secondary).padding()
            }
            if let notice = state.notice {
                HStack {
                    Text(notice)
                    Spacer()
                    Button("OK") { send(.dismissNotice) }
                }
                .padding(.horizontal)
            }
            if state.isHost {
                ForEach(state.knocks) { knock in
                    HStack {
                        Text("\(knock.name) is waiting to come in")
                        Spacer()
                        Button("Deny") { send(.deny(knockId: knock.id)) }
                        Button("Admit") { send(.admit(knockId: knock.id)) }.buttonStyle(.borderedProminent)
                    }
                    .padding(.horizontal)
                }
            }
            if state.status == .live && state.tiles.isEmpty {
                Text("Nobody else is here yet.").padding()
            }
            ScrollView {
                LazyVGrid(columns: [GridItem(.adaptive(minimum: 160), spacing: 8)], spacing: 8) {
                    ForEach(state.tiles) { tile in TileView(tile: tile, send: send) }
                }
                .padding(8)
            }
            HStack(spacing: 12) {
                Button(state.sendingTestPattern ? "Stop test picture" : "Send test picture") {
                    send(.toggleTestPattern)
                }
                .buttonStyle(.bordered)
                .disabled(state.status != .live)
                Button("Leave", role: .destructive) { send(.leave) }
                    .buttonStyle(.borderedProminent)
            }
            .padding()
        }
        .navigationTitle(state.roomName ?? title)
        .navigationBarTitleDisplayMode(.inline)
        .toolbar {
            if state.isHost && state.status == .live {
                Menu("Host") {
                    Button(state.locked ? "Unlock room" : "Lock room") { send(.toggleLock) }
                    Button(state.panic ? "Release panic" : "Panic") { send(.togglePanic) }
                    Button("New link") { send(.newLink) }
                    Button("End for everyone", role: .destructive) { send(.endForEveryone) }
                }
            }
        }
    }

    private var statusLine: String? {
        switch state.status {
        case .joining: return "Joining…"
        case .waiting: return "Waiting for a host to let you in…"
        case .live: return nil
        case let .reconnecting(attempt): return "Connection lost, reconnecting (attempt \(attempt))…"
        case let .ended(why): return "Call ended: \(why)"
        }
    }
}

/// The lobby of a locked room: nothing of the room is visible until a host lets me in.
private struct LobbyView: View {
    let roomName: String
    let hostPresent: Bool
    let leave: () -> Void

    var body: some View {
        VStack(spacing: 16) {
            Text(roomName).font(.title2)
            Text("Waiting for a host to let you in…")
            if !hostPresent {
                Text("No host is in the room right now.").foregroundStyle(.secondary)
            }
            Button("Leave", action: leave).buttonStyle(.bordered)
        }
        .padding()
    }
}

private struct TileView: View {
    let tile: Tile
    let send: (CallEvent) -> Void

    var body: some View {
        // The backdrop fixes the tile's shape; the picture and the label are laid over it.
        Color(red: 0.15, green: 0.2, blue: 0.22)
            .aspectRatio(4.0 / 3.0, contentMode: .fit)
            .overlay {
                if let picture = tile.picture, !tile.cameraOff {
                    Image(decorative: picture, scale: 1)
                        .resizable()
                        .scaledToFill()
                } else {
                    Text(tile.name.prefix(1).uppercased())
                        .font(.largeTitle)
                        .foregroundStyle(.white)
                }
            }
            .overlay(alignment: .bottomLeading) {
                HStack(spacing: 6) {
                    Text(tile.name).foregroundStyle(.white)
                    Spacer()
                    if tile.muted { Text("muted").foregroundStyle(.red.opacity(0.8)) }
                    if tile.speaking { Text("speaking").foregroundStyle(.green) }
                    if tile.canModerate {
                        Menu("⋯") {
                            Button("Ask to mute") { send(.askToMute(participantId: tile.id)) }
                            Button("Mute") { send(.mute(participantId: tile.id)) }
                            Button("Remove from room", role: .destructive) { send(.remove(participantId: tile.id)) }
                        }
                        .foregroundStyle(.white)
                    }
                }
                .font(.caption)
                .padding(6)
                .background(.black.opacity(0.5))
            }
            .clipShape(RoundedRectangle(cornerRadius: 12))
            .overlay(
                RoundedRectangle(cornerRadius: 12)
                    .stroke(tile.speaking ? Color.green : Color.clear, lineWidth: 3))
    }
}

#Preview {
    NavigationStack {
        CallView(
            state: CallState(
                roomName: "Ada's room",
                status: .live,
                tiles: [
                    Tile(id: "a", name: "Ada", speaking: true, muted: false, cameraOff: true, picture: nil),
                    Tile(id: "b", name: "Bob", speaking: false, muted: true, cameraOff: true, picture: nil),
                ]),
            title: "Ada",
            send: { _ in })
    }
}
