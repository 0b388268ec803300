package org.salon.core

import kotlinx.coroutines.async
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import kotlinx.coroutines.yield
import org.junit.jupiter.api.Test
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.time.Duration.Companion.seconds

/** The fake keeps the real service's rules where a UI can tell, and is easy to drive. */
class FakeSalonServiceTest {
    @Test
    fun `friends and rooms behave like the real service`() =
        runBlocking<Unit> {
            val salon = FakeSalonService()
            val room = salon.createRoom("https://salon.example.org", "Mine")
            assertEquals(listOf(room), salon.myRooms())
            assertEquals(0, salon.roomStatus(room.link).participants)
            assertFailsWith<SalonError.RoomNotFound> { salon.roomStatus("https://salon.example.org/r/nope") }

            val ada = salon.addFriend("Ada", room.link)
            assertFailsWith<SalonError.DuplicateFriend> { salon.addFriend("Ada", room.link) }
            val card = salon.friendCard("Zoë", "https://other.example.org/r/x")
            assertEquals("Zoë", FakeSalonService().addFriendFromCard(card).name)
            salon.renameFriend(ada.id, "Ada L.")
            assertEquals(listOf("Ada L."), salon.friends().map { it.name })

            salon.failNext = SalonError.Network("offline")
            assertFailsWith<SalonError.Network> { salon.friends() }
            assertEquals(1, salon.friends().size)
        }

    @Test
    fun `a fake call is driven by the test`() =
        runBlocking<Unit> {
            val salon = FakeSalonService()
            val room = salon.createRoom("https://salon.example.org")
            val call = salon.join(room.link, JoinOptions(name = "Me"))
            val fake = salon.calls.single()

            val bob = Participant("b", "Bob", true, true, true, true, speaking = true)
            fake.emit(call.state.value.copy(participants = listOf(bob)))
            assertEquals(listOf(bob), call.state.value.participants)

            val frame = async { withTimeout(5.seconds) { call.videoFrames().first() } }
            val sent = RemoteFrame("b", salon.testPatternFrame(4, 2, 0))
            while (!frame.isCompleted) {
                fake.emitVideo(sent)
                yield()
            }
            assertEquals(sent, frame.await())

            call.sendAudioFrame(ShortArray(960))
            assertEquals(1, fake.sentAudio.size)

            // Views are recorded, the latest per participant and every call in order.
            call.setView("b", ParticipantView.Hidden)
            call.setView("b", ParticipantView.Large)
            assertEquals(mapOf("b" to ParticipantView.Large), fake.views)
            assertEquals(listOf("b Hidden", "b Large"), fake.viewLog)
            assertFailsWith<SalonError.InvalidInput> { call.setView("", ParticipantView.Hidden) }

            // Network changes are counted.
            call.onNetworkChanged()
            call.onNetworkChanged()
            assertEquals(2, fake.networkChanges)

            // Speakers and my video watched come with the state.
            fake.emit(call.state.value.copy(speakers = listOf("b"), videoWatched = false))
            assertEquals("b", call.state.value.dominantSpeaker)
            assertEquals(false, call.state.value.videoWatched)
            call.leave()
            assertEquals(Connection.Ended(EndReason.Left), call.state.value.connection)
            assertEquals(emptyList(), call.videoFrames().toList())
            assertFailsWith<SalonError.CallEnded> { call.sendAudioFrame(ShortArray(960)) }
            assertFailsWith<SalonError.CallEnded> { call.setView("b", ParticipantView.Thumbnail) }
            assertFailsWith<SalonError.CallEnded> { call.onNetworkChanged() }
            assertEquals(2, fake.networkChanges)
        }
}
