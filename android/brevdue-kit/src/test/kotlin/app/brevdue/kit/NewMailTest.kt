package app.brevdue.kit

import app.brevdue.core.Event
import kotlinx.coroutines.delay
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import java.util.Collections

/** Notifications come from the engine's NewMail only: none for what a first sync brings. */
class NewMailTest {
    @Test
    fun `a new account's first sync raises no NewMail, mail delivered afterwards raises exactly one`() = runBlocking<Unit> {
        val user = MailServer.newUser("newmail")
        MailServer.append(user, "INBOX", messages("Old", 3))
        Phone().use { phone ->
            val newMail = Collections.synchronizedList(mutableListOf<Event.NewMail>())
            phone.scope.launchCollect(phone.mail.newMail) { newMail += it }
            val recorder = Recorder()
            phone.mail.engine.subscribe(recorder).use { subscription ->
                phone.accounts.add(imapDraft("work", user), MailServer.PASSWORD) ?: error("${phone.accounts.state.value.error}")

                // First sync: three messages arrive in the Inbox (the old rule, "MessagesChanged
                // in INBOX with added", notified for them), and none of it is news.
                phone.syncOk("work")
                assertTrue(eventually { recorder.snapshot().any { it is Event.SyncFinished } })
                val added = recorder.snapshot().filterIsInstance<Event.MessagesChanged>()
                    .filter { it.folder == "INBOX" }.sumOf { it.added.size }
                assertEquals(3, added, "${recorder.snapshot()}")
                delay(500) // events reach listeners from a task of their own
                assertEquals(emptyList<Event.NewMail>(), newMail.toList())
                assertTrue(recorder.snapshot().none { it is Event.NewMail })

                // Then one message is delivered: exactly one NewMail, with its subject and sender.
                MailServer.append(user, "INBOX", listOf(
                    TestMessage("Parcel arrived", 10, from = "Dora Post <dora@example.test>"),
                ))
                phone.syncOk("work")
                assertTrue(eventually { newMail.isNotEmpty() }, "a NewMail event")
                delay(500)
                val event = newMail.single()
                assertEquals("work", event.account)
                assertEquals("INBOX", event.folder)
                assertEquals(1u, event.total)
                val message = event.messages.single()
                assertEquals("Parcel arrived", message.subject)
                assertEquals("dora@example.test", message.from.address)
                assertEquals("Dora Post", message.from.name)
                assertEquals(1, recorder.snapshot().count { it is Event.NewMail }, "the engine's own stream agrees")

                // A sync with nothing new raises nothing more.
                phone.syncOk("work")
                delay(500)
                assertEquals(1, newMail.size)
                subscription.cancel()
            }
        }
    }
}
