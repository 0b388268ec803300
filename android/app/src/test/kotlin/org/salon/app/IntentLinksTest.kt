package org.salon.app

import android.content.Intent
import android.net.Uri
import org.junit.Assert.assertEquals
import org.junit.Assert.assertNull
import org.junit.Test
import org.junit.runner.RunWith
import org.robolectric.RobolectricTestRunner
import org.robolectric.annotation.Config

/** The activity's reading of the intent it was opened with, on the real Android Intent and Uri. */
@RunWith(RobolectricTestRunner::class)
@Config(sdk = [34], manifest = Config.NONE)
class IntentLinksTest {
    private val id = "abcdefghijklmnopqrstuv"

    @Test
    fun `an invite link in a VIEW intent joins its room`() {
        val intent = Intent(Intent.ACTION_VIEW, Uri.parse("https://salon.example.org/r/$id"))
        assertEquals(OpenedLink.Room("https://salon.example.org/r/$id", "salon.example.org"), openedLinkOf(intent))
    }

    @Test
    fun `a trailing slash and a port are fine`() {
        val intent = Intent(Intent.ACTION_VIEW, Uri.parse("https://salon.example.org:8443/r/$id/"))
        assertEquals(OpenedLink.Room("https://salon.example.org:8443/r/$id", "salon.example.org"), openedLinkOf(intent))
    }

    @Test
    fun `a friend card adds the friend`() {
        val card = "salon:friend?name=Ada&room=https%3A%2F%2Fsalon.example.org%2Fr%2F$id"
        assertEquals(OpenedLink.Friend(card), openedLinkOf(Intent(Intent.ACTION_VIEW, Uri.parse(card))))
    }

    @Test
    fun `other intents and links open nothing`() {
        assertNull(openedLinkOf(null))
        assertNull(openedLinkOf(Intent(Intent.ACTION_MAIN).addCategory(Intent.CATEGORY_LAUNCHER)))
        assertNull(openedLinkOf(Intent(Intent.ACTION_VIEW)))
        assertNull(openedLinkOf(Intent(Intent.ACTION_VIEW, Uri.parse("https://salon.example.org/r/short"))))
        assertNull(openedLinkOf(Intent(Intent.ACTION_VIEW, Uri.parse("https://salon.example.org/about"))))
        // An invite link sent with another action (SEND) is not opened.
        assertNull(openedLinkOf(Intent(Intent.ACTION_SEND, Uri.parse("https://salon.example.org/r/$id"))))
    }
}
