package app.brevdue.kit

import app.brevdue.core.ComposeMode
import app.brevdue.core.FlagChange
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test

/** List, open, mark read, move, create folder, reply, search: each checked on the server too. */
class MailboxTest {
    @Test
    fun `the message list pages newest first`() = runBlocking<Unit> {
        val user = MailServer.newUser("paging")
        MailServer.append(user, "INBOX", messages("Page", 45))
        Phone().use { phone ->
            assertNotNull(phone.accounts.add(imapDraft("work", user), MailServer.PASSWORD))
            phone.syncOk("work")
            phone.list.show("work", "INBOX") // page size 20
            var s = phone.list.state.value
            assertEquals(20, s.messages.size)
            assertFalse(s.endReached)
            assertEquals("Page 44", s.messages.first().subject, "newest first")
            phone.list.loadMore()
            s = phone.list.state.value
            assertEquals(40, s.messages.size, "the next page at once, from the rows read ahead")
            assertFalse(s.endReached)
            phone.list.loadMore()
            // Its rows were asked for by the first loadMore and may still be on their way.
            s = phone.list.state.await(what = "all 45") { it.messages.size == 45 && it.endReached }
            assertTrue(s.endReached)
            assertEquals((44 downTo 0).map { "Page $it" }, s.messages.map { it.subject })
            assertEquals(45, s.messages.map { it.id }.toSet().size, "no row twice")
            phone.list.loadMore()
            assertEquals(45, phone.list.state.value.messages.size)
            assertTrue(s.messages.all { it.marks().startsWith("*") }, "all unread")
        }
    }

    @Test
    fun `open, mark read, create a folder, move, reply and search reach the server`() = runBlocking<Unit> {
        val alice = MailServer.newUser("alice")
        val bob = MailServer.newUser("bob")
        MailServer.append(alice, "INBOX", listOf(
            TestMessage("Invoice 1042", 1, from = "Shop <$bob@example.test>", body = "Amount due: 12 EUR"),
            TestMessage("Lunch?", 2, from = "Bob <$bob@example.test>", body = "Lunch on Friday?",
                html = "<p>Lunch on <b>Friday</b>?</p><img src=\"https://tracker.example/p.gif\"><script>alert(1)</script>"),
            TestMessage("Newsletter", 3),
        ))
        Phone("alice").use { phone ->
            assertNotNull(phone.accounts.add(imapDraft("work", alice), MailServer.PASSWORD))
            phone.syncOk("work")
            phone.list.show("work", "INBOX", threaded = true)
            val rows = phone.list.state.value.messages
            assertEquals(listOf("Newsletter", "Lunch?", "Invoice 1042"), rows.map { it.subject })
            assertEquals(3, phone.list.state.value.threads.size)
            val lunch = rows.first { it.subject == "Lunch?" }
            val invoice = rows.first { it.subject == "Invoice 1042" }

            // Open: the body, the HTML sanitized, remote images only on request; marked read.
            phone.reader.open(lunch.id)
            val shown = phone.reader.state.value as ReaderState.Shown
            assertTrue(shown.message.text!!.contains("Lunch on Friday?"))
            val html = shown.html!!
            assertTrue(html.contains("<b>Friday</b>"), html)
            assertFalse(html.contains("<script"), html)
            assertFalse(html.contains("tracker.example"), html)
            assertEquals(1, shown.blockedImages)
            phone.reader.showImagesOnce()
            val withImages = phone.reader.state.value as ReaderState.Shown
            assertTrue(withImages.html!!.contains("tracker.example"))
            assertTrue(withImages.remoteShown)
            assertTrue(phone.mail.engine.message(lunch.id).summary.flags.seen)

            // Create a folder, file the invoice there, flag the newsletter.
            phone.folders.show("work")
            assertTrue(phone.folders.create("Receipts"))
            phone.folders.state.await(what = "Receipts") { s -> s.folders.any { it.name == "Receipts" } }
            phone.list.move(listOf(invoice.id), "Receipts")
            val newsletter = rows.first { it.subject == "Newsletter" }
            phone.list.mark(listOf(newsletter.id), FlagChange.FLAGGED)
            val listed = phone.list.state.await(what = "invoice gone from INBOX") { s -> s.messages.none { it.subject == "Invoice 1042" } }
            assertEquals(listOf("Newsletter", "Lunch?"), listed.messages.map { it.subject })
            assertTrue(listed.messages.first { it.subject == "Lunch?" }.flags.seen)
            assertTrue(listed.messages.first().marks().contains('!'))

            // Pending here until pushed; then none.
            phone.changes.refresh()
            assertTrue(phone.changes.state.value.pending.isNotEmpty(), "queued for the server")
            val pushed = phone.changes.push("work")
            assertNotNull(pushed)
            assertEquals(0u, pushed!!.pending, "$pushed")
            assertTrue(phone.changes.state.value.pending.isEmpty())

            // Reply: through the outbox to Bob, with the original marked answered.
            phone.composer.start("work", ComposeMode.Reply(lunch.id))
            phone.composer.edit { it.copy(body = "Friday works.") }
            assertEquals(SendOutcome.Sent, phone.composer.send())
            assertNull(phone.composer.state.value.outcome.let { it as? SendOutcome.Failed })
            phone.changes.push("work")
            assertTrue(phone.mail.engine.message(lunch.id).summary.flags.answered)

            // Search finds by body text.
            phone.search.search("due")
            assertEquals(listOf("Invoice 1042"), phone.search.state.value.results.map { it.subject })
        }

        // Another device (a fresh engine on the same account) sees it all on the server.
        Phone("other").use { other ->
            assertNotNull(other.accounts.add(imapDraft("work", alice), MailServer.PASSWORD))
            other.syncOk("work")
            val all = other.messages()
            val bySubject = all.groupBy { it.subject }
            assertEquals("Receipts", bySubject.getValue("Invoice 1042").single().folder)
            val lunch = bySubject.getValue("Lunch?").single()
            assertTrue(lunch.flags.seen)
            assertTrue(lunch.flags.answered)
            assertTrue(bySubject.getValue("Newsletter").single().flags.flagged)
            val sent = bySubject.getValue("Re: Lunch?").single()
            assertEquals("Sent", sent.folder)
            assertEquals(lunch.threadId, sent.threadId, "the reply joins the conversation")
        }
        // Bob got the reply.
        Phone("bob").use { phone ->
            assertNotNull(phone.accounts.add(imapDraft("mail", bob), MailServer.PASSWORD))
            phone.syncOk("mail")
            val reply = phone.messages("INBOX").single { it.subject == "Re: Lunch?" }
            phone.reader.open(reply.id)
            val text = (phone.reader.state.value as ReaderState.Shown).message.text!!
            assertTrue(text.contains("Friday works."), text)
            assertTrue(text.contains("> Lunch on Friday?"), text)
        }
    }
}
