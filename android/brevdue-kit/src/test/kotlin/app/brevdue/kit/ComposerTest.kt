package app.brevdue.kit

import app.brevdue.core.Address
import app.brevdue.core.ComposeMode
import app.brevdue.core.formatAddressList
import app.brevdue.core.parseAddressList
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test

/** The composer starts from the engine's preview and sends exactly what the user left. */
class ComposerTest {
    @Test
    fun `a reply whose To the user edited goes to the edited recipient only`() = runBlocking<Unit> {
        val alice = MailServer.newUser("ralice")
        val bob = MailServer.newUser("rbob")
        val carol = MailServer.newUser("rcarol")
        val dave = MailServer.newUser("rdave")
        MailServer.append(alice, "INBOX", listOf(
            TestMessage("Lunch?", 1, from = "Bob <$bob@example.test>", body = "Lunch on Friday?",
                messageId = "lunch@example.test"),
        ))
        Phone("alice").use { phone ->
            phone.accounts.add(imapDraft("work", alice), MailServer.PASSWORD)
                ?: error("${phone.accounts.state.value.error}")
            phone.syncOk("work")
            val lunch = phone.find("lunch@example.test")

            // The engine's preview fills the form: the sender, "Re:", and the quote.
            phone.composer.start("work", ComposeMode.Reply(lunch.id))
            val start = phone.composer.state.value
            assertEquals("Bob <$bob@example.test>", start.to)
            assertEquals("", start.cc)
            assertEquals("Re: Lunch?", start.subject)
            assertTrue(start.quoted.contains("> Lunch on Friday?"), start.quoted)

            // A part that is not an address: advice, and nothing queued.
            phone.composer.edit { it.copy(to = "$carol@example.test, not an address") }
            val invalid = phone.composer.send() as SendOutcome.Invalid
            assertEquals(listOf("address_invalid"), invalid.problems.map { it.id })
            assertEquals("not an address", invalid.problems.single().detail)
            assertTrue(phone.mail.engine.outbox("work").isEmpty())

            // The user sends it to Carol instead (a name with a comma), Dave in Bcc.
            phone.composer.edit {
                it.copy(to = "\"Carol, the boss\" <$carol@example.test>", bcc = "$dave@example.test",
                    body = "Asking Carol.")
            }
            assertEquals(SendOutcome.Sent, phone.composer.send())
            phone.syncOk("work") // the Sent copy comes down
            val sent = phone.messages("Sent").single { it.subject == "Re: Lunch?" }
            val copy = phone.mail.engine.openMessage(sent.id)
            assertEquals(listOf(Address("Carol, the boss", "$carol@example.test")), copy.to)
            assertEquals(lunch.threadId, sent.threadId, "still a reply: in the conversation")
            assertTrue(phone.mail.engine.message(lunch.id).summary.flags.answered)
        }
        // Carol and Dave got it, with the quote; Bob (the preview's recipient) did not.
        for (user in listOf(carol, dave)) {
            Phone(user).use { phone ->
                phone.accounts.add(imapDraft("mail", user), MailServer.PASSWORD) ?: error("$user")
                phone.syncOk("mail")
                val reply = phone.messages("INBOX").single { it.subject == "Re: Lunch?" }
                val text = phone.mail.engine.openMessage(reply.id).text!!
                assertTrue(text.contains("Asking Carol."), text)
                assertTrue(text.contains("> Lunch on Friday?"), text)
            }
        }
        Phone("bob").use { phone ->
            phone.accounts.add(imapDraft("mail", bob), MailServer.PASSWORD) ?: error("bob")
            phone.syncOk("mail")
            assertEquals(emptyList<String>(), phone.messages("INBOX").map { it.subject })
        }
    }

    @Test
    fun `a new message without a recipient is refused with the engine's advice`() = runBlocking<Unit> {
        val user = MailServer.newUser("norcpt")
        Phone().use { phone ->
            phone.accounts.add(imapDraft("work", user), MailServer.PASSWORD) ?: error("add")
            phone.composer.start("work", ComposeMode.New)
            phone.composer.edit { it.copy(subject = "Hello", body = "To whom?") }
            assertTrue(phone.composer.state.value.canSend, "the engine says what is missing, not the form")
            val failed = phone.composer.send() as SendOutcome.Failed
            assertEquals("no_recipient", failed.error.advice?.id)
            assertTrue(phone.mail.engine.outbox("work").isEmpty())
        }
    }

    @Test
    fun `addresses the composer fills in (the engine's formatAddressList) read back as the same addresses`() {
        val addresses = listOf(
            Address("Doe, Jane", "jane@example.test"), Address(null, "bob@example.test"),
            Address("Ann Lee", "ann@example.test"), Address("O'Neil \"Jr\"", "jr@example.test"),
        )
        val text = formatAddressList(addresses)
        val parsed = parseAddressList(text)
        assertEquals(emptyList<Any>(), parsed.problems, text)
        assertEquals(addresses, parsed.addresses, text)
    }
}
