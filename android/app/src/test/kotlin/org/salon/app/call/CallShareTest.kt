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
import org.salon.core.Connection
import org.salon.core.FakeSalonService
import org.salon.core.Participant
import org.salon.core.Role
import org.salon.core.RoomState
import org.salon.core.RoomStatus
import org.salon.core.screenVideoId

/** A received screen share on the call screen: large, labelled, and a host stops it. */
@OptIn(ExperimentalCoroutinesApi::class)
class CallShareTest {
    private val salon = FakeSalonService()
    private val link = "https://salon.example.org/r/room"

    @Before
    fun setUp() {
        Dispatchers.setMain(UnconfinedTestDispatcher())
        salon.statuses[link] = RoomStatus("room", "Living room", participants = 1, maxParticipants = 50, full = false)
    }

    @After
    fun tearDown() = Dispatchers.resetMain()

    private fun room(sharing: String?, role: Role = Role.Owner) =
        RoomState(
            "room",
            "Living room",
            me = "me",
            participants =
                listOf("a", "b").map { id ->
                    Participant(
                        id, id.uppercase(), audioOn = true, videoOn = true, receivingAudio = true,
                        receivingVideo = true, speaking = false, screen = id == sharing, receivingScreen = id == sharing,
                    )
                },
            connection = Connection.Connected,
            role = role,
        )

    @Test
    fun `a share is the large tile with the presenter's name, and a host stops it`() =
        runTest {
            val viewModel = CallViewModel(salon, link, "Me", backgroundScope)
            val call = salon.calls.single()
            call.emit(room(sharing = null))
            assertNull(viewModel.state.value.mainTile)

            call.emit(room(sharing = "b"))
            val main = viewModel.state.value.mainTile!!
            assertEquals(screenVideoId("b"), main.id)
            assertEquals("b|screen", main.id)
            assertEquals("B's screen", main.name)
            assertTrue(main.presenting)
            assertTrue(main.canModerate)
            // Everyone's camera stays in the grid below, the presenter's too.
            assertEquals(listOf("a", "b"), viewModel.state.value.gridTiles.map { it.id })

            viewModel.onEvent(CallEvent.StopShare("b"))
            assertEquals(listOf("stop-share b"), call.hostActions)

            call.emit(room(sharing = null))
            assertNull(viewModel.state.value.share)
        }

    @Test
    fun `a guest sees the share but cannot stop it`() =
        runTest {
            val viewModel = CallViewModel(salon, link, "Me", backgroundScope)
            val call = salon.calls.single()
            call.emit(room(sharing = "a", role = Role.Guest))
            val main = viewModel.state.value.mainTile!!
            assertTrue(main.presenting)
            assertFalse(main.canModerate)
        }
}
