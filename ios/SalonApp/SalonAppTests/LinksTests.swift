import XCTest
@testable import SalonApp

/// Which links that open the app it acts on, and how (the same cases as Android's `LinksTest`).
final class LinksTests: XCTestCase {
    private let id = "AbCdEfGhIjKlMnOpQrStU_"

    private func opened(_ text: String) -> OpenedLink? {
        URL(string: text).flatMap(OpenedLink.init)
    }

    func testAnInviteLinkJoinsItsRoom() {
        XCTAssertEqual(
            opened("https://salon.example.org/r/\(id)"),
            .room(link: "https://salon.example.org/r/\(id)", host: "salon.example.org"))
        XCTAssertEqual(
            opened("http://192.168.1.5:8080/r/\(id)/"),
            .room(link: "http://192.168.1.5:8080/r/\(id)", host: "192.168.1.5"))
    }

    func testAnInviteLinkKeepsItsKeyThePartAfterTheHash() {
        let key = "k=A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0U-_"
        XCTAssertEqual(
            opened("https://salon.example.org/r/\(id)#\(key)"),
            .room(link: "https://salon.example.org/r/\(id)#\(key)", host: "salon.example.org"))
        XCTAssertEqual(
            opened("http://192.168.1.5:8080/r/\(id)/#\(key)"),
            .room(link: "http://192.168.1.5:8080/r/\(id)#\(key)", host: "192.168.1.5"))
    }

    func testAFriendCardKeepsItsKeyInTheCardsOwnFragment() {
        let key = "k=A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0U-_"
        let card = "https://salon.example.org/friend?v=1&name=Ada&room=https%3A%2F%2Fsalon.example.org%2Fr%2F\(id)#\(key)"
        XCTAssertEqual(opened(card), .friend(card: card))
        let written = "salon:friend?v=1&name=Ada&room=https://salon.example.org/r/\(id)#\(key)"
        XCTAssertEqual(opened(written), .friend(card: written))
    }

    func testAFriendCardAddsTheFriend() {
        let card = "https://salon.example.org/friend?v=1&n=Ada&r=https%3A%2F%2Fsalon.example.org%2Fr%2F\(id)"
        XCTAssertEqual(opened(card), .friend(card: card))
        let written = "salon:friend?v=1&name=Ada&room=https://salon.example.org/r/\(id)"
        XCTAssertEqual(opened(written), .friend(card: written))
    }

    func testAnythingElseJustOpensTheApp() {
        for text in [
            "salon.example.org/r/\(id)",
            "ftp://salon.example.org/r/\(id)",
            "https://salon.example.org/",
            "https://salon.example.org/r/",
            "https://salon.example.org/r/short",
            "https://salon.example.org/r/\(id)x",
            "https://salon.example.org/r/AbCdEfGhIjKlMnOpQrSt%2F",
            "https://salon.example.org/r/\(id)/extra",
            "https://salon.example.org/friend",
            "salon:friend?",
            "salon:room?x=1",
            "salon://friend?v=1",
            "https://salon.example.org/api/rooms/\(id)",
            "https://salon.example.org/r/" + String(repeating: "a", count: 9000),
        ] {
            XCTAssertNil(opened(text), text)
        }
    }
}
