package org.salon.core

import org.junit.jupiter.api.Test
import org.salon.core.ffi.CallEventRecord
import org.salon.core.ffi.ChatRecord
import org.salon.core.ffi.ConnectionRecord
import org.salon.core.ffi.ParticipantRecord
import org.salon.core.ffi.RefusalRecord
import org.salon.core.ffi.RoleRecord
import org.salon.core.ffi.RoomStateRecord
import kotlin.test.assertEquals
import kotlin.test.assertNull

/** Reactions, hands and chat cross from the generated records into the app's types unchanged. */
class SocialMappingTest {
    private fun participant(id: String, hand: ULong?) =
        ParticipantRecord(
            id = id, name = id.uppercase(), role = RoleRecord.GUEST, audioOn = true, videoOn = false,
            receivingAudio = true, receivingVideo = false, speaking = false, hand = hand, screen = false, receivingScreen = false,
        )

    private fun room(myHand: ULong?, chat: List<ChatRecord>, participants: List<ParticipantRecord>) =
        RoomStateRecord(
            roomId = "r", link = "https://salon.example.org/r/r", roomName = null, me = "me", role = RoleRecord.OWNER,
            locked = false, panic = false, microphoneOn = true, cameraOn = false, participants = participants,
            knocks = emptyList(), bans = emptyList(), speakers = emptyList(), speaking = false, videoWatched = true,
            connection = ConnectionRecord.Connected, e2ee = null, myHand = myHand, chat = chat,
        )

    @Test
    fun `hands and chat come with the state`() {
        val chat =
            listOf(
                ChatRecord(id = 7uL, from = "a", name = "Ada", atMs = 1_700_000_000_123, text = "<b>hi</b> https://x.example"),
                ChatRecord(id = 9uL, from = "b", name = "Bob", atMs = 1_700_000_001_000, text = null),
            )
        val state = room(myHand = 12uL, chat = chat, participants = listOf(participant("a", 3uL), participant("b", null))).toRoomState()

        assertEquals(12L, state.myHand)
        assertEquals(listOf(3L, null), state.participants.map { it.hand })
        assertEquals(
            listOf(
                ChatMessage(7, "a", "Ada", 1_700_000_000_123, "<b>hi</b> https://x.example"),
                ChatMessage(9, "b", "Bob", 1_700_000_001_000, null),
            ),
            state.chat,
        )
        // Down hands and an empty chat.
        val quiet = room(myHand = null, chat = emptyList(), participants = emptyList()).toRoomState()
        assertNull(quiet.myHand)
        assertEquals(emptyList(), quiet.chat)
    }

    @Test
    fun `a reaction and the new refusals become events`() {
        assertEquals(CallEvent.Reaction("a", "🎉"), CallEventRecord.Reaction(participantId = "a", emoji = "🎉").toCallEvent())
        assertEquals(
            CallEvent.Refused(Refusal.Invalid, "too long"),
            CallEventRecord.Refused(reason = RefusalRecord.INVALID, message = "too long").toCallEvent(),
        )
        assertEquals(Refusal.Failed, RefusalRecord.FAILED.toRefusal())
        assertEquals(Refusal.RateLimited, RefusalRecord.RATE_LIMITED.toRefusal())
        assertEquals(Refusal.NotAllowed, RefusalRecord.NOT_ALLOWED.toRefusal())
    }
}
