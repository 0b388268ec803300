package org.salon.app.permissions

/** The two things a call may capture. */
enum class Capture { Camera, Microphone }

/** Where one runtime permission stands. */
enum class PermissionStatus {
    Granted,

    /** Never asked: the system dialog will show. */
    NotAsked,

    /** Refused once; asking again shows the dialog (the app should say why first). */
    Denied,

    /** "Don't ask again" (or refused twice on Android 11+): only the app's settings can grant it. */
    PermanentlyDenied,
}

/**
 * The decisions around the camera and microphone permissions, without Android: what to ask for
 * when joining, and what to tell the user afterwards. The Activity glue ([PermissionBroker])
 * feeds it what `checkSelfPermission`, `shouldShowRequestPermissionRationale` and the stored
 * "asked before" say.
 */
object MediaPermissionPolicy {
    /**
     * Android does not say "permanently denied" directly: after a refusal the rationale flag is
     * set; after "don't ask again" it is cleared again, which looks like "never asked" except
     * that we remember having asked.
     */
    fun status(granted: Boolean, shouldShowRationale: Boolean, askedBefore: Boolean): PermissionStatus =
        when {
            granted -> PermissionStatus.Granted
            shouldShowRationale -> PermissionStatus.Denied
            askedBefore -> PermissionStatus.PermanentlyDenied
            else -> PermissionStatus.NotAsked
        }

    /** What to ask the system for when joining with [wanted] on: only what the dialog can still grant. */
    fun toRequest(wanted: Set<Capture>, statuses: Map<Capture, PermissionStatus>): Set<Capture> =
        wanted.filterTo(LinkedHashSet()) { statuses[it] == PermissionStatus.NotAsked || statuses[it] == PermissionStatus.Denied }

    /**
     * After the dialog (or without one): what the call may use, and what to explain about the
     * rest. [statuses] is read again after the dialog.
     */
    fun outcome(wanted: Set<Capture>, statuses: Map<Capture, PermissionStatus>): MediaGrant {
        val granted = wanted.filterTo(LinkedHashSet()) { statuses[it] == PermissionStatus.Granted }
        val missing = wanted - granted
        val note =
            if (missing.isEmpty()) {
                null
            } else {
                PermissionNote(
                    missing = missing,
                    settingsNeeded = missing.any { statuses[it] == PermissionStatus.PermanentlyDenied },
                )
            }
        return MediaGrant(camera = Capture.Camera in granted, microphone = Capture.Microphone in granted, note = note)
    }
}

/** What a call may capture, and why not the rest. */
data class MediaGrant(val camera: Boolean, val microphone: Boolean, val note: PermissionNote? = null)

/**
 * The line the pre-join and call screens show when a permission was refused: [text], and a
 * button ([actionLabel]) that asks again, or, after "don't ask again", opens the app's settings.
 */
data class PermissionNote(val missing: Set<Capture>, val settingsNeeded: Boolean) {
    val text: String
        get() {
            val what =
                when {
                    missing.size == 2 -> "camera and microphone"
                    Capture.Camera in missing -> "camera"
                    else -> "microphone"
                }
            val others = if (missing.size == 2 || Capture.Camera in missing) "see" else "hear"
            return "Salon may not use your $what, so others can't $others you."
        }

    val actionLabel: String get() = if (settingsNeeded) "Open settings" else "Allow"
}

/** The Android permission names of each [Capture]. */
val Capture.permission: String
    get() =
        when (this) {
            Capture.Camera -> "android.permission.CAMERA"
            Capture.Microphone -> "android.permission.RECORD_AUDIO"
        }
