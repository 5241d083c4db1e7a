package app.brevdue.kit

import app.brevdue.core.ChangeKind
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test

/** Undo of a change that has not reached the server: the engine's cancelChange. */
class UndoTest {
    @Test
    fun `undoing a queued folder creation removes it and the move that depended on it`() = runBlocking<Unit> {
        val user = MailServer.newUser("undo")
        MailServer.append(user, "INBOX", listOf(
            TestMessage("Receipt", 1, messageId = "receipt@example.test"),
            TestMessage("Hello", 2, messageId = "hello@example.test"),
        ))
        Phone().use { phone ->
            assertNotNull(phone.accounts.add(imapDraft("work", user), MailServer.PASSWORD))
            phone.syncOk("work")
            phone.folders.show("work")
            phone.list.show("work", "INBOX")
            val receipt = phone.find("receipt@example.test")

            // Both wait for the server (no background worker runs here).
            assertTrue(phone.folders.create("Later"))
            phone.folders.state.await(what = "Later listed") { s -> s.folders.any { it.name == "Later" } }
            phone.list.move(listOf(receipt.id), "Later")
            phone.list.state.await(what = "Receipt moved") { s -> s.messages.none { it.id == receipt.id } }
            phone.changes.refresh()
            val pending = phone.changes.state.value.pending
            val create = pending.single { it.kind == ChangeKind.CREATE_FOLDER }
            val move = pending.single { it.kind == ChangeKind.MOVE }
            assertEquals(receipt.id, move.messageId)

            // Undo the creation: the move into it goes too, newest first.
            val undone = phone.changes.undo(create.id)
            assertEquals(listOf(move.id, create.id), undone, "${phone.changes.state.value.error}")
            assertEquals(undone, phone.changes.state.value.undone)
            assertTrue(phone.changes.state.value.pending.isEmpty(), "${phone.changes.state.value.pending}")
            // The live lists follow: the folder is gone, the message is back in the Inbox.
            phone.folders.state.await(what = "Later gone") { s -> s.folders.none { it.name == "Later" } }
            val inbox = phone.list.state.await(what = "Receipt back") { s -> s.messages.any { it.id == receipt.id } }
            assertEquals(listOf("Hello", "Receipt"), inbox.messages.map { it.subject })
            assertEquals("INBOX", phone.mail.engine.message(receipt.id).summary.folder)

            // Nothing of it reaches the server; undoing it again is refused with advice.
            assertEquals(0u, phone.changes.push("work")!!.applied)
            assertEquals(null, phone.changes.undo(create.id))
            assertNotNull(phone.changes.state.value.error?.advice)
        }
        Phone("other").use { other ->
            assertNotNull(other.accounts.add(imapDraft("work", user), MailServer.PASSWORD))
            other.syncOk("work")
            other.folders.show("work")
            assertFalse(other.folders.state.value.folders.any { it.name == "Later" })
            assertEquals("INBOX", other.find("receipt@example.test").folder)
        }
    }
}
