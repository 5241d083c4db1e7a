package app.brevdue.kit

import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test

/** The reader shows what the engine's openForReading gives: sanitized, remote content as allowed. */
class ReadingTest {
    private fun newsletter(subject: String, minute: Int, from: String, pixel: String) = TestMessage(
        subject, minute, from = from, body = "$subject as text",
        html = "<p>$subject <b>inside</b></p><img src=\"https://$pixel/p.gif\">" +
            "<script>alert(1)</script><a href=\"https://shop.example/\" onclick=\"steal()\">shop</a>",
    )

    @Test
    fun `remote images are blocked, shown once, then allowed for the sender's next message`() = runBlocking<Unit> {
        val user = MailServer.newUser("reader")
        MailServer.append(user, "INBOX", listOf(
            newsletter("Spring sale", 1, "Shop <news@shop.example>", "tracker-one.example"),
            newsletter("Summer sale", 2, "Shop <news@shop.example>", "tracker-two.example"),
            newsletter("Other news", 3, "Paper <editor@paper.example>", "tracker-three.example"),
        ))
        Phone().use { phone ->
            assertNotNull(phone.accounts.add(imapDraft("work", user), MailServer.PASSWORD))
            phone.syncOk("work")
            val bySubject = phone.messages("INBOX").associateBy { it.subject }
            val spring = bySubject.getValue("Spring sale")
            val summer = bySubject.getValue("Summer sale")
            val other = bySubject.getValue("Other news")

            // Sanitized by the engine, the remote image held back, marked read (the default).
            phone.reader.loadSettings()
            assertTrue(phone.reader.markReadOnOpen.value)
            phone.reader.open(spring.id)
            var s = phone.reader.state.value as ReaderState.Shown
            var html = s.html!!
            assertTrue(html.contains("<b>inside</b>"), html)
            assertFalse(html.contains("<script"), html)
            assertFalse(html.contains("onclick"), html)
            assertFalse(html.contains("tracker-one.example"), html)
            assertEquals(1, s.blockedImages)
            assertFalse(s.remoteShown)
            assertNull(s.problem)
            assertTrue(s.reading.markedRead)
            assertTrue(phone.mail.engine.message(spring.id).summary.flags.seen)

            // "Show images this time": shown now, blocked again when opened afresh.
            phone.reader.showImagesOnce()
            s = phone.reader.state.value as ReaderState.Shown
            assertTrue(s.html!!.contains("tracker-one.example"), s.html)
            assertTrue(s.remoteShown)
            assertFalse(s.remoteAllowed, "only this once")
            assertEquals(0, s.blockedImages)
            phone.reader.open(spring.id)
            s = phone.reader.state.value as ReaderState.Shown
            assertFalse(s.remoteShown)
            assertFalse(s.html!!.contains("tracker-one.example"))

            // "Always for this sender": this message and the sender's next one show them.
            phone.reader.alwaysShowImagesFromSender()
            s = phone.reader.state.value as ReaderState.Shown
            assertTrue(s.remoteAllowed)
            assertTrue(s.html!!.contains("tracker-one.example"))
            phone.reader.open(summer.id)
            s = phone.reader.state.value as ReaderState.Shown
            assertEquals("Summer sale", s.message.summary.subject)
            assertTrue(s.remoteShown, "allowed for news@shop.example")
            assertTrue(s.html!!.contains("tracker-two.example"), s.html)
            assertFalse(s.html!!.contains("<script"), "still sanitized")

            // Another sender is not allowed; and with the setting off it stays unread.
            phone.reader.setMarkReadOnOpen(false)
            assertFalse(phone.mail.engine.markReadOnOpen())
            phone.reader.open(other.id)
            s = phone.reader.state.value as ReaderState.Shown
            assertFalse(s.remoteShown)
            assertEquals(1, s.blockedImages)
            assertFalse(s.reading.markedRead)
            assertFalse(phone.mail.engine.message(other.id).summary.flags.seen, "the setting is off")

            // The choices are the engine's, not this view model's: a fresh one sees them.
            val fresh = ReaderViewModel(phone.mail)
            fresh.loadSettings()
            assertFalse(fresh.markReadOnOpen.value)
            fresh.open(summer.id)
            assertTrue((fresh.state.value as ReaderState.Shown).remoteShown)

            // Blocking again takes the sender off the list.
            phone.reader.open(summer.id)
            phone.reader.blockImages()
            s = phone.reader.state.value as ReaderState.Shown
            assertFalse(s.remoteShown)
            assertFalse(s.html!!.contains("tracker-two.example"))
        }
    }

    @Test
    fun `a body that cannot be fetched shows the headers with the engine's advice`() = runBlocking<Unit> {
        val user = MailServer.newUser("nobody")
        MailServer.append(user, "INBOX", listOf(TestMessage("Gone soon", 1, messageId = "gone@example.test")))
        Phone().use { phone ->
            Pc().use { pc ->
                assertNotNull(phone.accounts.add(imapDraft("work", user), MailServer.PASSWORD))
                phone.mail.engine.setBodyPrefetch(0u) // headers only, bodies when opened
                phone.syncOk("work")
                val gone = phone.find("gone@example.test")

                // Another device files it away before the phone opens it.
                pc.addImap("work", user)
                pc.run("sync")
                val pcId = pc.list("INBOX").getValue("gone@example.test").getLong("id").toString()
                pc.run("move", pcId, "--to", "Archive")

                phone.reader.open(gone.id)
                val s = phone.reader.state.value as ReaderState.Shown
                assertEquals("Gone soon", s.message.summary.subject, "the cached headers")
                assertNull(s.message.text)
                val problem = s.problem ?: error("no problem given: ${s.reading}")
                assertTrue(problem.advice?.id?.isNotBlank() == true, "$problem")
            }
        }
    }
}
