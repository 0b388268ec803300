import SalonCore
import XCTest

@testable import SalonApp

/// A received screen share on the call screen: large, labelled, and a host stops it. The same
/// cases as the Android `CallShareTest`.
@MainActor
final class CallShareTests: XCTestCase {
    private let salon = FakeSalonService()
    private let link = "https://salon.example.org/r/room"

    private func room(sharing: String?, role: Role = .owner) -> RoomState {
        RoomState(
            roomId: "room", roomName: "Living room", me: "me",
            participants: ["a", "b"].map { id in
                Participant(
                    id: id, name: id.uppercased(), audioOn: true, videoOn: true, receivingAudio: true,
                    receivingVideo: true, speaking: false, screen: id == sharing, receivingScreen: id == sharing)
            },
            connection: .connected, role: role)
    }

    private func until(_ probe: () -> Bool, _ message: String = "") async {
        for _ in 0..<250 where !probe() {
            try? await Task.sleep(nanoseconds: 20_000_000)
        }
        XCTAssertTrue(probe(), message)
    }

    private func start() async throws -> (CallModel, FakeCall, Task<Void, Never>) {
        salon.setStatus(RoomStatus(id: "room", name: "Living room", participants: 1, maxParticipants: 50, full: false), for: link)
        let model = CallModel(salon: salon, link: link, myName: "Me")
        let running = Task { await model.run() }
        await until({ !self.salon.calls.isEmpty }, "the model did not join")
        return (model, try XCTUnwrap(salon.calls.last), running)
    }

    func testAShareIsTheLargeTileWithThePresentersNameAndAHostStopsIt() async throws {
        let (model, call, running) = try await start()
        defer { running.cancel() }
        call.emit(room(sharing: nil))
        await until { model.state.tiles.count == 2 }
        XCTAssertNil(model.state.mainTile)

        call.emit(room(sharing: "b"))
        await until { model.state.share != nil }
        let main = try XCTUnwrap(model.state.mainTile)
        XCTAssertEqual(main.id, Participant.screenVideoId(of: "b"))
        XCTAssertEqual(main.id, "b|screen")
        XCTAssertEqual(main.name, "B's screen")
        XCTAssertTrue(main.presenting)
        XCTAssertTrue(main.canModerate)
        // Everyone's camera stays in the grid below, the presenter's too.
        XCTAssertEqual(model.state.gridTiles.map(\.id), ["a", "b"])

        model.send(.stopShare(participantId: "b"))
        XCTAssertEqual(salon.calls.last?.hostActions, ["stop-share b"])

        call.emit(room(sharing: nil))
        await until { model.state.share == nil }
    }

    func testAGuestSeesTheShareButCannotStopIt() async throws {
        let (model, call, running) = try await start()
        defer { running.cancel() }
        call.emit(room(sharing: "a", role: .guest))
        await until { model.state.share != nil }
        XCTAssertEqual(model.state.mainTile?.presenting, true)
        XCTAssertEqual(model.state.mainTile?.canModerate, false)
    }
}
