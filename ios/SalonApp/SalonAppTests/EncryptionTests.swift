import SalonCore
import XCTest

@testable import SalonApp

/// End-to-end encryption on the call screen: the chip, the safety-code sheet's words, the tiles'
/// badge, refusals. The same cases as the Android `EncryptionTest`.
@MainActor
final class EncryptionTests: XCTestCase {
    private let salon = FakeSalonService()
    private let link = "https://salon.example.org/r/room#k=A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0U-_"
    private let code = E2ee(safetyCode: "4821 0937 1165", keyHolders: 4, unverified: ["b"])

    private func room(_ ids: String..., e2ee: E2ee?) -> RoomState {
        RoomState(
            roomId: "room", roomName: "Living room", me: "me",
            participants: ids.map { id in
                Participant(
                    id: id, name: id.uppercased(), audioOn: true, videoOn: true, receivingAudio: true,
                    receivingVideo: true, speaking: false)
            },
            connection: .connected, e2ee: e2ee)
    }

    private func tile(_ id: String, unverified: Bool) -> Tile {
        Tile(id: id, name: id.uppercased(), speaking: false, muted: false, cameraOff: true, picture: nil,
             unverified: unverified)
    }

    /// Lets the model's tasks run until `probe` holds (or 5 s pass).
    private func until(_ probe: () -> Bool, _ message: String = "") async {
        for _ in 0..<250 where !probe() {
            try? await Task.sleep(nanoseconds: 20_000_000)
        }
        XCTAssertTrue(probe(), message)
    }

    func testTheChipShowsTheSafetyCodeOrSaysTheCallIsNotEncrypted() async {
        XCTAssertEqual(Encryption.chipLabel(code), "Encrypted · 4821 0937 1165")
        XCTAssertEqual(Encryption.chipLabel(nil), "Not end-to-end encrypted")
    }

    func testTheSheetCountsTheKeyHoldersAndNamesWhoCantExchangeKeys() async {
        XCTAssertEqual(Encryption.keyHolders(4), "4 people hold the keys")
        XCTAssertEqual(Encryption.keyHolders(1), "1 person holds the keys")
        XCTAssertEqual(
            Encryption.readAloud,
            "Read it aloud: everyone should see the same code. If someone's differs, someone may be listening in.")
        XCTAssertNil(Encryption.unverifiedLine([tile("a", unverified: false)]))
        XCTAssertEqual(
            Encryption.unverifiedLine([tile("a", unverified: false), tile("b", unverified: true)]),
            "Can't exchange keys with B: they see and hear nothing of you.")
        XCTAssertEqual(
            Encryption.unverifiedLine([tile("a", unverified: true), tile("b", unverified: true), tile("c", unverified: true)]),
            "Can't exchange keys with A, B and C: they see and hear nothing of you.")
    }

    func testOnlyTheTilesOfPeopleListedAsUnverifiedCarryTheBadge() async {
        XCTAssertTrue(Encryption.unverified(code, "b"))
        XCTAssertFalse(Encryption.unverified(code, "a"))
        XCTAssertFalse(Encryption.unverified(nil, "b"))
        XCTAssertEqual(Encryption.cantExchangeKeys, "Can't exchange keys")
    }

    func testTheCallScreenFollowsTheRoomsEncryptionAndItsUnverifiedPeople() async throws {
        salon.setStatus(RoomStatus(id: "room", name: "Living room", participants: 1, maxParticipants: 50, full: false), for: link)
        let model = CallModel(salon: salon, link: link, myName: "Me")
        let running = Task { await model.run() }
        defer { running.cancel() }
        await until({ !self.salon.calls.isEmpty }, "the model did not join")
        let call = try XCTUnwrap(salon.calls.last)

        call.emit(room("a", "b", "c", e2ee: code))
        await until { model.state.e2ee == self.code }
        XCTAssertEqual(model.state.tiles.map(\.unverified), [false, true, false])

        // Bob's keys check out: the code changes and his badge goes.
        let after = E2ee(safetyCode: "1165 4821 0937", keyHolders: 4)
        call.emit(room("a", "b", "c", e2ee: after))
        await until { model.state.e2ee == after }
        XCTAssertFalse(model.state.tiles.contains { $0.unverified })

        // A room that is not encrypted: no code, no badges.
        call.emit(room("a", "b", e2ee: nil))
        await until { model.state.tiles.count == 2 }
        XCTAssertNil(model.state.e2ee)
        XCTAssertFalse(model.state.tiles.contains { $0.unverified })
    }

    func testEncryptionsRefusalsAreShownAsTheCoreWroteThem() async {
        let reason = "This link is missing its key (the part after #). Ask for the whole link."
        XCTAssertEqual(PreJoinModel.describe(SalonError.e2ee(reason)), reason)
        let downgrade = "The server says this room is not encrypted, but your link says it is. Not joining."
        XCTAssertEqual(PreJoinModel.describe(SalonError.e2ee(downgrade)), downgrade)

        salon.setStatus(RoomStatus(id: "room", name: "Living room", participants: 1, maxParticipants: 50, full: false), for: link)
        salon.failNext(with: .e2ee(reason))
        let model = CallModel(salon: salon, link: link, myName: "Me")
        await model.run()
        XCTAssertEqual(model.state.status, .ended(reason))
    }
}
