package org.salon.app

import android.Manifest
import android.app.Notification
import android.app.NotificationChannel
import android.app.NotificationManager
import android.app.PendingIntent
import android.content.Context
import android.content.Intent
import android.content.pm.PackageManager
import android.os.Build

/**
 * Local notifications for "door opened" (the core rate-limits them per friend). Without the
 * notification permission (Android 13+ asks for it) nothing is shown: the rooms screen's banner
 * still says it.
 */
class DoorNotifications(private val context: Context) {
    private val manager: NotificationManager? = context.getSystemService(NotificationManager::class.java)
    private var nextId = 1

    init {
        val channel = NotificationChannel(CHANNEL, "Doors opening", NotificationManager.IMPORTANCE_DEFAULT)
        channel.description = "A friend you chose opened their door"
        manager?.createNotificationChannel(channel)
    }

    fun show(text: String) {
        if (Build.VERSION.SDK_INT >= 33 &&
            context.checkSelfPermission(Manifest.permission.POST_NOTIFICATIONS) != PackageManager.PERMISSION_GRANTED
        ) {
            return
        }
        val open =
            PendingIntent.getActivity(
                context,
                0,
                Intent(context, MainActivity::class.java).addFlags(Intent.FLAG_ACTIVITY_SINGLE_TOP),
                PendingIntent.FLAG_IMMUTABLE,
            )
        val notification =
            Notification.Builder(context, CHANNEL)
                .setSmallIcon(android.R.drawable.ic_dialog_info)
                .setContentTitle(text)
                .setContentText("Tap to drop in")
                .setContentIntent(open)
                .setAutoCancel(true)
                .build()
        manager?.notify(nextId++, notification)
    }

    private companion object {
        const val CHANNEL = "doors"
    }
}
