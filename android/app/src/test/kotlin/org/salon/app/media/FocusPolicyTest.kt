package org.salon.app.media

import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Test

/** A phone call takes the audio: my microphone goes off, and back on after. */
class FocusPolicyTest {
    @Test
    fun `a phone call mutes the microphone and its end restores it`() {
        val policy = FocusPolicy()
        assertTrue(policy.onChange(FocusChange.LossTransient, microphoneOn = true) is FocusAction.MuteMicrophone)
        assertTrue(policy.onChange(FocusChange.Gain, microphoneOn = false) is FocusAction.RestoreMicrophone)
        assertEquals(FocusAction.Nothing, policy.onChange(FocusChange.Gain, microphoneOn = true))
    }

    @Test
    fun `a microphone that was off stays off`() {
        val policy = FocusPolicy()
        assertEquals(FocusAction.Nothing, policy.onChange(FocusChange.Loss, microphoneOn = false))
        assertEquals(FocusAction.Nothing, policy.onChange(FocusChange.Gain, microphoneOn = false))
    }

    @Test
    fun `the user's own choice meanwhile is kept`() {
        val policy = FocusPolicy()
        policy.onChange(FocusChange.LossTransient, microphoneOn = true)
        policy.userChangedMicrophone()
        assertEquals(FocusAction.Nothing, policy.onChange(FocusChange.Gain, microphoneOn = false))
    }

    @Test
    fun `ducking changes nothing, and the platform's values are read`() {
        assertEquals(FocusAction.Nothing, FocusPolicy().onChange(FocusChange.LossTransientCanDuck, microphoneOn = true))
        assertEquals(FocusChange.LossTransient, FocusChange.of(android.media.AudioManager.AUDIOFOCUS_LOSS_TRANSIENT))
        assertEquals(FocusChange.Gain, FocusChange.of(android.media.AudioManager.AUDIOFOCUS_GAIN))
        assertEquals(FocusChange.Loss, FocusChange.of(android.media.AudioManager.AUDIOFOCUS_LOSS))
        assertEquals(FocusChange.LossTransientCanDuck, FocusChange.of(android.media.AudioManager.AUDIOFOCUS_LOSS_TRANSIENT_CAN_DUCK))
    }
}
