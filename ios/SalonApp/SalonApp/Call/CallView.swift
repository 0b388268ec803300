import SalonCore
import SwiftUI

/// The call screen, wired to its model; `onClose` goes back to the friend list.
/// The call screen for a call the pre-join screen joined: `CallModel` shows the room,
/// `CallMedia` runs my camera, microphone, speaker and picture in picture.
struct CallRoute: View {
    @StateObject private var model: CallModel
    @StateObject private var media: CallMedia
    private let title: String
    private let onClose: () -> Void
    /// What goes behind me (`BackgroundMenu`).
    @State private var background: Background = .off

    init(salon: any SalonService, joined: JoinedCall, onClose: @escaping () -> Void) {
        _model = StateObject(wrappedValue: CallModel(
            salon: salon, link: joined.target.link, myName: joined.options.name, joined: joined.call))
        _media = StateObject(wrappedValue: CallMedia(
            call: joined.call, permissions: joined.permissions, camera: joined.camera))
        title = joined.target.title
        self.onClose = onClose
    }

    var body: some View {
        CallView(state: model.state, media: media.state, title: title, send: { event in
            model.send(event)
            if case .leave = event { onClose() }
        }, sendMedia: media.send)
        .background { PictureInPictureLayer(pip: media.pictureInPicture) }
        .overlay(alignment: .topTrailing) {
            // Myself, small, while my camera runs, and what goes behind me.
            if media.state.cameraRunning {
                VStack(alignment: .trailing, spacing: 6) {
                    CameraPreview(session: media.camera.session)
                        .frame(width: 90, height: 160)
                        .clipShape(RoundedRectangle(cornerRadius: 10))
                    BackgroundMenu(current: background) { choice in
                        if (try? media.setBackground(choice)) != nil { background = choice }
                    }
                }
                .padding(8)
            }
        }
        .onChange(of: model.state.pinned) { media.pinned = $0 }
        // Shows the call until it ends; leaving the screen cancels this, which leaves the call.
        .task {
            media.start()
            await model.run()
            media.stop()
        }
        .onDisappear { media.stop() }
    }
}

struct CallView: View {
    let state: CallState
    var media: CallMediaState?
    let title: String
    let send: (CallEvent) -> Void
    var sendMedia: (CallMediaEvent) -> Void = { _ in }
    /// The safety-code sheet, opened by tapping the encryption chip.
    @State private var safetyCodeShown = false

    var body: some View {
        if case let .waiting(hostPresent) = state.status {
            LobbyView(roomName: state.roomName ?? title, hostPresent: hostPresent) { send(.leave) }
        } else if case let .ended(why) = state.status {
            EndedView(reason: why) { send(.leave) }
        } else {
            room
        }
    }

    /// Microphone, camera, flip, speaker: my own switches.
    @ViewBuilder private var mediaControls: some View {
        if let media {
            HStack(spacing: 16) {
                Button { sendMedia(.toggleMicrophone) } label: {
                    Image(systemName: media.microphoneOn ? "mic.fill" : "mic.slash.fill")
                }
                .accessibilityLabel(media.microphoneOn ? "Turn microphone off" : "Turn microphone on")
                Button { sendMedia(.toggleCamera) } label: {
                    Image(systemName: media.cameraOn ? "video.fill" : "video.slash.fill")
                }
                .accessibilityLabel(media.cameraOn ? "Turn camera off" : "Turn camera on")
                if media.canFlip && media.cameraOn {
                    Button { sendMedia(.flipCamera) } label: { Image(systemName: "arrow.triangle.2.circlepath.camera") }
                        .accessibilityLabel("Switch camera")
                }
                if media.canToggleSpeaker {
                    Button { sendMedia(.toggleSpeaker) } label: {
                        Image(systemName: media.earpieceChosen ? "iphone" : "speaker.wave.2.fill")
                    }
                    .accessibilityLabel(media.earpieceChosen ? "Use the speaker" : "Use the earpiece")
                } else {
                    Text(media.routeLabel).font(.caption).foregroundStyle(.secondary)
                }
            }
            .buttonStyle(.bordered)
            .font(.title3)
            if let line = media.interruptionNotice {
                Text(line).font(.caption).foregroundStyle(.orange)
            }
            if let notice = media.notice {
                HStack {
                    Text(notice).font(.caption)
                    Spacer()
                    Button("OK") { sendMedia(.dismissNotice) }
                }
                .padding(.horizontal)
            }
        }
    }

    private var room: some View {
        VStack(spacing: 0) {
            EncryptionChip(e2ee: state.e2ee) { safetyCodeShown = true }
                .frame(maxWidth: .infinity, alignment: .leading)
                .padding(.horizontal)
                .padding(.vertical, 4)
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
            if !state.hands.isEmpty {
                HandsQueue(hands: state.hands, send: send)
            }
            if state.status == .live && state.tiles.isEmpty {
                Text("Nobody else is here yet.").padding()
            }
            if let main = state.mainTile {
                // A screen share, the pinned tile, or the only one: big, above the others.
                TileView(tile: main, canPin: !main.presenting && state.tiles.count > 1, fill: true, send: send)
                    .padding(8)
            }
            let grid = state.gridTiles
            if !grid.isEmpty {
                TileGrid(tiles: grid, compact: state.mainTile != nil, send: send)
            } else if state.mainTile == nil {
                Spacer()
            }
            SocialControls(state: state, send: send)
                .padding(.vertical, 6)
            mediaControls
            if state.sendingTestPattern && !state.videoWatched {
                Text("Nobody is watching your video: the test picture is paused.")
                    .font(.caption)
                    .foregroundStyle(.secondary)
                    .padding(.horizontal)
            }
            HStack(spacing: 12) {
                // Without a camera (the simulator), the core's moving test picture stands in.
                if !Camera.available {
                    Button(state.sendingTestPattern ? "Stop test picture" : "Send test picture") {
                        send(.toggleTestPattern)
                    }
                    .buttonStyle(.bordered)
                    .disabled(state.status != .live)
                }
                Button("Leave", role: .destructive) { send(.leave) }
                    .buttonStyle(.borderedProminent)
            }
            .padding()
        }
        .navigationTitle(state.roomName ?? title)
        .navigationBarTitleDisplayMode(.inline)
        .sheet(isPresented: $safetyCodeShown) {
            if let e2ee = state.e2ee {
                SafetyCodeSheet(e2ee: e2ee, unverifiedLine: Encryption.unverifiedLine(state.tiles)) {
                    safetyCodeShown = false
                }
                .presentationDetents([.medium])
            }
        }
        .sheet(isPresented: Binding(get: { state.chatOpen }, set: { open in if !open { send(.closeChat) } })) {
            ChatSheet(state: state, send: send)
                .presentationDetents([.medium, .large])
        }
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

/// "Encrypted · 4821 0937 1165" with a lock in an encrypted call (tapping it shows the safety
/// code), else a muted "Not end-to-end encrypted".
private struct EncryptionChip: View {
    let e2ee: E2ee?
    let open: () -> Void

    var body: some View {
        if e2ee != nil {
            Button(action: open) {
                Label(Encryption.chipLabel(e2ee), systemImage: "lock.fill")
                    .font(.footnote.weight(.medium))
                    .padding(.horizontal, 10)
                    .padding(.vertical, 6)
                    .background(Color.green.opacity(0.15), in: RoundedRectangle(cornerRadius: 8))
                    .foregroundStyle(Color.green)
            }
            .buttonStyle(.plain)
            .accessibilityHint("Shows the safety code")
        } else {
            Text(Encryption.chipLabel(nil))
                .font(.footnote)
                .padding(.horizontal, 10)
                .padding(.vertical, 6)
                .background(Color.secondary.opacity(0.12), in: RoundedRectangle(cornerRadius: 8))
                .foregroundStyle(.secondary)
        }
    }
}

/// The safety code, large, how many hold the keys, and what to do with it.
private struct SafetyCodeSheet: View {
    let e2ee: E2ee
    let unverifiedLine: String?
    let done: () -> Void

    var body: some View {
        VStack(alignment: .leading, spacing: 16) {
            Text("Safety code").font(.headline)
            Text(e2ee.safetyCode)
                .font(.system(size: 34, weight: .semibold, design: .monospaced))
                .textSelection(.enabled)
            Text(Encryption.keyHolders(e2ee.keyHolders)).font(.subheadline.weight(.medium))
            Text(Encryption.readAloud)
            if let unverifiedLine {
                Text(unverifiedLine).foregroundStyle(.red)
            }
            Spacer()
            Button("Done", action: done)
                .buttonStyle(.borderedProminent)
                .frame(maxWidth: .infinity)
        }
        .padding(24)
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

/// The call is over: why (removed, not let in, ended by the host, …) and the way back.
private struct EndedView: View {
    let reason: String
    let back: () -> Void

    var body: some View {
        VStack(spacing: 16) {
            Image(systemName: "phone.down.fill").font(.largeTitle).foregroundStyle(.secondary)
            Text(reason).font(.title3).multilineTextAlignment(.center)
            Button("Back to rooms", action: back).buttonStyle(.borderedProminent)
        }
        .padding()
        .navigationBarBackButtonHidden(false)
    }
}

/// The other participants' tiles, scrollable. Each cell's onAppear/onDisappear keeps the set of
/// tiles on screen, reported (`.shown`) when it changes, so that the core stops the videos
/// scrolled off. After someone comes or goes the grid reports once it has settled.
private struct TileGrid: View {
    let tiles: [Tile]
    /// A strip under the big tile rather than the whole screen.
    let compact: Bool
    let send: (CallEvent) -> Void
    @State private var onScreen: Set<String> = []

    var body: some View {
        ScrollView {
            LazyVGrid(columns: [GridItem(.adaptive(minimum: compact ? 120 : 160), spacing: 8)], spacing: 8) {
                ForEach(tiles) { tile in
                    TileView(tile: tile, canPin: true, send: send)
                        .onAppear {
                            onScreen.insert(tile.id)
                            report()
                        }
                        .onDisappear {
                            onScreen.remove(tile.id)
                            report()
                        }
                }
            }
            .padding(8)
        }
        .frame(height: compact ? 150 : nil)
        .task(id: tiles.map(\.id)) {
            // Newcomers' cells appear (or not, if off screen) first; then say what is shown.
            try? await Task.sleep(nanoseconds: 300_000_000)
            report()
        }
    }

    private func report() {
        let ids = Set(tiles.map(\.id))
        send(.shown(TilesShown(visible: onScreen.intersection(ids), of: ids)))
    }
}

/// One person: their picture (or initial), name, muted/speaking, a ring while they speak (a
/// thicker one for the loudest speaker), their raised hand's place in the queue and their
/// reaction floating up. Long-press, or "Pin", pins it (`canPin`); `fill` draws
/// it as the big tile, filling the space it is given instead of a 4:3 box.
private struct TileView: View {
    let tile: Tile
    let canPin: Bool
    var fill = false
    let send: (CallEvent) -> Void

    @ViewBuilder private var backdrop: some View {
        let color = Color(red: 0.15, green: 0.2, blue: 0.22)
        if fill {
            color.frame(maxWidth: .infinity, maxHeight: .infinity)
        } else {
            color.aspectRatio(4.0 / 3.0, contentMode: .fit)
        }
    }

    var body: some View {
        // The backdrop fixes the tile's shape; the picture and the label are laid over it.
        backdrop
            .overlay {
                if let picture = tile.picture, !tile.cameraOff {
                    if fill {
                        Image(decorative: picture, scale: 1)
                            .resizable()
                            .scaledToFit()
                    } else {
                        Image(decorative: picture, scale: 1)
                            .resizable()
                            .scaledToFill()
                    }
                } else {
                    Text(tile.name.prefix(1).uppercased())
                        .font(.largeTitle)
                        .foregroundStyle(.white)
                }
            }
            .overlay(alignment: .bottomLeading) {
                HStack(spacing: 6) {
                    if tile.presenting { Text("Presenting").foregroundStyle(.cyan) }
                    Text(tile.name).foregroundStyle(.white)
                    Spacer()
                    if tile.muted { Text("muted").foregroundStyle(.red.opacity(0.8)) }
                    if tile.speaking { Text("speaking").foregroundStyle(.green) }
                    if canPin {
                        Button(fill ? "Unpin" : "Pin") { send(.pin(participantId: tile.id)) }
                            .foregroundStyle(.white)
                    }
                    if tile.canModerate, tile.presenting, let presenter = tile.presenter {
                        Button("Stop sharing") { send(.stopShare(participantId: presenter)) }
                            .foregroundStyle(.white)
                    } else if tile.canModerate {
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
            .overlay(alignment: .topLeading) {
                if let hand = tile.hand {
                    HandBadge(position: hand).padding(6)
                }
            }
            .overlay {
                if let reaction = tile.reaction {
                    FloatingReaction(reaction: reaction)
                }
            }
            .overlay(alignment: .topTrailing) {
                if tile.unverified {
                    // Their keys could not be checked: they see and hear nothing of me.
                    Image(systemName: "lock.slash.fill")
                        .font(.caption)
                        .foregroundStyle(.white)
                        .padding(5)
                        .background(Color.red, in: Circle())
                        .padding(6)
                        .accessibilityLabel(Encryption.cantExchangeKeys)
                }
            }
            .clipShape(RoundedRectangle(cornerRadius: 12))
            .overlay(
                RoundedRectangle(cornerRadius: 12)
                    .stroke(ring, lineWidth: tile.dominant ? 5 : 3))
            .contentShape(Rectangle())
            .onLongPressGesture {
                if canPin { send(.pin(participantId: tile.id)) }
            }
    }

    private var ring: Color {
        if tile.dominant { return .green }
        if tile.speaking { return .green.opacity(0.6) }
        return .clear
    }
}

#Preview {
    NavigationStack {
        CallView(
            state: CallState(
                roomName: "Ada's room",
                status: .live,
                tiles: [
                    Tile(id: "a", name: "Ada", speaking: true, dominant: true, muted: false, cameraOff: true, picture: nil),
                    Tile(id: "b", name: "Bob", speaking: false, muted: true, cameraOff: true, picture: nil,
                         unverified: true),
                ],
                e2ee: E2ee(safetyCode: "4821 0937 1165", keyHolders: 2, unverified: ["b"])),
            title: "Ada",
            send: { _ in })
    }
}
