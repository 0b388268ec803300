package org.salon.app.media

import org.junit.Assert.assertEquals
import org.junit.Assert.assertNull
import org.junit.Test
import org.salon.app.media.AudioRoute.Bluetooth
import org.salon.app.media.AudioRoute.Earpiece
import org.salon.app.media.AudioRoute.Speaker
import org.salon.app.media.AudioRoute.WiredHeadset

/** Which way the call's sound goes. */
class RouteChooserTest {
    private val phone = listOf(Earpiece, Speaker)

    @Test
    fun `a video call uses the speaker, an audio-only one the earpiece`() {
        assertEquals(Speaker, RouteChooser.choose(phone, picked = null, cameraOn = true))
        assertEquals(Earpiece, RouteChooser.choose(phone, picked = null, cameraOn = false))
    }

    @Test
    fun `a tablet without earpiece uses the speaker`() {
        assertEquals(Speaker, RouteChooser.choose(listOf(Speaker), picked = null, cameraOn = false))
    }

    @Test
    fun `headsets win, Bluetooth before wired`() {
        assertEquals(WiredHeadset, RouteChooser.choose(phone + WiredHeadset, null, cameraOn = true))
        assertEquals(Bluetooth, RouteChooser.choose(phone + WiredHeadset + Bluetooth, null, cameraOn = true))
    }

    @Test
    fun `what the user picked wins while it is there`() {
        assertEquals(Speaker, RouteChooser.choose(phone + Bluetooth, picked = Speaker, cameraOn = false))
        // The headset they picked went away: back to the rules.
        assertEquals(Earpiece, RouteChooser.choose(phone, picked = Bluetooth, cameraOn = false))
    }

    @Test
    fun `nothing to choose from`() {
        assertNull(RouteChooser.choose(emptyList(), null, cameraOn = true))
        assertNull(RouteChooser.next(emptyList(), null))
    }

    @Test
    fun `the audio button cycles through what is there`() {
        val all = listOf(Bluetooth, Earpiece, Speaker)
        assertEquals(Speaker, RouteChooser.next(all, Earpiece))
        assertEquals(Bluetooth, RouteChooser.next(all, Speaker))
        assertEquals(Earpiece, RouteChooser.next(all, Bluetooth))
        assertEquals(Earpiece, RouteChooser.next(all, null))
    }

    @Test
    fun `device types map to routes`() {
        assertEquals(Earpiece, routeOfDeviceType(android.media.AudioDeviceInfo.TYPE_BUILTIN_EARPIECE))
        assertEquals(Speaker, routeOfDeviceType(android.media.AudioDeviceInfo.TYPE_BUILTIN_SPEAKER))
        assertEquals(WiredHeadset, routeOfDeviceType(android.media.AudioDeviceInfo.TYPE_WIRED_HEADSET))
        assertEquals(Bluetooth, routeOfDeviceType(android.media.AudioDeviceInfo.TYPE_BLUETOOTH_SCO))
        assertNull(routeOfDeviceType(android.media.AudioDeviceInfo.TYPE_HDMI))
    }
}
