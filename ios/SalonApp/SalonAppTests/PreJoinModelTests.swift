import SalonCore
import XCTest

@testable import SalonApp

/// The system's answers, as a test sets them; `request` answers `answer` and records the asking.
@MainActor
final class FakeMediaAccess: MediaAccessing {
    var permissions: [MediaDevice: MediaPermission] = [.microphone: .notAsked, .camera: .notAsked]
    var answers: [MediaDevice: Bool] = [.microphone: true, .camera: true]
    private(set) var asked: [MediaDevice] = []

    func permission(_ device: MediaDevice) -> MediaPermission { permissions[device] ?? .notAsked }

    func request(_ device: MediaDevice) async -> Bool {
        asked.append(device)
        let allowed = answers[device] ?? false
        permissions[device] = allowed ? .granted : .denied
        return allowed
    }
}

/// Lets the model's tasks run until `probe` holds (or 5 s pass).
@MainActor
func eventually(_ probe: () -> Bool, _ message: String = "", file: StaticString = #filePath, line: UInt = #line) async {
    for _ in 0..<250 where !probe() {
        try? await Task.sleep(nanoseconds: 20_000_000)
    }
    XCTAssertTrue(probe(), message, file: file, line: line)
}

/// The pre-join screen over the fake service: the room line, the remembered name, permissions
/// asked in context, joining without what was refused, and clear errors.
@MainActor
final class PreJoinModelTests: XCTestCase {
    private let salon = FakeSalonService()
    private let link = "https://salon.example.org/r/room"
    private let access = FakeMediaAccess()
    private var defaults: UserDefaults!

    override func setUp() async throws {
        defaults = UserDefaults(suiteName: "PreJoinModelTests-\(UUID().uuidString)")
        salon.setStatus(RoomStatus(id: "room", name: "Living room", participants: 2, maxParticipants: 8, full: false), for: link)
    }

    private func model(title: String = "Ada") -> (PreJoinModel, () -> (any Call, JoinOptions)?) {
        let model = PreJoinModel(
            salon: salon, link: link, title: title, access: access, preferences: Preferences(defaults: defaults),
            defaultName: "iPhone")
        var joined: (any Call, JoinOptions)?
        model.onJoined = { joined = ($0, $1) }
        return (model, { joined })
    }

    func testTheRoomIsShownAndJoiningAsksThenJoinsWithBoth() async throws {
        let (model, joined) = model()
        XCTAssertEqual(model.state.name, "iPhone")
        XCTAssertTrue(model.state.microphoneOn && model.state.cameraOn)
        XCTAssertFalse(model.state.showsPreview, "not asked yet: no preview")
        model.send(.appeared)
        await eventually { model.state.room == .open(people: 2, full: false) }
        XCTAssertEqual(access.asked, [], "nothing is asked before the person acts")

        model.send(.nameChanged("  Bo "))
        model.send(.join)
        XCTAssertTrue(model.state.joining)
        await eventually { joined() != nil }
        XCTAssertEqual(access.asked, [.microphone, .camera])
        let options = try XCTUnwrap(joined()?.1)
        XCTAssertEqual(options.name, "Bo")
        XCTAssertTrue(options.microphoneOn && options.cameraOn)
        // The video options are the camera's: 720×1280 portrait, 30 fps, a bitrate for that size.
        XCTAssertEqual([options.videoWidth, options.videoHeight], [CaptureFormat.width, CaptureFormat.height])
        XCTAssertEqual([options.videoWidth, options.videoHeight], [720, 1280])
        XCTAssertEqual(options.videoMaxFps, 30)
        XCTAssertEqual(options.videoBitrateBps, 1_500_000)
        XCTAssertEqual((joined()?.0 as? FakeCall)?.options, options, "what the call was joined with")
        XCTAssertFalse(model.state.joining)
        XCTAssertTrue(model.state.showsPreview)

        // The name is remembered for next time.
        XCTAssertEqual(self.model().0.state.name, "Bo")
    }

    func testARefusedCameraJoinsWithoutItAndSaysWhy() async throws {
        access.answers[.camera] = false
        let (model, joined) = model()
        model.send(.join)
        await eventually { joined() != nil }
        let options = try XCTUnwrap(joined()?.1)
        XCTAssertTrue(options.microphoneOn)
        XCTAssertFalse(options.cameraOn)
        XCTAssertFalse(model.state.cameraOn)
        XCTAssertEqual(model.state.permissionLine?.offersSettings, true)

        // Turning it on again does not ask again: the line offers Settings instead.
        model.send(.toggleCamera)
        XCTAssertFalse(model.state.cameraOn)
        XCTAssertEqual(access.asked, [.microphone, .camera])

        // Allowed in Settings, then back in the app: it can be switched on.
        access.permissions[.camera] = .granted
        model.send(.appeared)
        model.send(.toggleCamera)
        XCTAssertTrue(model.state.cameraOn)
        XCTAssertNil(model.state.permissionLine)
    }

    func testTurningASwitchOnAsksAtOnceAndTurningItOffAsksNothing() async {
        let (model, _) = model()
        model.send(.toggleMicrophone)
        XCTAssertFalse(model.state.microphoneOn)
        model.send(.toggleMicrophone)
        await eventually { model.state.permissions.microphone == .granted }
        XCTAssertTrue(model.state.microphoneOn)
        XCTAssertEqual(access.asked, [.microphone])
    }

    func testRestrictedDevicesStartOffWithoutSettings() async {
        access.permissions = [.microphone: .restricted, .camera: .granted]
        let (model, _) = model()
        XCTAssertFalse(model.state.microphoneOn)
        XCTAssertTrue(model.state.cameraOn)
        XCTAssertEqual(model.state.permissionLine?.offersSettings, false)
    }

    func testAGoneRoomCannotBeJoinedAndJoinErrorsAreClear() async {
        salon.setStatus(nil, for: link)
        let (model, joined) = model()
        model.send(.appeared)
        await eventually { model.state.room == .gone }
        XCTAssertFalse(model.state.canJoin)

        salon.setStatus(RoomStatus(id: "room", name: nil, participants: 0, maxParticipants: 8, full: false), for: link)
        model.send(.appeared)
        await eventually { model.state.room == .empty }
        access.permissions = [.microphone: .granted, .camera: .granted]
        salon.failNext(with: .removed)
        model.send(.join)
        await eventually { model.state.error != nil }
        XCTAssertNil(joined())
        XCTAssertFalse(model.state.joining)
        XCTAssertEqual(model.state.error, PreJoinModel.describe(SalonError.removed))
        XCTAssertTrue(model.state.error?.contains("removed you") == true)
        model.send(.dismissError)
        XCTAssertNil(model.state.error)
    }

    func testAnEmptyNameCannotJoin() async {
        let (model, _) = model()
        model.send(.nameChanged("   "))
        XCTAssertFalse(model.state.canJoin)
    }
}
