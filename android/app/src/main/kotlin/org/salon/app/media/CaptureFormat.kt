package org.salon.app.media

import org.salon.core.JoinOptions

/**
 * What the camera sends, and so what a call is joined with: the core's encoder is set up for the
 * size and bitrate in [JoinOptions] (it rebuilds itself for another size, but keeps the bitrate),
 * so they must describe the pictures [CameraCapture] really delivers — about 1280×720 from the
 * sensor, turned upright for a phone held in portrait.
 */
object CaptureFormat {
    /** The sensor size asked for (landscape, as sensors report it; see [chooseCaptureSize]). */
    const val SENSOR_WIDTH = 1280
    const val SENSOR_HEIGHT = 720

    /** 720p needs about twice the core's default 800 kb/s (which is for 640×360). */
    const val BITRATE_BPS = 1_500_000
    const val MAX_FPS = 30f

    /** Join options for sending the camera's pictures, upright (portrait). */
    fun joinOptions(name: String, microphoneOn: Boolean, cameraOn: Boolean): JoinOptions =
        JoinOptions(
            name = name,
            microphoneOn = microphoneOn,
            cameraOn = cameraOn,
            videoWidth = SENSOR_HEIGHT,
            videoHeight = SENSOR_WIDTH,
            videoBitrateBps = BITRATE_BPS,
            videoMaxFps = MAX_FPS,
        )
}
