package app.brevdue.kit

import app.brevdue.core.AttachmentFile
import app.brevdue.core.ComposeMode
import app.brevdue.core.parseAddressList
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNotEquals
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test

/** The file picker at the OS boundary: hands over [files], or saves to [target] (null: cancelled). */
class FakePicker(
    private val files: List<AttachmentFile> = emptyList(),
    private val target: java.io.File? = null,
) : FilePicker {
    val asked = mutableListOf<String>()
    override suspend fun pickFiles(): List<AttachmentFile> = files
    override suspend fun <T : Any> saveAs(name: String, mimeType: String, write: suspend (path: String) -> T): T? {
        asked += name
        return target?.let { write(it.path) }
    }
}

/** Drafts are real IMAP drafts: one per message however often saved, reopened on any device. */
class DraftsTest {
    @Test
    fun `a reply saved twice is one draft, reopens on a second device with everything, and sends threaded`() = runBlocking<Unit> {
        val alice = MailServer.newUser("dalice")
        val bob = MailServer.newUser("dbob")
        MailServer.append(alice, "INBOX", listOf(
            TestMessage("Plans", 1, from = "Bob <$bob@example.test>", messageId = "plans@example.test"),
        ))
        val notes = AttachmentFile("notes.txt", "text/plain", "agenda: 1. lunch\n".toByteArray())
        Phone("dphone").use { phone ->
            phone.accounts.add(imapDraft("main", alice), MailServer.PASSWORD) ?: error("${phone.accounts.state.value.error}")
            phone.syncOk("main")
            val original = phone.find("plans@example.test")

            phone.composer.start("main", ComposeMode.Reply(original.id))
            phone.composer.attachFiles(FakePicker(files = listOf(notes)))
            phone.composer.edit { it.copy(bcc = "Archive <$alice@example.test>", body = "First thoughts.") }
            val first = phone.composer.saveDraft()
            assertNotNull(first, "${phone.composer.state.value.outcome}")
            phone.composer.edit { it.copy(body = "Second thoughts.") }
            val second = phone.composer.saveDraft()
            assertNotNull(second, "${phone.composer.state.value.outcome}")
            assertNotEquals(first, second)
            assertEquals(second, phone.composer.state.value.draftId)
            assertEquals(listOf(second), phone.messages("Drafts").map { it.id }, "one draft, not two")

            // Reopened on the same device: the reply it began as, Bcc and the file included.
            phone.composer.start("main") // the user wrote something else meanwhile
            assertTrue(phone.composer.openDraft(second!!), "${phone.composer.state.value.error}")
            phone.composer.state.value.let {
                assertEquals(ComposeMode.Reply(original.id), it.mode)
                assertEquals(listOf("$alice@example.test"), parseAddressList(it.bcc).addresses.map { a -> a.address })
                assertEquals("Second thoughts.", it.body.trim())
                assertEquals(listOf("notes.txt"), it.files.map { f -> f.name })
            }

            phone.syncOk("main")
            assertEquals(listOf("Re: Plans"), MailServer.subjects(alice, "Drafts"), "one draft on the server")

            // A second engine on the account reopens it from the server and sends it.
            Phone("dpc").use { pc ->
                pc.accounts.add(imapDraft("main", alice), MailServer.PASSWORD) ?: error("${pc.accounts.state.value.error}")
                pc.syncOk("main")
                val pcOriginal = pc.find("plans@example.test")
                val draft = pc.messages("Drafts").single()
                assertTrue(pc.composer.openDraft(draft.id), "${pc.composer.state.value.error}")
                val s = pc.composer.state.value
                assertEquals(ComposeMode.Reply(pcOriginal.id), s.mode)
                assertEquals(listOf("$bob@example.test"), parseAddressList(s.to).addresses.map { it.address })
                assertEquals(listOf("$alice@example.test"), parseAddressList(s.bcc).addresses.map { it.address })
                assertEquals("Re: Plans", s.subject)
                assertEquals("Second thoughts.", s.body.trim())
                assertEquals(listOf("notes.txt"), s.files.map { it.name })
                assertArrayEquals(notes.data, s.files.single().data)
                assertTrue(s.quoted.contains("> Hello from Plans."), s.quoted)

                pc.composer.edit { it.copy(body = "Final answer.") }
                assertEquals(SendOutcome.Sent, pc.composer.send())
                assertNull(pc.composer.state.value.draftId)
                pc.syncOk("main")
                assertTrue(pc.messages("Drafts").isEmpty())
            }
            assertEquals(emptyList<String>(), MailServer.subjects(alice, "Drafts"), "Drafts empty on the server")
            phone.syncOk("main")
            assertTrue(phone.messages("Drafts").isEmpty(), "${phone.messages("Drafts").map { it.subject }}")
        }
        // Bob got the last text, threaded under his message, with the file.
        Phone("dbob").use { phone ->
            phone.accounts.add(imapDraft("mail", bob), MailServer.PASSWORD) ?: error("bob")
            phone.syncOk("mail")
            val reply = phone.messages("INBOX").single { it.subject == "Re: Plans" }
            val opened = phone.mail.engine.openMessage(reply.id)
            assertEquals("plans@example.test", opened.inReplyTo)
            assertTrue(opened.text!!.contains("Final answer."), opened.text)
            assertEquals(listOf("notes.txt"), opened.attachments.map { it.name })
        }
    }

    @Test
    fun `a discarded draft is gone here and on the server`() = runBlocking<Unit> {
        val user = MailServer.newUser("ddiscard")
        Phone("ddiscard").use { phone ->
            phone.accounts.add(imapDraft("main", user), MailServer.PASSWORD) ?: error("${phone.accounts.state.value.error}")
            phone.syncOk("main")
            phone.composer.start("main")
            phone.composer.edit { it.copy(subject = "Half a thought", body = "No recipient yet.") }
            val id = phone.composer.saveDraft()
            assertNotNull(id, "a draft needs no recipient: ${phone.composer.state.value.outcome}")
            phone.syncOk("main")
            assertEquals(listOf("Half a thought"), MailServer.subjects(user, "Drafts"))

            assertTrue(phone.composer.discardDraft(), "${phone.composer.state.value.outcome}")
            assertEquals(ComposerState(account = "main"), phone.composer.state.value, "the composer is empty")
            assertTrue(phone.messages("Drafts").isEmpty())
            phone.syncOk("main")
            assertEquals(emptyList<String>(), MailServer.subjects(user, "Drafts"))
        }
    }
}
