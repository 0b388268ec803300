package org.salon.core

import org.salon.core.ffi.ParticipantRecord
import org.salon.core.ffi.RoleRecord
import kotlin.test.Test
import kotlin.test.assertEquals

/** A screen share crosses from the generated records into the app's types, named as the core names it. */
class ScreenMappingTest {
    @Test
    fun `who presents comes with the participant, and the share's id is the core's`() {
        val record =
            ParticipantRecord(
                id = "a", name = "Ada", role = RoleRecord.GUEST, audioOn = true, videoOn = true,
                receivingAudio = true, receivingVideo = true, speaking = false, hand = null, screen = true, receivingScreen = true,
            )
        val ada = record.toParticipant()
        assertEquals(true, ada.screen)
        assertEquals(true, ada.receivingScreen)
        // The wrapper's rule for the id the share's pictures come with is the core's.
        assertEquals(org.salon.core.ffi.screenShareVideoId("a"), ada.screenVideoId)
        assertEquals(false, record.copy(screen = false).toParticipant().screen)
    }
}
