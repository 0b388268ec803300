package org.salon.app.call

import org.salon.core.ParticipantView
import org.salon.core.SalonError

/**
 * What the grid shows now, as the screen reports it: the tiles at least partly on screen
 * ([visible]) out of the tiles the grid has laid out ([of]). Reported when that changes (a
 * scroll brings a tile in or takes one out, someone comes or goes), not per frame.
 */
data class TilesShown(val visible: Set<String>, val of: Set<String>)

/**
 * Tells the core how each other participant's video is shown ([org.salon.core.Call.setView]):
 * the main tile (pinned, or the only one, drawn filling the screen) is [ParticipantView.Large],
 * grid tiles on screen are [ParticipantView.Thumbnail], grid tiles scrolled off are
 * [ParticipantView.Hidden]. Someone the grid has not reported yet (they just came in) is left
 * alone: the core counts anyone never set as a thumbnail. Only changes reach [setView], so
 * [update] may be called on every report; the core coalesces what it sends to the server.
 */
class TileViews(private val setView: (participantId: String, view: ParticipantView) -> Unit) {
    private val told = HashMap<String, ParticipantView>()

    /** Brings the core up to date with [participants] (ids), the [main] tile and what is [shown]. */
    fun update(participants: List<String>, main: String?, shown: TilesShown?) {
        told.keys.retainAll(participants.toSet())
        for (id in participants) {
            val view = viewOf(id, main, shown)
            if ((told[id] ?: ParticipantView.Thumbnail) == view) continue
            try {
                setView(id, view)
                told[id] = view
            } catch (e: SalonError) {
                // The call is over (or the id is not one the core knows): nothing to show anyway.
            }
        }
    }

    companion object {
        fun viewOf(id: String, main: String?, shown: TilesShown?): ParticipantView =
            when {
                id == main -> ParticipantView.Large
                shown == null -> ParticipantView.Thumbnail
                id in shown.visible -> ParticipantView.Thumbnail
                id in shown.of -> ParticipantView.Hidden
                else -> ParticipantView.Thumbnail
            }

        /** The tile drawn big: the pinned one while they are here, else the only one. */
        fun mainTile(participants: List<String>, pinned: String?): String? =
            pinned?.takeIf { it in participants } ?: participants.singleOrNull()
    }
}
