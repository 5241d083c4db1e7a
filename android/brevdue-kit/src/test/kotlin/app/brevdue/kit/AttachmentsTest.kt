package app.brevdue.kit

import app.brevdue.core.AttachmentFile
import app.brevdue.core.ComposeMode
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import java.io.File

/** The viewer at the OS boundary: records what it was asked to show. */
class FakeViewer : FileViewer {
    val shown = mutableListOf<Triple<String, String, String>>()
    override fun view(path: String, name: String, mimeType: String) {
        shown += Triple(path, name, mimeType)
    }
}

/** Attachments: opened from the engine's cache, saved where the user picks, attached and forwarded. */
class AttachmentsTest {
    private val bytes = ByteArray(3000) { (it * 7 % 256).toByte() } // binary, every byte value

    @Test
    fun `an attachment opens from the engine's cache and saves to the chosen place with its bytes`() = runBlocking<Unit> {
        val user = MailServer.newUser("attach")
        MailServer.append(user, "INBOX", listOf(
            TestMessage("Report", 1, messageId = "report@example.test",
                attachment = Triple("report.bin", "application/octet-stream", bytes)),
        ))
        Phone("attach").use { phone ->
            phone.accounts.add(imapDraft("main", user), MailServer.PASSWORD) ?: error("${phone.accounts.state.value.error}")
            phone.syncOk("main")
            val id = phone.find("report@example.test").id
            phone.reader.open(id)
            val shown = phone.reader.state.await(what = "the reader") { it is ReaderState.Shown } as ReaderState.Shown
            assertEquals(listOf("report.bin"), shown.message.attachments.map { it.name })

            val viewer = FakeViewer()
            val path = phone.reader.openAttachment(0, viewer)
            assertNotNull(path, "${phone.reader.error.value}")
            assertTrue(File(path!!).canonicalPath.startsWith(phone.dir.canonicalPath), "in the engine's private cache: $path")
            assertArrayEquals(bytes, File(path).readBytes())
            assertEquals(listOf(Triple(path, "report.bin", "application/octet-stream")), viewer.shown)

            val target = File(phone.dir.parentFile, "saved-${System.nanoTime()}.bin")
            try {
                val picker = FakePicker(target = target)
                assertNotNull(phone.reader.saveAttachment(0, picker), "${phone.reader.error.value}")
                assertEquals(listOf("report.bin"), picker.asked, "the picker proposes the attachment's name")
                assertArrayEquals(bytes, target.readBytes())
            } finally {
                target.delete()
            }

            // Cancelled: nothing written, no error.
            assertNull(phone.reader.saveAttachment(0, FakePicker(target = null)))
            assertNull(phone.reader.error.value)
        }
    }

    @Test
    fun `a forward shows the original's attachments and carries them with the files the user attached`() = runBlocking<Unit> {
        val user = MailServer.newUser("fwdfrom")
        val friend = MailServer.newUser("fwdto")
        MailServer.append(user, "INBOX", listOf(
            TestMessage("Photos", 1, messageId = "photos@example.test",
                attachment = Triple("photo.bin", "application/octet-stream", bytes)),
        ))
        val extra = AttachmentFile("extra.txt", "text/plain", "one more\n".toByteArray())
        Phone("fwd").use { phone ->
            phone.accounts.add(imapDraft("main", user), MailServer.PASSWORD) ?: error("${phone.accounts.state.value.error}")
            phone.syncOk("main")
            val original = phone.find("photos@example.test")
            phone.composer.start("main", ComposeMode.Forward(original.id))
            assertEquals(listOf("photo.bin"), phone.composer.state.value.attachments.map { it.name })
            phone.composer.attachFiles(FakePicker(files = listOf(extra)))
            phone.composer.attachFiles(FakePicker()) // cancelled: nothing added
            assertEquals(listOf("extra.txt"), phone.composer.state.value.files.map { it.name })
            phone.composer.edit { it.copy(to = "$friend@example.test") }
            assertEquals(SendOutcome.Sent, phone.composer.send())
        }
        Phone("fwdto").use { phone ->
            phone.accounts.add(imapDraft("mail", friend), MailServer.PASSWORD) ?: error("friend")
            phone.syncOk("mail")
            val fwd = phone.messages("INBOX").single { it.subject == "Fwd: Photos" }
            phone.reader.open(fwd.id)
            val shown = phone.reader.state.await(what = "the reader") { it is ReaderState.Shown } as ReaderState.Shown
            assertEquals(setOf("photo.bin", "extra.txt"), shown.message.attachments.map { it.name }.toSet())
            val index = shown.message.attachments.indexOfFirst { it.name == "photo.bin" }
            val path = phone.reader.openAttachment(index, FakeViewer())
            assertArrayEquals(bytes, File(path ?: error("${phone.reader.error.value}")).readBytes())
            assertFalse(phone.mail.engine.messages(null, "Drafts", 10u, 0u).any())
        }
    }
}
