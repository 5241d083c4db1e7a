package app.brevdue.kit

import app.brevdue.core.DiscoverySource
import app.brevdue.core.Protocol
import app.brevdue.core.Security
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test

/** Setup from the address alone, against tests/provider.py in front of the harness's Dovecot. */
class DiscoverySetupTest {
    @Test
    fun `address and password are enough - discovery, confirmation, then the account syncs`() = runBlocking<Unit> {
        Provider.start()
        val user = MailServer.newUser("disc")
        MailServer.append(user, "INBOX", messages("Found", 2))
        Phone().use { phone ->
            val setup = AccountSetupViewModel(phone.mail, phone.accounts)
            val email = "$user@autoconf.test"
            val found = setup.discover(email, caFile = MailServer.caFile)
            assertNotNull(found, "${setup.state.value.error}")
            val state = setup.state.value
            assertEquals(SetupStep.CONFIRM, state.step)
            assertEquals(DiscoverySource.PROVIDER_AUTOCONFIG, state.discovery!!.source)
            // What the confirmation shows: IMAP 993 TLS, SMTP, and POP3 as the alternative.
            assertEquals(Protocol.IMAP, state.chosen!!.protocol)
            assertEquals(MailServer.imapsPort, state.chosen!!.port!!.toInt())
            assertEquals(Security.TLS, state.chosen!!.security)
            assertEquals("localhost", state.chosen!!.smtpHost)
            assertEquals(listOf(Protocol.IMAP, Protocol.POP3), state.options.map { it.protocol })
            assertEquals("pop_or_imap", state.protocolAdvice?.id)
            assertFalse(state.plaintext)
            // The manual fields are the found settings.
            assertEquals(state.chosen!!.host, state.form.host)
            assertEquals(state.chosen!!.smtpPort.toString(), state.form.smtpPort)
            assertEquals(state.chosen!!.smtpSecurity, state.form.smtpSecurity)
            assertTrue(phone.mail.engine.accounts().isEmpty(), "nothing saved before the confirmation")

            // A wrong password: refused, still on the confirmation.
            assertNull(setup.confirm("wrong"))
            assertEquals("auth_failed", setup.state.value.error?.advice?.id)
            assertEquals(SetupStep.CONFIRM, setup.state.value.step)
            assertTrue(phone.mail.engine.accounts().isEmpty())

            val account = setup.confirm(MailServer.PASSWORD)
            assertNotNull(account, "${setup.state.value.error}")
            assertEquals(email, account!!.email)
            assertEquals(Protocol.IMAP, account.protocol)
            assertEquals(SetupStep.ADDRESS, setup.state.value.step)
            phone.accounts.state.await(what = "the new account") { it.accounts.size == 1 }
            phone.syncOk(account.name)
            assertEquals(2, phone.messages("INBOX").size)
        }
    }

    @Test
    fun `POP3 can be chosen from what was found`() = runBlocking<Unit> {
        Provider.start()
        val user = MailServer.newUser("discpop")
        Phone().use { phone ->
            val setup = AccountSetupViewModel(phone.mail, phone.accounts)
            assertNotNull(setup.discover("$user@autoconf.test", caFile = MailServer.caFile))
            setup.choose(setup.state.value.options.single { it.protocol == Protocol.POP3 })
            val account = setup.confirm(MailServer.PASSWORD)
            assertNotNull(account, "${setup.state.value.error}")
            assertEquals(Protocol.POP3, account!!.protocol)
        }
    }

    @Test
    fun `nothing found shows the advice and opens the manual fields, which still add the account`() = runBlocking<Unit> {
        Provider.start()
        val user = MailServer.newUser("discnone")
        Phone().use { phone ->
            val setup = AccountSetupViewModel(phone.mail, phone.accounts)
            assertNull(setup.discover("$user@nothing.test", caFile = MailServer.caFile))
            val state = setup.state.value
            assertEquals(SetupStep.MANUAL, state.step)
            assertEquals("discovery_found_nothing", state.error?.advice?.id)
            assertEquals("$user@nothing.test", state.form.email)

            // By hand: 993 TLS in, 587 STARTTLS out, the harness's CA.
            val form = state.form.copy(
                email = "$user@example.test", host = MailServer.host, port = MailServer.imapsPort.toString(),
                security = Security.TLS, username = user, smtpPort = MailServer.smtpPort.toString(),
                smtpSecurity = Security.START_TLS, caFile = MailServer.caFile,
            )
            assertNull(setup.addManual(form, "wrong"))
            assertEquals(form, setup.state.value.form, "a refusal keeps the fields")
            val account = setup.addManual(form, MailServer.PASSWORD)
            assertNotNull(account, "${setup.state.value.error}")
            assertEquals(MailServer.smtpPort, account!!.smtp.port.toInt())
            assertEquals(Security.START_TLS, account.smtp.security)
        }
    }

    @Test
    fun `a plaintext-only result needs the user's explicit choice`() = runBlocking<Unit> {
        Provider.start()
        val user = MailServer.newUser("discplain")
        Phone().use { phone ->
            val setup = AccountSetupViewModel(phone.mail, phone.accounts)
            assertNotNull(setup.discover("$user@plaintext.test", caFile = MailServer.caFile), "${setup.state.value.error}")
            assertTrue(setup.state.value.plaintext)
            assertNull(setup.confirm(MailServer.PASSWORD))
            assertEquals("discovery_plaintext_only", setup.state.value.error?.advice?.id)
            assertTrue(phone.mail.engine.accounts().isEmpty())
        }
    }
}
