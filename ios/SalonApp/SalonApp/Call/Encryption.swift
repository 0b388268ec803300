import Foundation
import SalonCore

/// What the call screen says about end-to-end encryption (docs/adr/0003-e2ee.md §3): the chip
/// under the room's name, the safety-code sheet it opens, and the badge on the tiles of people
/// whose keys could not be checked. Words only, no SwiftUI: tested on Linux too. Mirrors the
/// Android `Encryption`.
enum Encryption {
    /// The muted chip of a room that is not encrypted (a legacy room).
    static let notEncrypted = "Not end-to-end encrypted"

    /// The safety-code sheet's advice, under the code.
    static let readAloud =
        "Read it aloud: everyone should see the same code. If someone's differs, someone may be listening in."

    /// The badge on the tile of someone whose keys could not be checked (its accessibility label).
    static let cantExchangeKeys = "Can't exchange keys"

    /// The chip: `Encrypted · 4821 0937 1165` in an encrypted call, else `notEncrypted`.
    static func chipLabel(_ e2ee: E2ee?) -> String {
        guard let e2ee else { return notEncrypted }
        return "Encrypted · \(e2ee.safetyCode)"
    }

    /// How many people hold the call's keys, me included: "4 people hold the keys".
    static func keyHolders(_ count: Int) -> String {
        count == 1 ? "1 person holds the keys" : "\(count) people hold the keys"
    }

    /// Whether `participantId`'s tile carries the broken-lock badge: their keys could not be checked.
    static func unverified(_ e2ee: E2ee?, _ participantId: String) -> Bool {
        e2ee?.unverified.contains(participantId) ?? false
    }

    /// The sheet's line about the people on `tiles` whose keys could not be checked, by name, or
    /// nil when there are none: "Can't exchange keys with Bob and Cy: they see and hear nothing of you."
    static func unverifiedLine(_ tiles: [Tile]) -> String? {
        let names = tiles.filter(\.unverified).map(\.name)
        guard let last = names.last else { return nil }
        let who = names.count == 1 ? last : names.dropLast().joined(separator: ", ") + " and " + last
        return "\(cantExchangeKeys) with \(who): they see and hear nothing of you."
    }
}
