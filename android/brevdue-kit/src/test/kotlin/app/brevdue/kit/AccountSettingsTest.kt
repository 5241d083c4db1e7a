package app.brevdue.kit

import app.brevdue.core.Account
import app.brevdue.core.FolderRole
import app.brevdue.core.Pop3DeletePolicy
import app.brevdue.core.Security
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test

/** The account as configured (the capabilities are the server's, refreshed at each login). */
private fun Account.settings() = copy(serverCapabilities = emptyList())

class AccountSettingsTest {
    private suspend fun Phone.withAccount(user: String, name: String = "work"): AccountSettingsViewModel {
        assertNotNull(accounts.add(imapDraft(name, user), MailServer.PASSWORD), "${accounts.state.value.error}")
        return AccountSettingsViewModel(mail, accounts).also { it.load(name) }
    }

    @Test
    fun `a wrong new password is refused with auth_failed, nothing changes and the form stays as typed`() = runBlocking<Unit> {
        val user = MailServer.newUser("setpw")
        Phone().use { phone ->
            val settings = phone.withAccount(user)
            val before = settings.state.value.account!!
            val typed = settings.state.value.form!!.copy(displayName = "Not Saved", password = "wrong-password")

            assertNull(settings.save(typed))
            val state = settings.state.value
            assertEquals("AuthFailed", state.error?.kind)
            assertEquals("auth_failed", state.error?.advice?.id)
            assertEquals(typed, state.form, "the user can fix what they typed")
            assertFalse(state.saved)
            // Nothing changed: not the record, not the stored password.
            assertEquals(before.settings(), phone.mail.engine.accounts().single().settings())
            assertEquals(MailServer.PASSWORD, phone.passwords.get("work"))
            phone.syncOk("work")

            // A wrong server is refused the same way, nothing saved.
            assertNull(settings.save(typed.copy(password = "", port = MailServer.pop3sPort.toString())))
            assertNotNull(settings.state.value.error)
            assertEquals(before.settings(), phone.mail.engine.accounts().single().settings())
        }
    }

    @Test
    fun `display name, SMTP and the POP3 policy are saved`() = runBlocking<Unit> {
        val user = MailServer.newUser("setsmtp")
        Phone().use { phone ->
            val settings = phone.withAccount(user)
            val form = settings.state.value.form!!
            assertEquals(MailServer.smtpsPort.toString(), form.smtpPort)
            assertEquals(Security.TLS, form.smtpSecurity)
            // 993 TLS in, 587 STARTTLS out; the right password again is checked and kept.
            val saved = settings.save(form.copy(
                displayName = "Ada Lovelace", smtpPort = MailServer.smtpPort.toString(),
                smtpSecurity = Security.START_TLS, password = MailServer.PASSWORD,
            ))
            assertNotNull(saved, "${settings.state.value.error}")
            assertTrue(settings.state.value.saved)
            assertNull(settings.state.value.error)
            val stored = phone.mail.engine.accounts().single()
            assertEquals("Ada Lovelace", stored.identities.first().name)
            assertEquals(MailServer.smtpPort, stored.smtp.port.toInt())
            assertEquals(Security.START_TLS, stored.smtp.security)
            assertEquals(MailServer.imapsPort, stored.server.port.toInt())
            assertEquals(Security.TLS, stored.server.security)
            assertEquals("", settings.state.value.form!!.password, "the form shows the saved account")
            phone.accounts.state.await(what = "the list shows it") {
                it.accounts.single().identities.first().name == "Ada Lovelace"
            }
            assertEquals(SettingsForm.of(stored), SettingsForm.of(saved!!))

            // Sending goes through the new SMTP settings.
            phone.composer.start("work", app.brevdue.core.ComposeMode.New)
            phone.composer.edit { it.copy(to = "$user@example.test", subject = "via 587", body = "hi") }
            assertEquals(SendOutcome.Sent, phone.composer.send())
        }
        val pop = MailServer.newUser("setpop")
        Phone().use { phone ->
            assertNotNull(phone.accounts.add(pop3Draft("home", pop), MailServer.PASSWORD))
            val settings = AccountSettingsViewModel(phone.mail, phone.accounts).also { it.load("home") }
            assertTrue(settings.state.value.isPop3)
            val policy = Pop3DeletePolicy.AfterDays(7u)
            assertNotNull(settings.save(settings.state.value.form!!.copy(pop3Delete = policy)))
            assertEquals(policy, phone.mail.engine.accounts().single().pop3Delete)
        }
    }

    @Test
    fun `remove removes the account and its password`() = runBlocking<Unit> {
        val user = MailServer.newUser("setrm")
        Phone().use { phone ->
            val settings = phone.withAccount(user)
            assertNotNull(phone.accounts.add(imapDraft("other", user), MailServer.PASSWORD))
            assertTrue(settings.remove())
            assertTrue(settings.state.value.removed)
            assertEquals(listOf("other"), phone.mail.engine.accounts().map { it.name })
            assertEquals(listOf("other"), phone.accounts.state.value.accounts.map { it.name })
        }
    }

    @Test
    fun `another folder can be made the Sent folder`() = runBlocking<Unit> {
        val user = MailServer.newUser("setsent")
        Phone().use { phone ->
            val settings = phone.withAccount(user)
            phone.mail.engine.createFolder("work", "Outgoing")
            phone.mail.engine.pushChanges("work")
            phone.syncOk("work")
            settings.load("work")
            assertTrue(settings.state.value.folders.any { it.name == "Outgoing" }, "${settings.state.value.folders.map { it.name }}")
            assertTrue(settings.chooseSentFolder("Outgoing"), "${settings.state.value.error}")
            assertEquals("Outgoing", settings.state.value.sentFolder)
            val sent = phone.mail.engine.folders("work").filter { it.role == FolderRole.SENT }.map { it.name }
            assertEquals(listOf("Outgoing"), sent)
        }
    }
}
