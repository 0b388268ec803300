package org.salon.app.service

import android.content.pm.ServiceInfo
import org.junit.Assert.assertEquals
import org.junit.Assert.assertNull
import org.junit.Test

/** Only the foreground-service types whose permission is granted (Android 14 throws otherwise). */
class ForegroundTypesTest {
    @Test
    fun `the constants are the platform's`() {
        assertEquals(ServiceInfo.FOREGROUND_SERVICE_TYPE_CAMERA, ForegroundTypes.CAMERA)
        assertEquals(ServiceInfo.FOREGROUND_SERVICE_TYPE_MICROPHONE, ForegroundTypes.MICROPHONE)
    }

    @Test
    fun `granted types only`() {
        assertEquals(ForegroundTypes.CAMERA or ForegroundTypes.MICROPHONE, ForegroundTypes.of(true, true, 34))
        assertEquals(ForegroundTypes.MICROPHONE, ForegroundTypes.of(false, true, 34))
        assertEquals(ForegroundTypes.CAMERA, ForegroundTypes.of(true, false, 34))
    }

    @Test
    fun `neither granted on Android 14 means no foreground service`() {
        assertNull(ForegroundTypes.of(false, false, 34))
        assertEquals(0, ForegroundTypes.of(false, false, 33))
    }

    @Test
    fun `older Androids`() {
        assertEquals(0, ForegroundTypes.of(true, true, 28))
        // Android 10 knows the camera type but not the microphone one.
        assertEquals(ForegroundTypes.CAMERA, ForegroundTypes.of(true, true, 29))
    }
}
