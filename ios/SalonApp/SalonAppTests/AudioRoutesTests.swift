import XCTest

@testable import SalonApp

/// Speaker or earpiece, and the microphone across a phone call.
final class AudioRoutesTests: XCTestCase {
    func testTheSpeakerUnlessTheEarpieceWasChosenOrSomethingIsPluggedIn() {
        XCTAssertEqual(AudioRoutes.override(current: [.receiver], earpieceChosen: false), .speaker)
        XCTAssertEqual(AudioRoutes.override(current: [.speaker], earpieceChosen: false), .speaker)
        XCTAssertEqual(AudioRoutes.override(current: [.speaker], earpieceChosen: true), .none)
        XCTAssertEqual(AudioRoutes.override(current: [.bluetooth(name: "AirPods")], earpieceChosen: false), .none)
        XCTAssertEqual(AudioRoutes.override(current: [.headphones], earpieceChosen: false), .none)
        XCTAssertEqual(AudioRoutes.override(current: [.carAudio], earpieceChosen: true), .none)
        XCTAssertTrue(AudioRoutes.canToggleSpeaker(current: [.receiver]))
        XCTAssertFalse(AudioRoutes.canToggleSpeaker(current: [.bluetooth(name: "AirPods")]))
    }

    func testTheRouteIsNamed() {
        XCTAssertEqual(AudioRoutes.label(current: [.speaker]), "Speaker")
        XCTAssertEqual(AudioRoutes.label(current: [.receiver]), "Earpiece")
        XCTAssertEqual(AudioRoutes.label(current: [.bluetooth(name: "Ada's AirPods")]), "Ada's AirPods")
        XCTAssertEqual(AudioRoutes.label(current: [.headphones]), "Headphones")
        XCTAssertEqual(AudioRoutes.label(current: [.external(name: "")]), "External audio")
        XCTAssertEqual(AudioRoutes.label(current: []), "Speaker")
    }

    func testAPhoneCallPausesTheMicrophoneAndItComesBackAfter() {
        var mic = MicInterruption()
        XCTAssertEqual(mic.began(microphoneOn: true), [.setMicrophone(false)])
        XCTAssertTrue(mic.interrupted)
        XCTAssertNotNil(mic.notice)
        XCTAssertEqual(mic.began(microphoneOn: false), [], "a second 'began' changes nothing")
        XCTAssertEqual(mic.ended(shouldResume: true), [.restartAudio, .setMicrophone(true)])
        XCTAssertFalse(mic.interrupted)
        XCTAssertNil(mic.notice)
        XCTAssertEqual(mic.ended(shouldResume: true), [], "nothing to end")
    }

    func testTheMicrophoneStaysOffWhenItWasOffOrTheSystemSaysNotToResume() {
        var mic = MicInterruption()
        _ = mic.began(microphoneOn: false)
        XCTAssertEqual(mic.ended(shouldResume: true), [.restartAudio])

        _ = mic.began(microphoneOn: true)
        XCTAssertEqual(mic.ended(shouldResume: false), [.restartAudio])

        _ = mic.began(microphoneOn: true)
        mic.microphoneChangedByPerson()
        XCTAssertEqual(mic.ended(shouldResume: true), [.restartAudio])
    }
}
