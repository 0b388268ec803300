package org.salon.app.prejoin

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
import org.salon.app.permissions.Capture
import org.salon.app.permissions.MediaGrant
import org.salon.app.permissions.PermissionNote
import org.salon.core.FakeSalonService
import org.salon.core.RoomStatus
import org.salon.core.SalonError

/** The pre-join screen's ViewModel over the fake service. */
@OptIn(ExperimentalCoroutinesApi::class)
class PreJoinViewModelTest {
    private val salon = FakeSalonService()
    private val link = "https://salon.example.org/r/aaaaaaaaaaaaaaaaaaaaaa"
    private val remembered = mutableListOf<String>()

    @Before
    fun setUp() {
        Dispatchers.setMain(UnconfinedTestDispatcher())
        salon.statuses[link] = RoomStatus("a", "Ada's kitchen", participants = 2, maxParticipants = 8, full = false)
    }

    @After
    fun tearDown() = Dispatchers.resetMain()

    private fun viewModel(name: String = "Zoë") = PreJoinViewModel(salon, link, "Ada", name, rememberName = { remembered += it })

    @Test
    fun `shows the room, who is inside and my remembered name`() =
        runTest {
            val state = viewModel().state.value
            assertEquals(RoomInfo.Ready("Ada's kitchen", people = 2), state.room)
            assertEquals("Ada's kitchen", state.roomName)
            assertEquals("2 people inside", state.room.label())
            assertEquals("Zoë", state.name)
            assertTrue(state.canJoin)
        }

    @Test
    fun `a room that is gone says so and cannot be joined`() =
        runTest {
            salon.statuses.remove(link)
            val state = viewModel().state.value
            assertEquals(RoomInfo.Gone, state.room)
            assertEquals("This room no longer exists", state.room.label())
            assertEquals("Ada", state.roomName)
            assertFalse(state.canJoin)
        }

    @Test
    fun `joins with my choices and remembers my name`() =
        runTest {
            val vm = viewModel(name = "")
            assertFalse(vm.state.value.canJoin)
            vm.onEvent(PreJoinEvent.Join)
            assertEquals("Enter the name others will see.", vm.state.value.error)

            vm.onEvent(PreJoinEvent.NameChanged("  Zoë "))
            assertNull(vm.state.value.error)
            vm.onEvent(PreJoinEvent.ToggleCamera)
            vm.onEvent(PreJoinEvent.Join)

            val joined = vm.joined.value!!
            assertEquals("Zoë", joined.options.name)
            assertFalse(joined.options.cameraOn)
            assertTrue(joined.options.microphoneOn)
            // Joined for what the camera really sends: 720p, upright.
            assertEquals(720 to 1280, joined.options.videoWidth to joined.options.videoHeight)
            assertEquals(1_500_000, joined.options.videoBitrateBps)
            assertEquals(listOf("Zoë"), remembered)
            assertFalse(vm.state.value.joining)
            assertEquals(1, salon.calls.size)
        }

    @Test
    fun `a refused permission is explained and keeps that device off`() =
        runTest {
            val vm = viewModel()
            val note = PermissionNote(setOf(Capture.Camera), settingsNeeded = true)
            vm.onEvent(PreJoinEvent.PermissionChanged(note))
            val state = vm.state.value
            assertEquals("Open settings", state.permission?.actionLabel)
            assertTrue(state.cameraOn)
            assertFalse(state.cameraLive)
            assertTrue(state.microphoneLive)

            vm.onEvent(PreJoinEvent.Join)
            assertFalse(vm.joined.value!!.options.cameraOn)
        }

    @Test
    fun `joining asks for what is switched on and joins with what was granted`() =
        runTest {
            val asked = mutableListOf<Set<Capture>>()
            val note = PermissionNote(setOf(Capture.Camera), settingsNeeded = false)
            val vm =
                PreJoinViewModel(salon, link, "Ada", "Zoë", requestPermissions = { wanted ->
                    asked += wanted
                    MediaGrant(camera = false, microphone = true, note = note)
                })
            vm.onEvent(PreJoinEvent.Join)
            assertEquals(listOf(setOf(Capture.Camera, Capture.Microphone)), asked)
            assertEquals(note, vm.state.value.permission)
            assertEquals("Allow", vm.state.value.permission?.actionLabel)
            val options = vm.joined.value!!.options
            assertFalse(options.cameraOn)
            assertTrue(options.microphoneOn)
        }

    @Test
    fun `join errors are said in words and leave the screen usable`() =
        runTest {
            val vm = viewModel()
            salon.failNext = SalonError.Removed()
            vm.onEvent(PreJoinEvent.Join)
            assertEquals("A host removed you from this room, so you can't join it again.", vm.state.value.error)
            assertFalse(vm.state.value.joining)
            assertNull(vm.joined.value)
            assertTrue(remembered.isEmpty())

            salon.failNext = SalonError.RoomNotFound()
            vm.onEvent(PreJoinEvent.Join)
            assertEquals(RoomInfo.Gone, vm.state.value.room)
            assertFalse(vm.state.value.canJoin)
        }

    @Test
    fun `an unreachable server can be asked again`() =
        runTest {
            salon.failNext = SalonError.Network("down")
            // peek fails with the network error, the status fallback then works.
            assertEquals(RoomInfo.Ready("Ada's kitchen", people = 2), viewModel().state.value.room)
        }

    @Test
    fun `labels say who is inside, full and locked rooms`() {
        assertEquals("Nobody is inside yet", RoomInfo.Ready(null, 0).label())
        assertEquals("1 person inside: Ada", RoomInfo.Ready(null, 1, listOf("Ada")).label())
        assertEquals("The room is full", RoomInfo.Ready(null, 8, full = true).label())
        assertEquals("2 people inside · Locked: a host lets you in", RoomInfo.Ready(null, 2, locked = true).label())
        assertEquals("Can't reach the room's server right now", RoomInfo.Unreachable.label())
    }

    @Test
    fun `every join error has its own words`() {
        val errors =
            listOf(
                SalonError.RoomNotFound(),
                SalonError.RoomFull(),
                SalonError.Removed(),
                SalonError.KnockDenied(),
                SalonError.RoomEnded(),
                SalonError.Network("x"),
                SalonError.Incompatible("x"),
                SalonError.InvalidLink("x"),
            )
        assertEquals(errors.size, errors.map(::joinErrorMessage).toSet().size)
        assertEquals("The room is full. Try again in a while.", joinErrorMessage(SalonError.RoomFull()))
    }
}
