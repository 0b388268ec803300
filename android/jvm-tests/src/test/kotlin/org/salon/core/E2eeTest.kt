package org.salon.core

import kotlinx.coroutines.flow.first
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.junit.jupiter.api.Test
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertNotNull
import kotlin.test.assertTrue
import kotlin.time.Duration.Companion.seconds

/**
 * End-to-end encryption through the wrapper, the real core and a real server (ADR 0003): a room
 * made here is encrypted, its link carries the key after `#k=`, both phones see the same safety
 * code in [RoomState.e2ee], and a link without its key is refused with [SalonError.E2ee], its
 * reason written for people.
 */
class E2eeTest : TwoPhones() {
    @Test
    fun `both phones see the same safety code, and a link without its key is refused`() =
        runBlocking<Unit> {
            val room = alice.createRoom(server.url, "Living room")
            assertTrue(Regex("#k=[A-Za-z0-9_-]{43}$").containsMatchIn(room.link), room.link)

            val aliceCall = alice.join(room.link, JoinOptions(name = "Alice", microphoneOn = false, cameraOn = false))
            val bobCall = bob.join(room.link, JoinOptions(name = "Bob", microphoneOn = false, cameraOn = false))
            val aliceSees = withTimeout(20.seconds) { aliceCall.state.first { it.e2ee?.keyHolders == 2 && it.e2ee?.unverified?.isEmpty() == true } }
            val bobSees = withTimeout(20.seconds) { bobCall.state.first { it.e2ee?.keyHolders == 2 && it.e2ee?.unverified?.isEmpty() == true } }
            val code = assertNotNull(aliceSees.e2ee).safetyCode
            assertTrue(Regex("^\\d{4} \\d{4} \\d{4}$").matches(code), code)
            assertEquals(code, assertNotNull(bobSees.e2ee).safetyCode)

            // The same link without the part after #: the room is encrypted, so not joined.
            val refused =
                assertFailsWith<SalonError.E2ee> {
                    bob.join(room.link.substringBefore('#'), JoinOptions(name = "Bob again", microphoneOn = false, cameraOn = false))
                }
            assertEquals("This link is missing its key (the part after #). Ask for the whole link.", refused.reason)
            assertEquals(refused.reason, refused.message)

            bobCall.leave()
            aliceCall.leave()
        }
}
