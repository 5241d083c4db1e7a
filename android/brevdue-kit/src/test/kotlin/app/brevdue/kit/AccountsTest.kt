package app.brevdue.kit

import app.brevdue.core.BrevdueException
import app.brevdue.core.Pop3DeletePolicy
import app.brevdue.core.Protocol
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
            val imap = phone.accounts.add(imapConfig("work", user), MailServer.PASSWORD)
            assertNotNull(imap, "IMAP account: ${phone.accounts.state.value.error}")
            val pop = phone.accounts.add(pop3Config("home", user, Pop3DeletePolicy.Never), MailServer.PASSWORD)
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
            // The devices explanation follows the protocol.
            assertTrue(AdviceViewModel.devicesExplanation(byName.getValue("home")).contains("switch to IMAP"))
            assertTrue(AdviceViewModel.devicesExplanation(byName.getValue("work")).startsWith("IMAP"))
            assertEquals(Protocol.IMAP, ProtocolAdvice.recommend(devices = 2))
            assertEquals(Protocol.POP3, ProtocolAdvice.recommend(devices = 1))

            phone.accounts.remove("home")
            assertEquals(listOf("work"), phone.accounts.state.value.accounts.map { it.name })
        }
    }

    @Test
    fun `a wrong password arrives as the typed exception and nothing is stored`() = runBlocking<Unit> {
        val user = MailServer.newUser("wrongpw")
        Phone().use { phone ->
            val e = assertThrows<BrevdueException.AuthFailed> {
                runBlocking { phone.mail.engine.addAccount(imapConfig("work", user), "not-the-password") }
            }
            assertTrue(e.reason.isNotBlank(), "a sentence for people")
            val pop = assertThrows<BrevdueException.AuthFailed> {
                runBlocking { phone.mail.engine.addAccount(pop3Config("home", user), "nope") }
            }
            assertTrue(pop.reason.isNotBlank())

            // The view model shows it as an error of that kind, with a hint.
            assertNull(phone.accounts.add(imapConfig("work", user), "still-wrong"))
            val error = phone.accounts.state.value.error
            assertEquals("AuthFailed", error?.kind)
            assertTrue(error!!.hint.contains("password"))
            assertTrue(phone.mail.engine.accounts().isEmpty())
            assertNull(phone.passwords.get("work"))
        }
    }

    @Test
    fun `an untrusted certificate is its own typed exception`() = runBlocking<Unit> {
        val user = MailServer.newUser("cert")
        Phone().use { phone ->
            val config = imapConfig("work", user).let { it.copy(server = it.server.copy(caFile = null)) }
            assertThrows<BrevdueException.CertificateNotTrusted> {
                runBlocking { phone.mail.engine.addAccount(config, MailServer.PASSWORD) }
            }
            assertTrue(phone.mail.engine.accounts().isEmpty())
        }
    }
}
