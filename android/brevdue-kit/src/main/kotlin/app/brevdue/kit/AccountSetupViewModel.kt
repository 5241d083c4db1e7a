package app.brevdue.kit

import app.brevdue.core.Account
import app.brevdue.core.AccountConfig
import app.brevdue.core.AccountDraft
import app.brevdue.core.Advice
import app.brevdue.core.Discovery
import app.brevdue.core.OAuthProvider
import app.brevdue.core.Protocol
import app.brevdue.core.Security
import app.brevdue.core.resolveAccount
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update

/** Where account setup is: the address, looking up, what was found, or the servers by hand. */
enum class SetupStep { ADDRESS, DISCOVERING, CONFIRM, MANUAL }

/**
 * The "by hand" form as the user edits it: text as typed, blank the same as absent (the
 * engine's [resolveAccount] fills in every default). SMTP has its own host, port and
 * security, so "993 TLS + 587 STARTTLS" can be entered.
 */
data class SetupForm(
    val email: String = "",
    val displayName: String = "",
    val protocol: Protocol = Protocol.IMAP,
    val host: String = "",
    val port: String = "",
    /** Null: the engine's default for the port. */
    val security: Security? = null,
    val username: String = "",
    val smtpHost: String = "",
    val smtpPort: String = "",
    val smtpSecurity: Security? = null,
    val smtpUsername: String = "",
    /** One extra PEM file of trusted certificates, for both servers. */
    val caFile: String = "",
    /** "Sign-in server (OAuth2 issuer)": a company's own identity server (optional). */
    val oauthIssuer: String = "",
    /** "Client id": the app's registration with [oauthIssuer] (optional). */
    val oauthClientId: String = "",
) {
    /** Both OAuth2 fields are filled in: the account signs in through that issuer, with no password. */
    val signsInWithIssuer: Boolean get() = oauthIssuer.isNotBlank() && oauthClientId.isNotBlank()

    /** The form as the engine takes it. */
    fun toDraft(): AccountDraft = accountDraft(
        email = email, host = host, protocol = protocol, port = port.trim().toUShortOrNull(),
        security = security, username = username, caFile = caFile,
        smtpHost = smtpHost, smtpPort = smtpPort.trim().toUShortOrNull(),
        smtpSecurity = smtpSecurity, smtpUsername = smtpUsername, displayName = displayName,
    )

    companion object {
        /** The form filled in from a draft (what discovery found). */
        fun of(draft: AccountDraft) = SetupForm(
            email = draft.email.orEmpty(), displayName = draft.displayName.orEmpty(),
            protocol = draft.protocol ?: Protocol.IMAP, host = draft.host.orEmpty(),
            port = draft.port?.toString().orEmpty(), security = draft.security,
            username = draft.username.orEmpty(), smtpHost = draft.smtpHost.orEmpty(),
            smtpPort = draft.smtpPort?.toString().orEmpty(), smtpSecurity = draft.smtpSecurity,
            smtpUsername = draft.smtpUsername.orEmpty(), caFile = draft.caFile.orEmpty(),
        )
    }
}

data class SetupState(
    val step: SetupStep = SetupStep.ADDRESS,
    val email: String = "",
    /** What `engine.discover` found (null before, or after it found nothing). */
    val discovery: Discovery? = null,
    /** The settings "Continue" adds: the discovery's draft or one of its alternatives. */
    val chosen: AccountDraft? = null,
    /** The manual fields, pre-filled from discovery. */
    val form: SetupForm = SetupForm(),
    val adding: Boolean = false,
    val error: UiError? = null,
    /** A sign-in open in the browser, waiting for the redirect ([AccountSetupViewModel.finishSignIn]). */
    val signIn: SignIn? = null,
    /** The settings the sign-in adds once it comes back. */
    val signInConfig: AccountConfig? = null,
) {
    /** The page to open for the sign-in in progress (null when none is). */
    val signInUrl: String? get() = signIn?.url

    /** The provider to sign in with instead of a password ("Sign in with {name}"), if discovery found one. */
    val oauth: OAuthProvider? get() = discovery?.oauth

    /**
     * The provider needs its own sign-in but this build has none registered with it: the
     * engine's advice (use an app password), its detail the provider's name.
     */
    val oauthUnavailable: Advice?
        get() = discovery?.oauthUnavailable


    /** The discovered settings to choose from: the draft first, then the alternatives (POP3). */
    val options: List<AccountDraft> get() = discovery?.let { listOf(it.draft) + it.alternatives }.orEmpty()

    /** The product's "POP or IMAP?" advice, when the provider offers both. */
    val protocolAdvice: Advice?
        get() = if (options.map { it.protocol }.distinct().size > 1) ProtocolAdvice.SHORT else null

    /** No encrypted way was found: the chosen settings send the password in clear. */
    val plaintext: Boolean get() = discovery?.plaintext == true
}

/**
 * Account setup: address + password and one "Continue" ([discover]); the confirmation of
 * what was found ([confirm] is the only step that sends the password); "by hand"
 * ([manual], [addManual]) with the found settings filled in. The engine finds the
 * servers, fills in the defaults and checks the login.
 *
 * OAuth2 instead of a password: when discovery found a provider ([SetupState.oauth])
 * "Sign in with {name}" is [signIn]; the manual fields with an issuer and a client id are
 * [signInManual]. Either opens [SetupState.signInUrl] in the browser; the app hands the
 * URL it was sent back to to [finishSignIn], which adds the account.
 */
class AccountSetupViewModel(
    private val mail: Mail,
    private val accounts: AccountsViewModel? = null,
    /** Opens the sign-in page (null: the screen opens [SetupState.signInUrl] itself). */
    private val browser: SignInBrowser? = null,
    private val redirectUri: String = SignIn.REDIRECT_URI,
) {
    private val _state = MutableStateFlow(SetupState())
    val state: StateFlow<SetupState> = _state.asStateFlow()

    /**
     * Looks up the servers for [email] (no password is sent). Found: the confirmation step.
     * Not found: the engine's advice and the manual fields.
     */
    suspend fun discover(email: String, caFile: String? = null): Discovery? {
        val address = email.trim()
        _state.update { SetupState(step = SetupStep.DISCOVERING, email = address, form = it.form.copy(email = address)) }
        val found = catching({ e ->
            _state.update { it.copy(step = SetupStep.MANUAL, error = e, form = it.form.copy(email = address)) }
        }) {
            mail.call { it.discover(address, caFile?.takeIf(String::isNotBlank)) }
        } ?: return null
        _state.update {
            it.copy(step = SetupStep.CONFIRM, discovery = found, chosen = found.draft, form = SetupForm.of(found.draft))
        }
        return found
    }

    /** Picks one of [SetupState.options] (IMAP or POP3). */
    fun choose(draft: AccountDraft) = _state.update { it.copy(chosen = draft, form = SetupForm.of(draft), error = null) }

    /**
     * Adds the chosen settings with [password]: the first time it goes to a server. Settings
     * without encryption only with [allowPlaintext] (the user chose a plain connection).
     */
    suspend fun confirm(password: String, allowPlaintext: Boolean = false): Account? {
        val s = _state.value
        val draft = s.chosen ?: return null
        if (s.plaintext && !allowPlaintext) {
            _state.update {
                it.copy(error = UiError("PlaintextNotAllowed", "only unencrypted servers found",
                    Advice("discovery_plaintext_only", s.email)))
            }
            return null
        }
        return add(draft, password)
    }

    /** Opens the manual fields (pre-filled with what was found, if anything). */
    fun manual() = _state.update { it.copy(step = SetupStep.MANUAL) }

    /** Back to the address. */
    fun restart() = _state.update { SetupState(email = it.email, form = SetupForm(email = it.email)) }

    /** Adds the account from the manual fields; a refusal keeps them as typed. */
    suspend fun addManual(form: SetupForm, password: String): Account? {
        _state.update { it.copy(form = form) }
        return add(form.toDraft(), password)
    }

    fun clearError() = _state.update { it.copy(error = null) }

    /**
     * "Sign in with {name}": begins the sign-in with the provider discovery found, for the
     * chosen settings (no password); the browser opens [SetupState.signInUrl]. Null when
     * there is no such provider or the engine refused.
     */
    suspend fun signIn(): String? {
        val s = _state.value
        val provider = s.oauth ?: return null
        val draft = s.chosen ?: return null
        return begin(provider, draft)
    }

    /**
     * The manual fields with an issuer and a client id: the provider from the issuer's
     * discovery document, then the sign-in as [signIn]. A refusal keeps the fields as typed.
     */
    suspend fun signInManual(form: SetupForm): String? {
        _state.update { it.copy(form = form) }
        if (!form.signsInWithIssuer) return null
        _state.update { it.copy(adding = true, error = null) }
        val provider = catching({ e -> _state.update { it.copy(error = e, adding = false) } }) {
            mail.call {
                // The engine's defaults: its scopes and mechanism for a custom issuer.
                it.oauthProviderFromIssuer(form.oauthIssuer, form.oauthClientId, emptyList(), null)
            }
        } ?: return null
        return begin(provider, form.toDraft())
    }

    /**
     * Finishes the sign-in with the URL the browser was sent back to: the engine checks
     * that the servers take the token, then saves the account (a failure, a cancelled
     * sign-in too, saves nothing and shows the engine's advice).
     */
    suspend fun finishSignIn(redirectUrl: String): Account? {
        val s = _state.value
        val signIn = s.signIn ?: return null
        val config = s.signInConfig ?: return null
        _state.update { it.copy(adding = true, error = null) }
        val account = catching({ e -> _state.update { it.copy(error = e) } }) {
            mail.call { it.addOauthAccount(config, signIn.start.state, redirectUrl) }
        }
        // The engine has used this sign-in up either way: a new attempt begins again.
        _state.update { if (account != null) SetupState() else it.copy(adding = false, signIn = null, signInConfig = null) }
        accounts?.refresh()
        return account
    }

    /** The browser was closed without coming back: the sign-in is dropped (nothing was saved). */
    fun cancelSignIn() = _state.update { it.copy(signIn = null, signInConfig = null, adding = false) }

    private suspend fun begin(provider: OAuthProvider, draft: AccountDraft): String? {
        _state.update { it.copy(adding = true, error = null, signIn = null, signInConfig = null) }
        val begun = catching({ e -> _state.update { it.copy(error = e, adding = false) } }) {
            val config = resolveAccount(draft)
            config to mail.call { it.beginSignIn(config.email, provider, redirectUri) }
        } ?: return null
        val (config, start) = begun
        _state.update { it.copy(adding = false, signIn = SignIn(provider, start), signInConfig = config) }
        browser?.open(start.url)
        return start.url
    }

    private suspend fun add(draft: AccountDraft, password: String): Account? {
        _state.update { it.copy(adding = true, error = null) }
        val account = catching({ e -> _state.update { it.copy(error = e) } }) {
            mail.call { it.addAccount(resolveAccount(draft), password) }
        }
        _state.update { if (account != null) SetupState() else it.copy(adding = false) }
        accounts?.refresh()
        return account
    }
}
