import AVFoundation
import Combine
import SalonCore
import UIKit

/// A call's camera, microphone, speaker and picture in picture on the device: runs what
/// `CallMediaModel` decides (the decisions are there, tested on Linux) and feeds it the system's
/// news: interruptions, route changes, the app going to the background. The call screen owns one
/// per call, next to `CallModel`.
@MainActor
final class CallMedia: ObservableObject, MediaDevices {
    @Published private(set) var state: CallMediaState
    let camera: Camera
    let pictureInPicture = PictureInPicture()
    private let call: any Call
    private var model: CallMediaModel!
    private var audio: CallAudio?
    private var tasks: [Task<Void, Never>] = []
    private var observers: [NSObjectProtocol] = []
    private var forwarding: AnyCancellable?
    /// Whom picture in picture shows (read by the video task).
    private var pipTarget: String?
    private var started = false

    /// `camera`: the pre-join screen's, already running for its preview, or a new one.
    init(call: any Call, permissions: MediaPermissions, camera: Camera = Camera()) {
        self.call = call
        self.camera = camera
        state = CallMediaState(microphoneOn: false, cameraOn: false, permissions: permissions)
        model = CallMediaModel(call: call, devices: self, permissions: permissions, canFlip: Camera.canFlip)
        forwarding = model.$state.sink { [weak self] in self?.state = $0 }
    }

    func send(_ event: CallMediaEvent) { model.send(event) }

    /// What goes behind me: the core composites it (`Call.setBackground`); the camera adds
    /// Vision's person mask to every picture while it is not `.off`. Throws `.invalidInput` for
    /// a picture the core refuses (nothing changes then).
    func setBackground(_ background: Background) throws {
        try call.setBackground(background)
        camera.segmentPerson(background != .off)
    }

    /// Pinned on the call screen: picture in picture prefers them.
    var pinned: String?

    func start() {
        guard !started else { return }
        started = true
        let call = call
        camera.setSink { [weak call] frame, mask in
            // Nobody shows my video: the core would drop it, so skip sending.
            guard let call, call.state.videoWatched else { return }
            if let mask {
                try? call.sendVideoFrame(frame, mask: mask)
            } else {
                try? call.sendVideoFrame(frame)
            }
        }
        let audio = CallAudio(captures: state.permissions.microphone == .granted) { [weak call] chunk in
            try? call?.sendAudioFrame(chunk)
        }
        // Kept even when it cannot start now: the end of the interruption starts it (`restartAudio`).
        self.audio = audio
        do {
            try CallAudio.activateSession()
            try audio.start()
        } catch {
            // No sound (another app holds the session): the call goes on, and says so.
            model.send(.interruptionBegan)
        }
        model.send(.routeChanged(CallAudio.currentOutputs()))
        model.start()
        observe()

        tasks.append(Task.detached {
            for await remote in call.audioFrames() { audio.play(remote) }
        })
        tasks.append(Task { [weak self] in
            var present: Set<String> = []
            for await room in call.states() {
                guard let self else { return }
                self.model.follow(room)
                self.pipTarget = PictureInPictureChoice.whom(room: room, pinned: self.pinned)
                let ids = Set(room.participants.map(\.id))
                for gone in present.subtracting(ids) { self.audio?.forget(participantId: gone) }
                present = ids
            }
        })
        tasks.append(Task { [weak self] in
            // A host muted me: the switches go off (the call screen's `CallModel` shows the notice).
            for await event in call.events() {
                guard let self else { return }
                self.model.follow(event)
            }
        })
        let pip = pictureInPicture
        tasks.append(Task.detached { [weak self] in
            for await remote in call.videoFrames() {
                guard let target = await self?.pipTarget else { continue }
                if remote.participantId == target { pip.show(remote.frame) }
            }
        })
    }

    /// Leaving: everything stops and the audio session goes back to other apps.
    func stop() {
        guard started else { return }
        started = false
        tasks.forEach { $0.cancel() }
        tasks.removeAll()
        observers.forEach(NotificationCenter.default.removeObserver)
        observers.removeAll()
        camera.setSink(nil)
        model.stop()
        audio?.stop()
        audio = nil
        pictureInPicture.stop()
        CallAudio.deactivateSession()
    }

    private func observe() {
        let center = NotificationCenter.default
        func on(_ name: Notification.Name, _ handle: @escaping @MainActor (Notification) -> Void) {
            observers.append(center.addObserver(forName: name, object: nil, queue: .main) { note in
                MainActor.assumeIsolated { handle(note) }
            })
        }
        on(AVAudioSession.interruptionNotification) { [weak self] note in
            guard let raw = note.userInfo?[AVAudioSessionInterruptionTypeKey] as? UInt,
                  let type = AVAudioSession.InterruptionType(rawValue: raw)
            else { return }
            switch type {
            case .began:
                self?.model.send(.interruptionBegan)
            case .ended:
                let options = (note.userInfo?[AVAudioSessionInterruptionOptionKey] as? UInt)
                    .map(AVAudioSession.InterruptionOptions.init(rawValue:)) ?? []
                self?.model.send(.interruptionEnded(shouldResume: options.contains(.shouldResume)))
            @unknown default:
                break
            }
        }
        on(AVAudioSession.routeChangeNotification) { [weak self] _ in
            self?.model.send(.routeChanged(CallAudio.currentOutputs()))
        }
        // A new route can change the hardware format: the engine stops and must start again.
        on(.AVAudioEngineConfigurationChange) { [weak self] _ in self?.audio?.restart() }
        // Every audio object died with the media services: the session and the engine are made anew.
        on(AVAudioSession.mediaServicesWereResetNotification) { [weak self] _ in
            try? CallAudio.activateSession()
            self?.audio?.rebuild()
            self?.model.send(.routeChanged(CallAudio.currentOutputs()))
        }
        on(UIApplication.didEnterBackgroundNotification) { [weak self] _ in self?.model.send(.enteredBackground) }
        on(UIApplication.willEnterForegroundNotification) { [weak self] _ in self?.model.send(.enteredForeground) }
    }

    // MARK: MediaDevices

    func runCamera(_ on: Bool, front: Bool) { camera.run(on, front: front) }
    func muteMicrophone(_ muted: Bool) { audio?.setMicrophoneMuted(muted) }
    func restartAudio() {
        audio?.restart()
        // The speaker override may not have outlived the interruption.
        applySpeaker(AudioRoutes.override(current: CallAudio.currentOutputs(), earpieceChosen: model.state.earpieceChosen))
    }
    func applySpeaker(_ override: AudioRoutes.Override) { CallAudio.apply(override) }
}
