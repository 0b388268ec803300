package org.salon.app.call

import org.salon.core.E2ee

/**
 * What the call screen says about end-to-end encryption (docs/adr/0003-e2ee.md §3): the chip
 * under the room's name, the safety-code sheet it opens, and the badge on the tiles of people
 * whose keys could not be checked. Words only, no Compose: tested on the JVM.
 */
object Encryption {
    /** The muted chip of a room that is not encrypted (a legacy room). */
    const val NOT_ENCRYPTED = "Not end-to-end encrypted"

    /** The safety-code sheet's advice, under the code. */
    const val READ_ALOUD =
        "Read it aloud: everyone should see the same code. If someone's differs, someone may be listening in."

    /** The badge on the tile of someone whose keys could not be checked (its content description). */
    const val CANT_EXCHANGE_KEYS = "Can't exchange keys"

    /** The chip: `Encrypted · 4821 0937 1165` in an encrypted call, else [NOT_ENCRYPTED]. */
    fun chipLabel(e2ee: E2ee?): String = if (e2ee == null) NOT_ENCRYPTED else "Encrypted · ${e2ee.safetyCode}"

    /** How many people hold the call's keys, me included: "4 people hold the keys". */
    fun keyHolders(count: Int): String = if (count == 1) "1 person holds the keys" else "$count people hold the keys"

    /** Whether [participantId]'s tile carries the broken-lock badge: their keys could not be checked. */
    fun unverified(e2ee: E2ee?, participantId: String): Boolean = e2ee != null && participantId in e2ee.unverified

    /**
     * The sheet's line about the people on [tiles] whose keys could not be checked, by name, or
     * null when there are none: "Can't exchange keys with Bob and Cy: they see and hear nothing of you."
     */
    fun unverifiedLine(tiles: List<Tile>): String? {
        val names = tiles.filter { it.unverified }.map { it.name }
        if (names.isEmpty()) return null
        val who = if (names.size == 1) names.single() else names.dropLast(1).joinToString(", ") + " and " + names.last()
        return "$CANT_EXCHANGE_KEYS with $who: they see and hear nothing of you."
    }
}
