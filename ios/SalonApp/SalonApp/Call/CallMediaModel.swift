import Foundation
import SalonCore

/// My camera and microphone in a call, as the call screen shows them.
struct CallMediaState: Equatable {
    var microphoneOn: Bool
    var cameraOn: Bool
    var permissions: MediaPermissions
    var frontCamera = true
    /// More than one camera: the flip button shows.
    var canFlip = true
    /// Where audio plays ("Speaker", "Earpiece", "AirPods Pro").
    var route: [AudioOutput] = [.speaker]
    var earpieceChosen = false
    /// A phone call or another app took the audio: the microphone is paused.
    var interruption = MicInterruption()
    /// The app is in the background: the camera is suspended (iOS stops it) and comes back.
    var inBackground = false
    /// A one-off message: not allowed during panic, a permission, a host muted me.
    var notice: String?

    var routeLabel: String { AudioRoutes.label(current: route) }
    var canToggleSpeaker: Bool { AudioRoutes.canToggleSpeaker(current: route) }
    /// The line shown while another call has the microphone.
    var interruptionNotice: String? { interruption.notice }
    /// The capture session runs: camera on, allowed, and the app in front.
    var cameraRunning: Bool { cameraOn && permissions.camera == .granted && !inBackground }
}

enum CallMediaEvent: Equatable {
    case toggleMicrophone
    case toggleCamera
    case flipCamera
    case toggleSpeaker
    case interruptionBegan
    case interruptionEnded(shouldResume: Bool)
    case routeChanged([AudioOutput])
    case enteredBackground
    case enteredForeground
    case dismissNotice
}

/// What the call's media model drives on the device: the capture session and the audio
/// engine (`CallMedia.swift`); a recorder in tests.
@MainActor
protocol MediaDevices: AnyObject {
    /// Starts (or switches to `front`) or stops the camera.
    func runCamera(_ on: Bool, front: Bool)
    /// Mutes the voice-processing input (the microphone captures silence).
    func muteMicrophone(_ muted: Bool)
    /// Starts the audio engine again after an interruption.
    func restartAudio()
    func applySpeaker(_ override: AudioRoutes.Override)
}

/// What I last asked the core for one of my switches, and whether a room state has shown it
/// since. The room's states come on their own stream, behind my requests: a state made before
/// my last `setMicrophone(true)` can arrive after it and still say off. Only once a state has
/// shown what I asked does a state saying off mean someone else turned it off (a host, panic,
/// the server refusing my unmute). A slow reader of the states sees only the newest, so the
/// agreeing one may never come (asked on, refused at once): after `settle` seconds a request
/// counts as taken anyway; nothing stale is that late. Foundation only.
struct SwitchRequest: Equatable {
    static let settle: TimeInterval = 2

    /// What I last told the core.
    private(set) var asked: Bool
    /// A room state has shown `asked` since I told it.
    private(set) var confirmed = true
    private var askedAt: Date?

    /// `asked`: what the core has at the start (it was joined with it).
    init(asked: Bool) {
        self.asked = asked
    }

    /// I told the core `on` (and it took it) at `now`.
    mutating func ask(_ on: Bool, at now: Date) {
        asked = on
        confirmed = false
        askedAt = now
    }

    /// A room state shows the switch `on`, at `now`. True when that turns off what the core had
    /// taken on: someone else's doing. A state that disagrees before any has agreed (and within
    /// `settle`) is from before my request, and says nothing; nor does an "on" I did not ask
    /// for (nobody turns me on).
    mutating func follow(_ on: Bool, at now: Date) -> Bool {
        if on == asked {
            confirmed = true
            return false
        }
        let settled = confirmed || askedAt.map { now.timeIntervalSince($0) >= Self.settle } ?? true
        guard settled, !on else { return false }
        turnedOff()
        return true
    }

    /// The core turned it off itself (a host's mute: `CallEvent.muted`).
    mutating func turnedOff() {
        asked = false
        confirmed = true
    }
}

/// My camera and microphone during a call: the switches (told to the core, which refuses turning
/// them on during panic), flipping the camera, speaker or earpiece, interruptions (a phone call
/// pauses the microphone and says so; it comes back after), and the background (the camera is
/// suspended, and the room sees it off, until the app comes back). A host muting me turns the
/// switch off here too: the core's `CallEvent.muted`, or a room state that turns off what the
/// core had taken on (`SwitchRequest`), never a state that is merely out of date. Foundation
/// only: tested on Linux over `FakeCall`.
@MainActor
final class CallMediaModel: ObservableObject {
    @Published private(set) var state: CallMediaState
    private let call: any Call
    /// Weak: the device side owns this model.
    private weak var devices: (any MediaDevices)?
    /// What I last told the core, per switch (in the background the camera's differs from
    /// `state.cameraOn`, my choice).
    private var microphoneRequest: SwitchRequest
    private var cameraRequest: SwitchRequest
    private let now: () -> Date

    /// `now`: the clock (a test's own).
    init(
        call: any Call, devices: any MediaDevices, permissions: MediaPermissions, canFlip: Bool,
        now: @escaping () -> Date = Date.init
    ) {
        self.call = call
        self.devices = devices
        self.now = now
        let room = call.state
        microphoneRequest = SwitchRequest(asked: room.microphoneOn)
        cameraRequest = SwitchRequest(asked: room.cameraOn)
        state = CallMediaState(
            microphoneOn: room.microphoneOn && permissions.microphone == .granted,
            cameraOn: room.cameraOn && permissions.camera == .granted,
            permissions: permissions, canFlip: canFlip)
    }

    /// Starts the devices as the switches say (the call was joined with them).
    func start() {
        // A device refused since joining (or joined on by mistake) is off for the room too.
        let room = call.state
        if room.microphoneOn && !state.microphoneOn { try? tellMicrophone(false) }
        if room.cameraOn && !state.cameraOn { try? tellCamera(false) }
        devices?.muteMicrophone(!state.microphoneOn)
        devices?.applySpeaker(AudioRoutes.override(current: state.route, earpieceChosen: state.earpieceChosen))
        devices?.runCamera(state.cameraRunning, front: state.frontCamera)
    }

    /// Stops the camera (leaving the call).
    func stop() {
        devices?.runCamera(false, front: state.frontCamera)
    }

    func send(_ event: CallMediaEvent) {
        switch event {
        case .toggleMicrophone: setMicrophone(!state.microphoneOn, byPerson: true)
        case .toggleCamera: setCamera(!state.cameraOn)
        case .flipCamera:
            guard state.canFlip else { return }
            state.frontCamera.toggle()
            if state.cameraRunning { devices?.runCamera(true, front: state.frontCamera) }
        case .toggleSpeaker:
            guard state.canToggleSpeaker else { return }
            state.earpieceChosen.toggle()
            applyRoute()
        case .interruptionBegan:
            apply(state.interruption.began(microphoneOn: state.microphoneOn))
        case let .interruptionEnded(shouldResume):
            apply(state.interruption.ended(shouldResume: shouldResume))
        case let .routeChanged(outputs):
            state.route = outputs
            applyRoute()
        case .enteredBackground:
            guard !state.inBackground else { return }
            let wasRunning = state.cameraRunning
            state.inBackground = true
            if wasRunning {
                devices?.runCamera(false, front: state.frontCamera)
                // The room sees my camera off rather than a frozen picture.
                try? tellCamera(false)
            }
        case .enteredForeground:
            guard state.inBackground else { return }
            state.inBackground = false
            if state.cameraRunning {
                do {
                    try tellCamera(true)
                    devices?.runCamera(true, front: state.frontCamera)
                } catch {
                    // Panic began meanwhile: it stays off.
                    state.cameraOn = false
                    state.notice = Self.describe(error, .camera)
                }
            }
        case .dismissNotice: state.notice = nil
        }
    }

    /// A new room state: a switch it turns off after the core had taken it on (the server
    /// refused my unmute, a host's mute seen before its event) goes off here too. A state from
    /// before my last request, still on its way, changes nothing. (In the background I told the
    /// core the camera is off myself: a state saying so agrees, it is not a host's doing.)
    func follow(_ room: RoomState) {
        let time = now()
        if microphoneRequest.follow(room.microphoneOn, at: time) { microphoneTurnedOff() }
        if cameraRequest.follow(room.cameraOn, at: time) { cameraTurnedOff() }
    }

    /// What the call tells besides its state: a host muted me (or panic did). The core already
    /// turned the microphone off, and the camera when `cameraOn` is false.
    func follow(_ event: SalonCore.CallEvent) {
        guard case let .muted(_, microphoneOn, cameraOn) = event else { return }
        if !microphoneOn {
            microphoneRequest.turnedOff()
            microphoneTurnedOff()
        }
        if !cameraOn {
            cameraRequest.turnedOff()
            cameraTurnedOff()
        }
    }

    /// Someone else turned my microphone off: here too, and a phone call ending does not bring
    /// it back (the host wants it off).
    private func microphoneTurnedOff() {
        state.interruption.microphoneChangedByPerson()
        guard state.microphoneOn else { return }
        state.microphoneOn = false
        devices?.muteMicrophone(true)
    }

    /// Someone else turned my camera off: here too (in the background, it stays off after).
    private func cameraTurnedOff() {
        guard state.cameraOn else { return }
        let wasRunning = state.cameraRunning
        state.cameraOn = false
        if wasRunning { devices?.runCamera(false, front: state.frontCamera) }
    }

    private func tellMicrophone(_ on: Bool) throws {
        try call.setMicrophone(on)
        microphoneRequest.ask(on, at: now())
    }

    private func tellCamera(_ on: Bool) throws {
        try call.setCamera(on)
        cameraRequest.ask(on, at: now())
    }

    private func apply(_ actions: [MicInterruption.Action]) {
        for action in actions {
            switch action {
            case let .setMicrophone(on): setMicrophone(on, byPerson: false)
            case .restartAudio: devices?.restartAudio()
            }
        }
    }

    private func applyRoute() {
        devices?.applySpeaker(AudioRoutes.override(current: state.route, earpieceChosen: state.earpieceChosen))
    }

    private func setMicrophone(_ on: Bool, byPerson: Bool) {
        if on && state.permissions.microphone != .granted {
            state.notice = Self.refusal(.microphone, state.permissions.microphone)
            return
        }
        if byPerson && on && state.interruption.interrupted {
            state.notice = state.interruption.notice
            return
        }
        do {
            try tellMicrophone(on)
        } catch {
            state.notice = Self.describe(error, .microphone)
            return
        }
        if byPerson { state.interruption.microphoneChangedByPerson() }
        state.microphoneOn = on
        devices?.muteMicrophone(!on)
    }

    private func setCamera(_ on: Bool) {
        if on && state.permissions.camera != .granted {
            state.notice = Self.refusal(.camera, state.permissions.camera)
            return
        }
        do {
            try tellCamera(on)
        } catch {
            state.notice = Self.describe(error, .camera)
            return
        }
        state.cameraOn = on
        devices?.runCamera(state.cameraRunning, front: state.frontCamera)
    }

    private static func refusal(_ device: MediaDevice, _ permission: MediaPermission) -> String {
        let what = device == .microphone ? "microphone" : "camera"
        return permission == .restricted
            ? "Your \(what) is restricted on this device."
            : "Salon isn't allowed to use your \(what): allow it in Settings."
    }

    private static func describe(_ error: Error, _ device: MediaDevice) -> String {
        if case SalonError.notAllowed = error {
            return device == .microphone
                ? "A host has turned everyone's microphone off for now."
                : "A host has turned everyone's camera off for now."
        }
        return error.localizedDescription
    }
}

/// Whose video picture in picture shows: the loudest speaker when that is someone else with
/// their camera on, else the pinned person, else the first with their camera on. Foundation only.
enum PictureInPictureChoice {
    static func whom(room: RoomState, pinned: String?) -> String? {
        let withVideo = room.participants.filter(\.videoOn)
        if let loudest = room.dominantSpeaker, loudest != room.me, withVideo.contains(where: { $0.id == loudest }) {
            return loudest
        }
        if let pinned, withVideo.contains(where: { $0.id == pinned }) { return pinned }
        return withVideo.first?.id
    }
}
