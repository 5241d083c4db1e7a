package app.brevdue.kit

import app.brevdue.core.Advice
import app.brevdue.core.BrevdueException
import app.brevdue.core.Pop3DeletePolicy
import app.brevdue.core.Protocol
import app.brevdue.core.Security
import app.brevdue.core.resolveAccount
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows

class AccountsTest {
    @Test
    fun `an IMAP and a POP3 account are added and say what they keep in step`() = runBlocking<Unit> {
        val user = MailServer.newUser("acct")
        Phone().use { phone ->
            val imap = phone.accounts.add(imapDraft("work", user), MailServer.PASSWORD)
            assertNotNull(imap, "IMAP account: ${phone.accounts.state.value.error}")
            val pop = phone.accounts.add(pop3Draft("home", user, Pop3DeletePolicy.Never), MailServer.PASSWORD)
            assertNotNull(pop, "POP3 account: ${phone.accounts.state.value.error}")

            val state = phone.accounts.state.await(what = "two accounts") { it.accounts.size == 2 }
            assertFalse(state.adding)
            assertNull(state.error)
            val byName = state.accounts.associateBy { it.name }
            assertEquals(Protocol.IMAP, byName.getValue("work").protocol)
            assertEquals(Protocol.POP3, byName.getValue("home").protocol)
            assertTrue(byName.getValue("work").capabilities.syncsReadState)
            assertTrue(byName.getValue("work").capabilities.syncsFolders)
            assertFalse(byName.getValue("home").capabilities.syncsReadState)
            assertFalse(byName.getValue("home").capabilities.syncsFolders)
            assertEquals(Pop3DeletePolicy.Never, byName.getValue("home").pop3Delete)
            assertTrue(byName.getValue("work").serverCapabilities.any { it.equals("IDLE", true) },
                "${byName.getValue("work").serverCapabilities}")
            // The passwords went to the app's store, never into the database.
            assertEquals(MailServer.PASSWORD, phone.passwords.get("work"))
            assertEquals(MailServer.PASSWORD, phone.passwords.get("home"))
            // The devices explanation follows the protocol, as advice ids the app words.
            assertEquals(listOf("pop3_explained", "pop_or_imap"),
                AdviceViewModel.devicesExplanation(byName.getValue("home")).map { it.id })
            assertEquals(listOf("imap_explained"), AdviceViewModel.devicesExplanation(byName.getValue("work")).map { it.id })
            assertEquals("pop_or_imap", ProtocolAdvice.SHORT.id)
            assertEquals("pop3_explained", ProtocolAdvice.explain(Protocol.POP3).id)

            phone.accounts.remove("home")
            assertEquals(listOf("work"), phone.accounts.state.value.accounts.map { it.name })
        }
    }

    @Test
    fun `a wrong password arrives as the typed exception with auth_failed advice, and nothing is stored`() = runBlocking<Unit> {
        val user = MailServer.newUser("wrongpw")
        Phone().use { phone ->
            val e = assertThrows<BrevdueException.AuthFailed> {
                runBlocking { phone.mail.engine.addAccount(resolveAccount(imapDraft("work", user)), "not-the-password") }
            }
            assertTrue(e.reason.isNotBlank(), "a sentence for logs")
            assertEquals("auth_failed", e.advice.id, "a refused password, not \"cannot reach the server\"")
            val pop = assertThrows<BrevdueException.AuthFailed> {
                runBlocking { phone.mail.engine.addAccount(resolveAccount(pop3Draft("home", user)), "nope") }
            }
            assertEquals("auth_failed", pop.advice.id)

            // The view model shows it as an error of that kind, with the engine's advice.
            assertNull(phone.accounts.add(imapDraft("work", user), "still-wrong"))
            val error = phone.accounts.state.value.error
            assertEquals("AuthFailed", error?.kind)
            assertEquals("auth_failed", error!!.advice?.id)
            assertTrue(phone.mail.engine.accounts().isEmpty())
            assertNull(phone.passwords.get("work"))
        }
    }

    @Test
    fun `setup takes the form as typed and the engine fills in the defaults or says what is missing`() = runBlocking<Unit> {
        // Only an address and a server: ports, security, SMTP and the login are the engine's.
        val config = resolveAccount(accountDraft(email = " dora@example.test ", host = "mail.example.test"))
        assertEquals("dora@example.test", config.name)
        assertEquals(Protocol.IMAP, config.protocol)
        assertEquals(993, config.server.port.toInt())
        assertEquals(Security.TLS, config.server.security)
        assertEquals("dora@example.test", config.server.username)
        // No SMTP field in the form: none stored; sending uses the incoming host and login.
        assertNull(config.smtp)

        // A form without a server: the view model shows the engine's advice, nothing is stored.
        Phone().use { phone ->
            assertNull(phone.accounts.add(accountDraft(email = "dora@example.test", host = " "), MailServer.PASSWORD))
            val error = phone.accounts.state.value.error!!
            assertEquals("InvalidInput", error.kind)
            assertEquals(Advice("account_needs_server", "example.test"), error.advice)
            assertNull(phone.accounts.add(accountDraft(email = "", host = "mail.example.test"), MailServer.PASSWORD))
            assertEquals("account_needs_email", phone.accounts.state.value.error!!.advice?.id)
            assertTrue(phone.mail.engine.accounts().isEmpty())
        }
    }

    @Test
    fun `an untrusted certificate is its own typed exception`() = runBlocking<Unit> {
        val user = MailServer.newUser("cert")
        Phone().use { phone ->
            val config = resolveAccount(imapDraft("work", user).copy(caFile = null))
            val e = assertThrows<BrevdueException.CertificateNotTrusted> {
                runBlocking { phone.mail.engine.addAccount(config, MailServer.PASSWORD) }
            }
            assertEquals("certificate_not_trusted", e.advice.id)
            assertTrue(phone.mail.engine.accounts().isEmpty())
        }
    }
}
