package org.salon.app.permissions

import android.Manifest
import android.app.Activity
import android.content.Context
import android.content.Intent
import android.content.pm.PackageManager
import android.net.Uri
import android.os.Build
import android.provider.Settings
import androidx.activity.ComponentActivity
import androidx.activity.result.ActivityResultLauncher
import androidx.activity.result.contract.ActivityResultContracts
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.filterNotNull
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.sync.Mutex
import kotlinx.coroutines.sync.withLock

/**
 * The thin Android side of [MediaPermissionPolicy]: reads where each permission stands, shows
 * the system dialog through the Activity Result API and remembers having asked (which is how
 * "don't ask again" is told from "never asked"). One per process ([of]); the activity
 * [attach]es in `onCreate` (before it starts, as the Activity Result API requires) and
 * [detach]es in `onDestroy`; a request made while no activity is there waits for one.
 */
class PermissionBroker(context: Context) {
    private val app = context.applicationContext
    private val asked = app.getSharedPreferences("permissions", Context.MODE_PRIVATE)
    private val host = MutableStateFlow<Host?>(null)
    private val oneAtATime = Mutex()
    private var pending: CompletableDeferred<Map<String, Boolean>>? = null

    private class Host(val activity: Activity, val launcher: ActivityResultLauncher<Array<String>>)

    fun attach(activity: ComponentActivity) {
        val launcher = activity.registerForActivityResult(ActivityResultContracts.RequestMultiplePermissions()) { onResult(it) }
        host.value = Host(activity, launcher)
    }

    fun detach(activity: Activity) {
        if (host.value?.activity === activity) host.value = null
    }

    /**
     * Called with the dialog's answer (also after the activity was recreated meanwhile): what
     * was asked and answered. Empty when no dialog was shown: another request was on screen
     * (Android shows one at a time) or it was cancelled.
     */
    fun onResult(answered: Map<String, Boolean>) {
        pending?.complete(answered)
    }

    fun status(capture: Capture): PermissionStatus {
        val granted = app.checkSelfPermission(capture.permission) == PackageManager.PERMISSION_GRANTED
        val rationale = host.value?.activity?.shouldShowRequestPermissionRationale(capture.permission) ?: false
        return MediaPermissionPolicy.status(granted, rationale, asked.getBoolean(capture.permission, false))
    }

    fun statuses(): Map<Capture, PermissionStatus> = Capture.entries.associateWith(::status)

    /**
     * Asks for what [wanted] still needs (the system dialog, if it can still be shown) and says
     * what the call may use. Never throws for a refusal: the call joins without it.
     */
    suspend fun request(wanted: Set<Capture>): MediaGrant =
        oneAtATime.withLock {
            val ask = MediaPermissionPolicy.toRequest(wanted, statuses())
            if (ask.isNotEmpty()) {
                val wasAsked = ask.associateWith { asked.getBoolean(it.permission, false) }
                asked.edit().apply { ask.forEach { putBoolean(it.permission, true) } }.apply()
                val answered = showDialog(ask.map { it.permission })
                // Not answered (no dialog was shown): not "asked", or the next status would read
                // "don't ask again" and the dialog would never be offered again.
                val unanswered = ask.filter { it.permission !in answered }
                if (unanswered.isNotEmpty()) {
                    asked.edit().apply { unanswered.forEach { putBoolean(it.permission, wasAsked.getValue(it)) } }.apply()
                }
            }
            MediaPermissionPolicy.outcome(wanted, statuses())
        }

    /**
     * Asks for the notifications permission (Android 13+) for the call's ongoing notification
     * and "door opened", in turn with the camera and microphone dialogs: Android shows one
     * permission dialog at a time and answers a second request at once with nothing.
     */
    suspend fun requestNotifications() {
        if (Build.VERSION.SDK_INT < 33) return
        val permission = Manifest.permission.POST_NOTIFICATIONS
        oneAtATime.withLock {
            if (app.checkSelfPermission(permission) != PackageManager.PERMISSION_GRANTED) showDialog(listOf(permission))
        }
    }

    /** Shows the system dialog for [permissions] (once an activity is there) and waits for the answer. */
    private suspend fun showDialog(permissions: List<String>): Map<String, Boolean> {
        val h = host.filterNotNull().first()
        val done = CompletableDeferred<Map<String, Boolean>>()
        pending = done
        try {
            h.launcher.launch(permissions.toTypedArray())
            return done.await()
        } finally {
            pending = null
        }
    }

    /** Opens this app's page in the system settings (after "don't ask again"). */
    fun openAppSettings() {
        val intent =
            Intent(Settings.ACTION_APPLICATION_DETAILS_SETTINGS, Uri.fromParts("package", app.packageName, null))
                .addFlags(Intent.FLAG_ACTIVITY_NEW_TASK)
        (host.value?.activity ?: app).startActivity(intent)
    }

    companion object {
        @Volatile private var instance: PermissionBroker? = null

        fun of(context: Context): PermissionBroker =
            instance ?: synchronized(this) { instance ?: PermissionBroker(context).also { instance = it } }
    }
}
