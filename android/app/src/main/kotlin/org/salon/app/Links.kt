package org.salon.app

import java.net.URI

/** What a link that opened the app asks for (Android App Links, see the manifest). */
sealed interface OpenedLink {
    /** An invite link, `https://host/r/<id>#k=<key>`: join that room. [link] keeps the `#` fragment (the key). */
    data class Room(val link: String, val host: String) : OpenedLink

    /**
     * A friend card, `salon:friend?…` (as the core writes them) or `https://host/friend?…`: add
     * that friend. [card] is the link exactly as it came, its `#k=` fragment (the room's key) included.
     */
    data class Friend(val card: String) : OpenedLink
}

/** Length of a Salon room id (`salon_protocol::ROOM_ID_LEN`). */
private const val ROOM_ID_LEN = 22

/**
 * Reads a link the system handed the app: a friend card `salon:friend?…`, or an https (or, for a
 * server on a LAN, http) link whose path is `/r/<room id>` (a trailing `/` allowed) or `/friend`
 * with a query. Anything else,
 * including a room id of the wrong shape, is `null`: the app then just opens. The core checks
 * the link again when it joins or adds the friend, with a clear error for the user.
 */
fun openedLink(uri: String?): OpenedLink? {
    if (uri == null || uri.length > 8 * 1024) return null
    val parsed = try {
        URI(uri)
    } catch (e: java.net.URISyntaxException) {
        return null
    }
    val scheme = parsed.scheme?.lowercase()
    if (scheme == "salon") {
        val card = parsed.rawSchemeSpecificPart.orEmpty()
        return if (card.startsWith("friend?") && card.length > "friend?".length) OpenedLink.Friend(uri) else null
    }
    if (scheme != "https" && scheme != "http") return null
    val host = parsed.host?.takeIf { it.isNotEmpty() } ?: return null
    val path = parsed.rawPath.orEmpty()
    if (path == "/friend" || path == "/friend/") {
        return if (parsed.rawQuery.isNullOrEmpty()) null else OpenedLink.Friend(uri)
    }
    val id = path.removePrefix("/r/").removeSuffix("/").takeIf { path.startsWith("/r/") } ?: return null
    val shaped = id.length == ROOM_ID_LEN && id.all { it.isLetterOrDigit() && it.code < 128 || it == '-' || it == '_' }
    // The fragment stays as it came: `#k=…` is the room's end-to-end key, which never goes to
    // the server, and without it the core refuses to join an encrypted room.
    val fragment = parsed.rawFragment?.let { "#$it" }.orEmpty()
    return if (shaped) OpenedLink.Room(link = "$scheme://${parsed.rawAuthority}/r/$id$fragment", host = host) else null
}
