package org.salon.app

import android.content.Intent
import android.net.Uri
import android.os.Build
import org.junit.Assert.assertEquals
import org.junit.Assert.assertNull
import org.junit.Test
import org.junit.runner.RunWith
import org.robolectric.RobolectricTestRunner
import org.robolectric.RuntimeEnvironment
import org.robolectric.annotation.Config

/**
 * Robolectric really runs here: a real [Intent] with a real [Uri], as the system hands them to
 * [MainActivity], read back through the app's link logic ([openedLink]).
 *
 * SDK 34: the Android 15 (SDK 35) build that Robolectric 4.18 runs is not on every Maven mirror
 * (scripts/check-android.sh runs these tests where it is not; see android/README.md).
 */
@RunWith(RobolectricTestRunner::class)
@Config(sdk = [34])
class RobolectricSmokeTest {
    private val id = "AbCdEfGhIjKlMnOpQrStU_"

    @Test
    fun `runs on the Android framework`() {
        assertEquals("robolectric", Build.FINGERPRINT)
        assertEquals(34, Build.VERSION.SDK_INT)
        assertEquals(RuntimeEnvironment.getApplication().packageName, RuntimeEnvironment.getApplication().applicationInfo.packageName)
    }

    @Test
    fun `an invite link in a VIEW intent joins its room`() {
        val intent = Intent(Intent.ACTION_VIEW, Uri.parse("https://salon.example.org/r/$id"))
        assertEquals("salon.example.org", intent.data?.host)
        assertEquals(
            OpenedLink.Room("https://salon.example.org/r/$id", "salon.example.org"),
            openedLink(intent.dataString),
        )
    }

    @Test
    fun `a friend card as the core writes it adds the friend`() {
        val card = "salon:friend?v=1&name=Ada&room=https://salon.example.org/r/$id"
        val intent = Intent(Intent.ACTION_VIEW).setData(Uri.parse(card))
        assertEquals("salon", intent.scheme)
        assertEquals(OpenedLink.Friend(card), openedLink(intent.dataString))
    }

    @Test
    fun `an intent without a link opens the app`() {
        val intent = Intent(Intent.ACTION_MAIN).addCategory(Intent.CATEGORY_LAUNCHER)
        assertNull(intent.dataString)
        assertNull(openedLink(intent.dataString))
    }
}
