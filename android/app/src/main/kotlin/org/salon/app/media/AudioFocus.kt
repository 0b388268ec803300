package org.salon.app.media

/** What the system said about audio focus (`AudioManager.AUDIOFOCUS_*`), without Android. */
enum class FocusChange {
    Gain,
    Loss,

    /** Usually a phone call (or another app's call) rings or starts. */
    LossTransient,

    /** A short sound (navigation, a notification): keep going. */
    LossTransientCanDuck,
    ;

    companion object {
        /** From `AudioManager.OnAudioFocusChangeListener`'s value. */
        fun of(value: Int): FocusChange? =
            when (value) {
                1 -> Gain // AUDIOFOCUS_GAIN
                -1 -> Loss // AUDIOFOCUS_LOSS
                -2 -> LossTransient // AUDIOFOCUS_LOSS_TRANSIENT
                -3 -> LossTransientCanDuck // AUDIOFOCUS_LOSS_TRANSIENT_CAN_DUCK
                else -> null
            }
    }
}

/** What the call does about a focus change. */
sealed interface FocusAction {
    data object Nothing : FocusAction

    /** Turn my microphone off and tell the user why. */
    data class MuteMicrophone(val notice: String) : FocusAction

    /** Turn my microphone back on (it was on before the interruption) and say so. */
    data class RestoreMicrophone(val notice: String) : FocusAction
}

/**
 * While another call (a phone call) holds the audio, my microphone goes off so that the room
 * does not hear it; when the focus comes back, it goes on again, but only if it was on before
 * and the user did not change it meanwhile ([userChangedMicrophone]).
 */
class FocusPolicy {
    private var mutedByFocus = false

    fun onChange(change: FocusChange, microphoneOn: Boolean): FocusAction =
        when (change) {
            FocusChange.Loss, FocusChange.LossTransient ->
                if (microphoneOn && !mutedByFocus) {
                    mutedByFocus = true
                    FocusAction.MuteMicrophone("Microphone off: another call is using the audio")
                } else {
                    FocusAction.Nothing
                }
            FocusChange.LossTransientCanDuck -> FocusAction.Nothing
            FocusChange.Gain ->
                if (mutedByFocus) {
                    mutedByFocus = false
                    FocusAction.RestoreMicrophone("Microphone back on")
                } else {
                    FocusAction.Nothing
                }
        }

    /** The user turned the microphone on or off themselves: focus no longer restores it. */
    fun userChangedMicrophone() {
        mutedByFocus = false
    }
}
