import Foundation

/// What a link that opened the app asks for (Universal Links: the Associated Domains entitlement
/// names the server, whose `/.well-known/apple-app-site-association` names the app). Foundation
/// only, so that it builds and is tested on Linux too.
enum OpenedLink: Equatable {
    /// An invite link, `https://host/r/<id>#k=<key>`: join that room. `link` keeps the `#`
    /// fragment (the room's end-to-end key).
    case room(link: String, host: String)
    /// A friend card, `salon:friend?…` (as the core writes them) or `https://host/friend?…`:
    /// add that friend. `card` is the link exactly as it came, its `#k=` fragment included.
    case friend(card: String)

    /// Length of a Salon room id (`salon_protocol::ROOM_ID_LEN`).
    static let roomIdLength = 22

    /// Reads a link the system handed the app: a friend card `salon:friend?…`, or an https (or,
    /// for a server on a LAN, http) link whose path is `/r/<room id>` (a trailing `/` allowed) or
    /// `/friend` with a query. Anything
    /// else, a room id of the wrong shape included, is `nil`: the app then just opens. The core
    /// checks the link again when it joins or adds the friend, with a clear error for the user.
    init?(_ url: URL) {
        let text = url.absoluteString
        guard text.utf8.count <= 8 * 1024 else { return nil }
        if url.scheme?.lowercased() == "salon" {
            let rest = text.dropFirst("salon:".count)
            guard rest.hasPrefix("friend?"), rest.count > "friend?".count else { return nil }
            self = .friend(card: text)
            return
        }
        guard let parts = URLComponents(url: url, resolvingAgainstBaseURL: false),
              let scheme = parts.scheme?.lowercased(), scheme == "https" || scheme == "http",
              let host = parts.host, !host.isEmpty
        else { return nil }
        let path = parts.percentEncodedPath
        if path == "/friend" || path == "/friend/" {
            guard let query = parts.percentEncodedQuery, !query.isEmpty else { return nil }
            self = .friend(card: text)
            return
        }
        guard path.hasPrefix("/r/") else { return nil }
        var id = Substring(path.dropFirst(3))
        if id.hasSuffix("/") { id = id.dropLast() }
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")
        guard id.count == Self.roomIdLength, id.allSatisfy({ allowed.contains($0) }) else { return nil }
        let port = parts.port.map { ":\($0)" } ?? ""
        // The fragment stays as it came: `#k=…` is the room's end-to-end key, which never goes to
        // the server, and without it the core refuses to join an encrypted room.
        let fragment = parts.percentEncodedFragment.map { "#\($0)" } ?? ""
        self = .room(link: "\(scheme)://\(host)\(port)/r/\(id)\(fragment)", host: host)
    }
}
