package app.brevdue.kit

import app.brevdue.core.Event
import kotlinx.coroutines.delay
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test

class SyncAndEventsTest {
    @Test
    fun `sync reports progress and the status flow follows it`() = runBlocking<Unit> {
        val user = MailServer.newUser("sync")
        MailServer.append(user, "INBOX", messages("Report", 40))
        Phone().use { phone ->
            assertNotNull(phone.accounts.add(imapDraft("work", user), MailServer.PASSWORD))
            // Every status the flow goes through, as a screen would see it.
            val seen = java.util.Collections.synchronizedList(mutableListOf<SyncState>())
            val watcher = phone.scope.launchCollect(phone.sync.status) { seen += it }

            assertTrue(phone.sync.sync("work"), "${phone.sync.status.value.error}")
            // The engine's "sync now" report, one entry per account, nothing left to do.
            val now = phone.sync.status.value.syncNow!!.accounts.single()
            assertEquals("work", now.account)
            assertEquals(40u, now.pulled!!.newMessages)
            assertEquals(null, now.problem)
            // The engine's status: the account synced, nothing waiting, no problem.
            val done = phone.sync.status.await(what = "work synced") { s ->
                s.of("work")?.let { !it.syncing && it.lastSynced != null } == true
            }
            assertTrue(done.problems.isEmpty(), "${done.problems}")
            assertTrue(done.syncNowProblems.isEmpty(), "${done.syncNowProblems}")
            assertEquals(0, done.waiting + done.refused + done.outbox)
            // On the way it showed the account syncing (a slow watcher may skip some progress).
            assertTrue(seen.any { it.of("work")?.syncing == true }, "syncing shown: $seen")
            assertTrue(seen.mapNotNull { it.current }.all { it.total == 0u || it.done <= it.total }, "$seen")
            watcher.cancel()

            // The folder drawer shows the counts.
            phone.folders.show("work")
            val folders = phone.folders.state.await(what = "INBOX with 40") { s ->
                s.folders.any { it.name == "INBOX" && it.total == 40u && it.unread == 40u }
            }
            assertEquals("INBOX", folders.drawer.first().name)
            assertTrue(folders.drawer.map { it.name }.containsAll(listOf("Sent", "Trash", "Drafts")))
        }
    }

    @Test
    fun `sync now reports each account's problem as advice`() = runBlocking<Unit> {
        val good = MailServer.newUser("syncgood")
        val bad = MailServer.newUser("syncbad")
        MailServer.append(good, "INBOX", messages("Fine", 2))
        Phone().use { phone ->
            assertNotNull(phone.accounts.add(imapDraft("good", good), MailServer.PASSWORD))
            assertNotNull(phone.accounts.add(imapDraft("bad", bad), MailServer.PASSWORD))
            phone.passwords.set("bad", "changed-elsewhere") // the password changed on the server's side

            assertFalse(phone.sync.sync(), "one account did not pull")
            val report = phone.sync.status.value
            val byAccount = report.syncNow!!.accounts.associateBy { it.account }
            assertEquals(2u, byAccount.getValue("good").pulled!!.newMessages, "the other account still synced")
            assertEquals(null, byAccount.getValue("good").problem)
            assertEquals(null, byAccount.getValue("bad").pulled)
            assertEquals(setOf("bad"), report.syncNowProblems.keys)
            assertEquals("auth_failed", report.syncNowProblems.getValue("bad").advice?.id)
            // The engine's status says the same, for the status bar.
            val status = phone.sync.status.await(what = "bad's problem in the status") { it.problems.isNotEmpty() }
            assertEquals(setOf("bad"), status.problems.keys)
            assertEquals("auth_failed", status.problems.getValue("bad").advice?.id)

            // Fixed: the next "sync now" of that account clears its problem.
            phone.passwords.set("bad", MailServer.PASSWORD)
            assertTrue(phone.sync.sync("bad"), "${phone.sync.status.value.syncNowProblems}")
            assertTrue(phone.sync.status.value.syncNowProblems.isEmpty())
            phone.sync.status.await(what = "no problem left in the status") { it.problems.isEmpty() }
        }
    }

    @Test
    fun `listener events arrive, and stop once the subscription is closed`() = runBlocking<Unit> {
        val user = MailServer.newUser("events")
        MailServer.append(user, "INBOX", messages("Event", 5))
        Phone().use { phone ->
            assertNotNull(phone.accounts.add(imapDraft("work", user), MailServer.PASSWORD))
            val recorder = Recorder()
            val control = Recorder() // stays subscribed: proves later work did emit events
            val subscription = phone.mail.engine.subscribe(recorder)
            val controlSubscription = phone.mail.engine.subscribe(control)

            phone.mail.engine.sync("work")
            assertTrue(eventually { recorder.snapshot().any { it is Event.SyncFinished } }, "SyncFinished")
            val first = recorder.snapshot()
            assertTrue(first.any { it is Event.SyncStarted && it.account == "work" }, "$first")
            val progress = first.filterIsInstance<Event.SyncProgress>()
            assertTrue(progress.isNotEmpty(), "SyncProgress: $first")
            assertEquals(5u, progress.last().total)
            assertEquals(5u, progress.last().done)
            assertTrue(first.any { it is Event.MessagesChanged && it.added.size == 5 }, "$first")
            val finished = first.filterIsInstance<Event.SyncFinished>().single()
            assertEquals(5u, finished.report.newMessages)
            assertTrue(first.indexOfFirst { it is Event.SyncProgress } < first.indexOf(finished))

            // Let the stream go quiet, then close the handle.
            var size = -1
            while (size != recorder.snapshot().size) {
                size = recorder.snapshot().size
                delay(300)
            }
            subscription.cancel()
            subscription.close()
            val before = recorder.snapshot().size
            val controlBefore = control.snapshot().size

            MailServer.append(user, "INBOX", messages("Later", 3, start = 100))
            phone.mail.engine.sync("work")
            phone.mail.engine.mark(listOf(phone.messages("INBOX").first().id), app.brevdue.core.FlagChange.FLAGGED)
            assertTrue(eventually { control.snapshot().drop(controlBefore).any { it is Event.SyncFinished } })
            delay(500)
            val after = control.snapshot().drop(controlBefore)
            assertTrue(after.any { it is Event.SyncProgress }, "the engine did emit: $after")
            assertEquals(before, recorder.snapshot().size, "events after close: ${recorder.snapshot().drop(before)}")
            controlSubscription.cancel()
            controlSubscription.close()
        }
    }

    @Test
    fun `calls after the engine is closed fail with Closed`() {
        val phone = Phone()
        phone.mail.engine.shutdown()
        val e = org.junit.jupiter.api.assertThrows<app.brevdue.core.BrevdueException.Closed> {
            kotlinx.coroutines.runBlocking { phone.mail.engine.accounts() }
        }
        assertFalse(e.reason.isEmpty())
        phone.close()
    }
}

fun <T> kotlinx.coroutines.CoroutineScope.launchCollect(
    flow: kotlinx.coroutines.flow.Flow<T>,
    block: suspend (T) -> Unit,
) = launch(start = kotlinx.coroutines.CoroutineStart.UNDISPATCHED) { flow.collect { block(it) } }
