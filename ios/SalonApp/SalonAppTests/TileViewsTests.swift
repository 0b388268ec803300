import SalonCore
import XCTest

@testable import SalonApp

/// What the core is told for each tile: only changes, and nothing before it matters. The same
/// cases as the Android `TileViewsTest`.
final class TileViewsTests: XCTestCase {
    private var told: [String] = []
    private lazy var views = TileViews { [unowned self] id, view in told.append("\(id) \(view)") }

    func testTilesOnScreenStayThumbnailsAndTheCoreHearsNothing() {
        views.update(participants: ["a", "b"], main: nil, shown: nil)
        views.update(participants: ["a", "b"], main: nil, shown: TilesShown(visible: ["a", "b"], of: ["a", "b"]))
        XCTAssertEqual(told, [])
    }

    func testATileScrolledOffIsHiddenAndComesBackAsAThumbnailOnceEach() {
        let ids = ["a", "b", "c"]
        views.update(participants: ids, main: nil, shown: TilesShown(visible: ["a", "b"], of: Set(ids)))
        views.update(participants: ids, main: nil, shown: TilesShown(visible: ["a", "b"], of: Set(ids)))
        views.update(participants: ids, main: nil, shown: TilesShown(visible: ["b", "c"], of: Set(ids)))
        XCTAssertEqual(told, ["c hidden", "a hidden", "c thumbnail"])
    }

    func testSomeoneTheGridHasNotLaidOutYetIsLeftAlone() {
        views.update(participants: ["a", "b"], main: nil, shown: TilesShown(visible: ["a"], of: ["a"]))
        XCTAssertEqual(told, [])
    }

    func testTheOnlyTileAndAPinnedOneAreLarge() {
        views.update(participants: ["a"], main: TileViews.mainTile(participants: ["a"], pinned: nil), shown: nil)
        XCTAssertEqual(told, ["a large"])
        told.removeAll()

        let ids = ["a", "b"]
        views.update(
            participants: ids, main: TileViews.mainTile(participants: ids, pinned: nil),
            shown: TilesShown(visible: ["a", "b"], of: ["a", "b"]))
        XCTAssertEqual(told, ["a thumbnail"])
        told.removeAll()

        views.update(
            participants: ids, main: TileViews.mainTile(participants: ids, pinned: "b"),
            shown: TilesShown(visible: ["a"], of: ["a"]))
        XCTAssertEqual(told, ["b large"])
    }

    func testThePinOfSomeoneWhoLeftIsForgotten() {
        XCTAssertNil(TileViews.mainTile(participants: ["a", "b"], pinned: "gone"))
        XCTAssertEqual(TileViews.mainTile(participants: ["a"], pinned: "gone"), "a")
        XCTAssertEqual(TileViews.view(of: "b", main: "a", shown: TilesShown(visible: [], of: ["b"])), .hidden)
        XCTAssertEqual(TileViews.view(of: "b", main: nil, shown: nil), .thumbnail)
    }

    func testARefusedViewIsTriedAgainNextTime() {
        var fail = true
        var tries: [ParticipantView] = []
        let flaky = TileViews { _, view in
            tries.append(view)
            if fail { throw SalonError.callEnded }
        }
        let shown = TilesShown(visible: [], of: ["a", "b"])
        flaky.update(participants: ["a", "b"], main: nil, shown: shown)
        fail = false
        flaky.update(participants: ["a", "b"], main: nil, shown: shown)
        XCTAssertEqual(tries, [.hidden, .hidden, .hidden, .hidden])
    }
}
