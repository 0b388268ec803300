package org.salon.app.addfriend

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
import org.salon.core.FakeSalonService

/** The add-a-friend screen's ViewModel over the fake service. */
@OptIn(ExperimentalCoroutinesApi::class)
class AddFriendViewModelTest {
    private val salon = FakeSalonService()
    private val adaRoom = "https://salon.example.org/r/aaaaaaaaaaaaaaaaaaaaaa"

    @Before
    fun setUp() = Dispatchers.setMain(UnconfinedTestDispatcher())

    @After
    fun tearDown() = Dispatchers.resetMain()

    @Test
    fun `pasted text is read as a card, a room link or neither`() {
        assertEquals(Pasted.Empty, classify("  "))
        assertEquals(Pasted.Card, classify("salon:friend?v=1&name=Ada&room=x"))
        assertEquals(Pasted.Card, classify(" https://salon.example.org/friend?v=1&name=Ada "))
        assertEquals(Pasted.RoomLink, classify(adaRoom))
        assertEquals(Pasted.Other, classify("see you at 8"))
        assertEquals(Pasted.Other, classify("https://salon.example.org/r/short"))
    }

    @Test
    fun `a pasted card adds the friend with the card's name`() =
        runTest {
            val vm = AddFriendViewModel(salon, "Zoë")
            vm.onEvent(AddFriendEvent.TextChanged(salon.friendCard("Ada", adaRoom)))
            assertTrue(vm.state.value.canAdd)
            vm.onEvent(AddFriendEvent.Add)
            assertEquals("Ada is now in your friends", vm.state.value.added)
            assertEquals("", vm.state.value.text)
            assertEquals(listOf("Ada"), salon.friends().map { it.name })
        }

    @Test
    fun `a room link needs a name`() =
        runTest {
            val vm = AddFriendViewModel(salon, "Zoë")
            vm.onEvent(AddFriendEvent.TextChanged(adaRoom))
            assertFalse(vm.state.value.canAdd)
            vm.onEvent(AddFriendEvent.Add)
            assertEquals("This is a room link: enter your friend's name too.", vm.state.value.error)
            vm.onEvent(AddFriendEvent.NameChanged("Ada"))
            assertNull(vm.state.value.error)
            vm.onEvent(AddFriendEvent.Add)
            assertEquals(adaRoom, salon.friends().single().roomLink)
        }

    @Test
    fun `errors are said in words`() =
        runTest {
            val vm = AddFriendViewModel(salon, "Zoë")
            vm.onEvent(AddFriendEvent.TextChanged("see you at 8"))
            vm.onEvent(AddFriendEvent.Add)
            assertTrue(vm.state.value.error!!.startsWith("This is not a friend card or a room link."))

            val card = salon.friendCard("Ada", adaRoom)
            vm.onEvent(AddFriendEvent.TextChanged(card))
            vm.onEvent(AddFriendEvent.Add)
            vm.onEvent(AddFriendEvent.TextChanged(card))
            vm.onEvent(AddFriendEvent.Add)
            assertEquals("This friend is already in your list.", vm.state.value.error)
            vm.onEvent(AddFriendEvent.DismissError)
            assertNull(vm.state.value.error)
        }

    @Test
    fun `a scanned card is added at once, anything else scanned is refused`() =
        runTest {
            val vm = AddFriendViewModel(salon, "Zoë")
            vm.onEvent(AddFriendEvent.Scanned("https://example.com/menu"))
            assertEquals("This QR code is not a Salon friend card.", vm.state.value.error)
            vm.onEvent(AddFriendEvent.Scanned(salon.friendCard("Bob", adaRoom)))
            assertEquals("Bob is now in your friends", vm.state.value.added)
        }

    @Test
    fun `a card the app was opened with is filled in and added only when I confirm`() =
        runTest {
            val card = salon.friendCard("Cy", adaRoom)
            val vm = AddFriendViewModel(salon, "Zoë", card = card)
            assertEquals(card, vm.state.value.text)
            assertEquals(Pasted.Card, vm.state.value.pasted)
            assertEquals(null, vm.state.value.added)
            assertTrue(salon.friends().none { it.name == "Cy" })
            vm.onEvent(AddFriendEvent.Add)
            assertEquals("Cy is now in your friends", vm.state.value.added)
        }

    @Test
    fun `my card is made for my first room, with its QR code`() =
        runTest {
            assertEquals(MyCard.NoRoom, AddFriendViewModel(salon, "Zoë").state.value.myCard)

            val room = salon.createRoom("https://salon.example.org", "Kitchen")
            val card = AddFriendViewModel(salon, "Zoë").state.value.myCard as MyCard.Ready
            assertEquals(salon.myFriendCard("Zoë", room.link), card.card)
            assertEquals("Kitchen", card.roomName)
            assertEquals(encodeQr(card.card), card.qr)
            // The QR code carries the card: the friend scanning it adds me.
            assertTrue(card.card.contains("presence="))
        }
}
