import SalonCore
import SwiftUI

/// A call joined from the pre-join screen, on its way to the call screen.
struct JoinedCall: Hashable {
    let id = UUID()
    let target: CallTarget
    let call: any Call
    let options: JoinOptions
    let permissions: MediaPermissions
    /// The preview's camera, already running: the call goes on with it.
    let camera: Camera

    static func == (a: JoinedCall, b: JoinedCall) -> Bool { a.id == b.id }
    func hash(into hasher: inout Hasher) { hasher.combine(id) }
}

/// The pre-join screen, wired to its model; `onJoined` goes on to the call.
struct PreJoinRoute: View {
    @StateObject private var model: PreJoinModel
    @Environment(\.scenePhase) private var scenePhase
    private let target: CallTarget
    /// One camera for the screen's life (a view's own `let` would be made anew on each update).
    @State private var camera = Camera()
    @State private var joined = false
    private let onJoined: (JoinedCall) -> Void

    init(salon: any SalonService, target: CallTarget, defaultName: String, onJoined: @escaping (JoinedCall) -> Void) {
        _model = StateObject(wrappedValue: PreJoinModel(
            salon: salon, link: target.link, title: target.title, access: MediaAccess(), preferences: Preferences(),
            defaultName: defaultName))
        self.target = target
        self.onJoined = onJoined
    }

    var body: some View {
        PreJoinView(state: model.state, camera: camera) { model.send($0) }
            .onAppear {
                // Only what it needs, not the view: the model keeps this closure, and a copy of the
                // view would keep the model (and its camera) alive after the screen is gone.
                model.onJoined = { [weak model = self.model, joined = $joined, camera, target, onJoined] call, options in
                    joined.wrappedValue = true
                    guard let model else { return }
                    onJoined(JoinedCall(
                        target: target, call: call, options: options, permissions: model.state.permissions,
                        camera: camera))
                }
                model.send(.appeared)
            }
            // Back from Settings: the permissions may have changed.
            .onChange(of: scenePhase) { phase in
                if phase == .active { model.send(.appeared) }
            }
            .onChange(of: model.state.showsPreview) { camera.run($0, front: true) }
            .task { camera.run(model.state.showsPreview, front: true) }
            // Back to the rooms without joining: the camera stops. Joined: the call keeps it.
            .onDisappear { if !joined { camera.run(false, front: true) } }
    }
}

struct PreJoinView: View {
    let state: PreJoinState
    let camera: Camera
    let send: (PreJoinEvent) -> Void

    var body: some View {
        Form {
            Section {
                ZStack {
                    Color(red: 0.15, green: 0.2, blue: 0.22)
                    if state.showsPreview {
                        CameraPreview(session: camera.session)
                    } else {
                        Text(state.cameraOn ? "Your camera shows here once allowed" : "Camera off")
                            .foregroundStyle(.white.opacity(0.8))
                    }
                }
                .frame(height: 260)
                .clipShape(RoundedRectangle(cornerRadius: 12))
                .listRowInsets(EdgeInsets())
                Text(state.room.text).foregroundStyle(state.room == .gone ? .red : .secondary)
            }
            Section("Your name") {
                TextField("Name", text: Binding(get: { state.name }, set: { send(.nameChanged($0)) }))
                    .textContentType(.name)
            }
            Section {
                Toggle("Microphone", isOn: Binding(get: { state.microphoneOn }, set: { _ in send(.toggleMicrophone) }))
                Toggle("Camera", isOn: Binding(get: { state.cameraOn }, set: { _ in send(.toggleCamera) }))
                if let line = state.permissionLine {
                    Text(line.text).font(.footnote).foregroundStyle(.secondary)
                    if line.offersSettings {
                        Button("Open Settings") { MediaAccess.openSettings() }
                    }
                }
            }
            if let error = state.error {
                Section {
                    Text(error).foregroundStyle(.red)
                    Button("OK") { send(.dismissError) }
                }
            }
            Section {
                Button {
                    send(.join)
                } label: {
                    HStack {
                        Spacer()
                        if state.joining { ProgressView().padding(.trailing, 8) }
                        Text(state.joining ? "Joining…" : "Join")
                        Spacer()
                    }
                }
                .disabled(!state.canJoin)
            }
        }
        .navigationTitle(state.title)
        .navigationBarTitleDisplayMode(.inline)
    }
}

#Preview {
    NavigationStack {
        PreJoinView(
            state: PreJoinState(
                title: "Ada", room: .open(people: 2, full: false), name: "Bo", microphoneOn: true, cameraOn: false,
                permissions: MediaPermissions(microphone: .granted, camera: .denied)),
            camera: Camera(), send: { _ in })
    }
}
