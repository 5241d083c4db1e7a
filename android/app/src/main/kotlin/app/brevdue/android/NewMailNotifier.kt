package app.brevdue.android

import android.Manifest
import android.app.PendingIntent
import android.content.Context
import android.content.Intent
import android.content.pm.PackageManager
import androidx.core.app.NotificationCompat
import androidx.core.app.NotificationManagerCompat
import androidx.core.content.ContextCompat
import app.brevdue.core.Event
import app.brevdue.kit.Mail
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.launch

/**
 * A notification for the engine's [Event.NewMail] (the engine decides what is new: unseen,
 * in the Inbox, not an account's first sync, not this device's own copies); nothing here
 * looks at other events.
 */
object NewMailNotifier {
    const val CHANNEL = "new-mail"
    private val scope = CoroutineScope(SupervisorJob() + Dispatchers.IO)

    fun listen(context: Context, mail: Mail) {
        val app = context.applicationContext
        scope.launch { mail.newMail.collect { show(app, it) } }
    }

    private fun show(context: Context, event: Event.NewMail) {
        if (ContextCompat.checkSelfPermission(context, Manifest.permission.POST_NOTIFICATIONS)
            != PackageManager.PERMISSION_GRANTED
        ) {
            return
        }
        val newest = event.messages.firstOrNull() ?: return // newest first
        val open = PendingIntent.getActivity(
            context, 0,
            Intent(context, MainActivity::class.java).putExtra(MainActivity.EXTRA_MESSAGE, newest.id),
            PendingIntent.FLAG_UPDATE_CURRENT or PendingIntent.FLAG_IMMUTABLE,
        )
        val one = event.total == 1u
        val title = if (one) newest.from.name ?: newest.from.address
        else context.getString(R.string.new_messages, event.total.toInt())
        val notification = NotificationCompat.Builder(context, CHANNEL)
            .setSmallIcon(android.R.drawable.sym_action_email)
            .setContentTitle(title)
            .setContentText(if (one) newest.subject else event.account)
            .setStyle(NotificationCompat.InboxStyle().also { s -> event.messages.take(5).forEach { s.addLine(it.subject) } })
            .setContentIntent(open)
            .setAutoCancel(true)
            .build()
        NotificationManagerCompat.from(context).notify(event.account.hashCode(), notification)
    }
}
