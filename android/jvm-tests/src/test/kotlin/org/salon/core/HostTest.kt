package org.salon.core

import kotlinx.coroutines.async
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.BeforeEach
import org.junit.jupiter.api.Test
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertNotNull
import kotlin.test.assertTrue
import kotlin.time.Duration.Companion.seconds

/**
 * Host controls through the generated bindings, the real core and a real salon-server: the
 * owner of a room joins as owner, a guest's host action is refused, the owner locks, mutes and
 * removes the guest, whose call ends as [EndReason.Removed] and who cannot come back.
 */
class HostTest {
    private val ownerDir = tempDir("salon-owner")
    private val guestDir = tempDir("salon-guest")
    private lateinit var server: ServerProcess
    private lateinit var owner: SalonService
    private lateinit var guest: SalonService

    @BeforeEach
    fun start() {
        requireNativeLibrary()
        server = ServerProcess()
        owner = RustSalonService(ownerDir.path)
        guest = RustSalonService(guestDir.path)
    }

    @AfterEach
    fun stop() {
        owner.close()
        guest.close()
        server.close()
        ownerDir.deleteRecursively()
        guestDir.deleteRecursively()
    }

    @Test
    fun `the owner mutes and removes a guest, who stays out`() =
        runBlocking<Unit> {
            val room = owner.createRoom(server.url, "Living room")
            val ownerCall = owner.join(room.link, JoinOptions(name = "Owner", microphoneOn = false, cameraOn = false))
            assertEquals(Role.Owner, ownerCall.state.value.role, "one of my rooms is joined as its owner")
            assertEquals(room.link, ownerCall.state.value.link)

            val guestCall = guest.join(room.link, JoinOptions(name = "Guest", cameraOn = false))
            val guestId = assertNotNull(guestCall.state.value.me)
            assertEquals(Role.Guest, guestCall.state.value.role)
            withTimeout(10.seconds) {
                guestCall.state.first { s -> s.participants.any { it.name == "Owner" && it.role == Role.Owner } }
            }

            // A guest's host action changes nothing and comes back as a refusal.
            val refusal = async { withTimeout(10.seconds) { guestCall.events().first() } }
            while (!refusal.isCompleted) {
                guestCall.setLocked(true)
                kotlinx.coroutines.delay(300)
            }
            val refused = refusal.await()
            assertTrue(refused is CallEvent.Refused && refused.reason == Refusal.NotAllowed, "$refused")
            assertEquals(false, ownerCall.state.value.locked)

            // The owner mutes the guest: the guest's microphone goes off and the guest is told.
            val muted = async { withTimeout(10.seconds) { guestCall.events().first { it is CallEvent.Muted } } }
            kotlinx.coroutines.yield()
            withTimeout(10.seconds) { ownerCall.state.first { s -> s.participants.any { it.id == guestId } } }
            while (!muted.isCompleted) {
                ownerCall.mute(guestId)
                kotlinx.coroutines.delay(300)
            }
            assertEquals(CallEvent.Muted("Owner", microphoneOn = false, cameraOn = false), muted.await())
            withTimeout(10.seconds) { guestCall.state.first { !it.microphoneOn } }

            // Removed: the guest's call ends for good, the owner sees the ban and the lock.
            ownerCall.remove(guestId)
            withTimeout(10.seconds) { guestCall.state.first { it.connection == Connection.Ended(EndReason.Removed) } }
            val seen = withTimeout(10.seconds) { ownerCall.state.first { it.bans.isNotEmpty() && it.locked } }
            assertEquals(listOf("Guest"), seen.bans.map { it.name })
            assertTrue(seen.participants.none { it.id == guestId })

            assertFailsWith<SalonError.Removed> { guest.join(room.link, JoinOptions(name = "Someone else")) }
            assertFailsWith<SalonError.CallEnded> { guestCall.setLocked(false) }

            ownerCall.unban(seen.bans.single().id)
            withTimeout(10.seconds) { ownerCall.state.first { it.bans.isEmpty() } }
            ownerCall.leave()
        }
}
