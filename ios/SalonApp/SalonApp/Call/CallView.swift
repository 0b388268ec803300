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
        VStack(spacing: 0) {
            if let line = statusLine {
                Text(line).foregroundStyle(.secondary).padding()
            }
            if state.status == .live && state.tiles.isEmpty {
                Text("Nobody else is here yet.").padding()
            }
            ScrollView {
                LazyVGrid(columns: [GridItem(.adaptive(minimum: 160), spacing: 8)], spacing: 8) {
                    ForEach(state.tiles) { tile in TileView(tile: tile) }
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
    }

    private var statusLine: String? {
        switch state.status {
        case .joining: return "Joining…"
        case .live: return nil
        case let .reconnecting(attempt): return "Connection lost, reconnecting (attempt \(attempt))…"
        case let .ended(why): return "Call ended: \(why)"
        }
    }
}

private struct TileView: View {
    let tile: Tile

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
