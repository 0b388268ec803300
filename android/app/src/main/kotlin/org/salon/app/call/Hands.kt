package org.salon.app.call

import org.salon.core.RoomState

/** The raised hands of a room as a queue, for hosts to take in turn. */
object Hands {
    /**
     * Everyone whose hand is up, me included ("You"), in the order they raised it: the core's
     * numbers only order the queue, the positions shown count from 1.
     */
    fun queue(room: RoomState): List<RaisedHand> {
        val up = room.participants.mapNotNull { p -> p.hand?.let { Triple(it, p.id, p.name) } }.toMutableList()
        val me = room.me
        if (me != null) room.myHand?.let { up += Triple(it, me, "You") }
        return up.sortedWith(compareBy({ it.first }, { it.second })).mapIndexed { i, (_, id, name) ->
            RaisedHand(id, name, position = i + 1, mine = id == me)
        }
    }
}
