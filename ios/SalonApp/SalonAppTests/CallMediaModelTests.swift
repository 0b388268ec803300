import SalonCore
import XCTest

@testable import SalonApp

/// Records what the media model asks of the device.
@MainActor
final class RecordingDevices: MediaDevices {
    private(set) var log: [String] = []
    func runCamera(_ on: Bool, front: Bool) { log.append(on ? "camera \(front ? "front" : "back")" : "camera off") }
    func muteMicrophone(_ muted: Bool) { log.append(muted ? "mic muted" : "mic live") }
    func restartAudio() { log.append("restart audio") }
    func applySpeaker(_ override: AudioRoutes.Override) { log.append(override == .speaker ? "speaker" : "route as is") }
    func clear() { log.removeAll() }
}

/// My camera and microphone in a call over `FakeCall`: switches, panic, host mutes, a phone
/// call, the speaker, the background, and whom picture in picture shows.
@MainActor
final class CallMediaModelTests: XCTestCase {
    private let salon = FakeSalonService()
    private let link = "https://salon.example.org/r/room"
    private let devices = RecordingDevices()
    private let allowed = MediaPermissions(microphone: .granted, camera: .granted)
    /// The model's clock.
    private var time = Date(timeIntervalSince1970: 1_000)

    private func room(microphoneOn: Bool = true, cameraOn: Bool = true, panic: Bool = false) -> RoomState {
        RoomState(
            roomId: "room", roomName: nil, me: "me", participants: [], connection: .connected,
            panic: panic, microphoneOn: microphoneOn, cameraOn: cameraOn)
    }

    private func joined(_ permissions: MediaPermissions? = nil) async throws -> (CallMediaModel, FakeCall) {
        salon.setStatus(RoomStatus(id: "room", name: nil, participants: 0, maxParticipants: 8, full: false), for: link)
        let call = try await salon.join(link: link, options: JoinOptions(name: "Me")) as! FakeCall
        let model = CallMediaModel(
            call: call, devices: devices, permissions: permissions ?? allowed, canFlip: true,
            now: { [unowned self] in self.time })
        model.start()
        return (model, call)
    }

    func testStartingRunsWhatTheSwitchesSayAndTheSwitchesReachTheCore() async throws {
        let (model, call) = try await joined()
        XCTAssertEqual(devices.log, ["mic live", "speaker", "camera front"])
        devices.clear()

        model.send(.toggleMicrophone)
        XCTAssertFalse(model.state.microphoneOn)
        XCTAssertFalse(call.microphoneOn)
        model.send(.toggleCamera)
        XCTAssertFalse(call.cameraOn)
        model.send(.toggleCamera)
        model.send(.flipCamera)
        XCTAssertEqual(devices.log, ["mic muted", "camera off", "camera front", "camera back"])
        XCTAssertTrue(call.cameraOn)
    }

    func testARefusedPermissionKeepsTheSwitchOffAndSaysSo() async throws {
        let (model, call) = try await joined(MediaPermissions(microphone: .granted, camera: .denied))
        XCTAssertFalse(model.state.cameraOn)
        XCTAssertEqual(devices.log.last, "camera off")
        model.send(.toggleCamera)
        XCTAssertFalse(model.state.cameraOn)
        XCTAssertFalse(call.cameraOn)
        XCTAssertTrue(model.state.notice?.contains("Settings") == true)
    }

    func testPanicRefusesAndAHostsMuteTurnsTheSwitchesOff() async throws {
        let (model, call) = try await joined()
        call.emit(room(microphoneOn: false, cameraOn: false, panic: true))
        model.follow(call.state)
        XCTAssertFalse(model.state.microphoneOn)
        XCTAssertFalse(model.state.cameraOn)
        devices.clear()

        model.send(.toggleMicrophone)
        XCTAssertFalse(model.state.microphoneOn)
        XCTAssertEqual(model.state.notice, "A host has turned everyone's microphone off for now.")
        XCTAssertEqual(devices.log, [])
        model.send(.dismissNotice)
        XCTAssertNil(model.state.notice)
    }

    func testARoomStateFromBeforeMyUnmuteDoesNotTurnTheMicrophoneBackOff() async throws {
        let (model, call) = try await joined()
        devices.clear()
        // I turn the microphone off: the core's state says so, but that state is still on its
        // way to the model when I turn it on again.
        model.send(.toggleMicrophone)
        let stale = room(microphoneOn: false)
        model.send(.toggleMicrophone)
        XCTAssertTrue(call.microphoneOn)

        // It arrives now: out of date, not a host's mute.
        call.emit(stale)
        model.follow(stale)
        XCTAssertTrue(model.state.microphoneOn)
        XCTAssertTrue(call.microphoneOn)
        XCTAssertEqual(devices.log, ["mic muted", "mic live"])

        // The core's state catches up; from then on a state turning it off is someone else's
        // doing (the server refused my unmute): the switch follows.
        model.follow(room(microphoneOn: true))
        XCTAssertTrue(model.state.microphoneOn)
        model.follow(room(microphoneOn: false))
        XCTAssertFalse(model.state.microphoneOn)
        XCTAssertEqual(devices.log, ["mic muted", "mic live", "mic muted"])
    }

    func testARoomStateFromBeforeMyCameraCameOnDoesNotTurnItOff() async throws {
        let (model, call) = try await joined()
        model.send(.toggleCamera)
        model.follow(room(cameraOn: false))
        devices.clear()
        model.send(.toggleCamera)
        // A state from between the two (a speaker change, say) still says off.
        model.follow(room(cameraOn: false))
        XCTAssertTrue(model.state.cameraOn)
        XCTAssertTrue(call.cameraOn)
        XCTAssertEqual(devices.log, ["camera front"])

        // No agreeing state came (only the newest reaches a slow reader), but the request is
        // long taken: a state saying off now is not out of date.
        time += SwitchRequest.settle
        model.follow(room(cameraOn: false))
        XCTAssertFalse(model.state.cameraOn)
        XCTAssertEqual(devices.log, ["camera front", "camera off"])
    }

    func testAHostsMuteEventTurnsTheMicrophoneOffWhateverTheStatesSay() async throws {
        let (model, call) = try await joined()
        model.send(.toggleMicrophone)
        model.send(.toggleMicrophone)
        devices.clear()
        // The host's mute overtakes the states of my own switching: the event is the truth.
        model.follow(room(microphoneOn: true))
        model.follow(SalonCore.CallEvent.muted(by: "Ada", microphoneOn: false, cameraOn: true))
        XCTAssertFalse(model.state.microphoneOn)
        XCTAssertTrue(model.state.cameraOn, "only the microphone")
        XCTAssertEqual(devices.log, ["mic muted"])
        // A state from before the mute, still saying on, does not turn it back on.
        model.follow(room(microphoneOn: true))
        XCTAssertFalse(model.state.microphoneOn)
        // Asking to mute is not muting.
        model.send(.toggleMicrophone)
        model.follow(SalonCore.CallEvent.muteRequested(by: "Ada"))
        XCTAssertTrue(model.state.microphoneOn)
        XCTAssertTrue(call.microphoneOn)

        // Muted during a phone call: the end of the call does not bring the microphone back.
        model.send(.interruptionBegan)
        model.follow(SalonCore.CallEvent.muted(by: "Ada", microphoneOn: false, cameraOn: false))
        XCTAssertFalse(model.state.cameraOn)
        model.send(.interruptionEnded(shouldResume: true))
        XCTAssertFalse(model.state.microphoneOn)
        XCTAssertFalse(call.microphoneOn)
    }

    func testAPhoneCallPausesTheMicrophoneAndGivesItBack() async throws {
        let (model, call) = try await joined()
        devices.clear()
        model.send(.interruptionBegan)
        XCTAssertFalse(call.microphoneOn, "the room sees me muted")
        XCTAssertNotNil(model.state.interruptionNotice)
        // Turning it on meanwhile is not possible: the line says why.
        model.send(.toggleMicrophone)
        XCTAssertFalse(model.state.microphoneOn)
        XCTAssertEqual(model.state.notice, model.state.interruptionNotice)

        model.send(.interruptionEnded(shouldResume: true))
        XCTAssertTrue(call.microphoneOn)
        XCTAssertTrue(model.state.microphoneOn)
        XCTAssertNil(model.state.interruptionNotice)
        XCTAssertEqual(devices.log, ["mic muted", "restart audio", "mic live"])
    }

    func testTheSpeakerButtonAndHeadsets() async throws {
        let (model, _) = try await joined()
        devices.clear()
        model.send(.toggleSpeaker)
        XCTAssertEqual(devices.log, ["route as is"])
        model.send(.routeChanged([.receiver]))
        XCTAssertEqual(model.state.routeLabel, "Earpiece")
        model.send(.routeChanged([.bluetooth(name: "AirPods")]))
        XCTAssertFalse(model.state.canToggleSpeaker)
        model.send(.toggleSpeaker)
        XCTAssertEqual(devices.log, ["route as is", "route as is", "route as is"])
        XCTAssertEqual(model.state.routeLabel, "AirPods")
    }

    func testTheCameraIsSuspendedInTheBackgroundAndComesBack() async throws {
        let (model, call) = try await joined()
        devices.clear()
        model.send(.enteredBackground)
        XCTAssertFalse(call.cameraOn)
        XCTAssertTrue(model.state.cameraOn, "still my choice")
        // The core's state now says camera off: that was me, not a host.
        call.emit(room(cameraOn: false))
        model.follow(call.state)
        XCTAssertTrue(model.state.cameraOn)
        model.send(.enteredForeground)
        XCTAssertTrue(call.cameraOn)
        XCTAssertEqual(devices.log, ["camera off", "camera front"])
    }

    func testPictureInPictureShowsTheLoudestOtherPersonWithVideo() async {
        func person(_ id: String, video: Bool = true) -> Participant {
            Participant(id: id, name: id, audioOn: true, videoOn: video, receivingAudio: true, receivingVideo: true, speaking: false)
        }
        var room = RoomState(
            roomId: "r", roomName: nil, me: "me", participants: [person("a"), person("b", video: false), person("c")],
            connection: .connected, speakers: ["b", "c"])
        XCTAssertEqual(PictureInPictureChoice.whom(room: room, pinned: nil), "a", "the loudest has no video")
        XCTAssertEqual(PictureInPictureChoice.whom(room: room, pinned: "c"), "c")
        room.speakers = ["c"]
        XCTAssertEqual(PictureInPictureChoice.whom(room: room, pinned: "a"), "c")
        room.speakers = ["me"]
        XCTAssertEqual(PictureInPictureChoice.whom(room: room, pinned: nil), "a")
        room.participants = [person("b", video: false)]
        XCTAssertNil(PictureInPictureChoice.whom(room: room, pinned: nil))
    }
}
