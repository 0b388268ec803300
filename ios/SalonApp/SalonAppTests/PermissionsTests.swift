import XCTest

@testable import SalonApp

/// Not asked, granted, denied, restricted: what to ask, what to join with, what to say.
final class PermissionsTests: XCTestCase {
    func testOnlyDevicesTurnedOnAndNeverAskedAreAskedMicrophoneFirst() {
        let fresh = MediaPermissions(microphone: .notAsked, camera: .notAsked)
        XCTAssertEqual(fresh.toAsk(wanted: [.camera, .microphone]), [.microphone, .camera])
        XCTAssertEqual(fresh.toAsk(wanted: [.camera]), [.camera])
        XCTAssertEqual(fresh.toAsk(wanted: []), [])
        let answered = MediaPermissions(microphone: .granted, camera: .denied)
        XCTAssertEqual(answered.toAsk(wanted: [.camera, .microphone]), [])
    }

    func testTheCallIsJoinedWithWhatIsWantedAndAllowed() {
        let p = MediaPermissions(microphone: .granted, camera: .denied)
        XCTAssertEqual(p.joinWith(wanted: [.microphone, .camera]), [.microphone])
        XCTAssertEqual(p.joinWith(wanted: [.camera]), [])
        XCTAssertEqual(MediaPermissions(microphone: .restricted, camera: .granted).joinWith(wanted: [.microphone, .camera]), [.camera])
        XCTAssertTrue(p.maySwitchOn(.microphone))
        XCTAssertFalse(p.maySwitchOn(.camera))
        XCTAssertTrue(MediaPermissions(microphone: .notAsked, camera: .notAsked).maySwitchOn(.camera))
    }

    func testARefusalIsExplainedAndSettingsOfferedOnlyWhenItHelps() {
        XCTAssertNil(MediaPermissions(microphone: .granted, camera: .notAsked).line)
        let camera = MediaPermissions(microphone: .granted, camera: .denied).line
        XCTAssertEqual(camera?.offersSettings, true)
        XCTAssertTrue(camera?.text.contains("your camera") == true)
        let both = MediaPermissions(microphone: .denied, camera: .restricted).line
        XCTAssertEqual(both?.offersSettings, true, "the microphone can be allowed in Settings")
        XCTAssertTrue(both?.text.contains("your microphone and camera") == true)
        let restricted = MediaPermissions(microphone: .restricted, camera: .granted).line
        XCTAssertEqual(restricted?.offersSettings, false)
        XCTAssertTrue(restricted?.text.contains("restricted") == true)
    }
}
