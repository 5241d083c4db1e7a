package app.brevdue.kit

import app.brevdue.core.Account
import app.brevdue.core.AccountDraft
import app.brevdue.core.Advice
import app.brevdue.core.Event
import app.brevdue.core.Pop3DeletePolicy
import app.brevdue.core.Protocol
import app.brevdue.core.Security
import app.brevdue.core.resolveAccount
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update
import kotlinx.coroutines.launch
import kotlinx.coroutines.sync.Mutex
import kotlinx.coroutines.sync.withLock

data class AccountsState(
    val accounts: List<Account> = emptyList(),
    val adding: Boolean = false,
    val error: UiError? = null,
)

/** The account list and account setup (IMAP or POP3, with the advice). */
class AccountsViewModel(private val mail: Mail, scope: CoroutineScope) {
    private val _state = MutableStateFlow(AccountsState())
    val state: StateFlow<AccountsState> = _state.asStateFlow()
    /** One reload at a time: one started earlier never overwrites a newer one. */
    private val loading = Mutex()

    init {
        scope.launch { refresh() }
        scope.launch {
            mail.events.collect { if (it is Event.SyncFinished) refresh() }
        }
    }

    suspend fun refresh() {
        loading.withLock {
            catching({ e -> _state.update { it.copy(error = e) } }) {
                val accounts = mail.call { it.accounts() }
                _state.update { it.copy(accounts = accounts) }
            }
        }
    }

    /**
     * Completes the form with the engine's defaults ([resolveAccount]), checks the login
     * and stores the account; null (with [AccountsState.error] set, its advice saying which
     * field needs the user or what the server said) when it cannot be added.
     */
    suspend fun add(draft: AccountDraft, password: String): Account? {
        _state.update { it.copy(adding = true, error = null) }
        val account = catching({ e -> _state.update { it.copy(error = e) } }) {
            mail.engine.addAccount(resolveAccount(draft), password)
        }
        _state.update { it.copy(adding = false) }
        refresh()
        return account
    }

    suspend fun remove(name: String) {
        catching({ e -> _state.update { it.copy(error = e) } }) { mail.engine.removeAccount(name) }
        refresh()
    }

    fun clearError() = _state.update { it.copy(error = null) }
}

/**
 * A setup form as the engine takes it: only what the user filled in (blank is the same as
 * absent); [resolveAccount] supplies every default (ports, security, SMTP, login, name).
 */
fun accountDraft(
    email: String?,
    host: String?,
    protocol: Protocol? = null,
    port: UShort? = null,
    security: Security? = null,
    username: String? = null,
    caFile: String? = null,
    smtpHost: String? = null,
    smtpPort: UShort? = null,
    smtpSecurity: Security? = null,
    smtpUsername: String? = null,
    name: String? = null,
    displayName: String? = null,
    pop3Delete: Pop3DeletePolicy? = null,
) = AccountDraft(
    name = name, email = email, displayName = displayName, protocol = protocol, host = host,
    port = port, security = security, username = username, caFile = caFile,
    smtpHost = smtpHost, smtpPort = smtpPort, smtpSecurity = smtpSecurity,
    smtpUsername = smtpUsername, pop3Delete = pop3Delete,
)

/** The "POP or IMAP?" advice the setup screen shows next to the choice (the app words it). */
object ProtocolAdvice {
    val SHORT = Advice("pop_or_imap", "")

    /** What setup explains for an account of this protocol. */
    fun explain(protocol: Protocol): Advice =
        Advice(if (protocol == Protocol.IMAP) "imap_explained" else "pop3_explained", "")
}
