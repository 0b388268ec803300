package org.salon.core

import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.cancelAndJoin
import kotlinx.coroutines.delay
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.isActive
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.junit.jupiter.api.Test
import kotlin.math.abs
import kotlin.test.assertFailsWith
import kotlin.test.assertNotNull
import kotlin.time.Duration.Companion.seconds

/**
 * Backgrounds through the wrapper, the real core and a real server (issue 14): Bob replaces his
 * background with a flat picture and sends his test pattern with a mask that finds no person;
 * Alice receives the picture, not the pattern. Bad pictures and masks are refused.
 */
class BackgroundTest : TwoPhones() {
    private fun flat(width: Int, height: Int, y: Int): I420Frame {
        val luma = width * height
        val data = ByteArray(luma * 3 / 2) { i -> (if (i < luma) y else 128).toByte() }
        return I420Frame(width, height, data, 0)
    }

    @Test
    fun `a replaced background is what the others receive`() =
        runBlocking<Unit> {
            val room = alice.createRoom(server.url, "Backgrounds")
            val aliceCall = alice.join(room.link, JoinOptions(name = "Alice", microphoneOn = false, cameraOn = false))
            val bobCall = bob.join(room.link, JoinOptions(name = "Bob", microphoneOn = false, videoWidth = 320, videoHeight = 180))
            val bobId = assertNotNull(bobCall.state.value.me)

            assertFailsWith<SalonError.InvalidInput> {
                bobCall.setBackground(Background.Picture(I420Frame(64, 48, ByteArray(10), 0)))
            }
            assertFailsWith<SalonError.InvalidInput> {
                bobCall.sendVideoFrame(flat(320, 180, 0), PersonMask(0, 0, ByteArray(0)))
            }
            bobCall.setBackground(Background.Picture(flat(64, 48, 180)))

            val nobody = PersonMask(40, 24, ByteArray(40 * 24))
            val feeder =
                launch(Dispatchers.Default) {
                    var index = 0L
                    while (isActive) {
                        bobCall.sendVideoFrame(bob.testPatternFrame(320, 180, index++), nobody)
                        delay(40)
                    }
                }
            try {
                withTimeout(30.seconds) {
                    aliceCall.videoFrames().first { remote ->
                        val frame = remote.frame
                        remote.participantId == bobId &&
                            (0 until frame.width * frame.height).all { abs((frame.data[it].toInt() and 0xff) - 180) <= 6 }
                    }
                }
            } finally {
                feeder.cancelAndJoin()
            }
            bobCall.leave()
            aliceCall.leave()
        }
}
