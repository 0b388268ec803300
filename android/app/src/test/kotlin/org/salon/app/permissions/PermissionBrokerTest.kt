package org.salon.app.permissions

import android.Manifest
import android.app.Application
import androidx.activity.ComponentActivity
import org.robolectric.RuntimeEnvironment
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.yield
import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertTrue
import org.junit.Test
import org.junit.runner.RunWith
import org.robolectric.Robolectric
import org.robolectric.RobolectricTestRunner
import org.robolectric.Shadows.shadowOf
import org.robolectric.annotation.Config

/** The permissions flow on Robolectric's Android: statuses, the dialog, and what the call may use. */
@RunWith(RobolectricTestRunner::class)
@Config(sdk = [34], manifest = Config.NONE)
class PermissionBrokerTest {
    private val app: Application = RuntimeEnvironment.getApplication()

    @Test
    fun `never asked, then granted`() {
        val broker = PermissionBroker(app)
        assertEquals(PermissionStatus.NotAsked, broker.status(Capture.Camera))
        shadowOf(app).grantPermissions(Manifest.permission.CAMERA)
        assertEquals(PermissionStatus.Granted, broker.status(Capture.Camera))
        assertEquals(PermissionStatus.NotAsked, broker.status(Capture.Microphone))
    }

    @Test
    fun `already granted joins with both, no dialog`() =
        runBlocking {
            shadowOf(app).grantPermissions(Manifest.permission.CAMERA, Manifest.permission.RECORD_AUDIO)
            val grant = PermissionBroker(app).request(setOf(Capture.Camera, Capture.Microphone))
            assertEquals(MediaGrant(camera = true, microphone = true), grant)
        }

    @Test
    fun `the dialog through the activity, a refusal joins without it`() {
        val activity = Robolectric.buildActivity(ComponentActivity::class.java).create().get()
        val broker = PermissionBroker(app)
        broker.attach(activity)
        runBlocking(Dispatchers.Unconfined) {
            val answer = async(start = CoroutineStart.UNDISPATCHED) { broker.request(setOf(Capture.Camera, Capture.Microphone)) }
            yield()
            // The system dialog was asked for both.
            val asked = shadowOf(activity).lastRequestedPermission
            assertEquals(setOf(Manifest.permission.CAMERA, Manifest.permission.RECORD_AUDIO), asked.requestedPermissions.toSet())
            // The user allows the microphone and refuses the camera.
            shadowOf(app).grantPermissions(Manifest.permission.RECORD_AUDIO)
            broker.onResult(mapOf(Manifest.permission.CAMERA to false, Manifest.permission.RECORD_AUDIO to true))
            val grant = answer.await()
            assertTrue(grant.microphone)
            assertFalse(grant.camera)
            assertEquals(setOf(Capture.Camera), grant.note?.missing)
        }
        // Asked before and no rationale now: Robolectric's activity says "don't ask again".
        assertEquals(PermissionStatus.PermanentlyDenied, broker.status(Capture.Camera))
        runBlocking {
            // Now nothing is asked again: the note says to open the settings.
            val grant = broker.request(setOf(Capture.Camera))
            assertTrue(grant.note!!.settingsNeeded)
        }
        broker.detach(activity)
    }

    @Test
    fun `a request answered with nothing (another dialog was up) does not count as asked`() {
        val activity = Robolectric.buildActivity(ComponentActivity::class.java).create().get()
        val broker = PermissionBroker(app)
        broker.attach(activity)
        runBlocking(Dispatchers.Unconfined) {
            val answer = async(start = CoroutineStart.UNDISPATCHED) { broker.request(setOf(Capture.Camera, Capture.Microphone)) }
            yield()
            // Android answers a second request at once, with empty results.
            broker.onResult(emptyMap())
            val grant = answer.await()
            assertFalse(grant.camera)
            // "Allow" again, not "Open settings".
            assertFalse(grant.note!!.settingsNeeded)
        }
        assertEquals(PermissionStatus.NotAsked, broker.status(Capture.Camera))
        assertEquals(PermissionStatus.NotAsked, broker.status(Capture.Microphone))
        broker.detach(activity)
    }

    @Test
    fun `the notifications dialog waits for a camera and microphone one on screen`() {
        val activity = Robolectric.buildActivity(ComponentActivity::class.java).create().get()
        val broker = PermissionBroker(app)
        broker.attach(activity)
        runBlocking(Dispatchers.Unconfined) {
            val media = async(start = CoroutineStart.UNDISPATCHED) { broker.request(setOf(Capture.Microphone)) }
            val notifications = async(start = CoroutineStart.UNDISPATCHED) { broker.requestNotifications() }
            yield()
            assertEquals(listOf(Manifest.permission.RECORD_AUDIO), shadowOf(activity).lastRequestedPermission.requestedPermissions.toList())
            shadowOf(app).grantPermissions(Manifest.permission.RECORD_AUDIO)
            broker.onResult(mapOf(Manifest.permission.RECORD_AUDIO to true))
            assertTrue(media.await().microphone)
            yield()
            // Only now the next dialog.
            assertEquals(listOf(Manifest.permission.POST_NOTIFICATIONS), shadowOf(activity).lastRequestedPermission.requestedPermissions.toList())
            broker.onResult(mapOf(Manifest.permission.POST_NOTIFICATIONS to true))
            notifications.await()
        }
        broker.detach(activity)
    }
}
