package org.salon.app.media

import org.salon.core.I420Frame
import java.nio.ByteBuffer

/**
 * One plane of a camera picture as `android.media.Image.Plane` describes it: its bytes, the
 * distance between rows ([rowStride]) and between neighbouring samples in a row ([pixelStride]:
 * 1 for planar I420/YV12, 2 for the interleaved NV12/NV21 layouts most phones give).
 */
class YuvPlane(val buffer: ByteBuffer, val rowStride: Int, val pixelStride: Int)

/**
 * Converts a `YUV_420_888` picture ([width]×[height], as the camera wrote it) into the core's
 * tightly packed I420, turned clockwise by [rotation] degrees (0, 90, 180 or 270) so that the
 * people in it stand upright. Odd sizes lose their last row or column (I420 needs even ones).
 * Pure JVM code over the planes' buffers (their positions are not moved): it runs on the
 * camera's own thread, never on the main one.
 *
 * [reuse], when it has the right size, is written into instead of allocating a new array.
 */
fun yuv420ToI420(
    width: Int,
    height: Int,
    y: YuvPlane,
    u: YuvPlane,
    v: YuvPlane,
    rotation: Int,
    timestampUs: Long,
    reuse: ByteArray? = null,
): I420Frame {
    require(rotation == 0 || rotation == 90 || rotation == 180 || rotation == 270) { "rotation must be a right angle, got $rotation" }
    val w = width and 1.inv()
    val h = height and 1.inv()
    require(w > 0 && h > 0) { "a picture of ${width}x$height is too small" }
    val turned = rotation == 90 || rotation == 270
    val outW = if (turned) h else w
    val outH = if (turned) w else h
    val size = outW * outH * 3 / 2
    val out = if (reuse != null && reuse.size == size) reuse else ByteArray(size)
    val uStart = outW * outH
    val vStart = uStart + (outW / 2) * (outH / 2)
    copyPlane(y, w, h, rotation, out, 0, outW)
    copyPlane(u, w / 2, h / 2, rotation, out, uStart, outW / 2)
    copyPlane(v, w / 2, h / 2, rotation, out, vStart, outW / 2)
    return I420Frame(outW, outH, out, timestampUs)
}

/** Copies a [w]×[h] plane into [out] at [offset], turned by [rotation]; [outStride] is the turned width. */
private fun copyPlane(plane: YuvPlane, w: Int, h: Int, rotation: Int, out: ByteArray, offset: Int, outStride: Int) {
    val buf = plane.buffer
    val base = buf.position()
    val rs = plane.rowStride
    val ps = plane.pixelStride
    require(ps >= 1 && rs >= (w - 1) * ps + 1) { "plane strides ($rs, $ps) too small for width $w" }
    require(buf.limit() - base >= (h - 1) * rs + (w - 1) * ps + 1) { "plane of ${buf.limit() - base} bytes too short for ${w}x$h" }
    if (rotation == 0 && ps == 1) {
        // The common fast path for the Y plane: whole rows at once.
        val dup = buf.duplicate()
        for (row in 0 until h) {
            dup.position(base + row * rs)
            dup.get(out, offset + row * outStride, w)
        }
        return
    }
    // Each source row is read in bulk into a heap array first: one bounds-checked copy per row
    // instead of one `ByteBuffer.get` per sample on the camera's direct buffer.
    val rowBytes = (w - 1) * ps + 1
    val scratch = ByteArray(rowBytes)
    val dup = buf.duplicate()
    for (row in 0 until h) {
        dup.position(base + row * rs)
        dup.get(scratch, 0, rowBytes)
        // Where (col, row) lands once the picture is turned clockwise: start and step in [out].
        var at: Int
        val step: Int
        when (rotation) {
            0 -> {
                at = row * outStride
                step = 1
            }
            90 -> {
                at = h - 1 - row
                step = outStride
            }
            180 -> {
                at = (h - 1 - row) * outStride + (w - 1)
                step = -1
            }
            else -> {
                at = (w - 1) * outStride + row
                step = -outStride
            }
        }
        at += offset
        var src = 0
        for (col in 0 until w) {
            out[at] = scratch[src]
            at += step
            src += ps
        }
    }
}

/**
 * This plane seen from the picture's crop rectangle's top-left corner ([left], [top], in this
 * plane's own samples: halved for the chroma planes), for `Image.getCropRect()`. Shares the bytes.
 */
fun YuvPlane.cropped(left: Int, top: Int): YuvPlane {
    if (left == 0 && top == 0) return this
    require(left >= 0 && top >= 0) { "a crop starts inside the picture, not at ($left, $top)" }
    val moved = buffer.duplicate()
    moved.position(buffer.position() + top * rowStride + left * pixelStride)
    return YuvPlane(moved, rowStride, pixelStride)
}

/**
 * How far to turn the camera's pictures clockwise so that they are upright for the people who
 * receive them: the sensor's mounting ([sensorOrientation], `SENSOR_ORIENTATION`) against how the
 * phone is held ([deviceRotation], the display's rotation in degrees). The front camera's
 * picture is mirrored by the sensor, so its device rotation counts the other way.
 */
fun captureRotation(sensorOrientation: Int, deviceRotation: Int, frontFacing: Boolean): Int {
    val device = ((deviceRotation % 360) + 360) % 360
    val turn = if (frontFacing) sensorOrientation + device else sensorOrientation - device
    return ((turn % 360) + 360) % 360
}

/**
 * Picks the capture size among what the camera offers ([sizes], width × height in the sensor's
 * landscape orientation): the one closest in area to [targetWidth]×[targetHeight] among those with
 * the target's aspect ratio (within 5 %), else the one closest in area overall. Null if none.
 */
fun chooseCaptureSize(
    sizes: List<Pair<Int, Int>>,
    targetWidth: Int = CaptureFormat.SENSOR_WIDTH,
    targetHeight: Int = CaptureFormat.SENSOR_HEIGHT,
): Pair<Int, Int>? {
    if (sizes.isEmpty()) return null
    val aspect = targetWidth.toDouble() / targetHeight
    val targetArea = targetWidth.toLong() * targetHeight
    val sameShape = sizes.filter { (w, h) -> h > 0 && kotlin.math.abs(w.toDouble() / h - aspect) / aspect < 0.05 }
    val pool = sameShape.ifEmpty { sizes }
    // Closest in area; on a tie the smaller one (cheaper to convert and encode).
    return pool.minWithOrNull(compareBy<Pair<Int, Int>>({ kotlin.math.abs(it.first.toLong() * it.second - targetArea) }, { it.first.toLong() * it.second }))
}
