package org.salon.app.friends

import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.launch
import kotlinx.coroutines.ExperimentalCoroutinesApi
import kotlinx.coroutines.test.UnconfinedTestDispatcher
import kotlinx.coroutines.test.resetMain
import kotlinx.coroutines.test.runTest
import kotlinx.coroutines.test.setMain
import org.junit.After
import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertNotNull
import org.junit.Assert.assertTrue
import org.junit.Before
import org.junit.Test
import org.salon.core.DoorMode
import org.salon.core.FakeSalonService
import org.salon.core.PresenceUpdate
import org.salon.core.RoomStatus
import org.salon.core.SalonError

/** The friend list's ViewModel against the fake service: no Rust, no network. */
@OptIn(ExperimentalCoroutinesApi::class)
class FriendsViewModelTest {
    private val salon = FakeSalonService()

    @Before
    fun setUp() = Dispatchers.setMain(UnconfinedTestDispatcher())

    @After
    fun tearDown() = Dispatchers.resetMain()

    @Test
    fun `shows whose room is open`() =
        runTest {
            val open = "https://salon.example.org/r/open"
            val closed = "https://salon.example.org/r/closed"
            salon.statuses[open] = RoomStatus("open", null, participants = 2, maxParticipants = 8, full = false)
            salon.statuses[closed] = RoomStatus("closed", null, participants = 0, maxParticipants = 8, full = false)
            salon.addFriend("Ada", open)
            salon.addFriend("Bob", closed)
            salon.addFriend("Cy", "https://salon.example.org/r/gone")

            val presence = FriendsViewModel(salon).state.value.friends.associate { it.name to it.presence }

            assertEquals(mapOf("Ada" to Presence.Open(2), "Bob" to Presence.Closed, "Cy" to Presence.Gone), presence)
        }

    @Test
    fun `adding the same room twice says so and keeps the list`() =
        runTest {
            val link = "https://salon.example.org/r/a"
            val viewModel = FriendsViewModel(salon)
            viewModel.onEvent(FriendsEvent.OpenAddDialog)
            viewModel.onEvent(FriendsEvent.AddFriend("Ada", link))
            assertFalse(viewModel.state.value.addDialogOpen)

            viewModel.onEvent(FriendsEvent.AddFriend("Ada again", link))

            assertEquals(listOf("Ada"), viewModel.state.value.friends.map { it.name })
            assertEquals(SalonError.DuplicateFriend().message, viewModel.state.value.error)
            viewModel.onEvent(FriendsEvent.DismissError)
            assertEquals(null, viewModel.state.value.error)
        }

    @Test
    fun `a friend card brings the name with it`() =
        runTest {
            val card = salon.friendCard("Zoë", "https://salon.example.org/r/z")
            val viewModel = FriendsViewModel(salon)
            viewModel.onEvent(FriendsEvent.AddFriend(name = "", linkOrCard = card))
            assertNotNull(viewModel.state.value.friends.singleOrNull { it.name == "Zoë" })
        }

    @Test
    fun `friends with a presence key are watched live and door opened raises a banner and an event`() =
        runTest {
            val card = salon.friendCard("Ada", "https://salon.example.org/r/ada") + "&presence=key"
            val ada = salon.addFriendFromCard(card)
            assertTrue(ada.hasPresence)
            val viewModel = FriendsViewModel(salon)
            val told = mutableListOf<String>()
            val collecting = backgroundScope.launch(UnconfinedTestDispatcher(testScheduler)) { viewModel.doorOpened.collect { told += it } }
            assertEquals(1, salon.presenceWatchers)
            assertEquals(Presence.Checking, viewModel.state.value.friends.single().presence)

            salon.presenceUpdates.emit(PresenceUpdate.Friends(listOf(salon.presenceOf(ada, doorOpen = false))))
            assertEquals(Presence.Closed, viewModel.state.value.friends.single().presence)
            salon.presenceUpdates.emit(PresenceUpdate.Friends(listOf(salon.presenceOf(ada, doorOpen = true, people = 2, names = listOf("Ada", "Bo")))))
            assertEquals(Presence.Open(2, listOf("Ada", "Bo")), viewModel.state.value.friends.single().presence)
            assertEquals("Door open · 2 people inside: Ada, Bo", viewModel.state.value.friends.single().presence.label())

            salon.presenceUpdates.emit(PresenceUpdate.DoorOpened(salon.presenceOf(ada, doorOpen = true)))
            assertEquals("Ada's door is open", viewModel.state.value.doorOpened)
            assertEquals(listOf("Ada's door is open"), told)
            viewModel.onEvent(FriendsEvent.DismissDoorOpened)
            assertEquals(null, viewModel.state.value.doorOpened)

            // A revoked card.
            salon.presenceUpdates.emit(PresenceUpdate.Friends(listOf(salon.presenceOf(ada, doorOpen = false, available = false))))
            assertEquals(Presence.NotShared, viewModel.state.value.friends.single().presence)

            // Choosing notifications is stored; a refresh keeps one watch, not two.
            viewModel.onEvent(FriendsEvent.SetNotify(ada.id, true))
            assertTrue(viewModel.state.value.friends.single().notify)
            assertEquals(1, salon.presenceWatchers)
            collecting.cancel()
        }

    @Test
    fun `my rooms show their door and the owner opens and closes it`() =
        runTest {
            val room = salon.createRoom("https://salon.example.org", "Kitchen")
            val viewModel = FriendsViewModel(salon)
            val row = viewModel.state.value.myRooms.single()
            assertEquals("Kitchen", row.name)
            assertEquals(false, row.doorOpen)

            viewModel.onEvent(FriendsEvent.SetDoor(room.link, open = true))
            assertEquals(DoorMode.Open, salon.doors[room.link]?.mode)
            assertEquals(true, viewModel.state.value.myRooms.single().doorOpen)

            viewModel.onEvent(FriendsEvent.SetDoor(room.link, open = false))
            assertEquals(DoorMode.Closed, salon.doors[room.link]?.mode)
            assertEquals(false, viewModel.state.value.myRooms.single().doorOpen)
        }
}
