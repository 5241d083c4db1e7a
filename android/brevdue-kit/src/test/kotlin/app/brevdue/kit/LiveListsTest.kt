package app.brevdue.kit

import app.brevdue.core.BrevdueException
import app.brevdue.core.FlagChange
import app.brevdue.core.FolderListDiff
import app.brevdue.core.FolderListListener
import app.brevdue.core.MessageListDiff
import app.brevdue.core.MessageListListener
import app.brevdue.core.MessageQuery
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertNotSame
import org.junit.jupiter.api.Assertions.assertSame
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import java.util.Collections

/** Records the batches of diffs a live list sends. */
class DiffRecorder<D> {
    val batches: MutableList<List<D>> = Collections.synchronizedList(mutableListOf())
    val errors: MutableList<BrevdueException> = Collections.synchronizedList(mutableListOf())
    fun snapshot(): List<List<D>> = synchronized(batches) { batches.toList() }
    fun all(): List<D> = snapshot().flatten()
}

fun messageRecorder(r: DiffRecorder<MessageListDiff>) = object : MessageListListener {
    override fun onDiffs(diffs: List<MessageListDiff>) {
        r.batches += diffs
    }
    override fun onError(error: BrevdueException) {
        r.errors += error
    }
}

fun folderRecorder(r: DiffRecorder<FolderListDiff>) = object : FolderListListener {
    override fun onDiffs(diffs: List<FolderListDiff>) {
        r.batches += diffs
    }
    override fun onError(error: BrevdueException) {
        r.errors += error
    }
}

/** The lists are the engine's live queries: the whole list once, then only what changed. */
class LiveListsTest {
    @Test
    fun `new mail arrives in the list as an insert and a read mark as a change, the unread count follows`() = runBlocking<Unit> {
        val user = MailServer.newUser("live")
        MailServer.append(user, "INBOX", messages("Old", 3))
        Phone().use { phone ->
            assertNotNull(phone.accounts.add(imapDraft("work", user), MailServer.PASSWORD))
            phone.syncOk("work")
            // What the engine sends a list of the same query and the folder list.
            val rec = DiffRecorder<MessageListDiff>()
            val folderRec = DiffRecorder<FolderListDiff>()
            val watch = phone.mail.engine.watchMessages(MessageQuery("work", "INBOX", 50u), messageRecorder(rec))
            val folderWatch = phone.mail.engine.watchFolders("work", folderRecorder(folderRec))

            phone.list.show("work", "INBOX")
            phone.folders.show("work")
            val before = phone.list.state.value.messages
            assertEquals(listOf("Old 2", "Old 1", "Old 0"), before.map { it.subject })
            assertEquals(3u, phone.folders.state.value.folders.single { it.name == "INBOX" }.unread)

            // New mail on the server, then a sync: the list grows by an insert at the top.
            MailServer.append(user, "INBOX", listOf(TestMessage("Fresh", 10)))
            phone.syncOk("work")
            val grown = phone.list.state.await(what = "Fresh on top") { it.messages.firstOrNull()?.subject == "Fresh" }
            assertEquals(listOf("Fresh", "Old 2", "Old 1", "Old 0"), grown.messages.map { it.subject })
            // The rows that were there are the very same objects: applied, not reloaded.
            for (i in before.indices) assertSame(before[i], grown.messages[i + 1], "row $i kept")
            phone.folders.state.await(what = "4 unread") { s -> s.folders.single { it.name == "INBOX" }.unread == 4u }

            assertTrue(eventually { rec.all().any { it is MessageListDiff.Insert } }, "${rec.snapshot()}")
            val first = rec.snapshot().first()
            assertEquals(3, (first.single() as MessageListDiff.Reset).rows.size, "the whole list first")
            val insert = rec.all().filterIsInstance<MessageListDiff.Insert>().single()
            assertEquals(0u, insert.index)
            assertEquals("Fresh", insert.row.subject)

            // Read here: the row changes in place, everything else stays; the count follows.
            val fresh = grown.messages.first()
            phone.list.mark(listOf(fresh.id), FlagChange.READ)
            val read = phone.list.state.await(what = "Fresh read") { it.messages.first().flags.seen }
            assertNotSame(fresh, read.messages.first())
            for (i in 1 until read.messages.size) assertSame(grown.messages[i], read.messages[i], "row $i kept")
            val folders = phone.folders.state.await(what = "3 unread") { s ->
                s.folders.single { it.name == "INBOX" }.unread == 3u
            }
            assertEquals(4u, folders.folders.single { it.name == "INBOX" }.total)
            assertTrue(eventually { rec.all().any { it is MessageListDiff.Set && it.row.id == fresh.id && it.row.flags.seen } })
            assertTrue(eventually {
                folderRec.all().any { it is FolderListDiff.Set && it.row.name == "INBOX" && it.row.unread == 3u }
            }, "${folderRec.snapshot()}")

            // One whole list each, at the start: nothing was sent again in full.
            assertEquals(1, rec.all().count { it is MessageListDiff.Reset }, "${rec.snapshot()}")
            assertEquals(1, folderRec.all().count { it is FolderListDiff.Reset }, "${folderRec.snapshot()}")
            assertTrue(rec.errors.isEmpty() && folderRec.errors.isEmpty())
            watch.use { it.cancel() }
            folderWatch.use { it.cancel() }
        }
    }

    @Test
    fun `the unified inbox lists every account's Inbox and pages with the limit`() = runBlocking<Unit> {
        val a = MailServer.newUser("unia")
        val b = MailServer.newUser("unib")
        MailServer.append(a, "INBOX", (0 until 15).map { TestMessage("A $it", minute = 2 * it) })
        MailServer.append(b, "INBOX", (0 until 15).map { TestMessage("B $it", minute = 2 * it + 1) })
        Phone().use { phone ->
            assertNotNull(phone.accounts.add(imapDraft("a", a), MailServer.PASSWORD))
            assertNotNull(phone.accounts.add(imapDraft("b", b), MailServer.PASSWORD))
            assertTrue(phone.sync.sync(), "${phone.sync.status.value.syncNowProblems}")
            phone.list.showUnifiedInbox() // page size 20
            var s = phone.list.state.value
            assertTrue(s.unified)
            val expected = (29 downTo 0).map { if (it % 2 == 0) "A ${it / 2}" else "B ${it / 2}" }
            assertEquals(expected.take(20), s.messages.map { it.subject }, "both Inboxes, newest first")
            assertEquals(false, s.endReached)
            phone.list.loadMore()
            s = phone.list.state.value
            assertEquals(expected, s.messages.map { it.subject })
            assertTrue(s.endReached)
            assertEquals(setOf("a", "b"), s.messages.map { it.account }.toSet())

            // A message moved out of one Inbox leaves the unified one.
            val gone = s.messages.first()
            phone.list.archive(listOf(gone.id))
            val after = phone.list.state.await(what = "archived gone") { st -> st.messages.none { it.id == gone.id } }
            assertEquals(expected.drop(1), after.messages.map { it.subject })
        }
    }
}
