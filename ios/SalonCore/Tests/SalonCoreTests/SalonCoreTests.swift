import Foundation
import XCTest

@testable import SalonCore

/// Runs on a Mac with `swift test`, once SalonCoreRust.xcframework has a macOS slice (see the
/// README). The full two-phone call test through a real server lives in android/jvm-tests.
final class SalonCoreTests: XCTestCase {
    private func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("salon-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }

    func testFriendsThroughTheRustCore() async throws {
        let salon = try RustSalonService(dataDirectory: try temporaryDirectory())
        let link = "https://salon.example.org/r/AAAAAAAAAAAAAAAAAAAAAA"
        let ada = try await salon.addFriend(name: "Ada", roomLink: link)
        do {
            _ = try await salon.addFriend(name: "Ada again", roomLink: link + "/")
            XCTFail("a duplicate was accepted")
        } catch let error as SalonError {
            XCTAssertEqual(error, .duplicateFriend)
        }
        try await salon.renameFriend(id: ada.id, name: "Ada L.")
        let names = try await salon.friends().map(\.name)
        XCTAssertEqual(names, ["Ada L."])

        let card = try await salon.friendCard(myName: "Zoë", roomLink: link)
        let other = try RustSalonService(dataDirectory: try temporaryDirectory())
        let zoe = try await other.addFriendFromCard(card)
        XCTAssertEqual(zoe.name, "Zoë")
        XCTAssertEqual(zoe.roomLink, link)
    }

    func testTheTestPatternConvertsToRGBA() throws {
        let salon = try RustSalonService(dataDirectory: try temporaryDirectory())
        let frame = try salon.testPatternFrame(width: 320, height: 240, index: 3)
        XCTAssertEqual(frame.data.count, 320 * 240 * 3 / 2)
        let rgba = try frame.rgba()
        XCTAssertEqual(rgba.count, 320 * 240 * 4)
        XCTAssertThrowsError(try salon.testPatternFrame(width: 3, height: 3, index: 0))
    }

    func testLimitedRangeBlackAndWhite() throws {
        func solid(_ y: UInt8) -> I420Frame {
            var data = Data(repeating: 128, count: 6)
            data[0..<4] = Data(repeating: y, count: 4)
            return I420Frame(width: 2, height: 2, data: data, timestampUs: 0)
        }
        XCTAssertEqual(try Array(solid(16).rgba()[0..<4]), [0, 0, 0, 255])
        XCTAssertEqual(try Array(solid(235).rgba()[0..<4]), [255, 255, 255, 255])
    }

    func testAFakeCallIsDrivenByTheTest() async throws {
        let salon = FakeSalonService()
        let room = try await salon.createRoom(server: "https://salon.example.org")
        let call = try await salon.join(link: room.link, options: JoinOptions(name: "Me"))
        let fake = try XCTUnwrap(salon.calls.last)

        var states = call.states().makeAsyncIterator()
        let first = await states.next()
        XCTAssertEqual(first?.connection, .connected)

        let bob = Participant(
            id: "b", name: "Bob", audioOn: true, videoOn: true,
            receivingAudio: true, receivingVideo: true, speaking: true)
        var changed = call.state
        changed.participants = [bob]
        fake.emit(changed)
        let next = await states.next()
        XCTAssertEqual(next?.participants, [bob])

        await call.leave()
        XCTAssertEqual(call.state.connection, .ended(.left))
        XCTAssertThrowsError(try call.sendAudioFrame([Int16](repeating: 0, count: 960)))
        var frames = 0
        for await _ in call.videoFrames() { frames += 1 }
        XCTAssertEqual(frames, 0)
    }
}
