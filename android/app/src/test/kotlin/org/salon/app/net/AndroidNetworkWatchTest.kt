package org.salon.app.net

import android.app.Application
import android.net.ConnectivityManager
import android.net.LinkProperties
import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Test
import org.junit.runner.RunWith
import org.robolectric.RobolectricTestRunner
import org.robolectric.RuntimeEnvironment
import org.robolectric.Shadows.shadowOf
import org.robolectric.annotation.Config
import org.robolectric.shadows.ShadowNetwork
import org.robolectric.shadows.ShadowNetworkCapabilities

/** The default-network callback, registered with the call and translated into [NetworkEvent]s. */
@RunWith(RobolectricTestRunner::class)
@Config(sdk = [34], manifest = Config.NONE)
class AndroidNetworkWatchTest {
    private val app: Application = RuntimeEnvironment.getApplication()
    private val connectivity = checkNotNull(app.getSystemService(ConnectivityManager::class.java))

    @Test
    fun `the default network's callbacks become events until stop`() {
        val watch = AndroidNetworkWatch(app)
        assertEquals(connectivity.activeNetwork?.networkHandle, watch.current)
        val events = mutableListOf<NetworkEvent>()
        watch.start { events += it }
        val callback = shadowOf(connectivity).networkCallbacks.single()

        val cell = ShadowNetwork.newInstance(7)
        callback.onAvailable(cell)
        callback.onCapabilitiesChanged(cell, ShadowNetworkCapabilities.newInstance())
        callback.onLinkPropertiesChanged(cell, LinkProperties())
        callback.onLost(cell)
        val handle = cell.networkHandle
        assertEquals(
            listOf(
                NetworkEvent.Available(handle),
                NetworkEvent.Capabilities(handle),
                NetworkEvent.Addresses(handle, emptySet()),
                NetworkEvent.Lost(handle),
            ),
            events,
        )

        watch.stop()
        assertTrue(shadowOf(connectivity).networkCallbacks.isEmpty())
        // A callback that was already queued when the call ended goes nowhere.
        callback.onAvailable(cell)
        assertEquals(4, events.size)
        watch.stop()
    }
}
