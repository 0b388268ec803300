package org.salon.app

import org.junit.Assert.assertEquals
import org.junit.Assert.assertNull
import org.junit.Test

/** Which links that open the app it acts on, and how. */
class LinksTest {
    private val id = "AbCdEfGhIjKlMnOpQrStU_"

    @Test
    fun `an invite link joins its room`() {
        assertEquals(
            OpenedLink.Room("https://salon.example.org/r/$id", "salon.example.org"),
            openedLink("https://salon.example.org/r/$id"),
        )
        assertEquals(
            OpenedLink.Room("http://192.168.1.5:8080/r/$id", "192.168.1.5"),
            openedLink("http://192.168.1.5:8080/r/$id/"),
        )
    }

    @Test
    fun `an invite link keeps its key, the part after the hash`() {
        val key = "k=" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0U-_"
        assertEquals(
            OpenedLink.Room("https://salon.example.org/r/$id#$key", "salon.example.org"),
            openedLink("https://salon.example.org/r/$id#$key"),
        )
        assertEquals(
            OpenedLink.Room("http://192.168.1.5:8080/r/$id#$key", "192.168.1.5"),
            openedLink("http://192.168.1.5:8080/r/$id/#$key"),
        )
    }

    @Test
    fun `a friend card keeps its key, in the card's own fragment`() {
        val key = "k=" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0U-_"
        val card = "https://salon.example.org/friend?v=1&name=Ada&room=https%3A%2F%2Fsalon.example.org%2Fr%2F$id#$key"
        assertEquals(OpenedLink.Friend(card), openedLink(card))
        val written = "salon:friend?v=1&name=Ada&room=https://salon.example.org/r/$id#$key"
        assertEquals(OpenedLink.Friend(written), openedLink(written))
    }

    @Test
    fun `a friend card adds the friend`() {
        val card = "https://salon.example.org/friend?v=1&n=Ada&r=https%3A%2F%2Fsalon.example.org%2Fr%2F$id"
        assertEquals(OpenedLink.Friend(card), openedLink(card))
        val written = "salon:friend?v=1&name=Ada&room=https://salon.example.org/r/$id"
        assertEquals(OpenedLink.Friend(written), openedLink(written))
    }

    @Test
    fun `anything else just opens the app`() {
        for (uri in listOf(
            null,
            "",
            "salon.example.org/r/$id",
            "ftp://salon.example.org/r/$id",
            "https:///r/$id",
            "https://salon.example.org/",
            "https://salon.example.org/r/",
            "https://salon.example.org/r/short",
            "https://salon.example.org/r/${id}x",
            "https://salon.example.org/r/AbCdEfGhIjKlMnOpQrSt%2F",
            "https://salon.example.org/r/$id/extra",
            "https://salon.example.org/friend",
            "salon:friend?",
            "salon:room?x=1",
            "salon://friend?v=1",
            "https://salon.example.org/api/rooms/$id",
            "https://salon.example.org/r/ÀbCdEfGhIjKlMnOpQrStU",
            "https://salon.example.org/r/" + "a".repeat(9000),
            "not a uri at all",
        )) {
            assertNull(uri, openedLink(uri))
        }
    }
}
