package app.brevdue.kit

import app.brevdue.core.ComposeMode
import app.brevdue.core.Security
import kotlinx.coroutines.delay
import kotlinx.coroutines.runBlocking
import org.json.JSONObject
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import java.net.URI
import java.net.URLEncoder
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicInteger

/**
 * tests/mailserver.py `serve --oauth`: its own Dovecot + SMTP relay that take the tokens of
 * a real OAuth2 server (mock-oauth2-server) besides passwords. Started once, for this
 * class only (the JVM it runs costs seconds), and stopped when the test JVM exits.
 */
object OAuthMailServer {
    private val script: String = System.getProperty("brevdue.mailserver")
        ?: System.getenv("BREVDUE_MAILSERVER")
        ?: error("set -Dbrevdue.mailserver to tests/mailserver.py (android/test.sh does)")

    private val process: Process = ProcessBuilder("/usr/bin/python3", script, "serve", "--oauth")
        .redirectError(ProcessBuilder.Redirect.INHERIT)
        .start()
    val host: String
    val imapsPort: Int
    val smtpsPort: Int
    val caFile: String
    private val stateDir: String
    /** Tokens for an hour. */
    val issuer: String
    /** Tokens for 5 s. */
    val shortIssuer: String
    val clientId: String

    init {
        val line = process.inputStream.bufferedReader().readLine()
            ?: error("tests/mailserver.py serve --oauth did not start (exit ${process.waitFor()})")
        val info = JSONObject(line)
        host = info.getString("host")
        imapsPort = info.getInt("imaps_port")
        smtpsPort = info.getInt("smtps_port")
        caFile = info.getString("ca_file")
        stateDir = info.getString("state_dir")
        val oauth = info.getJSONObject("oauth")
        issuer = oauth.getString("issuer")
        shortIssuer = oauth.getString("short_issuer")
        clientId = oauth.getString("client_id")
        Runtime.getRuntime().addShutdownHook(Thread {
            runCatching { process.outputStream.close() } // EOF on stdin: the server stops
            process.waitFor(20, TimeUnit.SECONDS)
        })
    }

    private val counter = AtomicInteger()

    /** A mail user of this server; with OAuth2 its login name is NAME (the tokens' `sub`). */
    fun newUser(prefix: String): String {
        val name = "$prefix${counter.getAndIncrement()}"
        MailServer.run("/usr/bin/python3", script, "add-user", "--state-dir", stateDir, name, MailServer.PASSWORD)
        return name
    }

    /** The manual setup form for [user], signing in through [issuer] instead of a password. */
    fun form(user: String, issuer: String = this.issuer) = SetupForm(
        email = "$user@example.test", host = host, port = imapsPort.toString(), security = Security.TLS,
        username = user, smtpPort = smtpsPort.toString(), smtpSecurity = Security.TLS, caFile = caFile,
        oauthIssuer = issuer, oauthClientId = clientId,
    )

    /** Revokes a refresh token at [issuer] (the user withdrew the app's access). */
    fun revoke(issuer: String, refreshToken: String) {
        val body = "token=${enc(refreshToken)}&token_type_hint=refresh_token&client_id=${enc(clientId)}"
        val response = FakeBrowser.http.send(
            HttpRequest.newBuilder(URI("$issuer/revoke"))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(),
            HttpResponse.BodyHandlers.ofString(),
        )
        check(response.statusCode() == 200) { "revoke: ${response.statusCode()} ${response.body()}" }
    }
}

private fun enc(text: String) = URLEncoder.encode(text, Charsets.UTF_8)

/**
 * The browser, the only part faked: a person signing in submits the provider's login
 * form; the provider's redirect (not followed) is what the app is sent back to.
 */
object FakeBrowser {
    val http: HttpClient = HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NEVER).build()

    /** Signs in as [user] on the page [url]; the redirect URL with `code` and `state`. */
    fun signIn(url: String, user: String): String {
        val response = http.send(
            HttpRequest.newBuilder(URI(url))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.ofString("username=${enc(user)}")).build(),
            HttpResponse.BodyHandlers.ofString(),
        )
        check(response.statusCode() in 300..399) { "the sign-in page did not redirect: ${response.statusCode()} ${response.body()}" }
        return response.headers().firstValue("location").orElseThrow()
    }
}

class OAuthSignInTest {
    @Test
    fun `a redirect answers the sign-in whose state it carries`() {
        assertEquals("a b/c", SignIn.redirectState("${SignIn.REDIRECT_URI}?code=k&state=a+b%2Fc"))
        assertEquals("s1", SignIn.redirectState("${SignIn.REDIRECT_URI}?error=access_denied&state=s1#x"))
        assertNull(SignIn.redirectState(SignIn.REDIRECT_URI))
        assertNull(SignIn.redirectState("${SignIn.REDIRECT_URI}?code=k"))
    }

    /** Sets up [user]'s account through the manual fields' issuer; returns what the browser opened. */
    private suspend fun Phone.addOAuthAccount(user: String, issuer: String = OAuthMailServer.issuer): app.brevdue.core.Account {
        val setup = AccountSetupViewModel(mail, accounts, browser = { })
        val url = setup.signInManual(OAuthMailServer.form(user, issuer))
        assertNotNull(url, "${setup.state.value.error}")
        val account = setup.finishSignIn(FakeBrowser.signIn(url!!, user))
        assertNotNull(account, "${setup.state.value.error}")
        return account!!
    }

    @Test
    fun `setup signs in through the issuer, syncs, and sends with the token`() = runBlocking<Unit> {
        val user = OAuthMailServer.newUser("oauth")
        Phone().use { phone ->
            val opened = mutableListOf<String>()
            val setup = AccountSetupViewModel(phone.mail, phone.accounts, browser = { opened += it })
            setup.manual()
            val form = OAuthMailServer.form(user)
            assertTrue(form.signsInWithIssuer)

            // Begin: the provider from the issuer's discovery document, the page opened.
            val url = setup.signInManual(form)
            assertNotNull(url, "${setup.state.value.error}")
            assertEquals(listOf(url), opened, "the browser opens the sign-in page once")
            val state = setup.state.value
            assertEquals(url, state.signInUrl)
            assertTrue(url!!.startsWith("${OAuthMailServer.issuer}/"), url)
            assertEquals("custom", state.signIn!!.provider.id)
            assertEquals(SignIn.REDIRECT_URI, state.signIn!!.start.redirectUri)
            assertEquals(form, state.form)
            assertTrue(phone.mail.engine.accounts().isEmpty(), "nothing saved before the sign-in")

            // The browser comes back to the app's redirect URI; the app hands it over.
            val redirect = FakeBrowser.signIn(url, user)
            assertTrue(redirect.startsWith("${SignIn.REDIRECT_URI}?"), redirect)
            assertTrue(state.signIn!!.answeredBy(redirect))
            val account = setup.finishSignIn(redirect)
            assertNotNull(account, "${setup.state.value.error}")
            assertEquals("custom", account!!.oauth?.id)
            assertEquals(OAuthMailServer.clientId, account.oauth?.clientId)
            assertEquals("$user@example.test", account.email)
            assertEquals(SetupStep.ADDRESS, setup.state.value.step, "the same \"added\" path as a password account")
            assertNull(setup.state.value.signIn)
            assertFalse(phone.passwords.get(account.name).isNullOrEmpty(), "the tokens are in the store")
            phone.accounts.state.await(what = "the new account") { it.accounts.size == 1 }

            // First sync, then a message sent through SMTP with the token arrives.
            phone.syncOk(account.name)
            phone.composer.start(account.name, ComposeMode.New)
            phone.composer.edit { it.copy(to = "$user@example.test", subject = "Signed in with OAuth2", body = "hi") }
            assertEquals(SendOutcome.Sent, phone.composer.send())
            assertTrue(eventually(15) {
                runBlocking { phone.syncOk(account.name) }
                runBlocking { phone.messages("INBOX") }.any { it.subject == "Signed in with OAuth2" }
            }, "the message arrives")
        }
    }

    @Test
    fun `sign in again after the grant was revoked`() = runBlocking<Unit> {
        val user = OAuthMailServer.newUser("again")
        Phone().use { phone ->
            // Short-lived tokens (5 s), so the engine soon needs its refresh token.
            val account = phone.addOAuthAccount(user, OAuthMailServer.shortIssuer)
            val opened = mutableListOf<String>()
            val settings = AccountSettingsViewModel(phone.mail, phone.accounts, browser = { opened += it })
            settings.load(account.name)
            assertEquals(account.oauth!!.name, settings.state.value.signsInWith)
            phone.syncOk(account.name)

            // The user withdraws the app's access at the provider; once the access token
            // lapses the refresh is refused: "sign in again", with the provider's name.
            val stored = JSONObject(phone.passwords.get(account.name)!!)
            OAuthMailServer.revoke(OAuthMailServer.shortIssuer, stored.getString("refresh_token"))
            val expiresAt = stored.getLong("expires_at") * 1000
            delay((expiresAt - System.currentTimeMillis()).coerceIn(0, 6000) + 200)
            // The phone changed networks: its kept connections go, the next sync logs in anew.
            phone.mail.engine.networkChanged()
            assertFalse(phone.sync.sync(account.name))
            val problem = phone.sync.status.value.syncNowProblems[account.name]
            assertEquals("oauth_sign_in_again", problem?.advice?.id)
            assertEquals(account.oauth!!.name, problem?.advice?.detail)

            // No password to change on such an account.
            assertNull(settings.save(settings.state.value.form!!.copy(password = "a password")))
            assertEquals("oauth_account_has_no_password", settings.state.value.error?.advice?.id)

            // "Sign in again": the same provider's page, the redirect, new tokens.
            val url = settings.beginSignInAgain()
            assertNotNull(url, "${settings.state.value.error}")
            assertEquals(listOf(url), opened)
            assertEquals(url, settings.state.value.signInUrl)
            val again = settings.finishSignInAgain(FakeBrowser.signIn(url!!, user))
            assertNotNull(again, "${settings.state.value.error}")
            assertTrue(settings.state.value.signedInAgain)
            assertNull(settings.state.value.signIn)
            assertNull(settings.state.value.error)
            assertEquals(account.oauth, again!!.oauth)
            phone.syncOk(account.name)
            assertEquals(1, phone.mail.engine.accounts().size)
        }
    }

    @Test
    fun `a cancelled or wrong sign-in saves nothing`() = runBlocking<Unit> {
        val user = OAuthMailServer.newUser("cancel")
        Phone().use { phone ->
            val setup = AccountSetupViewModel(phone.mail, phone.accounts, browser = { })
            setup.manual()
            val form = OAuthMailServer.form(user)

            // The user cancels on the provider's page: it comes back with access_denied.
            val url = setup.signInManual(form)
            assertNotNull(url, "${setup.state.value.error}")
            val state = setup.state.value.signIn!!.start.state
            assertNull(setup.finishSignIn("${SignIn.REDIRECT_URI}?error=access_denied&state=${enc(state)}"))
            var s = setup.state.value
            assertEquals("oauth_cancelled", s.error?.advice?.id)
            assertEquals("AuthFailed", s.error?.kind)
            assertNull(s.signIn, "that sign-in is over: a new one begins again")
            assertFalse(s.adding)
            assertEquals(SetupStep.MANUAL, s.step)
            assertEquals(form, s.form, "the fields stay as typed")
            assertTrue(phone.mail.engine.accounts().isEmpty())
            assertEquals(0, phone.passwords.size)

            // Signed in as someone else: the servers refuse that token, nothing is saved.
            val other = OAuthMailServer.newUser("other")
            val url2 = setup.signInManual(form)
            assertNotNull(url2, "${setup.state.value.error}")
            assertNull(setup.finishSignIn(FakeBrowser.signIn(url2!!, other)))
            s = setup.state.value
            assertEquals("AuthFailed", s.error?.kind)
            assertTrue(phone.mail.engine.accounts().isEmpty())
            assertEquals(0, phone.passwords.size)

            // Then the right user: added.
            val url3 = setup.signInManual(form)
            assertNotNull(url3, "${setup.state.value.error}")
            assertNotNull(setup.finishSignIn(FakeBrowser.signIn(url3!!, user)), "${setup.state.value.error}")
            assertEquals(1, phone.mail.engine.accounts().size)
        }
    }
}
