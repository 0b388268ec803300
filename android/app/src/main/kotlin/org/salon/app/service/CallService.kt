package org.salon.app.service

import android.Manifest
import android.app.Notification
import android.app.NotificationChannel
import android.app.NotificationManager
import android.app.PendingIntent
import android.app.Service
import android.content.Context
import android.content.Intent
import android.content.pm.PackageManager
import android.os.Build
import android.os.IBinder
import org.salon.app.MainActivity

/**
 * Keeps a call going while the app is not on screen (the screen off, another app in front): a
 * foreground service of type camera and/or microphone (as granted, [ForegroundTypes]) with an
 * ongoing notification "In <room> · tap to return" and a Leave action. [start] it when a call
 * starts and [stop] it when the call ends. It holds no media itself: the call's ViewModel does
 * the capturing; the service only tells Android that the app is still in use.
 */
class CallService : Service() {
    override fun onBind(intent: Intent?): IBinder? = null

    override fun onStartCommand(intent: Intent?, flags: Int, startId: Int): Int {
        when (intent?.action) {
            ACTION_LEAVE -> {
                OngoingCall.leave()
                stopInForeground()
            }
            ACTION_STOP -> stopInForeground()
            else -> {
                val room = intent?.getStringExtra(EXTRA_ROOM) ?: OngoingCall.active.value?.roomName ?: "Salon"
                val types = typesNow(this)
                if (types == null) {
                    stopSelf()
                } else {
                    val notification = notification(room)
                    try {
                        if (types == 0 || Build.VERSION.SDK_INT < 29) {
                            startForeground(NOTIFICATION_ID, notification)
                        } else {
                            startForeground(NOTIFICATION_ID, notification, types)
                        }
                    } catch (e: RuntimeException) {
                        // ForegroundServiceStartNotAllowedException (12+) or SecurityException (14+:
                        // a camera or microphone type claimed from the background): no crash, the
                        // call goes on without the service.
                        android.util.Log.w("SalonCall", "could not run the call service in the foreground: ${e.message}")
                        stopSelf()
                    }
                }
            }
        }
        return START_NOT_STICKY
    }

    private fun stopInForeground() {
        if (Build.VERSION.SDK_INT >= 24) stopForeground(STOP_FOREGROUND_REMOVE) else @Suppress("DEPRECATION") stopForeground(true)
        stopSelf()
    }

    /** When the user swipes the app away, the call ends with it. */
    override fun onTaskRemoved(rootIntent: Intent?) {
        OngoingCall.leave()
        stopInForeground()
    }

    private fun notification(room: String): Notification {
        val manager = getSystemService(NotificationManager::class.java)
        manager?.createNotificationChannel(
            NotificationChannel(CHANNEL, "Calls in progress", NotificationManager.IMPORTANCE_LOW).apply {
                description = "Shown while you are in a room"
            },
        )
        val open =
            PendingIntent.getActivity(
                this,
                0,
                Intent(this, MainActivity::class.java).addFlags(Intent.FLAG_ACTIVITY_SINGLE_TOP),
                PendingIntent.FLAG_IMMUTABLE or PendingIntent.FLAG_UPDATE_CURRENT,
            )
        val leave =
            PendingIntent.getService(
                this,
                1,
                Intent(this, CallService::class.java).setAction(ACTION_LEAVE),
                PendingIntent.FLAG_IMMUTABLE or PendingIntent.FLAG_UPDATE_CURRENT,
            )
        return Notification.Builder(this, CHANNEL)
            .setSmallIcon(android.R.drawable.presence_video_online)
            .setContentTitle(contentTitle(room))
            .setContentIntent(open)
            .setOngoing(true)
            .setCategory(Notification.CATEGORY_CALL)
            .addAction(Notification.Action.Builder(null, "Leave", leave).build())
            .build()
    }

    companion object {
        const val ACTION_START = "org.salon.app.call.START"
        const val ACTION_LEAVE = "org.salon.app.call.LEAVE"
        const val ACTION_STOP = "org.salon.app.call.STOP"
        const val EXTRA_ROOM = "room"
        const val NOTIFICATION_ID = 0x5a10
        const val CHANNEL = "call"

        /** "In <room> · tap to return" (the title carries the first half). */
        fun contentTitle(room: String): String = "In $room · tap to return"

        /** What this process may claim now (see [ForegroundTypes.of]). */
        fun typesNow(context: Context): Int? =
            ForegroundTypes.of(
                cameraGranted = context.checkSelfPermission(Manifest.permission.CAMERA) == PackageManager.PERMISSION_GRANTED,
                microphoneGranted = context.checkSelfPermission(Manifest.permission.RECORD_AUDIO) == PackageManager.PERMISSION_GRANTED,
                sdk = Build.VERSION.SDK_INT,
            )

        /** Starts (or updates) the service for a call in [room]; does nothing when it could not be foreground. */
        fun start(context: Context, room: String) {
            if (typesNow(context) == null) return
            val intent = Intent(context, CallService::class.java).setAction(ACTION_START).putExtra(EXTRA_ROOM, room)
            try {
                context.startForegroundService(intent)
            } catch (e: RuntimeException) {
                // ForegroundServiceStartNotAllowedException (Android 12+) if the app is already in
                // the background: the call goes on, only less protected.
                android.util.Log.w("SalonCall", "could not start the call service: ${e.message}")
            }
        }

        /**
         * Stops the service. Through its queue of commands, after the start: `stopService` right
         * after `startForegroundService`, before `onStartCommand` ran `startForeground`, makes
         * Android crash the app ("did not then call Service.startForeground()"): a call left
         * as soon as it was joined. If the service does not run (and may not be started from
         * the background), there is nothing to stop.
         */
        fun stop(context: Context) {
            try {
                context.startService(Intent(context, CallService::class.java).setAction(ACTION_STOP))
            } catch (e: RuntimeException) {
                // IllegalStateException: in the background and the service not running.
                context.stopService(Intent(context, CallService::class.java))
            }
        }
    }
}
