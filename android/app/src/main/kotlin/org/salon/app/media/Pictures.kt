package org.salon.app.media

import android.graphics.Bitmap
import org.salon.core.I420Frame
import org.salon.core.toArgb

/**
 * A small ring of reusable pictures of one size: each [next] hands out the least recently used
 * one, so the one on screen (handed out last) and the one before it are never written to while
 * the next is filled. A new size starts a new ring (the old pictures go to [release]).
 */
class PictureRing<T : Any>(
    private val slots: Int = 3,
    private val create: (width: Int, height: Int) -> T,
    private val release: (T) -> Unit = {},
) {
    private val ring = ArrayList<T>(slots)
    private var width = 0
    private var height = 0
    private var at = 0

    fun next(w: Int, h: Int): T {
        if (w != width || h != height) {
            clear()
            width = w
            height = h
        }
        if (ring.size < slots) return create(w, h).also { ring += it }
        val picture = ring[at]
        at = (at + 1) % slots
        return picture
    }

    fun clear() {
        ring.forEach(release)
        ring.clear()
        at = 0
    }
}

/**
 * Turns decoded I420 pictures into Bitmaps for Compose, off the main thread: the pixels are
 * converted into a reused array and written into one of three reused Bitmaps per participant
 * ([PictureRing]); the newest is handed to the UI, which only draws it. Not thread-safe: one
 * instance for the one coroutine collecting the call's pictures.
 */
class PictureConverter {
    private var pixels = IntArray(0)
    private val rings = HashMap<String, PictureRing<Bitmap>>()

    /** The Bitmap to show for [participantId] now; it stays valid until two more of theirs came. */
    fun toBitmap(participantId: String, frame: I420Frame): Bitmap {
        val size = frame.width * frame.height
        if (pixels.size != size) pixels = IntArray(size)
        frame.toArgb(pixels)
        val ring = rings.getOrPut(participantId) { PictureRing(create = { w, h -> Bitmap.createBitmap(w, h, Bitmap.Config.ARGB_8888) }) }
        val bitmap = ring.next(frame.width, frame.height)
        bitmap.setPixels(pixels, 0, frame.width, 0, 0, frame.width, frame.height)
        return bitmap
    }

    /** How many participants have pictures here. */
    val participants: Int get() = rings.size

    /** Forgets the pictures of who left (they are not recycled: the UI may still hold the last one). */
    fun keepOnly(participantIds: Set<String>) {
        rings.keys.retainAll(participantIds)
    }

    /** A new Bitmap for [frame] (for a single picture, not a stream). */
    fun toBitmap(frame: I420Frame): Bitmap {
        val size = frame.width * frame.height
        if (pixels.size != size) pixels = IntArray(size)
        frame.toArgb(pixels)
        return Bitmap.createBitmap(pixels, frame.width, frame.height, Bitmap.Config.ARGB_8888)
    }
}
