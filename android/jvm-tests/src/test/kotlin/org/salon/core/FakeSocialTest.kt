package org.salon.core

import kotlinx.coroutines.async
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import kotlinx.coroutines.yield
import org.junit.jupiter.api.Test
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertNull
import kotlin.time.Duration.Companion.seconds

/** The fake call answers reactions, hands and chat as the core does with an instant server. */
class FakeSocialTest {
    private suspend fun joined(role: Role = Role.Guest, vararg others: Participant): Pair<Call, FakeCall> {
        val salon = FakeSalonService()
        val room = salon.createRoom("https://salon.example.org")
        val call = salon.join(room.link, JoinOptions(name = "Zoë"))
        val fake = salon.calls.single()
        fake.emit(call.state.value.copy(role = role, participants = others.toList()))
        return call to fake
    }

    private fun person(id: String, hand: Long? = null) = Participant(id, id.uppercase(), true, true, true, true, false, hand = hand)

    /** The first event on [call] after [act], which is repeated until a collector is listening. */
    private suspend fun eventAfter(call: Call, act: () -> Unit): CallEvent =
        kotlinx.coroutines.coroutineScope {
            val next = async { withTimeout(5.seconds) { call.events().first() } }
            while (!next.isCompleted) {
                act()
                yield()
            }
            next.await()
        }

    @Test
    fun `the eight reactions, and mine comes back as an event`() =
        runBlocking<Unit> {
            val salon = FakeSalonService()
            assertEquals(8, salon.reactions.size)
            val (call, fake) = joined()
            assertEquals(CallEvent.Reaction("me", "🎉"), eventAfter(call) { call.react("🎉") })
            assertEquals("🎉", fake.sentReactions.first())
            assertFailsWith<SalonError.InvalidInput> { call.react("🦄") }
        }

    @Test
    fun `my hand takes the next place in the queue and a host lowers hands`() =
        runBlocking<Unit> {
            val (call, fake) = joined(Role.Owner, person("a", hand = 4), person("b"))
            call.raiseHand(true)
            assertEquals(5L, call.state.value.myHand)
            call.raiseHand(true) // already up: keeps its place
            assertEquals(5L, call.state.value.myHand)

            call.lowerHands("a")
            assertEquals(listOf(null, null), call.state.value.participants.map { it.hand })
            assertEquals(5L, call.state.value.myHand)
            call.lowerHands()
            assertNull(call.state.value.myHand)
            assertEquals(listOf("lower-hands a", "lower-hands all"), fake.hostActions)
        }

    @Test
    fun `a guest cannot lower hands`() =
        runBlocking<Unit> {
            val (call, _) = joined(Role.Guest, person("a", hand = 1))
            val refused = eventAfter(call) { call.lowerHands("a") }
            assertEquals(Refusal.NotAllowed, (refused as CallEvent.Refused).reason)
            assertEquals(1L, call.state.value.participants.single().hand)
        }

    @Test
    fun `chat is echoed trimmed into the state, and only the owner clears it`() =
        runBlocking<Unit> {
            val (call, fake) = joined(Role.Owner)
            fake.now = { 1_000L }
            call.sendChat("  hello <b>there</b>  ")
            call.sendChat("second")
            assertEquals(
                listOf(ChatMessage(1, "me", "Zoë", 1_000, "hello <b>there</b>"), ChatMessage(2, "me", "Zoë", 1_000, "second")),
                call.state.value.chat,
            )
            assertFailsWith<SalonError.InvalidInput> { call.sendChat("   ") }
            assertFailsWith<SalonError.InvalidInput> { call.sendChat("x".repeat(MAX_CHAT_CHARS + 1)) }
            call.sendChat("é".repeat(MAX_CHAT_CHARS)) // characters, not bytes
            assertEquals(3, call.state.value.chat.size)

            call.clearChat()
            assertEquals(emptyList(), call.state.value.chat)

            fake.emit(call.state.value.copy(role = Role.Cohost, chat = listOf(ChatMessage(8, "a", "Ada", 5, null))))
            val refused = eventAfter(call) { call.clearChat() }
            assertEquals(Refusal.NotAllowed, (refused as CallEvent.Refused).reason)
            assertEquals(1, call.state.value.chat.size)
            call.sendChat("after")
            assertEquals(9L, call.state.value.chat.last().id)
        }

    @Test
    fun `panic pauses a guest's chat and reactions`() =
        runBlocking<Unit> {
            val (call, fake) = joined(Role.Guest)
            fake.emit(call.state.value.copy(panic = true))
            val refused = eventAfter(call) { call.sendChat("hi") }
            assertEquals(Refusal.NotAllowed, (refused as CallEvent.Refused).reason)
            assertEquals(emptyList(), call.state.value.chat)
            assertEquals(Refusal.NotAllowed, (eventAfter(call) { call.react("👍") } as CallEvent.Refused).reason)
            assertEquals(emptyList(), fake.sentReactions)

            call.leave()
            assertFailsWith<SalonError.CallEnded> { call.sendChat("late") }
            assertFailsWith<SalonError.CallEnded> { call.raiseHand(true) }
        }
}
