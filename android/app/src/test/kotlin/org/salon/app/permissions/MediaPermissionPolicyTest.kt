package org.salon.app.permissions

import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertNull
import org.junit.Assert.assertTrue
import org.junit.Test
import org.salon.app.permissions.Capture.Camera
import org.salon.app.permissions.Capture.Microphone
import org.salon.app.permissions.PermissionStatus.Denied
import org.salon.app.permissions.PermissionStatus.Granted
import org.salon.app.permissions.PermissionStatus.NotAsked
import org.salon.app.permissions.PermissionStatus.PermanentlyDenied

/** The camera and microphone permissions: asked in context, joining without what is refused. */
class MediaPermissionPolicyTest {
    @Test
    fun `status from what Android says and whether we asked`() {
        assertEquals(Granted, MediaPermissionPolicy.status(granted = true, shouldShowRationale = false, askedBefore = true))
        assertEquals(NotAsked, MediaPermissionPolicy.status(granted = false, shouldShowRationale = false, askedBefore = false))
        assertEquals(Denied, MediaPermissionPolicy.status(granted = false, shouldShowRationale = true, askedBefore = true))
        assertEquals(PermanentlyDenied, MediaPermissionPolicy.status(granted = false, shouldShowRationale = false, askedBefore = true))
    }

    @Test
    fun `only what the dialog can still grant is asked for`() {
        val statuses = mapOf(Camera to PermanentlyDenied, Microphone to NotAsked)
        assertEquals(setOf(Microphone), MediaPermissionPolicy.toRequest(setOf(Camera, Microphone), statuses))
        assertEquals(setOf(Camera), MediaPermissionPolicy.toRequest(setOf(Camera), mapOf(Camera to Denied)))
        assertEquals(emptySet<Capture>(), MediaPermissionPolicy.toRequest(setOf(Camera), mapOf(Camera to Granted)))
        // Nothing wanted, nothing asked.
        assertEquals(emptySet<Capture>(), MediaPermissionPolicy.toRequest(emptySet(), mapOf(Camera to NotAsked)))
    }

    @Test
    fun `all granted joins with both and says nothing`() {
        val grant = MediaPermissionPolicy.outcome(setOf(Camera, Microphone), mapOf(Camera to Granted, Microphone to Granted))
        assertEquals(MediaGrant(camera = true, microphone = true, note = null), grant)
    }

    @Test
    fun `a refusal joins without it and explains, with another try`() {
        val grant = MediaPermissionPolicy.outcome(setOf(Camera, Microphone), mapOf(Camera to Denied, Microphone to Granted))
        assertFalse(grant.camera)
        assertTrue(grant.microphone)
        val note = grant.note!!
        assertEquals(setOf(Camera), note.missing)
        assertFalse(note.settingsNeeded)
        assertEquals("Allow", note.actionLabel)
        assertEquals("Salon may not use your camera, so others can't see you.", note.text)
    }

    @Test
    fun `don't ask again sends the user to the settings`() {
        val grant = MediaPermissionPolicy.outcome(setOf(Camera, Microphone), mapOf(Camera to PermanentlyDenied, Microphone to PermanentlyDenied))
        assertEquals(MediaGrant(camera = false, microphone = false, note = PermissionNote(setOf(Camera, Microphone), settingsNeeded = true)), grant)
        assertEquals("Open settings", grant.note!!.actionLabel)
        assertEquals("Salon may not use your camera and microphone, so others can't see you.", grant.note.text)
        val mic = MediaPermissionPolicy.outcome(setOf(Microphone), mapOf(Microphone to PermanentlyDenied)).note!!
        assertEquals("Salon may not use your microphone, so others can't hear you.", mic.text)
    }

    @Test
    fun `what was not wanted is neither used nor explained`() {
        val grant = MediaPermissionPolicy.outcome(setOf(Microphone), mapOf(Camera to Granted, Microphone to Granted))
        assertEquals(MediaGrant(camera = false, microphone = true), grant)
        assertNull(grant.note)
    }

    @Test
    fun `the permission names`() {
        assertEquals(android.Manifest.permission.CAMERA, Camera.permission)
        assertEquals(android.Manifest.permission.RECORD_AUDIO, Microphone.permission)
    }
}
