package org.salon.core

import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.cancelAndJoin
import kotlinx.coroutines.delay
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.isActive
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.junit.jupiter.api.Test
import kotlin.math.PI
import kotlin.math.sin
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertNotNull
import kotlin.test.assertTrue
import kotlin.time.Duration.Companion.seconds

/**
 * Two phones in one room through a real salon-server, real WebRTC and the real codecs: the one
 * that sends a test pattern and a tone shows up, by name and speaking, in the other's state
 * flow, and its pictures arrive decoded at their real size in the other's video flow.
 */
class CallTest : TwoPhones() {
    @Test
    fun `a friend drops in and is seen and heard`() =
        runBlocking<Unit> {
            val room = alice.createRoom(server.url, "Living room")
            val aliceCall = alice.join(room.link, JoinOptions(name = "Alice", microphoneOn = false, cameraOn = false))
            assertEquals(room.id, aliceCall.state.value.roomId)
            withTimeout(10.seconds) { aliceCall.state.first { it.connection == Connection.Connected } }

            // Bob sees that the room is open, and drops in.
            val status = withTimeout(10.seconds) { eventually { bob.roomStatus(room.link).takeIf { it.isOpen } } }
            assertEquals(1, status.participants)
            val bobCall = bob.join(room.link, JoinOptions(name = "Bob", videoWidth = 320, videoHeight = 240))
            val bobId = assertNotNull(bobCall.state.value.me, "Bob has an id once joined")

            val feeder = launch(Dispatchers.Default) { feed(bob, bobCall) }
            try {
                // Bob's camera goes out in two simulcast layers, 160x120 (halved) and
                // 320x240; without a view Alice gets the top one (her first pictures may come from
                // the small layer, which can start a moment sooner).
                val picture =
                    withTimeout(30.seconds) {
                        aliceCall.videoFrames().first { it.participantId == bobId && it.frame.width == 320 }
                    }
                assertEquals(320, picture.frame.width)
                assertEquals(240, picture.frame.height)
                assertEquals(320 * 240 * 3 / 2, picture.frame.data.size)

                val sound = withTimeout(15.seconds) { aliceCall.audioFrames().first { it.participantId == bobId } }
                assertTrue(sound.pcm.isNotEmpty() && sound.channels in 1..2, "$sound")

                val seen =
                    withTimeout(15.seconds) {
                        aliceCall.state.first { state ->
                            state.participants.any { it.id == bobId && it.name == "Bob" && it.receivingVideo && it.speaking }
                        }
                    }
                assertEquals(listOf("Bob"), seen.participants.map { it.name })
                val stats = aliceCall.remoteStats().single { it.participantId == bobId }
                assertTrue(stats.framesDecoded > 0 && stats.width == 320 && stats.height == 240, "$stats")

                // Bob mutes: Alice's state says so.
                bobCall.setMicrophone(false)
                withTimeout(10.seconds) {
                    aliceCall.state.first { state -> state.participants.any { it.id == bobId && !it.audioOn } }
                }
            } finally {
                feeder.cancelAndJoin()
            }

            // Bob leaves: his call ends, his media flows complete, and Alice sees him go.
            bobCall.leave()
            withTimeout(10.seconds) { bobCall.state.first { it.connection == Connection.Ended(EndReason.Left) } }
            assertEquals(emptyList(), withTimeout(5.seconds) { bobCall.videoFrames().toList() })
            withTimeout(10.seconds) { aliceCall.state.first { state -> state.participants.none { it.id == bobId } } }
            aliceCall.leave()
            aliceCall.leave() // twice is fine
        }

    // Views and speakers through the wrapper, the real core and a real server (issue 10): Bob talks
    // and sends video; Alice sees him first among the speakers; when Alice hides his tile his video
    // stops coming and Bob's state says nobody watches; when she shows him large it comes back,
    // and keeps coming when Bob's network changes (an ICE restart).
    @Test
    fun `a hidden tile stops its video, the speaker comes first`() =
        runBlocking<Unit> {
            val room = alice.createRoom(server.url, "Living room")
            val aliceCall = alice.join(room.link, JoinOptions(name = "Alice", microphoneOn = false, cameraOn = false))
            withTimeout(10.seconds) { aliceCall.state.first { it.connection == Connection.Connected } }
            val bobCall = bob.join(room.link, JoinOptions(name = "Bob", videoWidth = 160, videoHeight = 120, videoBitrateBps = 200_000))
            val bobId = assertNotNull(bobCall.state.value.me)
            assertTrue(bobCall.state.value.videoWatched, "nobody set a view yet: everyone's video is watched")

            val feeder = launch(Dispatchers.Default) { feed(bob, bobCall, width = 160, height = 120, everyNth = 2) }
            try {
                withTimeout(30.seconds) { aliceCall.videoFrames().first { it.participantId == bobId } }

                // Bob's tone makes him the loudest speaker, for Alice and for himself.
                val heard = withTimeout(15.seconds) { aliceCall.state.first { it.dominantSpeaker == bobId } }
                assertTrue(heard.participants.single { it.id == bobId }.speaking)
                assertTrue(!heard.speaking, "Alice's microphone is off")
                withTimeout(10.seconds) { bobCall.state.first { it.speaking && bobId in it.speakers } }

                // Alice scrolls Bob's tile off: his video stops coming, and he is told nobody watches.
                aliceCall.setView(bobId, ParticipantView.Hidden)
                withTimeout(5.seconds) { bobCall.state.first { !it.videoWatched } }
                delay(1_200)
                val hiddenAt = received(aliceCall, bobId)
                delay(1_000)
                val hiddenAfter = received(aliceCall, bobId)
                assertTrue(hiddenAfter - hiddenAt <= 1, "a hidden video still arrives: $hiddenAt -> $hiddenAfter frames in 1 s")
                // His audio goes on: hiding is about video only.
                withTimeout(5.seconds) { aliceCall.audioFrames().first { it.participantId == bobId } }

                // Alice pins him: watched again, and his pictures decode again (from a keyframe).
                aliceCall.setView(bobId, ParticipantView.Large)
                withTimeout(5.seconds) { bobCall.state.first { it.videoWatched } }
                val decoded = aliceCall.remoteStats().single { it.participantId == bobId }.framesDecoded
                withTimeout(10.seconds) {
                    while (aliceCall.remoteStats().single { it.participantId == bobId }.framesDecoded < decoded + 5) delay(100)
                }

                // Bob's phone changes networks: his call restarts ICE on the same connection
                // (core/tests/reconnect.rs has the details), and his pictures keep decoding at Alice's.
                bobCall.onNetworkChanged()
                val beforeChange = aliceCall.remoteStats().single { it.participantId == bobId }.framesDecoded
                withTimeout(20.seconds) {
                    while (aliceCall.remoteStats().single { it.participantId == bobId }.framesDecoded < beforeChange + 15) delay(100)
                }
                assertEquals(Connection.Connected, bobCall.state.value.connection)
            } finally {
                feeder.cancelAndJoin()
            }

            // A malformed id is refused at once; after the call, CallEnded.
            assertFailsWith<SalonError.InvalidInput> { aliceCall.setView("", ParticipantView.Hidden) }
            bobCall.leave()
            aliceCall.leave()
            assertFailsWith<SalonError.CallEnded> { aliceCall.setView(bobId, ParticipantView.Thumbnail) }
            assertFailsWith<SalonError.CallEnded> { aliceCall.onNetworkChanged() }
        }

    private fun received(call: Call, from: String): Long =
        call.remoteStats().singleOrNull { it.participantId == from }?.framesReceived ?: 0

    /**
     * Sends a 440 Hz tone in 20 ms frames and the test pattern of `width`×`height` with every
     * `everyNth` audio frame (3: ~17 fps).
     */
    private suspend fun kotlinx.coroutines.CoroutineScope.feed(
        salon: SalonService,
        call: Call,
        width: Int = 320,
        height: Int = 240,
        everyNth: Long = 3,
    ) {
        val samples = 960
        var phase = 0.0
        var tick = 0L
        while (isActive) {
            val pcm = ShortArray(samples) {
                phase += 2 * PI * 440.0 / 48_000
                (sin(phase) * 8_000).toInt().toShort()
            }
            call.sendAudioFrame(pcm)
            if (tick % everyNth == 0L) call.sendVideoFrame(salon.testPatternFrame(width, height, tick / everyNth))
            tick++
            delay(20)
        }
    }

    /** Polls [probe] until it gives a value; the caller bounds it with a timeout. */
    private suspend fun <T : Any> eventually(probe: suspend () -> T?): T {
        while (true) {
            probe()?.let { return it }
            delay(100)
        }
    }
}
