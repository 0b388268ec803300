import Foundation
import SalonCore

/// What the grid shows now, as the screen reports it: the tiles at least partly on screen
/// (`visible`) out of the tiles the grid has (`of`). Reported when that changes (a cell appears
/// or disappears, someone comes or goes), not per frame.
struct TilesShown: Equatable {
    var visible: Set<String>
    var of: Set<String>
}

/// Tells the core how each other participant's video is shown (`Call.setView`): the main tile
/// (pinned, or the only one, drawn filling the screen) is `.large`, grid tiles on screen are
/// `.thumbnail`, grid tiles scrolled off are `.hidden`. Someone the grid has not reported yet
/// (they just came in) is left alone: the core counts anyone never set as a thumbnail. Only
/// changes reach `setView`, so `update` may be called on every report; the core coalesces what
/// it sends to the server. Mirrors the Android `TileViews`.
final class TileViews {
    private let setView: (String, ParticipantView) throws -> Void
    private var told: [String: ParticipantView] = [:]

    init(setView: @escaping (String, ParticipantView) throws -> Void) {
        self.setView = setView
    }

    /// Brings the core up to date with `participants` (ids), the `main` tile and what is `shown`.
    func update(participants: [String], main: String?, shown: TilesShown?) {
        let present = Set(participants)
        told = told.filter { present.contains($0.key) }
        for id in participants {
            let view = Self.view(of: id, main: main, shown: shown)
            if (told[id] ?? .thumbnail) == view { continue }
            do {
                try setView(id, view)
                told[id] = view
            } catch {
                // The call is over (or the id is not one the core knows): nothing to show anyway.
            }
        }
    }

    static func view(of id: String, main: String?, shown: TilesShown?) -> ParticipantView {
        if id == main { return .large }
        guard let shown else { return .thumbnail }
        if shown.visible.contains(id) { return .thumbnail }
        if shown.of.contains(id) { return .hidden }
        return .thumbnail
    }

    /// The tile drawn big: the pinned one while they are here, else the only one.
    static func mainTile(participants: [String], pinned: String?) -> String? {
        if let pinned, participants.contains(pinned) { return pinned }
        return participants.count == 1 ? participants[0] : nil
    }
}
