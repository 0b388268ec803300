import SalonCore
import XCTest

@testable import SalonApp

/// Adding a friend by a pasted or scanned card or link, and my own card for one of my rooms.
@MainActor
final class AddFriendModelTests: XCTestCase {
    private let salon = FakeSalonService()
    private let roomId = String(repeating: "a", count: 22)

    func testWhatWasPastedIsRecognised() async {
        XCTAssertEqual(FriendInput("  "), .empty)
        XCTAssertEqual(FriendInput("hello"), .notALink)
        XCTAssertEqual(FriendInput("salon:friend?v=1&name=Ada&room=x"), .card("salon:friend?v=1&name=Ada&room=x"))
        XCTAssertEqual(FriendInput(" https://salon.example.org/friend?v=1&name=Ada "), .card("https://salon.example.org/friend?v=1&name=Ada"))
        XCTAssertEqual(FriendInput("https://salon.example.org/r/\(roomId)/"), .roomLink("https://salon.example.org/r/\(roomId)"))
        XCTAssertEqual(FriendInput("https://salon.example.org/r/short"), .roomLink("https://salon.example.org/r/short"))
    }

    func testACardIsAddedAsIsAndALinkNeedsAName() async throws {
        let model = AddFriendModel(salon: salon, myName: "Bo")
        var added: [Friend] = []
        model.onAdded = { added.append($0) }

        model.send(.textChanged("https://salon.example.org/r/\(roomId)"))
        XCTAssertTrue(model.state.needsName)
        XCTAssertFalse(model.state.canAdd)
        model.send(.nameChanged("Cy"))
        model.send(.add)
        await eventually { added.count == 1 }
        XCTAssertEqual(added.first?.name, "Cy")
        XCTAssertEqual(model.state.text, "")

        let card = "salon:friend?v=1&name=Ada&room=https%3A%2F%2Fsalon.example.org%2Fr%2Fada&presence=k"
        model.send(.textChanged(card))
        XCTAssertFalse(model.state.needsName)
        model.send(.add)
        await eventually { added.count == 2 }
        XCTAssertEqual(added.last?.name, "Ada")
        XCTAssertEqual(added.last?.hasPresence, true)

        // The same card again: a clear error.
        model.send(.textChanged(card))
        model.send(.add)
        await eventually { model.state.error != nil }
        XCTAssertEqual(model.state.error, "This friend is already in your list.")
        XCTAssertFalse(model.state.adding)
    }

    func testAScannedCardIsAddedAtOnceAndAnythingElseIsExplained() async {
        let model = AddFriendModel(salon: salon, myName: "Bo")
        var added: [Friend] = []
        model.onAdded = { added.append($0) }

        model.send(.startScanning)
        model.send(.scanned("WIFI:S:home;;"))
        XCTAssertFalse(model.state.scanning)
        XCTAssertEqual(model.state.error, "This QR code isn't a Salon friend card.")

        model.send(.startScanning)
        XCTAssertNil(model.state.error)
        model.send(.scanned("salon:friend?v=1&name=Ada&room=https%3A%2F%2Fsalon.example.org%2Fr%2Fada"))
        model.send(.scanned("salon:friend?v=1&name=Ada&room=https%3A%2F%2Fsalon.example.org%2Fr%2Fada"))
        await eventually { added.count == 1 }
        try? await Task.sleep(nanoseconds: 100_000_000)
        XCTAssertEqual(added.count, 1, "a code read twice adds once")

        model.send(.startScanning)
        model.send(.scannerFailed("No camera"))
        XCTAssertFalse(model.state.scanning)
        XCTAssertEqual(model.state.error, "No camera")
    }

    func testMyCardIsMadeForTheRoomIPick() async throws {
        let kitchen = try await salon.createRoom(server: "https://salon.example.org", name: "Kitchen")
        let garden = try await salon.createRoom(server: "https://salon.example.org", name: "Garden")
        let model = AddFriendModel(salon: salon, myName: "Bo")
        model.send(.appeared)
        await eventually { model.state.myCard != nil }
        XCTAssertEqual(model.state.myRooms.map(\.name), ["Kitchen", "Garden"])
        XCTAssertEqual(model.state.selectedRoom, kitchen.link)
        XCTAssertTrue(model.state.myCard?.contains("presence=") == true)

        model.send(.chooseRoom(link: garden.link))
        let gardenRoom = garden.link.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
        await eventually { model.state.myCard?.contains(gardenRoom) == true }
        XCTAssertFalse(model.state.loadingCard)
    }

    func testWithoutARoomThereIsNoCard() async {
        let model = AddFriendModel(salon: salon, myName: "Bo")
        model.send(.appeared)
        try? await Task.sleep(nanoseconds: 100_000_000)
        XCTAssertNil(model.state.myCard)
        XCTAssertEqual(model.state.myRooms, [])
    }
}
