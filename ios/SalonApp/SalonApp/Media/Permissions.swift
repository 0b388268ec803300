import Foundation

/// The camera or the microphone.
enum MediaDevice: Equatable, Hashable, CaseIterable {
    case microphone
    case camera
}

/// What the system says about one device, as on Android: never asked, allowed, refused by the
/// person (they can change it in Settings), or restricted (Screen Time or a device profile: they
/// cannot). `MediaAccess.swift` maps `AVAuthorizationStatus` to it.
enum MediaPermission: Equatable {
    case notAsked
    case granted
    case denied
    case restricted
}

/// Camera and microphone permissions before joining, as a small state machine. Ask in context:
/// only for a device the person turned on, only when it has never been asked, when they turn
/// it on or press Join. A refused device stays off and the call is joined without it; the line
/// under the switches says why and, when the person can change it, offers Settings.
/// Foundation only: tested on Linux.
struct MediaPermissions: Equatable {
    var microphone: MediaPermission
    var camera: MediaPermission

    subscript(device: MediaDevice) -> MediaPermission {
        get { device == .microphone ? microphone : camera }
        set {
            if device == .microphone { microphone = newValue } else { camera = newValue }
        }
    }

    /// The devices to ask about now, in order (microphone first: a call without sound is no
    /// call). `wanted` is what the switches say.
    func toAsk(wanted: Set<MediaDevice>) -> [MediaDevice] {
        MediaDevice.allCases.filter { wanted.contains($0) && self[$0] == .notAsked }
    }

    /// Whether a device may be switched on: allowed, or still to be asked (the switch asks).
    func maySwitchOn(_ device: MediaDevice) -> Bool {
        self[device] == .granted || self[device] == .notAsked
    }

    /// What to join with once every question was answered: what is wanted and allowed.
    func joinWith(wanted: Set<MediaDevice>) -> Set<MediaDevice> {
        wanted.filter { self[$0] == .granted }
    }

    /// The line the pre-join screen shows about refusals, or nil when there is nothing to say.
    var line: PermissionLine? {
        let refused = MediaDevice.allCases.filter { self[$0] == .denied || self[$0] == .restricted }
        guard !refused.isEmpty else { return nil }
        let what: String
        switch refused {
        case [.microphone]: what = "your microphone"
        case [.camera]: what = "your camera"
        default: what = "your microphone and camera"
        }
        // Only a person's own refusal can be undone in Settings.
        if refused.contains(where: { self[$0] == .denied }) {
            return PermissionLine(
                text: "Salon isn't allowed to use \(what), so you'll join without. You can allow it in Settings.",
                offersSettings: true)
        }
        return PermissionLine(
            text: "Salon can't use \(what) on this device (restricted by Screen Time or a profile), so you'll join without.",
            offersSettings: false)
    }
}

/// Why I will join without my camera or microphone, and whether "Open Settings" helps.
struct PermissionLine: Equatable {
    let text: String
    let offersSettings: Bool
}
