import SalonCore
import XCTest

@testable import SalonApp

/// The call screen's model over the fake service: views, the pin, speakers, my video watched,
/// network changes. The same cases as the Android `CallViewModelTest`.
@MainActor
final class CallModelTests: XCTestCase {
    private let salon = FakeSalonService()
    private let link = "https://salon.example.org/r/room"

    private func room(_ ids: String..., speakers: [String] = [], videoWatched: Bool = true) -> RoomState {
        RoomState(
            roomId: "room", roomName: "Living room", me: "me",
            participants: ids.map { id in
                Participant(
                    id: id, name: id.uppercased(), audioOn: true, videoOn: true, receivingAudio: true,
                    receivingVideo: true, speaking: speakers.contains(id))
            },
            connection: .connected, speakers: speakers, speaking: speakers.contains("me"),
            videoWatched: videoWatched)
    }

    /// Lets the model's tasks run until `probe` holds (or 5 s pass).
    private func until(_ probe: () -> Bool, _ message: String = "") async {
        for _ in 0..<250 where !probe() {
            try? await Task.sleep(nanoseconds: 20_000_000)
        }
        XCTAssertTrue(probe(), message)
    }

    /// Starts the model and returns the call it joined.
    private func start(network: any NetworkPaths = DevicePaths()) async throws -> (CallModel, FakeCall, Task<Void, Never>) {
        salon.setStatus(RoomStatus(id: "room", name: "Living room", participants: 1, maxParticipants: 50, full: false), for: link)
        let model = CallModel(salon: salon, link: link, myName: "Me", network: network)
        let running = Task { await model.run() }
        await until({ !self.salon.calls.isEmpty }, "the model did not join")
        return (model, try XCTUnwrap(salon.calls.last), running)
    }

    func testTheGridsVisibilityTheOnlyTileAndThePinBecomeViews() async throws {
        let (model, call, running) = try await start()
        defer { running.cancel() }

        // Alone with Ada: her tile fills the screen.
        call.emit(room("a"))
        await until { model.state.mainTile?.id == "a" }
        XCTAssertEqual(call.views, ["a": .large])

        // Bob and Cy come; the grid shows Ada and Bob, Cy is scrolled off.
        call.emit(room("a", "b", "c"))
        await until { model.state.tiles.count == 3 }
        XCTAssertNil(model.state.mainTile)
        model.send(.shown(TilesShown(visible: ["a", "b"], of: ["a", "b", "c"])))
        XCTAssertEqual(call.views, ["a": .thumbnail, "c": .hidden])

        // Speaker updates do not touch the views.
        let told = call.viewLog.count
        call.emit(room("a", "b", "c", speakers: ["b", "a"]))
        await until { model.state.tiles.first { $0.id == "b" }?.dominant == true }
        XCTAssertEqual(call.viewLog.count, told)

        // Pin Cy: big, large.
        model.send(.pin(participantId: "c"))
        XCTAssertEqual(model.state.mainTile?.id, "c")
        XCTAssertEqual(model.state.gridTiles.map(\.id), ["a", "b"])
        XCTAssertEqual(call.views["c"], .large)

        // Pin again: unpinned, back in the grid, where it is scrolled off again.
        model.send(.pin(participantId: "c"))
        XCTAssertNil(model.state.pinned)
        XCTAssertEqual(call.views["c"], .hidden)

        // Pinned Bob leaves: the pin goes with him.
        model.send(.pin(participantId: "b"))
        call.emit(room("a", "c"))
        await until { model.state.tiles.count == 2 }
        XCTAssertNil(model.state.pinned)
    }

    func testTheLoudestSpeakerIsMarkedAndMyUnwatchedVideoIsTold() async throws {
        let (model, call, running) = try await start()
        defer { running.cancel() }

        call.emit(room("a", "b", speakers: ["b", "a"]))
        await until { model.state.tiles.count == 2 }
        let tiles = Dictionary(uniqueKeysWithValues: model.state.tiles.map { ($0.id, $0) })
        XCTAssertEqual(tiles["b"]?.dominant, true)
        XCTAssertEqual(tiles["b"]?.speaking, true)
        XCTAssertEqual(tiles["a"]?.dominant, false)
        XCTAssertEqual(tiles["a"]?.speaking, true)
        XCTAssertTrue(model.state.videoWatched)

        // I am the loudest: nobody else is marked.
        call.emit(room("a", "b", speakers: ["me", "b"], videoWatched: false))
        await until { !model.state.videoWatched }
        XCTAssertFalse(model.state.tiles.contains { $0.dominant })
    }

    func testANewNetworkRestartsICEUntilTheCallEnds() async throws {
        let paths = FakePaths()
        let (_, call, running) = try await start(network: paths)
        defer { running.cancel() }
        await until({ paths.watching }, "the network is not watched")

        let wifi = NetworkPath(satisfied: true, interfaces: ["wifi en0", "cellular pdp_ip0"])
        let cellular = NetworkPath(satisfied: true, interfaces: ["cellular pdp_ip0"])
        // The first update is the network the call already uses; then its costs change: no news.
        paths.send(wifi)
        paths.send(wifi)
        // Wi-Fi goes: one change.
        paths.send(cellular)
        await until { call.networkChanges == 1 }
        // No route for a moment, then mobile data again.
        paths.send(NetworkPath(satisfied: false, interfaces: []))
        paths.send(cellular)
        await until { call.networkChanges == 2 }

        // Removed by a host: the call ends by itself, and the monitor is cancelled.
        var ended = call.state
        ended.connection = .ended(.removed)
        call.emit(ended)
        await until({ !paths.watching }, "the network is still watched after the call ended")
        XCTAssertEqual(call.networkChanges, 2)
    }

    func testLeavingStopsWatchingTheNetwork() async throws {
        let paths = FakePaths()
        let (model, _, running) = try await start(network: paths)
        defer { running.cancel() }
        await until({ paths.watching }, "the network is not watched")
        model.send(.leave)
        await until({ !paths.watching }, "the network is still watched after leaving")
    }
}

/// Network paths as a test sends them, as `NWPathMonitor` would; `watching` while the model reads them.
private final class FakePaths: NetworkPaths, @unchecked Sendable {
    private let lock = NSLock()
    private var continuation: AsyncStream<NetworkPath>.Continuation?

    private func locked<R>(_ body: () -> R) -> R {
        lock.lock()
        defer { lock.unlock() }
        return body()
    }

    var watching: Bool { locked { continuation != nil } }

    func paths() -> AsyncStream<NetworkPath> {
        AsyncStream { continuation in
            continuation.onTermination = { [weak self] _ in self?.locked { self?.continuation = nil } }
            locked { self.continuation = continuation }
        }
    }

    func send(_ path: NetworkPath) { _ = locked { continuation }?.yield(path) }
}
