package org.salon.app.call

import org.junit.Assert.assertEquals
import org.junit.Test
import org.salon.core.ParticipantView
import org.salon.core.ParticipantView.Hidden
import org.salon.core.ParticipantView.Large
import org.salon.core.ParticipantView.Thumbnail
import org.salon.core.SalonError

/** What the core is told for each tile: only changes, and nothing before it matters. */
class TileViewsTest {
    private val told = mutableListOf<String>()
    private val views = TileViews { id, view -> told += "$id $view" }

    @Test
    fun `tiles on screen stay thumbnails and the core hears nothing`() {
        views.update(listOf("a", "b"), main = null, shown = null)
        views.update(listOf("a", "b"), main = null, shown = TilesShown(setOf("a", "b"), setOf("a", "b")))
        assertEquals(emptyList<String>(), told)
    }

    @Test
    fun `a tile scrolled off is hidden and comes back as a thumbnail, once each`() {
        val ids = listOf("a", "b", "c")
        views.update(ids, null, TilesShown(setOf("a", "b"), ids.toSet()))
        views.update(ids, null, TilesShown(setOf("a", "b"), ids.toSet()))
        views.update(ids, null, TilesShown(setOf("b", "c"), ids.toSet()))
        assertEquals(listOf("c Hidden", "a Hidden", "c Thumbnail"), told)
    }

    @Test
    fun `someone the grid has not laid out yet is left alone`() {
        views.update(listOf("a", "b"), null, TilesShown(setOf("a"), setOf("a")))
        assertEquals(emptyList<String>(), told)
    }

    @Test
    fun `the only tile and a pinned one are large`() {
        views.update(listOf("a"), TileViews.mainTile(listOf("a"), null), null)
        assertEquals(listOf("a Large"), told)
        told.clear()

        // Bob comes: two tiles in the grid, Ada is a thumbnail again.
        val ids = listOf("a", "b")
        views.update(ids, TileViews.mainTile(ids, null), TilesShown(setOf("a", "b"), ids.toSet()))
        assertEquals(listOf("a Thumbnail"), told)
        told.clear()

        // Bob pinned: out of the grid, large.
        views.update(ids, TileViews.mainTile(ids, "b"), TilesShown(setOf("a"), setOf("a")))
        assertEquals(listOf("b Large"), told)
    }

    @Test
    fun `the pin of someone who left is forgotten`() {
        assertEquals(null, TileViews.mainTile(listOf("a", "b"), "gone"))
        assertEquals("a", TileViews.mainTile(listOf("a"), "gone"))
        assertEquals(Large, TileViews.viewOf("a", "a", TilesShown(emptySet(), setOf("a"))))
        assertEquals(Hidden, TileViews.viewOf("b", "a", TilesShown(emptySet(), setOf("b"))))
        assertEquals(Thumbnail, TileViews.viewOf("b", null, null))
    }

    @Test
    fun `a refused view is tried again next time`() {
        var fail = true
        val tries = mutableListOf<ParticipantView>()
        val flaky =
            TileViews { _, view ->
                tries += view
                if (fail) throw SalonError.CallEnded()
            }
        val shown = TilesShown(emptySet(), setOf("a", "b"))
        flaky.update(listOf("a", "b"), null, shown)
        fail = false
        flaky.update(listOf("a", "b"), null, shown)
        assertEquals(listOf(Hidden, Hidden, Hidden, Hidden), tries)
    }
}
