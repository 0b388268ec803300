package org.salon.app.call

import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.ExperimentalCoroutinesApi
import kotlinx.coroutines.test.UnconfinedTestDispatcher
import kotlinx.coroutines.test.advanceTimeBy
import kotlinx.coroutines.test.resetMain
import kotlinx.coroutines.test.runCurrent
import kotlinx.coroutines.test.runTest
import kotlinx.coroutines.test.setMain
import org.junit.After
import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertNull
import org.junit.Assert.assertTrue
import org.junit.Before
import org.junit.Test
import org.salon.core.ChatMessage
import org.salon.core.Connection
import org.salon.core.FakeSalonService
import org.salon.core.MAX_CHAT_CHARS
import org.salon.core.Participant
import org.salon.core.Role
import org.salon.core.RoomState
import org.salon.core.RoomStatus
import org.salon.core.CallEvent as CoreEvent

/** The call screen's reactions, hands and chat, over the fake service. */
@OptIn(ExperimentalCoroutinesApi::class)
class CallSocialTest {
    private val salon = FakeSalonService()
    private val link = "https://salon.example.org/r/room"

    @Before
    fun setUp() {
        Dispatchers.setMain(UnconfinedTestDispatcher())
        salon.statuses[link] = RoomStatus("room", "Living room", participants = 1, maxParticipants = 50, full = false)
    }

    @After
    fun tearDown() = Dispatchers.resetMain()

    private fun person(id: String, hand: Long? = null) =
        Participant(id, id.uppercase(), audioOn = true, videoOn = true, receivingAudio = true, receivingVideo = true, speaking = false, hand = hand)

    private fun room(
        vararg people: Participant,
        role: Role = Role.Guest,
        panic: Boolean = false,
        myHand: Long? = null,
        chat: List<ChatMessage> = emptyList(),
    ) = RoomState("room", "Living room", me = "me", participants = people.toList(), connection = Connection.Connected,
        role = role, panic = panic, myHand = myHand, chat = chat)

    private fun message(id: Long, from: String, text: String? = "m$id") = ChatMessage(id, from, from.uppercase(), atMs = id, text = text)

    @Test
    fun `a reaction floats over its sender's tile for two seconds`() =
        runTest {
            val viewModel = CallViewModel(salon, link, "Me", backgroundScope)
            val call = salon.calls.single()
            call.emit(room(person("a"), person("b")))
            assertEquals(8, viewModel.state.value.reactions.size)

            call.emitEvent(CoreEvent.Reaction("a", "🎉"))
            assertEquals("🎉", viewModel.state.value.tiles.first { it.id == "a" }.reaction?.emoji)
            assertNull(viewModel.state.value.tiles.first { it.id == "b" }.reaction)
            assertNull("a reaction is not a notice", viewModel.state.value.notice)

            // Mine comes back as an event too, for my own bubble.
            viewModel.onEvent(CallEvent.React("👍"))
            assertEquals("👍", viewModel.state.value.myReaction?.emoji)

            advanceTimeBy(1_000)
            // A second reaction from Ada restarts her two seconds.
            call.emitEvent(CoreEvent.Reaction("a", "❤️"))
            advanceTimeBy(1_500)
            runCurrent()
            assertNull(viewModel.state.value.myReaction)
            assertEquals("❤️", viewModel.state.value.tiles.first { it.id == "a" }.reaction?.emoji)
            advanceTimeBy(600)
            runCurrent()
            assertNull(viewModel.state.value.tiles.first { it.id == "a" }.reaction)
        }

    @Test
    fun `hands show on tiles, and hosts get the queue in order`() =
        runTest {
            val viewModel = CallViewModel(salon, link, "Me", backgroundScope)
            val call = salon.calls.single()
            call.emit(room(person("a", hand = 9), person("b"), person("c", hand = 3)))
            assertEquals(listOf(2, null, 1), viewModel.state.value.tiles.map { it.hand })
            assertEquals(emptyList<RaisedHand>(), viewModel.state.value.hands) // a guest sees no queue

            viewModel.onEvent(CallEvent.ToggleHand)
            assertTrue(viewModel.state.value.handRaised)
            viewModel.onEvent(CallEvent.ToggleHand)
            assertFalse(viewModel.state.value.handRaised)

            call.emit(room(person("a", hand = 9), person("b"), person("c", hand = 3), role = Role.Cohost, myHand = 5))
            assertEquals(
                listOf(RaisedHand("c", "C", 1), RaisedHand("me", "You", 2, mine = true), RaisedHand("a", "A", 3)),
                viewModel.state.value.hands,
            )
            viewModel.onEvent(CallEvent.LowerHand("a"))
            viewModel.onEvent(CallEvent.LowerAllHands)
            assertEquals(listOf("lower-hands a", "lower-hands all"), call.hostActions)
            assertEquals(emptyList<RaisedHand>(), viewModel.state.value.hands)
        }

    @Test
    fun `unread counts others' messages until the chat is opened`() =
        runTest {
            val viewModel = CallViewModel(salon, link, "Me", backgroundScope)
            val call = salon.calls.single()
            call.emit(room(person("a"), chat = listOf(message(1, "a"), message(2, "me"), message(3, "a", text = null))))
            assertEquals(2, viewModel.state.value.unread)
            assertEquals(listOf("A", "You", "A"), viewModel.state.value.chat.map { it.name })
            assertEquals(listOf(false, true, false), viewModel.state.value.chat.map { it.mine })
            assertNull(viewModel.state.value.chat.last().text)

            viewModel.onEvent(CallEvent.OpenChat)
            assertEquals(0, viewModel.state.value.unread)
            // Arriving while open: read.
            call.emit(room(person("a"), chat = listOf(message(1, "a"), message(2, "me"), message(3, "a", text = null), message(4, "a"))))
            assertEquals(0, viewModel.state.value.unread)

            viewModel.onEvent(CallEvent.CloseChat)
            call.emit(room(person("a"), chat = listOf(message(4, "a"), message(5, "a"), message(6, "me"))))
            assertEquals(1, viewModel.state.value.unread)
        }

    @Test
    fun `sending takes the trimmed draft, which is cut at the limit`() =
        runTest {
            val viewModel = CallViewModel(salon, link, "Me", backgroundScope)
            val call = salon.calls.single()
            call.emit(room(person("a"), role = Role.Owner))
            call.now = { 42 }

            viewModel.onEvent(CallEvent.ChatDraft("x".repeat(MAX_CHAT_CHARS + 50)))
            assertEquals(MAX_CHAT_CHARS, viewModel.state.value.chatDraft.length)
            viewModel.onEvent(CallEvent.ChatDraft("   "))
            viewModel.onEvent(CallEvent.SendChat)
            assertEquals(emptyList<ChatLine>(), viewModel.state.value.chat)

            viewModel.onEvent(CallEvent.ChatDraft("  <i>see</i> https://example.org  "))
            viewModel.onEvent(CallEvent.SendChat)
            assertEquals(listOf(ChatLine(1, "You", "<i>see</i> https://example.org", mine = true)), viewModel.state.value.chat)
            assertEquals("", viewModel.state.value.chatDraft)
            assertEquals(0, viewModel.state.value.unread)

            assertTrue(viewModel.state.value.canClearChat)
            viewModel.onEvent(CallEvent.ClearChat)
            assertEquals(emptyList<ChatLine>(), viewModel.state.value.chat)
        }

    @Test
    fun `panic pauses a guest's chat, not a host's`() =
        runTest {
            val viewModel = CallViewModel(salon, link, "Me", backgroundScope)
            val call = salon.calls.single()
            call.emit(room(person("a"), panic = true))
            assertTrue(viewModel.state.value.chatPaused)
            assertFalse(viewModel.state.value.canClearChat)
            call.emit(room(person("a"), panic = true, role = Role.Cohost))
            assertFalse(viewModel.state.value.chatPaused)
            assertFalse(viewModel.state.value.canClearChat)

            // A refusal still reads as a notice.
            call.emitEvent(CoreEvent.Refused(org.salon.core.Refusal.RateLimited, "Slow down"))
            assertEquals("Slow down", viewModel.state.value.notice)
        }
}
