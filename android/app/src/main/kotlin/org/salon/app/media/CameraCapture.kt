package org.salon.app.media

import android.annotation.SuppressLint
import android.content.Context
import android.graphics.ImageFormat
import android.graphics.Rect
import android.hardware.camera2.CameraAccessException
import android.hardware.camera2.CameraCaptureSession
import android.hardware.camera2.CameraCharacteristics
import android.hardware.camera2.CameraDevice
import android.hardware.camera2.CameraManager
import android.hardware.camera2.CaptureRequest
import android.hardware.display.DisplayManager
import android.media.ImageReader
import android.os.Handler
import android.os.HandlerThread
import android.util.Log
import android.util.Range
import android.view.Display
import android.view.Surface
import org.salon.core.I420Frame

/**
 * The camera through Camera2 (CameraX is not on this project's Maven mirror): the front camera
 * by default, [flip] for the back one, about 1280×720 at up to 30 fps as `YUV_420_888` from an
 * `ImageReader`. Each picture is cropped to its crop rectangle, turned upright
 * ([captureRotation]), converted to I420 ([yuv420ToI420]) on the camera's own thread and handed
 * to [onFrame] (`Call.sendVideoFrame`, which copies it). The frame's array is reused for the
 * next picture once [onFrame] returns: copy what you keep. [start] needs the `CAMERA`
 * permission; [stop] lets the camera go.
 *
 * Each [start] is a [Run] with its own thread; everything a run holds (the device, the session,
 * the reader) is touched only on that thread, so a [flip] or [stop] never races a callback of
 * the run before. A run's thread ends only once its camera is closed: a camera still opening
 * when [stop] came is closed as soon as it opens, never left on.
 */
class CameraCapture(
    context: Context,
    private val onFrame: (I420Frame) -> Unit,
    private val onError: (String) -> Unit = {},
) {
    private val manager = context.getSystemService(CameraManager::class.java)
    private val displays = context.getSystemService(DisplayManager::class.java)
    private val lock = Any()
    private var run: Run? = null

    /** Using the front camera (else the back one). */
    @Volatile var frontFacing = true
        private set

    /** While false, pictures are dropped before conversion (nobody watches me). */
    @Volatile var sending = true

    val isRunning: Boolean get() = synchronized(lock) { run != null }

    fun start(front: Boolean = frontFacing) {
        synchronized(lock) {
            if (run != null && front == frontFacing) return
            run?.stop()
            frontFacing = front
            run = Run(front).also { it.begin() }
        }
    }

    /** Switches between the front and back cameras. */
    fun flip() {
        synchronized(lock) {
            val running = run != null
            frontFacing = !frontFacing
            if (running) {
                run?.stop()
                run = Run(frontFacing).also { it.begin() }
            }
        }
    }

    fun stop() =
        synchronized(lock) {
            run?.stop()
            run = null
        }

    /** One opening of the camera, on its own thread; all its fields belong to that thread. */
    private inner class Run(private val front: Boolean) {
        private val thread = HandlerThread("salon-camera").also { it.start() }
        private val handler = Handler(thread.looper)
        private var stopped = false

        /** `openCamera` was called and neither `onOpened` nor a failure came yet. */
        private var opening = false
        private var device: CameraDevice? = null
        private var session: CameraCaptureSession? = null
        private var reader: ImageReader? = null
        private var sensorOrientation = 0
        private var facingFront = front

        /** The converted picture's array, reused from one picture to the next. */
        private var reuse: ByteArray? = null

        /** The display's rotation in degrees, kept up to date by [displayListener] (not read per picture). */
        @Volatile private var displayRotation = 0
        private val displayListener =
            object : DisplayManager.DisplayListener {
                override fun onDisplayAdded(displayId: Int) {}

                override fun onDisplayRemoved(displayId: Int) {}

                override fun onDisplayChanged(displayId: Int) {
                    if (displayId == Display.DEFAULT_DISPLAY) displayRotation = readDisplayRotation()
                }
            }

        fun begin() {
            handler.post { open() }
        }

        /** Lets the camera go (on the run's thread, after whatever callback is running). */
        fun stop() {
            handler.post {
                if (stopped) return@post
                stopped = true
                close()
                if (!opening) end()
            }
        }

        private fun close() {
            try {
                session?.close()
            } catch (_: RuntimeException) {
            }
            session = null
            device?.close()
            device = null
            reader?.close()
            reader = null
        }

        private fun end() {
            displays?.unregisterDisplayListener(displayListener)
            thread.quitSafely()
        }

        /** The camera failed or went away: let it go, say so unless we were stopping anyway. */
        private fun failed(message: String?) {
            opening = false
            close()
            if (stopped) {
                end()
            } else if (message != null) {
                onError(message)
            }
        }

        @SuppressLint("MissingPermission") // the caller checked CAMERA (PermissionBroker)
        private fun open() {
            if (stopped) return
            val manager = manager ?: return onError("This device has no camera")
            try {
                val wanted = if (front) CameraCharacteristics.LENS_FACING_FRONT else CameraCharacteristics.LENS_FACING_BACK
                val ids = manager.cameraIdList
                val id = ids.firstOrNull { manager.getCameraCharacteristics(it).get(CameraCharacteristics.LENS_FACING) == wanted } ?: ids.firstOrNull()
                if (id == null) {
                    onError("This device has no camera")
                    return
                }
                val chars = manager.getCameraCharacteristics(id)
                sensorOrientation = chars.get(CameraCharacteristics.SENSOR_ORIENTATION) ?: 0
                facingFront = chars.get(CameraCharacteristics.LENS_FACING) == CameraCharacteristics.LENS_FACING_FRONT
                val map = chars.get(CameraCharacteristics.SCALER_STREAM_CONFIGURATION_MAP)
                val sizes = map?.getOutputSizes(ImageFormat.YUV_420_888)?.map { it.width to it.height }.orEmpty()
                val (w, h) = chooseCaptureSize(sizes) ?: (640 to 480)
                val fps =
                    chooseFpsRange(
                        chars.get(CameraCharacteristics.CONTROL_AE_AVAILABLE_TARGET_FPS_RANGES)?.map { it.lower to it.upper }.orEmpty(),
                    )
                displayRotation = readDisplayRotation()
                displays?.registerDisplayListener(displayListener, handler)
                val imageReader = ImageReader.newInstance(w, h, ImageFormat.YUV_420_888, 3)
                imageReader.setOnImageAvailableListener(::deliver, handler)
                reader = imageReader
                opening = true
                manager.openCamera(
                    id,
                    object : CameraDevice.StateCallback() {
                        override fun onOpened(camera: CameraDevice) {
                            opening = false
                            if (stopped) {
                                // stop() came while opening: close now, then end the thread.
                                camera.close()
                                end()
                                return
                            }
                            device = camera
                            configure(camera, imageReader, fps)
                        }

                        override fun onDisconnected(camera: CameraDevice) {
                            // Another app (or a higher-priority client) took the camera.
                            camera.close()
                            failed("The camera was taken by another app")
                        }

                        override fun onError(camera: CameraDevice, error: Int) {
                            camera.close()
                            failed("Camera error $error")
                        }
                    },
                    handler,
                )
            } catch (e: CameraAccessException) {
                failed("Camera unavailable: ${e.message}")
            } catch (e: SecurityException) {
                failed("No permission to use the camera")
            } catch (e: RuntimeException) {
                failed("Camera unavailable: ${e.message}")
            }
        }

        @Suppress("DEPRECATION") // SessionConfiguration needs API 28; minSdk is 26
        private fun configure(camera: CameraDevice, imageReader: ImageReader, fps: Pair<Int, Int>?) {
            try {
                camera.createCaptureSession(
                    listOf(imageReader.surface),
                    object : CameraCaptureSession.StateCallback() {
                        override fun onConfigured(s: CameraCaptureSession) {
                            if (stopped || device !== camera) {
                                s.close()
                                return
                            }
                            session = s
                            try {
                                val request = camera.createCaptureRequest(CameraDevice.TEMPLATE_RECORD)
                                request.addTarget(imageReader.surface)
                                if (fps != null) request.set(CaptureRequest.CONTROL_AE_TARGET_FPS_RANGE, Range(fps.first, fps.second))
                                s.setRepeatingRequest(request.build(), null, handler)
                            } catch (e: CameraAccessException) {
                                onError("Camera unavailable: ${e.message}")
                            } catch (e: IllegalStateException) {
                                // Closed meanwhile.
                            }
                        }

                        override fun onConfigureFailed(s: CameraCaptureSession) {
                            if (!stopped) onError("The camera could not be set up")
                        }
                    },
                    handler,
                )
            } catch (e: CameraAccessException) {
                onError("Camera unavailable: ${e.message}")
            } catch (e: IllegalStateException) {
                // The device was closed meanwhile (disconnected).
            }
        }

        private fun deliver(r: ImageReader) {
            val image =
                try {
                    r.acquireLatestImage()
                } catch (e: IllegalStateException) {
                    null
                } ?: return
            try {
                if (stopped || !sending) return
                val planes = image.planes
                // Most cameras crop nothing; some give padded pictures and say so here. Even
                // corners keep the chroma planes aligned with the luma one.
                val crop = image.cropRect.takeUnless { it.isEmpty } ?: Rect(0, 0, image.width, image.height)
                val left = crop.left and 1.inv()
                val top = crop.top and 1.inv()
                val frame =
                    yuv420ToI420(
                        crop.right - left,
                        crop.bottom - top,
                        YuvPlane(planes[0].buffer, planes[0].rowStride, planes[0].pixelStride).cropped(left, top),
                        YuvPlane(planes[1].buffer, planes[1].rowStride, planes[1].pixelStride).cropped(left / 2, top / 2),
                        YuvPlane(planes[2].buffer, planes[2].rowStride, planes[2].pixelStride).cropped(left / 2, top / 2),
                        captureRotation(sensorOrientation, displayRotation, facingFront),
                        image.timestamp / 1000,
                        reuse,
                    )
                reuse = frame.data
                onFrame(frame)
            } catch (e: Exception) {
                // A malformed picture, or the call ended under us (SalonError.CallEnded).
                Log.w(TAG, "dropped a camera picture: ${e.message}")
            } finally {
                image.close()
            }
        }
    }

    private fun readDisplayRotation(): Int =
        when (displays?.getDisplay(Display.DEFAULT_DISPLAY)?.rotation) {
            Surface.ROTATION_90 -> 90
            Surface.ROTATION_180 -> 180
            Surface.ROTATION_270 -> 270
            else -> 0
        }

    private companion object {
        const val TAG = "SalonCamera"
    }
}

/**
 * The auto-exposure frame-rate range to ask for, among the camera's ([ranges], low to high
 * fps): the highest top up to 30 fps, and with it the lowest bottom of at least 15 (so that the
 * camera may slow down in dim light rather than show a dark picture). Null if none.
 */
fun chooseFpsRange(ranges: List<Pair<Int, Int>>): Pair<Int, Int>? {
    val usable = ranges.filter { it.second <= 30 }.ifEmpty { ranges }
    val top = usable.maxOfOrNull { it.second } ?: return null
    val withTop = usable.filter { it.second == top }
    return withTop.filter { it.first >= 15 }.minByOrNull { it.first } ?: withTop.maxBy { it.first }
}
