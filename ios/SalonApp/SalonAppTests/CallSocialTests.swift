import SalonCore
import XCTest

@testable import SalonApp

/// The call screen's reactions, hands and chat over the fake service. The same cases as the
/// Android `CallSocialTest`.
@MainActor
final class CallSocialTests: XCTestCase {
    private let salon = FakeSalonService()
    private let link = "https://salon.example.org/r/room"

    private func person(_ id: String, hand: UInt64? = nil) -> Participant {
        Participant(
            id: id, name: id.uppercased(), audioOn: true, videoOn: true, receivingAudio: true,
            receivingVideo: true, speaking: false, hand: hand)
    }

    private func room(
        _ people: [Participant], role: Role = .guest, panic: Bool = false, myHand: UInt64? = nil,
        chat: [ChatMessage] = []
    ) -> RoomState {
        RoomState(
            roomId: "room", roomName: "Living room", me: "me", participants: people, connection: .connected,
            role: role, panic: panic, myHand: myHand, chat: chat)
    }

    private func message(_ id: UInt64, _ from: String, text: String? = nil) -> ChatMessage {
        ChatMessage(id: id, from: from, name: from.uppercased(), atMs: Int64(id), text: text ?? "m\(id)")
    }

    private func unreadable(_ id: UInt64, _ from: String) -> ChatMessage {
        ChatMessage(id: id, from: from, name: from.uppercased(), atMs: Int64(id), text: nil)
    }

    /// Lets the model's tasks run until `probe` holds (or 5 s pass).
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

    func testAReactionFloatsOverItsSendersTileForAMoment() async throws {
        let (model, call, running) = try await start()
        defer { running.cancel() }
        XCTAssertEqual(model.state.reactions.count, 8)
        call.emit(room([person("a"), person("b")]))
        await until { model.state.tiles.count == 2 }

        // The model reads events once its task runs: send until one lands.
        await until {
            call.emitEvent(.reaction(participantId: "a", emoji: "🎉"))
            return model.state.tiles.first { $0.id == "a" }?.reaction != nil
        }
        XCTAssertEqual(model.state.tiles.first { $0.id == "a" }?.reaction?.emoji, "🎉")
        XCTAssertNil(model.state.tiles.first { $0.id == "b" }?.reaction)
        XCTAssertNil(model.state.notice, "a reaction is not a notice")

        model.send(.react("👍"))
        await until { model.state.myReaction?.emoji == "👍" }
        // Gone after about two seconds.
        await until { model.state.myReaction == nil && model.state.tiles.allSatisfy { $0.reaction == nil } }
    }

    func testHandsShowOnTilesAndHostsGetTheQueueInOrder() async throws {
        let (model, call, running) = try await start()
        defer { running.cancel() }
        call.emit(room([person("a", hand: 9), person("b"), person("c", hand: 3)]))
        await until { model.state.tiles.count == 3 }
        XCTAssertEqual(model.state.tiles.map(\.hand), [2, nil, 1])
        XCTAssertEqual(model.state.hands, [])

        model.send(.toggleHand)
        await until { model.state.handRaised }

        call.emit(room([person("a", hand: 9), person("b"), person("c", hand: 3)], role: .cohost, myHand: 5))
        await until { !model.state.hands.isEmpty }
        XCTAssertEqual(model.state.hands, [
            RaisedHand(participantId: "c", name: "C", position: 1),
            RaisedHand(participantId: "me", name: "You", position: 2, mine: true),
            RaisedHand(participantId: "a", name: "A", position: 3),
        ])
        model.send(.lowerHand(participantId: "a"))
        model.send(.lowerAllHands)
        XCTAssertEqual(call.hostActions, ["lower-hands a", "lower-hands all"])
        await until { model.state.hands.isEmpty }
    }

    func testUnreadCountsOthersMessagesUntilTheChatIsOpened() async throws {
        let (model, call, running) = try await start()
        defer { running.cancel() }
        call.emit(room([person("a")], chat: [message(1, "a"), message(2, "me"), unreadable(3, "a")]))
        await until { model.state.chat.count == 3 }
        XCTAssertEqual(model.state.unread, 2)
        XCTAssertEqual(model.state.chat.map(\.name), ["A", "You", "A"])
        XCTAssertNil(model.state.chat.last?.text)

        model.send(.openChat)
        XCTAssertEqual(model.state.unread, 0)
        call.emit(room([person("a")], chat: [message(1, "a"), message(2, "me"), unreadable(3, "a"), message(4, "a")]))
        await until { model.state.chat.count == 4 }
        XCTAssertEqual(model.state.unread, 0)

        model.send(.closeChat)
        call.emit(room([person("a")], chat: [message(4, "a"), message(5, "a"), message(6, "me")]))
        await until { model.state.chat.first?.id == 4 }
        XCTAssertEqual(model.state.unread, 1)
    }

    func testSendingTakesTheTrimmedDraftCutAtTheLimit() async throws {
        let (model, call, running) = try await start()
        defer { running.cancel() }
        call.emit(room([person("a")], role: .owner))
        await until { model.state.canClearChat }

        model.send(.chatDraft(String(repeating: "x", count: maxChatCharacters + 50)))
        XCTAssertEqual(model.state.chatDraft.count, maxChatCharacters)
        model.send(.chatDraft("   "))
        model.send(.sendChat)
        XCTAssertEqual(call.state.chat, [])

        model.send(.chatDraft("  <i>see</i> https://example.org  "))
        model.send(.sendChat)
        XCTAssertEqual(model.state.chatDraft, "")
        await until { !model.state.chat.isEmpty }
        XCTAssertEqual(model.state.chat, [ChatLine(id: 1, name: "You", text: "<i>see</i> https://example.org", mine: true)])

        model.send(.clearChat)
        await until { model.state.chat.isEmpty }
    }

    func testPanicPausesAGuestsChatNotAHosts() async throws {
        let (model, call, running) = try await start()
        defer { running.cancel() }
        call.emit(room([person("a")], panic: true))
        await until { model.state.chatPaused }
        XCTAssertFalse(model.state.canClearChat)
        call.emit(room([person("a")], role: .cohost, panic: true))
        await until { !model.state.chatPaused }
        XCTAssertFalse(model.state.canClearChat)
    }
}
