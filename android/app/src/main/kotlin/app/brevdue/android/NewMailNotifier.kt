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

/** A notification per Inbox arrival, from the engine's MessagesChanged events. */
object NewMailNotifier {
    const val CHANNEL = "new-mail"
    private val scope = CoroutineScope(SupervisorJob() + Dispatchers.IO)

    fun listen(context: Context, mail: Mail) {
        val app = context.applicationContext
        scope.launch {
            mail.events.collect { event ->
                if (event is Event.MessagesChanged && event.folder == "INBOX" && event.added.isNotEmpty()) {
                    show(app, mail, event.account, event.added)
                }
            }
        }
    }

    private fun show(context: Context, mail: Mail, account: String, added: List<Long>) {
        if (ContextCompat.checkSelfPermission(context, Manifest.permission.POST_NOTIFICATIONS)
            != PackageManager.PERMISSION_GRANTED
        ) {
            return
        }
        val unread = added.mapNotNull { id -> runCatching { mail.engine.message(id).summary }.getOrNull() }
            .filter { !it.flags.seen }
        if (unread.isEmpty()) return
        val newest = unread.maxBy { it.date }
        val open = PendingIntent.getActivity(
            context, 0,
            Intent(context, MainActivity::class.java).putExtra(MainActivity.EXTRA_MESSAGE, newest.id),
            PendingIntent.FLAG_UPDATE_CURRENT or PendingIntent.FLAG_IMMUTABLE,
        )
        val title = if (unread.size == 1) newest.from.name ?: newest.from.address else "${unread.size} new messages"
        val notification = NotificationCompat.Builder(context, CHANNEL)
            .setSmallIcon(android.R.drawable.sym_action_email)
            .setContentTitle(title)
            .setContentText(if (unread.size == 1) newest.subject else account)
            .setStyle(NotificationCompat.InboxStyle().also { s -> unread.take(5).forEach { s.addLine(it.subject) } })
            .setContentIntent(open)
            .setAutoCancel(true)
            .build()
        NotificationManagerCompat.from(context).notify(account.hashCode(), notification)
    }
}
