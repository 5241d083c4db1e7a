package app.brevdue.kit

import app.brevdue.core.Advice
import app.brevdue.core.ChangeKind
import app.brevdue.core.Pop3DeletePolicy
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test

class ChangesAndAdviceTest {
    @Test
    fun `a change the server refuses shows as failed, reverted, and can be discarded`() = runBlocking<Unit> {
        val user = MailServer.newUser("refused")
        MailServer.append(user, "INBOX", messages("Keep", 2))
        Phone().use { phone ->
            Pc().use { pc ->
                assertNotNull(phone.accounts.add(imapDraft("main", user), MailServer.PASSWORD))
                phone.syncOk("main")
                phone.folders.show("main")
                assertTrue(phone.folders.create("Old"), "${phone.folders.state.value.error}")
                phone.syncOk("main") // pushes the new folder
                pc.addImap("main", user)
                pc.run("sync")
                pc.run("folder", "delete", "Old", "--account", "main") // gone on the server

                // The phone, not knowing, files a message into it.
                val id = phone.messages("INBOX").first().id
                phone.list.show("main", "INBOX")
                phone.list.move(listOf(id), "Old")
                assertEquals("Old", phone.mail.engine.message(id).summary.folder)
                phone.changes.refresh()
                val pending = phone.changes.state.value.pending
                assertTrue(pending.any { it.kind == ChangeKind.MOVE && it.messageId == id }, "$pending")

                val report = phone.changes.push("main")!!
                assertEquals(1u, report.failed, "$report")
                val state = phone.changes.state.await(what = "a failed change") { it.failed.isNotEmpty() }
                val failed = state.failed.single()
                assertEquals(ChangeKind.MOVE, failed.kind)
                assertTrue(failed.lastError.isNotBlank())
                phone.changes.state.await(what = "the refusal event") { it.refusals.isNotEmpty() }
                assertEquals("INBOX", phone.mail.engine.message(id).summary.folder, "reverted here")

                phone.changes.discard(failed.id)
                assertTrue(phone.changes.state.value.failed.isEmpty())
            }
        }
    }

    @Test
    fun `a POP3 account read on a second device raises the advice`() = runBlocking<Unit> {
        val user = MailServer.newUser("popadvice")
        MailServer.append(user, "INBOX", messages("Pop", 3))
        Phone().use { phone ->
            Pc().use { pc ->
                assertNotNull(phone.accounts.add(pop3Draft("home", user, Pop3DeletePolicy.Never), MailServer.PASSWORD))
                phone.syncOk("home")
                assertEquals(3, phone.messages("INBOX").size)
                assertTrue(phone.advice.advice.value.isEmpty())

                // The PC takes the mail away (classic POP3): the phone notices at its next sync.
                pc.addPop3("pc", user, "delete-after-download")
                pc.run("sync")
                phone.syncOk("home")
                val advice = phone.advice.advice.await(what = "the advisory") { it.isNotEmpty() }.single()
                assertEquals("home", advice.account)
                assertEquals(Advice("pop3_read_elsewhere", "3"), advice.advice, advice.message)
                assertTrue(advice.message.contains("more than one device"), "the English, for logs: ${advice.message}")
                assertEquals(3, phone.messages("INBOX").size, "the phone keeps its copies")

                // The user can say so too; dismissing clears it.
                phone.advice.dismiss(advice)
                assertTrue(phone.advice.advice.value.isEmpty())
                phone.advice.readOnAnotherDevice("home")
                val own = phone.advice.advice.await(what = "the user's advisory") { it.size == 1 }.single()
                assertEquals("pop3_several_devices", own.advice.id)
            }
        }
    }
}
