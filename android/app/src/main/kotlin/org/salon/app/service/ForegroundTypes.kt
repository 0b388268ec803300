package org.salon.app.service

/**
 * The `foregroundServiceType`s [CallService] may pass to `startForeground`: only those whose
 * permission is granted, since Android 14 throws for the others.
 */
object ForegroundTypes {
    /** `ServiceInfo.FOREGROUND_SERVICE_TYPE_CAMERA` (API 29). */
    const val CAMERA = 0x40

    /** `ServiceInfo.FOREGROUND_SERVICE_TYPE_MICROPHONE` (API 30). */
    const val MICROPHONE = 0x80

    /**
     * The types for a call with these permissions on Android [sdk]: 0 means "call the two-argument
     * `startForeground`" (before Android 10 there are no types; on 10–13 the manifest's apply
     * without checks). Null means the service cannot run in the foreground at all: on Android 14+
     * without either permission there is no type it may claim, so the call goes on without it.
     */
    fun of(cameraGranted: Boolean, microphoneGranted: Boolean, sdk: Int): Int? {
        if (sdk < 29) return 0
        var types = 0
        if (cameraGranted) types = types or CAMERA
        if (microphoneGranted && sdk >= 30) types = types or MICROPHONE
        if (types == 0) return if (sdk >= 34) null else 0
        return types
    }
}
