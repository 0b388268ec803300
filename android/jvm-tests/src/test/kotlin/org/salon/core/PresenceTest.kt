package org.salon.core

import kotlinx.coroutines.async
import kotlinx.coroutines.delay
import kotlinx.coroutines.flow.filterIsInstance
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.BeforeEach
import org.junit.jupiter.api.Test
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertTrue

/** Drop-in presence through the Kotlin wrapper: two phones, the real core, a real server. */
class PresenceTest {
    private val adaDir = tempDir("salon-ada")
    private val boDir = tempDir("salon-bo")
    private lateinit var server: ServerProcess
    private lateinit var ada: SalonService
    private lateinit var bo: SalonService

    @BeforeEach
    fun start() {
        requireNativeLibrary()
        server = ServerProcess()
        ada = RustSalonService(adaDir.path)
        bo = RustSalonService(boDir.path)
    }

    @AfterEach
    fun stop() {
        ada.close()
        bo.close()
        server.close()
        adaDir.deleteRecursively()
        boDir.deleteRecursively()
    }

    @Test
    fun `a friend sees the door open live, gets door opened, peeks and drops in`() =
        runBlocking<Unit> {
            val room = ada.createRoom(server.url, "Ada's")
            val card = ada.myFriendCard("Ada", room.link)
            assertTrue(card.contains("&presence="), card)
            assertFailsWith<SalonError.NotAllowed> { bo.myFriendCard("Bo", room.link) }
            val friend = bo.addFriendFromCard(card)
            assertTrue(friend.hasPresence)
            bo.setFriendNotify(friend.id, true)
            assertTrue(bo.friends().single().notify)

            val updates = bo.presence()
            withTimeout(10_000) {
                updates.filterIsInstance<PresenceUpdate.Friends>().first { list ->
                    list.friends.single().let { it.available && it.connected && !it.doorOpen }
                }
            }

            // Ada opens her door with names shown; Bo hears "door opened" and sees it open.
            val opened =
                async {
                    withTimeout(10_000) { updates.filterIsInstance<PresenceUpdate.DoorOpened>().first() }
                }
            delay(1_000) // the watch above is subscribed by now
            val door = ada.setDoor(room.link, DoorMode.Open, showNames = true)
            assertTrue(door.doorOpen)
            assertEquals(DoorMode.Open, door.mode)
            assertEquals("Ada", opened.await().friend.friend.name)

            val peek = bo.peek(room.link)
            assertTrue(peek.doorOpen)
            assertEquals(0, peek.people)
            assertEquals(emptyList(), peek.names)

            val call = bo.joinFriend(friend.id, JoinOptions(name = "Bo", microphoneOn = false, cameraOn = false))
            assertEquals(room.id, call.state.value.roomId)
            assertEquals(listOf("Bo"), ada.peek(room.link).names)
            call.leave()

            ada.setDoor(room.link, DoorMode.Closed)
            assertFalse(ada.peek(room.link).doorOpen)
            ada.rotatePresenceKey(room.link)
            val after =
                withTimeout(10_000) {
                    updates.filterIsInstance<PresenceUpdate.Friends>().first { !it.friends.single().available }
                }
            assertFalse(after.friends.single().doorOpen)
        }
}
