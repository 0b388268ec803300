import Foundation
import SalonCoreFFI
import XCTest

@testable import SalonCore

/// Reactions, hands and chat: the mapping from the generated records, and the fake call that
/// answers them as the core does with an instant server. Mirrors the Kotlin `SocialMappingTest`
/// and `FakeSocialTest`.
final class SocialTests: XCTestCase {
    private func participantRecord(_ id: String, hand: UInt64?) -> ParticipantRecord {
        ParticipantRecord(
            id: id, name: id.uppercased(), role: .guest, audioOn: true, videoOn: false,
            receivingAudio: true, receivingVideo: false, speaking: false, hand: hand,
            screen: false, receivingScreen: false)
    }

    func testHandsAndChatComeWithTheState() {
        let record = RoomStateRecord(
            roomId: "r", link: "https://salon.example.org/r/r", roomName: nil, me: "me", role: .owner,
            locked: false, panic: false, microphoneOn: true, cameraOn: false,
            participants: [participantRecord("a", hand: 3), participantRecord("b", hand: nil)],
            knocks: [], bans: [], speakers: [], speaking: false, videoWatched: true, connection: .connected,
            e2ee: nil, myHand: 12,
            chat: [
                ChatRecord(id: 7, from: "a", name: "Ada", atMs: 1_700_000_000_123, text: "<b>hi</b> https://x.example"),
                ChatRecord(id: 9, from: "b", name: "Bob", atMs: 1_700_000_001_000, text: nil),
            ])
        let state = RoomState(record)
        XCTAssertEqual(state.myHand, 12)
        XCTAssertEqual(state.participants.map(\.hand), [3, nil])
        XCTAssertEqual(state.chat, [
            ChatMessage(id: 7, from: "a", name: "Ada", atMs: 1_700_000_000_123, text: "<b>hi</b> https://x.example"),
            ChatMessage(id: 9, from: "b", name: "Bob", atMs: 1_700_000_001_000, text: nil),
        ])
    }

    func testAReactionAndTheNewRefusalsBecomeEvents() {
        XCTAssertEqual(CallEvent(.reaction(participantId: "a", emoji: "🎉")), .reaction(participantId: "a", emoji: "🎉"))
        XCTAssertEqual(CallEvent(.refused(reason: .invalid, message: "too long")), .refused(.invalid, message: "too long"))
        XCTAssertEqual(Refusal(.failed), .failed)
        XCTAssertEqual(Refusal(.rateLimited), .rateLimited)
    }

    private func joined(role: Role = .guest, _ others: [Participant] = []) async throws -> (any Call, FakeCall) {
        let salon = FakeSalonService()
        let room = try await salon.createRoom(server: "https://salon.example.org", name: nil)
        let call = try await salon.join(link: room.link, options: JoinOptions(name: "Zoë"))
        let fake = try XCTUnwrap(salon.calls.last)
        var state = call.state
        state.role = role
        state.participants = others
        fake.emit(state)
        return (call, fake)
    }

    private func person(_ id: String, hand: UInt64? = nil) -> Participant {
        Participant(
            id: id, name: id.uppercased(), audioOn: true, videoOn: true, receivingAudio: true,
            receivingVideo: true, speaking: false, hand: hand)
    }

    /// The first event after `act` (repeated until a reader is listening).
    private func event(of call: any Call, after act: @escaping () -> Void) async throws -> CallEvent {
        let next = Task { () -> CallEvent? in
            for await event in call.events() { return event }
            return nil
        }
        var got: CallEvent?
        let reading = Task { got = await next.value }
        for _ in 0..<250 where got == nil {
            act()
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        _ = await reading.value
        return try XCTUnwrap(got)
    }

    func testMyReactionComesBackAsAnEvent() async throws {
        XCTAssertEqual(FakeSalonService().reactions.count, 8)
        let (call, fake) = try await joined()
        let got = try await event(of: call) { try? call.react("🎉") }
        XCTAssertEqual(got, .reaction(participantId: "me", emoji: "🎉"))
        XCTAssertEqual(fake.sentReactions.first, "🎉")
        XCTAssertThrowsError(try call.react("🦄"))
    }

    func testMyHandTakesTheNextPlaceAndAHostLowersHands() async throws {
        let (call, fake) = try await joined(role: .owner, [person("a", hand: 4), person("b")])
        try call.raiseHand(true)
        XCTAssertEqual(call.state.myHand, 5)
        try call.raiseHand(true)
        XCTAssertEqual(call.state.myHand, 5)
        try call.lowerHands(participantId: "a")
        XCTAssertEqual(call.state.participants.map(\.hand), [nil, nil])
        XCTAssertEqual(call.state.myHand, 5)
        try call.lowerHands(participantId: nil)
        XCTAssertNil(call.state.myHand)
        XCTAssertEqual(fake.hostActions, ["lower-hands a", "lower-hands all"])
    }

    func testChatIsEchoedTrimmedAndOnlyTheOwnerClearsIt() async throws {
        let (call, fake) = try await joined(role: .owner)
        fake.now = { 1_000 }
        try call.sendChat("  hello <b>there</b>  ")
        try call.sendChat("second")
        XCTAssertEqual(call.state.chat, [
            ChatMessage(id: 1, from: "me", name: "Zoë", atMs: 1_000, text: "hello <b>there</b>"),
            ChatMessage(id: 2, from: "me", name: "Zoë", atMs: 1_000, text: "second"),
        ])
        XCTAssertThrowsError(try call.sendChat("   "))
        XCTAssertThrowsError(try call.sendChat(String(repeating: "x", count: maxChatCharacters + 1)))
        try call.sendChat(String(repeating: "é", count: maxChatCharacters))
        XCTAssertEqual(call.state.chat.count, 3)
        try call.clearChat()
        XCTAssertEqual(call.state.chat, [])

        var state = call.state
        state.role = .cohost
        state.chat = [ChatMessage(id: 8, from: "a", name: "Ada", atMs: 5, text: nil)]
        fake.emit(state)
        let refused = try await event(of: call) { try? call.clearChat() }
        XCTAssertEqual(refused, .refused(.notAllowed, message: "Only the owner can clear the chat"))
        XCTAssertEqual(call.state.chat.count, 1)
        try call.sendChat("after")
        XCTAssertEqual(call.state.chat.last?.id, 9)
    }

    func testPanicPausesAGuestsChatAndReactions() async throws {
        let (call, fake) = try await joined()
        var state = call.state
        state.panic = true
        fake.emit(state)
        let refused = try await event(of: call) { try? call.sendChat("hi") }
        guard case .refused(.notAllowed, _) = refused else { return XCTFail("not refused: \(refused)") }
        XCTAssertEqual(call.state.chat, [])
        XCTAssertEqual(fake.sentReactions, [])
        await call.leave()
        XCTAssertThrowsError(try call.sendChat("late"))
        XCTAssertThrowsError(try call.raiseHand(true))
    }
}
