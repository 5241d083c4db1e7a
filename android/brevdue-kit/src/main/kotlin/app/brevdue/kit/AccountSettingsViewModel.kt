package app.brevdue.kit

import app.brevdue.core.Account
import app.brevdue.core.AccountEdit
import app.brevdue.core.Folder
import app.brevdue.core.FolderRole
import app.brevdue.core.Pop3DeletePolicy
import app.brevdue.core.Protocol
import app.brevdue.core.Security
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update

/** An account's settings as the screen edits them (text as typed; blank password = keep). */
data class SettingsForm(
    val displayName: String,
    val host: String,
    val port: String,
    val security: Security,
    val username: String,
    val smtpHost: String,
    val smtpPort: String,
    val smtpSecurity: Security,
    val smtpUsername: String,
    /** Blank: no extra certificate. */
    val caFile: String,
    /** Blank: the password stays. */
    val password: String = "",
    val pop3Delete: Pop3DeletePolicy,
) {
    /**
     * What the user changed, as the engine takes it: a field equal to the account's is
     * absent (unchanged), so the engine's own rules (a port following a new security,
     * SMTP following the incoming server) apply to what was not touched.
     */
    fun editOf(account: Account): AccountEdit {
        fun text(new: String, old: String) = new.trim().takeIf { it != old }
        val was = of(account)
        return AccountEdit(
            displayName = text(displayName, was.displayName),
            host = text(host, was.host),
            port = port.trim().takeIf { it != was.port }?.toUShortOrNull(),
            security = security.takeIf { it != was.security },
            username = text(username, was.username),
            caFile = text(caFile, was.caFile),
            smtpHost = text(smtpHost, was.smtpHost),
            smtpPort = smtpPort.trim().takeIf { it != was.smtpPort }?.toUShortOrNull(),
            smtpSecurity = smtpSecurity.takeIf { it != was.smtpSecurity },
            smtpUsername = text(smtpUsername, was.smtpUsername),
            password = password.takeIf { it.isNotEmpty() },
            pop3Delete = pop3Delete.takeIf { it != was.pop3Delete },
        )
    }

    companion object {
        fun of(account: Account) = SettingsForm(
            displayName = account.identities.firstOrNull()?.name.orEmpty(),
            host = account.server.host, port = account.server.port.toString(),
            security = account.server.security, username = account.server.username,
            smtpHost = account.smtp.host, smtpPort = account.smtp.port.toString(),
            smtpSecurity = account.smtp.security, smtpUsername = account.smtp.username,
            caFile = account.server.caFile.orEmpty(), pop3Delete = account.pop3Delete,
        )
    }
}

data class SettingsState(
    val account: Account? = null,
    /** What the screen shows; after a refused save, what the user typed. */
    val form: SettingsForm? = null,
    /** The account's folders, for the Sent folder choice. */
    val folders: List<Folder> = emptyList(),
    val saving: Boolean = false,
    /** The last save went through. */
    val saved: Boolean = false,
    /** The account is gone (the screen closes). */
    val removed: Boolean = false,
    val error: UiError? = null,
    /** "Sign in again" open in the browser, waiting for the redirect. */
    val signIn: SignIn? = null,
    /** The last "sign in again" went through. */
    val signedInAgain: Boolean = false,
) {
    val isPop3: Boolean get() = account?.protocol == Protocol.POP3

    /** "Signs in with {name}": the OAuth2 provider's name, or null for a password account. */
    val signsInWith: String? get() = account?.oauth?.name

    /** The page to open for "sign in again" (null when none is in progress). */
    val signInUrl: String? get() = signIn?.url
    val sentFolder: String? get() = folders.firstOrNull { it.role == FolderRole.SENT }?.name
}

/**
 * One account's settings: password, servers, SMTP, display name, the POP3 policy
 * (`engine.editAccount`: a new password or server is checked first and a refusal changes
 * nothing), the Sent folder (`engine.chooseSpecialFolder`) and removal. An OAuth2 account
 * has no password: it "signs in with" its provider and can sign in again
 * ([beginSignInAgain], then [finishSignInAgain] with the redirect).
 */
class AccountSettingsViewModel(
    private val mail: Mail,
    private val accounts: AccountsViewModel? = null,
    /** Opens the sign-in page (null: the screen opens [SettingsState.signInUrl] itself). */
    private val browser: SignInBrowser? = null,
    private val redirectUri: String = SignIn.REDIRECT_URI,
) {
    private val _state = MutableStateFlow(SettingsState())
    val state: StateFlow<SettingsState> = _state.asStateFlow()

    /**
     * Shows [name]'s settings as stored. A "sign in again" in progress for the same account
     * stays (the screen reloads when it is recreated, the browser still open).
     */
    suspend fun load(name: String) {
        val pending = _state.value.signIn?.takeIf { _state.value.account?.name == name }
        _state.value = SettingsState(signIn = pending)
        catching({ e -> _state.update { it.copy(error = e) } }) {
            val account = mail.call { e -> e.accounts() }.firstOrNull { it.name == name }
                ?: throw NoSuchElementException(name)
            _state.update { it.copy(account = account, form = SettingsForm.of(account)) }
            loadFolders(name)
        }
    }

    private suspend fun loadFolders(name: String) {
        val folders = mail.call { it.folders(name) }.filter { it.selectable }
        _state.update { it.copy(folders = folders) }
    }

    /** Saves what changed; null (with the error, the form as typed) when the engine refuses. */
    suspend fun save(form: SettingsForm): Account? {
        val account = _state.value.account ?: return null
        _state.update { it.copy(form = form, saving = true, saved = false, error = null) }
        val edited = catching({ e -> _state.update { it.copy(error = e) } }) {
            mail.call { it.editAccount(account.name, form.editOf(account)) }
        }
        _state.update {
            if (edited != null) {
                it.copy(account = edited, form = SettingsForm.of(edited), saving = false, saved = true)
            } else {
                it.copy(saving = false)
            }
        }
        if (edited != null) accounts?.refresh()
        return edited
    }

    /** Makes [folder] the account's Sent folder. */
    suspend fun chooseSentFolder(folder: String): Boolean {
        val name = _state.value.account?.name ?: return false
        _state.update { it.copy(error = null) }
        return catching({ e -> _state.update { it.copy(error = e) } }) {
            mail.call { it.chooseSpecialFolder(name, FolderRole.SENT, folder) }
            loadFolders(name)
            true
        } ?: false
    }

    /** Removes the account from this device (the screen asks first). */
    suspend fun remove(): Boolean {
        val name = _state.value.account?.name ?: return false
        val done = catching({ e -> _state.update { it.copy(error = e) } }) {
            mail.call { it.removeAccount(name) }
            true
        } ?: false
        if (done) _state.value = SettingsState(removed = true)
        accounts?.refresh()
        return done
    }

    /**
     * "Sign in again" for an OAuth2 account (its sign-in was refused or revoked): begins a
     * sign-in with the account's provider; the browser opens [SettingsState.signInUrl].
     */
    suspend fun beginSignInAgain(): String? {
        val account = _state.value.account ?: return null
        val provider = account.oauth ?: return null
        _state.update { it.copy(error = null, saved = false, signedInAgain = false, signIn = null) }
        val start = catching({ e -> _state.update { it.copy(error = e) } }) {
            mail.call { it.beginSignIn(account.email, provider, redirectUri) }
        } ?: return null
        _state.update { it.copy(signIn = SignIn(provider, start)) }
        browser?.open(start.url)
        return start.url
    }

    /**
     * Finishes "sign in again" with the URL the browser was sent back to: the engine keeps
     * the new tokens once the servers take them; a failure keeps the old ones.
     */
    suspend fun finishSignInAgain(redirectUrl: String): Account? {
        val s = _state.value
        val account = s.account ?: return null
        val signIn = s.signIn ?: return null
        _state.update { it.copy(saving = true, error = null) }
        val signedIn = catching({ e -> _state.update { it.copy(error = e) } }) {
            mail.call { it.signInAgain(account.name, signIn.start.state, redirectUrl) }
        }
        _state.update {
            if (signedIn != null) {
                it.copy(account = signedIn, form = SettingsForm.of(signedIn), saving = false, signIn = null, signedInAgain = true)
            } else {
                it.copy(saving = false, signIn = null)
            }
        }
        if (signedIn != null) accounts?.refresh()
        return signedIn
    }

    /** The browser was closed without coming back: the sign-in is dropped. */
    fun cancelSignIn() = _state.update { it.copy(signIn = null) }

    fun clearError() = _state.update { it.copy(error = null) }
}
