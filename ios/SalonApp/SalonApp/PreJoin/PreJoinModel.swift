import Foundation
import SalonCore

/// Everything the pre-join screen shows: the room, my name, my switches, why a device is
/// refused, and the Join button's state.
struct PreJoinState: Equatable {
    var title: String
    var room: RoomLine = .checking
    var name: String
    var microphoneOn: Bool
    var cameraOn: Bool
    var permissions: MediaPermissions
    var joining = false
    var error: String?

    var permissionLine: PermissionLine? { permissions.line }
    var canJoin: Bool {
        !joining && !name.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty && room != .gone
    }
    /// The camera preview runs only when the camera is on and allowed.
    var showsPreview: Bool { cameraOn && permissions.camera == .granted }
}

/// What the screen says about the room before joining.
enum RoomLine: Equatable {
    case checking
    /// People are inside (`full`: no room for me).
    case open(people: Int, full: Bool)
    case empty
    case gone
    /// The server could not be asked; joining may still work.
    case unknown

    var text: String {
        switch self {
        case .checking: return "Checking the room…"
        case let .open(people, full):
            if full { return "The room is full" }
            return people == 1 ? "1 person is inside" : "\(people) people are inside"
        case .empty: return "Nobody is inside yet"
        case .gone: return "This room no longer exists"
        case .unknown: return "Can't reach the room's server right now"
        }
    }
}

enum PreJoinEvent {
    /// The screen appeared, or the app came back (maybe from Settings): look again.
    case appeared
    case nameChanged(String)
    case toggleMicrophone
    case toggleCamera
    case join
    case dismissError
}

/// The system's camera and microphone permissions (`MediaAccess.swift` over AVFoundation; a fake
/// in tests).
@MainActor
protocol MediaAccessing: AnyObject {
    func permission(_ device: MediaDevice) -> MediaPermission
    /// Shows the system prompt; true when allowed.
    func request(_ device: MediaDevice) async -> Bool
}

/// What the app remembers between calls: my name and my switches.
final class Preferences {
    private let defaults: UserDefaults

    init(defaults: UserDefaults = .standard) {
        self.defaults = defaults
    }

    var myName: String? {
        get { defaults.string(forKey: "myName") }
        set { defaults.set(newValue, forKey: "myName") }
    }

    var microphoneOn: Bool {
        get { defaults.object(forKey: "microphoneOn") as? Bool ?? true }
        set { defaults.set(newValue, forKey: "microphoneOn") }
    }

    var cameraOn: Bool {
        get { defaults.object(forKey: "cameraOn") as? Bool ?? true }
        set { defaults.set(newValue, forKey: "cameraOn") }
    }
}

/// Before a call: shows the room, my name (remembered), the camera and microphone switches,
/// and joins. Permissions are asked in context (a switch turned on, or Join with it on); a
/// refused device is switched off and the call joined without it. Join shows its progress and
/// a clear error, and on success hands the call to `onJoined`.
@MainActor
final class PreJoinModel: ObservableObject {
    @Published private(set) var state: PreJoinState
    private let salon: any SalonService
    private let link: String
    private let access: any MediaAccessing
    private let preferences: Preferences
    /// The call joined and the options it was joined with (navigation goes to the call screen).
    var onJoined: (any Call, JoinOptions) -> Void = { _, _ in }

    init(
        salon: any SalonService, link: String, title: String, access: any MediaAccessing,
        preferences: Preferences, defaultName: String
    ) {
        self.salon = salon
        self.link = link
        self.access = access
        self.preferences = preferences
        let permissions = MediaPermissions(
            microphone: access.permission(.microphone), camera: access.permission(.camera))
        state = PreJoinState(
            title: title,
            name: preferences.myName ?? defaultName,
            // A refused device starts off; one never asked keeps what I chose last time.
            microphoneOn: preferences.microphoneOn && permissions.maySwitchOn(.microphone),
            cameraOn: preferences.cameraOn && permissions.maySwitchOn(.camera),
            permissions: permissions)
    }

    func send(_ event: PreJoinEvent) {
        switch event {
        case .appeared:
            refreshPermissions()
            checkRoom()
        case let .nameChanged(name): state.name = name
        case .toggleMicrophone: toggle(.microphone)
        case .toggleCamera: toggle(.camera)
        case .join: join()
        case .dismissError: state.error = nil
        }
    }

    private var wanted: Set<MediaDevice> {
        var wanted: Set<MediaDevice> = []
        if state.microphoneOn { wanted.insert(.microphone) }
        if state.cameraOn { wanted.insert(.camera) }
        return wanted
    }

    private func set(_ device: MediaDevice, on: Bool) {
        if device == .microphone { state.microphoneOn = on } else { state.cameraOn = on }
    }

    /// Back from Settings, a permission may have changed: a newly refused device goes off.
    private func refreshPermissions() {
        for device in MediaDevice.allCases {
            state.permissions[device] = access.permission(device)
            if !state.permissions.maySwitchOn(device) { set(device, on: false) }
        }
    }

    private func toggle(_ device: MediaDevice) {
        let on = device == .microphone ? state.microphoneOn : state.cameraOn
        if on {
            set(device, on: false)
            return
        }
        switch state.permissions[device] {
        case .granted: set(device, on: true)
        case .denied, .restricted: break  // the permission line says why and offers Settings
        case .notAsked:
            Task {
                let allowed = await access.request(device)
                state.permissions[device] = allowed ? .granted : access.permission(device).refusedIfNotAsked
                set(device, on: allowed)
            }
        }
    }

    private func checkRoom() {
        Task { [salon, link] in
            do {
                let status = try await salon.roomStatus(link: link)
                if state.title.isEmpty, let name = status.name { state.title = name }
                state.room = status.isOpen ? .open(people: status.participants, full: status.full) : .empty
            } catch SalonError.roomNotFound {
                state.room = .gone
            } catch {
                state.room = .unknown
            }
        }
    }

    private func join() {
        guard state.canJoin else { return }
        state.joining = true
        state.error = nil
        Task { [salon, link] in
            // Ask about each device that is on and was never asked, one prompt at a time.
            for device in state.permissions.toAsk(wanted: wanted) {
                let allowed = await access.request(device)
                state.permissions[device] = allowed ? .granted : access.permission(device).refusedIfNotAsked
            }
            let media = state.permissions.joinWith(wanted: wanted)
            state.microphoneOn = media.contains(.microphone)
            state.cameraOn = media.contains(.camera)
            let name = state.name.trimmingCharacters(in: .whitespacesAndNewlines)
            preferences.myName = name
            // Remember the switches as chosen, not as refused: allowing later brings them back.
            if state.permissions.microphone == .granted { preferences.microphoneOn = state.microphoneOn }
            if state.permissions.camera == .granted { preferences.cameraOn = state.cameraOn }
            // The video options match what the camera sends (720×1280 portrait).
            let options = JoinOptions.camera(name: name, microphoneOn: state.microphoneOn, cameraOn: state.cameraOn)
            do {
                let call = try await salon.join(link: link, options: options)
                state.joining = false
                onJoined(call, options)
            } catch {
                state.joining = false
                state.error = Self.describe(error)
                if case SalonError.roomNotFound = error { state.room = .gone }
            }
        }
    }

    /// What went wrong joining, for people.
    nonisolated static func describe(_ error: Error) -> String {
        guard let error = error as? SalonError else { return error.localizedDescription }
        switch error {
        case .roomNotFound: return "This room doesn't exist any more. Ask for a new link."
        case .roomFull: return "The room is full. Try again in a while."
        case .removed: return "A host removed you from this room, so you can't join it again."
        case .knockDenied: return "The host didn't let you in."
        case .roomEnded: return "The host ended the call."
        case .invalidLink: return "This isn't a Salon room link."
        case .incompatible: return "This room's server needs a newer Salon: update the app."
        case .network: return "Can't reach the room's server. Check your connection and try again."
        // Written for people by the core ("This link is missing its key (the part after #)…"): as it is.
        case let .e2ee(reason): return reason
        default: return error.localizedDescription
        }
    }
}

extension MediaPermission {
    /// After a "no" from the prompt the system says `.denied`; should it still say `.notAsked`
    /// (a dismissed prompt), count it as refused so the person is not asked in a loop.
    var refusedIfNotAsked: MediaPermission { self == .notAsked ? .denied : self }
}
