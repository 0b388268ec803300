package org.salon.app.service

import android.Manifest
import android.app.Application
import android.app.Notification
import android.content.Intent
import android.content.pm.ServiceInfo
import org.robolectric.RuntimeEnvironment
import org.junit.After
import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertNotNull
import org.junit.Assert.assertNull
import org.junit.Assert.assertTrue
import org.junit.Test
import org.junit.runner.RunWith
import org.robolectric.Robolectric
import org.robolectric.RobolectricTestRunner
import org.robolectric.Shadows.shadowOf
import org.robolectric.annotation.Config

/** The call's foreground service: started with a call, its notification, Leave. */
@RunWith(RobolectricTestRunner::class)
@Config(sdk = [34], manifest = Config.NONE)
class CallServiceTest {
    private val app: Application = RuntimeEnvironment.getApplication()

    @After
    fun tearDown() {
        OngoingCall.active.value?.let(OngoingCall::end)
    }

    private fun grant(vararg permissions: String) = shadowOf(app).grantPermissions(*permissions)

    private fun start(room: String = "Living room") =
        Robolectric.buildService(
            CallService::class.java,
            Intent(app, CallService::class.java).setAction(CallService.ACTION_START).putExtra(CallService.EXTRA_ROOM, room),
        ).create().startCommand(0, 1)

    @Test
    fun `a call with camera and microphone runs in the foreground with both types`() {
        grant(Manifest.permission.CAMERA, Manifest.permission.RECORD_AUDIO)
        val service = start().get()
        val shadow = shadowOf(service)
        val notification = shadow.lastForegroundNotification
        assertNotNull(notification)
        assertEquals(CallService.NOTIFICATION_ID, shadow.lastForegroundNotificationId)
        assertEquals(
            ServiceInfo.FOREGROUND_SERVICE_TYPE_CAMERA or ServiceInfo.FOREGROUND_SERVICE_TYPE_MICROPHONE,
            service.foregroundServiceType,
        )
        assertEquals("In Living room · tap to return", notification.extras.getCharSequence(Notification.EXTRA_TITLE).toString())
        assertTrue(notification.flags and Notification.FLAG_ONGOING_EVENT != 0)
        assertEquals(CallService.CHANNEL, notification.channelId)
        assertEquals(listOf("Leave"), notification.actions.map { it.title.toString() })
        assertNotNull(notification.contentIntent)
    }

    @Test
    fun `only the granted type is claimed`() {
        grant(Manifest.permission.RECORD_AUDIO)
        val service = start().get()
        assertEquals(ServiceInfo.FOREGROUND_SERVICE_TYPE_MICROPHONE, service.foregroundServiceType)
    }

    @Test
    fun `without either permission the service does not claim the foreground and stops`() {
        val service = start().get()
        assertNull(shadowOf(service).lastForegroundNotification)
        assertTrue(shadowOf(service).isStoppedBySelf)
        // And the call does not even start it.
        CallService.start(app, "Living room")
        assertNull(shadowOf(app).nextStartedService)
    }

    @Test
    fun `starting a call asks for the service in the foreground`() {
        grant(Manifest.permission.CAMERA)
        CallService.start(app, "Kitchen")
        val started = shadowOf(app).nextStartedService
        assertEquals(CallService::class.java.name, started.component?.className)
        assertEquals("Kitchen", started.getStringExtra(CallService.EXTRA_ROOM))
    }

    @Test
    fun `Leave leaves the call and stops the service`() {
        grant(Manifest.permission.CAMERA, Manifest.permission.RECORD_AUDIO)
        var left = 0
        val call = OngoingCall.Active("Living room") { left++ }
        OngoingCall.begin(call)
        val controller = start()
        val service = controller.get()
        // The notification's Leave action is a PendingIntent for the service with ACTION_LEAVE.
        val leave = shadowOf(service.let { shadowOf(it).lastForegroundNotification.actions[0].actionIntent }).savedIntent
        assertEquals(CallService.ACTION_LEAVE, leave.action)
        service.onStartCommand(leave, 0, 2)
        assertEquals(1, left)
        assertNull(OngoingCall.active.value)
        assertTrue(shadowOf(service).isForegroundStopped)
        assertTrue(shadowOf(service).isStoppedBySelf)
        // A second Leave (a double tap) leaves nothing twice.
        service.onStartCommand(leave, 0, 3)
        assertEquals(1, left)
    }

    @Test
    fun `the call ending stops the service through its own queue, after the start`() {
        grant(Manifest.permission.CAMERA)
        CallService.start(app, "Living room")
        assertNotNull(shadowOf(app).nextStartedService)
        // Not stopService: before onStartCommand ran startForeground, Android would crash the app.
        CallService.stop(app)
        val stop = shadowOf(app).nextStartedService
        assertEquals(CallService::class.java.name, stop.component?.className)
        assertEquals(CallService.ACTION_STOP, stop.action)
        assertFalse(OngoingCall.pictureInPicture.value)
    }

    @Test
    fun `the stop command takes the service out of the foreground and ends it, the call untouched`() {
        grant(Manifest.permission.CAMERA, Manifest.permission.RECORD_AUDIO)
        var left = 0
        val call = OngoingCall.Active("Living room") { left++ }
        OngoingCall.begin(call)
        val service = start().get()
        service.onStartCommand(Intent(app, CallService::class.java).setAction(CallService.ACTION_STOP), 0, 2)
        assertTrue(shadowOf(service).isForegroundStopped)
        assertTrue(shadowOf(service).isStoppedBySelf)
        assertEquals(0, left)
    }
}
