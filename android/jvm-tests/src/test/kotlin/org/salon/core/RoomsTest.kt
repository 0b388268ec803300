package org.salon.core

import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.BeforeEach
import org.junit.jupiter.api.Test
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertTrue

/** Creating rooms and asking for their status, against a real salon-server. */
class RoomsTest {
    private val dir = tempDir("salon-rooms")
    private lateinit var server: ServerProcess
    private lateinit var salon: SalonService

    @BeforeEach
    fun start() {
        requireNativeLibrary()
        server = ServerProcess()
        salon = RustSalonService(dir.path)
    }

    @AfterEach
    fun stop() {
        salon.close()
        server.close()
        dir.deleteRecursively()
    }

    @Test
    fun `a created room is mine and starts closed`() =
        runBlocking<Unit> {
            val room = salon.createRoom(server.url, "Kitchen")
            assertTrue(room.link.startsWith(server.url + "/r/"), room.link)
            assertEquals("Kitchen", room.name)
            assertTrue(room.hostKey.isNotEmpty())
            assertEquals(listOf(room), salon.myRooms())

            val status = salon.roomStatus(room.link)
            assertEquals(room.id, status.id)
            assertEquals(0, status.participants)
            assertFalse(status.isOpen)
            assertFalse(status.full)
            assertTrue(status.maxParticipants > 1)

            assertTrue(salon.forgetMyRoom(room.id))
            assertEquals(emptyList(), salon.myRooms())
            // Forgetting is local: the room is still on its server.
            assertEquals(room.id, salon.roomStatus(room.link).id)
        }

    @Test
    fun `a missing room, a bad link and an unreachable server are told apart`() =
        runBlocking<Unit> {
            assertFailsWith<SalonError.RoomNotFound> { salon.roomStatus(missingRoomLink(server.url)) }
            assertFailsWith<SalonError.InvalidLink> { salon.roomStatus("not a link") }
            assertFailsWith<SalonError.InvalidLink> { salon.createRoom("ftp://nowhere") }
            assertFailsWith<SalonError.Network> { salon.roomStatus("http://127.0.0.1:9/r/AAAAAAAAAAAAAAAAAAAAAA") }
            assertFailsWith<SalonError.RoomNotFound> {
                salon.join(missingRoomLink(server.url), JoinOptions(name = "Nobody"))
            }
        }
}
