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
import org.junit.Assert.assertTrue
import org.junit.Before
import org.junit.Test
import org.salon.app.net.NetworkEvent
import org.salon.app.net.NetworkWatch
import org.salon.app.permissions.Capture
import org.salon.app.permissions.MediaGrant
import org.salon.app.permissions.PermissionNote
import org.salon.core.FakeCall
import org.salon.core.JoinOptions
import org.salon.core.Connection
import org.salon.core.EndReason
import org.salon.core.FakeSalonService
import org.salon.core.Participant
import org.salon.core.ParticipantView
import org.salon.core.RoomState
import org.salon.core.RoomStatus

/**
 * The call screen's ViewModel over the fake service: views, the pin, speakers, my video watched,
 * network changes.
 */
@OptIn(ExperimentalCoroutinesApi::class)
class CallViewModelTest {
    private val salon = FakeSalonService()
    private val link = "https://salon.example.org/r/room"

    @Before
    fun setUp() {
        Dispatchers.setMain(UnconfinedTestDispatcher())
        salon.statuses[link] = RoomStatus("room", "Living room", participants = 1, maxParticipants = 50, full = false)
    }

    @After
    fun tearDown() = Dispatchers.resetMain()

    private fun person(id: String, speaking: Boolean = false) =
        Participant(id, id.uppercase(), audioOn = true, videoOn = true, receivingAudio = true, receivingVideo = true, speaking = speaking)

    private fun room(vararg ids: String, speakers: List<String> = emptyList(), videoWatched: Boolean = true) =
        RoomState(
            "room",
            "Living room",
            me = "me",
            participants = ids.map { person(it, speaking = it in speakers) },
            connection = Connection.Connected,
            speakers = speakers,
            speaking = "me" in speakers,
            videoWatched = videoWatched,
        )

    @Test
    fun `a call the pre-join screen joined is shown, not joined again`() =
        runTest {
            val joined = salon.join(link, JoinOptions(name = "Me", microphoneOn = true, cameraOn = false))
            val note = PermissionNote(setOf(Capture.Camera), settingsNeeded = false)
            val viewModel =
                CallViewModel(
                    salon, link, "Me", backgroundScope,
                    wantCamera = true, wantMicrophone = true,
                    preJoined = joined to MediaGrant(camera = false, microphone = true, note = note),
                )
            assertEquals(1, salon.calls.size)
            (joined as FakeCall).emit(room("a"))
            assertEquals(listOf("a"), viewModel.state.value.tiles.map { it.id })
            // The refusal the pre-join screen explained is still explained here.
            assertEquals(note, viewModel.state.value.permissionNote)
        }

    @Test
    fun `the grid's visibility, the only tile and the pin become views`() =
        runTest {
            val viewModel = CallViewModel(salon, link, "Me", backgroundScope)
            val call = salon.calls.single()

            // Alone with Ada: her tile fills the screen.
            call.emit(room("a"))
            assertEquals("a", viewModel.state.value.mainTile?.id)
            assertEquals(mapOf("a" to ParticipantView.Large), call.views)

            // Bob and Cy come; the grid shows Ada and Bob, Cy is scrolled off.
            call.emit(room("a", "b", "c"))
            assertEquals(null, viewModel.state.value.mainTile)
            viewModel.onEvent(CallEvent.Shown(TilesShown(setOf("a", "b"), setOf("a", "b", "c"))))
            assertEquals(mapOf("a" to ParticipantView.Thumbnail, "c" to ParticipantView.Hidden), call.views)

            // Speaker updates do not touch the views.
            val told = call.viewLog.size
            call.emit(room("a", "b", "c", speakers = listOf("b", "a")))
            call.emit(room("a", "b", "c", speakers = listOf("a")))
            assertEquals(told, call.viewLog.size)

            // Pin Cy: big, large.
            viewModel.onEvent(CallEvent.Pin("c"))
            assertEquals("c", viewModel.state.value.mainTile?.id)
            assertEquals(listOf("a", "b"), viewModel.state.value.gridTiles.map { it.id })
            assertEquals(ParticipantView.Large, call.views["c"])

            // Pin again: unpinned, back in the grid, where it is scrolled off again.
            viewModel.onEvent(CallEvent.Pin("c"))
            assertEquals(null, viewModel.state.value.pinned)
            assertEquals(ParticipantView.Hidden, call.views["c"])

            // Pinned Bob leaves: the pin goes with him.
            viewModel.onEvent(CallEvent.Pin("b"))
            call.emit(room("a", "c"))
            assertEquals(null, viewModel.state.value.pinned)
        }

    @Test
    fun `the loudest speaker is marked and my unwatched video is told`() =
        runTest {
            val viewModel = CallViewModel(salon, link, "Me", backgroundScope)
            val call = salon.calls.single()

            call.emit(room("a", "b", speakers = listOf("b", "a")))
            val tiles = viewModel.state.value.tiles.associateBy { it.id }
            assertTrue(tiles.getValue("b").dominant && tiles.getValue("b").speaking)
            assertTrue(!tiles.getValue("a").dominant && tiles.getValue("a").speaking)
            assertTrue(viewModel.state.value.videoWatched)

            // I am the loudest: nobody else is marked.
            call.emit(room("a", "b", speakers = listOf("me", "b"), videoWatched = false))
            assertFalse(viewModel.state.value.tiles.any { it.dominant })
            assertFalse(viewModel.state.value.videoWatched)
        }

    @Test
    fun `a new default network restarts ICE, the callbacks about the same one do not`() =
        runTest {
            val network = FakeNetworkWatch(current = WIFI)
            CallViewModel(salon, link, "Me", backgroundScope, network = network)
            val call = salon.calls.single()

            // Registering describes the current network, then its bandwidth changes: no news.
            network.send(NetworkEvent.Available(WIFI), NetworkEvent.Capabilities(WIFI), NetworkEvent.Addresses(WIFI, setOf("192.168.1.20")))
            network.send(NetworkEvent.Capabilities(WIFI), NetworkEvent.Capabilities(WIFI))
            assertEquals(0, call.networkChanges)

            // Wi-Fi to mobile data: one change, however many callbacks describe it.
            network.send(NetworkEvent.Available(CELL), NetworkEvent.Capabilities(CELL), NetworkEvent.Addresses(CELL, setOf("10.0.0.7")))
            assertEquals(1, call.networkChanges)
            // New addresses on it.
            network.send(NetworkEvent.Addresses(CELL, setOf("10.0.0.9")))
            assertEquals(2, call.networkChanges)
        }

    @Test
    fun `the network is watched until the call ends, and a change racing the end is ignored`() =
        runTest {
            val network = FakeNetworkWatch(current = WIFI)
            CallViewModel(salon, link, "Me", backgroundScope, network = network)
            val call = salon.calls.single()
            val listener = checkNotNull(network.listener)

            // Removed by a host: the call ends by itself, and the callback is unregistered.
            call.emit(room("a").copy(connection = Connection.Ended(EndReason.Removed)))
            assertEquals(null, network.listener)
            // A callback Android had already queued: the call throws CallEnded, which goes nowhere.
            listener(NetworkEvent.Available(CELL))
            assertEquals(0, call.networkChanges)

            // Leaving a call that is still on stops the watching too.
            val second = FakeNetworkWatch(current = WIFI)
            val again = CallViewModel(salon, link, "Me", backgroundScope, network = second)
            assertTrue(second.listener != null)
            again.onEvent(CallEvent.Leave)
            assertEquals(null, second.listener)
        }

    private companion object {
        const val WIFI = 100L
        const val CELL = 200L
    }
}

/** The default network as a test drives it: [send] callbacks as Android would. */
private class FakeNetworkWatch(override val current: Long?) : NetworkWatch {
    /** What the ViewModel gave [start], until [stop]. */
    var listener: ((NetworkEvent) -> Unit)? = null
        private set

    override fun start(onEvent: (NetworkEvent) -> Unit) {
        listener = onEvent
    }

    override fun stop() {
        listener = null
    }

    fun send(vararg events: NetworkEvent) = events.forEach { checkNotNull(listener)(it) }
}
