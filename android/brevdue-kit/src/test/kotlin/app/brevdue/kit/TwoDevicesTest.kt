package app.brevdue.kit

import app.brevdue.core.ComposeMode
import app.brevdue.core.FlagChange
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test

/** The Kotlin "phone" acts and the Rust CLI "PC" sees it; then the other way round. */
class TwoDevicesTest {
    @Test
    fun `what the phone does the PC sees, and back`() = runBlocking<Unit> {
        val user = MailServer.newUser("twodev")
        val friend = MailServer.newUser("friend")
        MailServer.append(user, "INBOX", listOf(
            TestMessage("Dinner plans", 1, messageId = "dinner@example.test", body = "Seven?",
                from = "Friend <$friend@example.test>"),
            TestMessage("Invoice 77", 2, messageId = "invoice@example.test"),
            TestMessage("Holiday photos", 3, messageId = "photos@example.test"),
        ))
        Phone().use { phone ->
            Pc().use { pc ->
                assertNotNull(phone.accounts.add(imapDraft("main", user), MailServer.PASSWORD))
                phone.syncOk("main")
                pc.addImap("main", user)
                pc.run("sync")
                assertEquals(setOf("dinner@example.test", "invoice@example.test", "photos@example.test"),
                    pc.list("INBOX").keys)
                assertTrue(pc.list("INBOX").values.none { it.getBoolean("seen") })

                // The phone reads, files into a new folder, and replies.
                phone.list.show("main", "INBOX")
                phone.reader.open(phone.find("dinner@example.test").id)
                phone.folders.show("main")
                assertTrue(phone.folders.create("Receipts"))
                phone.list.move(listOf(phone.find("invoice@example.test").id), "Receipts")
                phone.composer.start("main", ComposeMode.Reply(phone.find("dinner@example.test").id))
                phone.composer.edit { it.copy(body = "Seven is fine.") }
                assertEquals(SendOutcome.Sent, phone.composer.send())
                val pushed = phone.changes.push("main")!!
                assertEquals(0u, pushed.pending, "$pushed")
                assertEquals(0u, pushed.failed, "$pushed")

                // The PC syncs and sees all of it.
                pc.run("sync")
                val seenByPc = pc.list()
                val dinner = seenByPc.getValue("dinner@example.test")
                assertTrue(dinner.getBoolean("seen"), "$dinner")
                assertTrue(dinner.getBoolean("answered"), "$dinner")
                assertEquals("Receipts", seenByPc.getValue("invoice@example.test").getString("folder"))
                assertFalse(seenByPc.getValue("photos@example.test").getBoolean("seen"))
                assertTrue(pc.folders().contains("Receipts"), "${pc.folders()}")
                val reply = seenByPc.values.single { it.getString("subject") == "Re: Dinner plans" }
                assertEquals("Sent", reply.getString("folder"))

                // And back: the PC reads, flags, files and creates a folder.
                val photosId = seenByPc.getValue("photos@example.test").getLong("id").toString()
                pc.run("mark", photosId, "--read")
                pc.run("mark", photosId, "--flagged")
                pc.run("move", dinner.getLong("id").toString(), "--to", "Archive")
                pc.run("folder", "create", "Trips", "--account", "main")

                phone.syncOk("main")
                val photos = phone.find("photos@example.test")
                assertTrue(photos.flags.seen)
                assertTrue(photos.flags.flagged)
                assertEquals("Archive", phone.find("dinner@example.test").folder)
                assertTrue(phone.find("dinner@example.test").flags.answered)
                phone.folders.state.await(what = "Trips in the live folder list") { s -> s.folders.any { it.name == "Trips" } }
                val inbox = phone.list.state.await(what = "INBOX after the PC's changes") { s ->
                    s.messages.map { it.messageId } == listOf("photos@example.test")
                }
                assertEquals(" !  ", inbox.messages.single().marks())

                // One more round: the phone marks unread, the PC sees it.
                phone.list.mark(listOf(photos.id), FlagChange.UNREAD)
                phone.changes.push("main")
                pc.run("sync")
                assertFalse(pc.list("INBOX").getValue("photos@example.test").getBoolean("seen"))
            }
        }
    }
}
