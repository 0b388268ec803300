package org.salon.app.call

import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.ExperimentalCoroutinesApi
import kotlinx.coroutines.test.UnconfinedTestDispatcher
import kotlinx.coroutines.test.resetMain
import kotlinx.coroutines.test.runTest
import kotlinx.coroutines.test.setMain
import org.junit.After
import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertNull
import org.junit.Assert.assertTrue
import org.junit.Before
import org.junit.Test
import org.salon.app.prejoin.joinErrorMessage
import org.salon.core.Connection
import org.salon.core.E2ee
import org.salon.core.FakeSalonService
import org.salon.core.Participant
import org.salon.core.RoomState
import org.salon.core.RoomStatus
import org.salon.core.SalonError

/** End-to-end encryption on the call screen: the chip, the safety-code sheet's words, the tiles' badge, refusals. */
@OptIn(ExperimentalCoroutinesApi::class)
class EncryptionTest {
    private val salon = FakeSalonService()
    private val link = "https://salon.example.org/r/room#k=A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0U-_"
    private val code = E2ee("4821 0937 1165", keyHolders = 4, unverified = listOf("b"))

    @Before
    fun setUp() {
        Dispatchers.setMain(UnconfinedTestDispatcher())
        salon.statuses[link] = RoomStatus("room", "Living room", participants = 1, maxParticipants = 50, full = false)
    }

    @After
    fun tearDown() = Dispatchers.resetMain()

    private fun person(id: String) =
        Participant(id, id.uppercase(), audioOn = true, videoOn = true, receivingAudio = true, receivingVideo = true, speaking = false)

    private fun room(vararg ids: String, e2ee: E2ee?) =
        RoomState("room", "Living room", me = "me", participants = ids.map { person(it) }, connection = Connection.Connected, e2ee = e2ee)

    @Test
    fun `the chip shows the safety code, or says the call is not encrypted`() {
        assertEquals("Encrypted · 4821 0937 1165", Encryption.chipLabel(code))
        assertEquals("Not end-to-end encrypted", Encryption.chipLabel(null))
    }

    @Test
    fun `the sheet counts the key holders and names who can't exchange keys`() {
        assertEquals("4 people hold the keys", Encryption.keyHolders(4))
        assertEquals("1 person holds the keys", Encryption.keyHolders(1))
        assertEquals(
            "Read it aloud: everyone should see the same code. If someone's differs, someone may be listening in.",
            Encryption.READ_ALOUD,
        )
        fun tile(id: String, unverified: Boolean) =
            Tile(id, id.uppercase(), speaking = false, muted = false, cameraOff = true, picture = null, unverified = unverified)
        assertNull(Encryption.unverifiedLine(listOf(tile("a", false))))
        assertEquals(
            "Can't exchange keys with B: they see and hear nothing of you.",
            Encryption.unverifiedLine(listOf(tile("a", false), tile("b", true))),
        )
        assertEquals(
            "Can't exchange keys with A, B and C: they see and hear nothing of you.",
            Encryption.unverifiedLine(listOf(tile("a", true), tile("b", true), tile("c", true))),
        )
    }

    @Test
    fun `only the tiles of people listed as unverified carry the badge`() {
        assertTrue(Encryption.unverified(code, "b"))
        assertFalse(Encryption.unverified(code, "a"))
        assertFalse(Encryption.unverified(null, "b"))
        assertEquals("Can't exchange keys", Encryption.CANT_EXCHANGE_KEYS)
    }

    @Test
    fun `the call screen follows the room's encryption and its unverified people`() =
        runTest {
            val viewModel = CallViewModel(salon, link, "Me", backgroundScope)
            val call = salon.calls.single()
            call.emit(room("a", "b", "c", e2ee = code))
            assertEquals(code, viewModel.state.value.e2ee)
            assertEquals(mapOf("a" to false, "b" to true, "c" to false), viewModel.state.value.tiles.associate { it.id to it.unverified })

            // Bob's keys check out: the code changes and his badge goes.
            val after = E2ee("1165 4821 0937", keyHolders = 4)
            call.emit(room("a", "b", "c", e2ee = after))
            assertEquals(after, viewModel.state.value.e2ee)
            assertTrue(viewModel.state.value.tiles.none { it.unverified })

            // A room that is not encrypted: no code, no badges.
            call.emit(room("a", "b", e2ee = null))
            assertNull(viewModel.state.value.e2ee)
            assertTrue(viewModel.state.value.tiles.none { it.unverified })
        }

    @Test
    fun `encryption's refusals are shown as the core wrote them`() =
        runTest {
            val reason = "This link is missing its key (the part after #). Ask for the whole link."
            assertEquals(reason, joinErrorMessage(SalonError.E2ee(reason)))
            val downgrade = "The server says this room is not encrypted, but your link says it is. Not joining."
            assertEquals(downgrade, joinErrorMessage(SalonError.E2ee(downgrade)))

            salon.failNext = SalonError.E2ee(reason)
            val viewModel = CallViewModel(salon, link, "Me", backgroundScope)
            assertEquals(CallStatus.Ended(reason), viewModel.state.value.status)
        }
}
