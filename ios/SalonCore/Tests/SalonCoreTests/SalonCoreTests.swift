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

    func testAFakeCallRecordsViewsAndNetworkChangesAndCarriesSpeakers() async throws {
        let salon = FakeSalonService()
        let room = try await salon.createRoom(server: "https://salon.example.org")
        let call = try await salon.join(link: room.link, options: JoinOptions(name: "Me"))
        let fake = try XCTUnwrap(salon.calls.last)
        XCTAssertEqual(call.state.speakers, [])
        XCTAssertFalse(call.state.speaking)
        XCTAssertTrue(call.state.videoWatched)
        XCTAssertNil(call.state.dominantSpeaker)

        try call.setView(participantId: "b", view: .hidden)
        try call.setView(participantId: "b", view: .large)
        XCTAssertEqual(fake.views, ["b": .large])
        XCTAssertEqual(fake.viewLog, ["b hidden", "b large"])
        XCTAssertThrowsError(try call.setView(participantId: "", view: .hidden)) { error in
            XCTAssertEqual(error as? SalonError, .invalidInput("participant id"))
        }
        try call.onNetworkChanged()
        try call.onNetworkChanged()
        XCTAssertEqual(fake.networkChanges, 2)

        var changed = call.state
        changed.speakers = ["b", "me"]
        changed.speaking = true
        changed.videoWatched = false
        fake.emit(changed)
        XCTAssertEqual(call.state.dominantSpeaker, "b")
        XCTAssertFalse(call.state.videoWatched)

        await call.leave()
        XCTAssertThrowsError(try call.setView(participantId: "b", view: .thumbnail)) { error in
            XCTAssertEqual(error as? SalonError, .callEnded)
        }
        XCTAssertThrowsError(try call.onNetworkChanged()) { error in
            XCTAssertEqual(error as? SalonError, .callEnded)
        }
        XCTAssertEqual(fake.networkChanges, 2)
    }

    /// Polls `probe` every 50 ms until it holds or `seconds` pass.
    private func eventually(_ seconds: Double, _ probe: () -> Bool) async -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if probe() { return true }
            try? await Task.sleep(nanoseconds: 50_000_000)
        }
        return probe()
    }

    /// Views through the Swift wrapper, the real core and a real server: when Ada hides Bo's
    /// tile (the only one watching it), Bo's state says nobody watches his video; when she shows
    /// it large, it is watched again. A malformed id is refused at once. Bo's network changes
    /// (an ICE restart): he stays in the room, watched.
    func testViewsThroughTheRustCoreAndARealServer() async throws {
        let (url, _) = try startServer()
        let ada = try RustSalonService(dataDirectory: try temporaryDirectory())
        let bo = try RustSalonService(dataDirectory: try temporaryDirectory())
        let room = try await ada.createRoom(server: url, name: "Ada's")
        let adaCall = try await ada.join(link: room.link, options: JoinOptions(name: "Ada", microphoneOn: false, cameraOn: false))
        let boCall = try await bo.join(
            link: room.link,
            options: JoinOptions(name: "Bo", microphoneOn: false, videoWidth: 160, videoHeight: 120, videoBitrateBps: 200_000))
        let boId = try XCTUnwrap(boCall.state.me)
        XCTAssertTrue(boCall.state.videoWatched)
        let feeder = Task.detached {
            var index: Int64 = 0
            while !Task.isCancelled {
                if let frame = try? bo.testPatternFrame(width: 160, height: 120, index: index) {
                    try? boCall.sendVideoFrame(frame)
                }
                index += 1
                try? await Task.sleep(nanoseconds: 40_000_000)
            }
        }
        defer { feeder.cancel() }
        let seen = await eventually(20) { adaCall.state.participants.contains { $0.id == boId } }
        XCTAssertTrue(seen, "Ada does not see Bo")

        XCTAssertThrowsError(try adaCall.setView(participantId: "", view: .hidden)) { error in
            guard case .invalidInput = error as? SalonError else { return XCTFail("\(error)") }
        }
        try adaCall.setView(participantId: boId, view: .hidden)
        let unwatched = await eventually(10) { !boCall.state.videoWatched }
        XCTAssertTrue(unwatched, "Bo was not told that nobody watches")
        try adaCall.setView(participantId: boId, view: .large)
        let watched = await eventually(10) { boCall.state.videoWatched }
        XCTAssertTrue(watched, "Bo was not told that Ada watches again")

        try boCall.onNetworkChanged()
        let decoded = adaCall.remoteStats().first { $0.participantId == boId }?.framesDecoded ?? 0
        let flowing = await eventually(20) {
            (adaCall.remoteStats().first { $0.participantId == boId }?.framesDecoded ?? 0) >= decoded + 15
        }
        XCTAssertTrue(flowing, "Bo's pictures stopped after his network changed")
        XCTAssertEqual(boCall.state.connection, .connected)

        feeder.cancel()
        await boCall.leave()
        await adaCall.leave()
        XCTAssertThrowsError(try adaCall.setView(participantId: boId, view: .thumbnail)) { error in
            XCTAssertEqual(error as? SalonError, .callEnded)
        }
        XCTAssertThrowsError(try adaCall.onNetworkChanged()) { error in
            XCTAssertEqual(error as? SalonError, .callEnded)
        }
    }

    /// Backgrounds through the Swift wrapper, the real core and a real server (issue 14): Bo
    /// replaces his background with a flat picture and sends his test pattern with a mask that
    /// finds no person; Ada receives the picture. A broken picture or mask is refused at once.
    func testABackgroundThroughTheRustCoreAndARealServer() async throws {
        let (url, _) = try startServer()
        let ada = try RustSalonService(dataDirectory: try temporaryDirectory())
        let bo = try RustSalonService(dataDirectory: try temporaryDirectory())
        let room = try await ada.createRoom(server: url, name: "Ada's")
        let adaCall = try await ada.join(link: room.link, options: JoinOptions(name: "Ada", microphoneOn: false, cameraOn: false))
        let boCall = try await bo.join(
            link: room.link,
            options: JoinOptions(name: "Bo", microphoneOn: false, videoWidth: 160, videoHeight: 120, videoBitrateBps: 200_000))
        let boId = try XCTUnwrap(boCall.state.me)

        func flat(_ width: Int, _ height: Int, _ y: UInt8) -> I420Frame {
            let luma = width * height
            return I420Frame(
                width: width, height: height,
                data: Data(repeating: y, count: luma) + Data(repeating: 128, count: luma / 2), timestampUs: 0)
        }
        XCTAssertThrowsError(try boCall.setBackground(.picture(I420Frame(width: 64, height: 48, data: Data(count: 10), timestampUs: 0)))) {
            guard case .invalidInput = $0 as? SalonError else { return XCTFail("\($0)") }
        }
        XCTAssertThrowsError(try boCall.sendVideoFrame(flat(160, 120, 0), mask: PersonMask(width: 0, height: 0, data: Data()))) {
            guard case .invalidInput = $0 as? SalonError else { return XCTFail("\($0)") }
        }
        try boCall.setBackground(.picture(flat(64, 48, 180)))

        let nobody = PersonMask(width: 40, height: 30, data: Data(count: 40 * 30))
        let feeder = Task.detached {
            var index: Int64 = 0
            while !Task.isCancelled {
                if let frame = try? bo.testPatternFrame(width: 160, height: 120, index: index) {
                    try? boCall.sendVideoFrame(frame, mask: nobody)
                }
                index += 1
                try? await Task.sleep(nanoseconds: 40_000_000)
            }
        }
        defer { feeder.cancel() }
        let watcher = Task {
            for await remote in adaCall.videoFrames() where remote.participantId == boId {
                let luma = remote.frame.data.prefix(remote.frame.width * remote.frame.height)
                if luma.allSatisfy({ abs(Int($0) - 180) <= 6 }) { return true }
            }
            return false
        }
        let timeout = Task {
            try? await Task.sleep(nanoseconds: 30_000_000_000)
            watcher.cancel()
        }
        let replaced = await watcher.value
        timeout.cancel()
        XCTAssertTrue(replaced, "Ada did not receive Bo's picture as his background")

        feeder.cancel()
        await boCall.leave()
        await adaCall.leave()
    }

    /// A salon-server started for the test: `$SALON_SERVER_BIN`, else the workspace's debug build.
    private func startServer() throws -> (url: String, process: Process) {
        let repo = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        let bin = ProcessInfo.processInfo.environment["SALON_SERVER_BIN"]
            ?? repo.appendingPathComponent("target/debug/salon-server").path
        guard FileManager.default.isExecutableFile(atPath: bin) else {
            throw XCTSkip("no salon-server at \(bin): run `cargo build -p salon-server` first")
        }
        let data = try temporaryDirectory()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: bin)
        process.arguments = [
            "--bind", "127.0.0.1:0", "--data-dir", data.path, "--udp-port", "0", "--log", "warn",
        ]
        let out = Pipe()
        process.standardOutput = out
        // Not the test runner's stderr: a server outliving the test would hold `swift test` open.
        process.standardError = FileHandle.nullDevice
        try process.run()
        addTeardownBlock {
            // The child may inherit a blocked SIGTERM from the test runner's thread: kill it.
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        var seen = ""
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            seen += String(decoding: chunk, as: UTF8.self)
            if let range = seen.range(of: "salon-server listening on ") {
                let url = seen[range.upperBound...].prefix { !$0.isWhitespace }
                return (String(url), process)
            }
        }
        XCTFail("salon-server did not start: \(seen)")
        throw XCTSkip("no server")
    }

    /// Drop-in presence through the Swift wrapper, the real core and a real server: a friend's
    /// card, the door opening live, "door opened", peek, and a revoked card.
    func testPresenceThroughTheRustCoreAndARealServer() async throws {
        let (url, _) = try startServer()
        let ada = try RustSalonService(dataDirectory: try temporaryDirectory())
        let bo = try RustSalonService(dataDirectory: try temporaryDirectory())
        let room = try await ada.createRoom(server: url, name: "Ada's")
        let card = try await ada.myFriendCard(myName: "Ada", roomLink: room.link)
        XCTAssertTrue(card.contains("&presence="), card)
        let friend = try await bo.addFriendFromCard(card)
        XCTAssertTrue(friend.hasPresence)
        try await bo.setFriendNotify(id: friend.id, notify: true)

        var updates = bo.presence().makeAsyncIterator()
        // First answer: the door (auto, Ada away) is closed.
        while let update = await updates.next() {
            if case let .friends(list) = update, let p = list.first, p.connected {
                XCTAssertTrue(p.available)
                XCTAssertFalse(p.doorOpen)
                break
            }
        }
        let door = try await ada.setDoor(roomLink: room.link, mode: .open, until: nil, showNames: true)
        XCTAssertTrue(door.doorOpen)
        var sawOpen = false
        var sawDoorOpened = false
        while !(sawOpen && sawDoorOpened), let update = await updates.next() {
            switch update {
            case let .friends(list): sawOpen = sawOpen || list.first?.doorOpen == true
            case let .doorOpened(p):
                XCTAssertEqual(p.friend.name, "Ada")
                sawDoorOpened = true
            }
        }
        let peek = try await bo.peek(link: room.link)
        XCTAssertTrue(peek.doorOpen)
        XCTAssertEqual(peek.names, [])

        try await ada.rotatePresenceKey(roomLink: room.link)
        while let update = await updates.next() {
            if case let .friends(list) = update, list.first?.available == false { break }
        }
    }

    func testFakePresenceIsDrivenByTheTest() async throws {
        let salon = FakeSalonService()
        let card = try await salon.friendCard(myName: "Ada", roomLink: "https://salon.example.org/r/a")
        let ada = try await salon.addFriendFromCard(card + "&presence=k")
        XCTAssertTrue(ada.hasPresence)
        var updates = salon.presence().makeAsyncIterator()
        XCTAssertEqual(salon.presenceWatchers, 1)
        salon.emitPresence(.friends([salon.presenceOf(ada, doorOpen: true, people: 2, names: ["Ada", "Bo"])]))
        let first = await updates.next()
        XCTAssertEqual(first, .friends([salon.presenceOf(ada, doorOpen: true, people: 2, names: ["Ada", "Bo"])]))
        do {
            _ = try await salon.setDoor(roomLink: "https://salon.example.org/r/a", mode: .open)
            XCTFail("a friend's room is not mine")
        } catch let error as SalonError {
            XCTAssertEqual(error, .notAllowed("not one of my rooms"))
        }
    }
}
