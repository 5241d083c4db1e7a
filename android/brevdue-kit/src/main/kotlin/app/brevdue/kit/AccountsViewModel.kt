package app.brevdue.kit

import app.brevdue.core.Account
import app.brevdue.core.AccountConfig
import app.brevdue.core.Event
import app.brevdue.core.Pop3DeletePolicy
import app.brevdue.core.Protocol
import app.brevdue.core.Security
import app.brevdue.core.ServerConfig
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
     * Checks the login and stores the account; null (with [AccountsState.error] set) when
     * the server refused it.
     */
    suspend fun add(config: AccountConfig, password: String): Account? {
        _state.update { it.copy(adding = true, error = null) }
        val account = catching({ e -> _state.update { it.copy(error = e) } }) {
            mail.engine.addAccount(config, password)
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

/** The "POP or IMAP?" advice the setup screen shows next to the choice. */
object ProtocolAdvice {
    const val SHORT = "One device: POP3 can do. Several devices: IMAP. When in doubt, IMAP."

    const val IMAP = "IMAP keeps the mail on the server: what you read, answer, file or " +
        "delete on this phone is what your PC sees too, and the other way round."

    const val POP3 = "POP3 downloads the mail to this phone. What you do here (reading, " +
        "replying, filing) never reaches the server or your other devices. Fine for one " +
        "device; with several, choose IMAP."

    /** The protocol to suggest for someone reading mail on [devices] devices. */
    fun recommend(devices: Int): Protocol = if (devices <= 1) Protocol.POP3 else Protocol.IMAP

    /** What setup would explain for an account of this protocol. */
    fun explain(protocol: Protocol): String = if (protocol == Protocol.IMAP) IMAP else POP3

    /** The usual port for a protocol and security (993, 143, 995, 110). */
    fun defaultPort(protocol: Protocol, security: Security): Int = when (protocol) {
        Protocol.IMAP -> if (security == Security.TLS) 993 else 143
        Protocol.POP3 -> if (security == Security.TLS) 995 else 110
    }

    /** A config from what the setup form asks: the login is the address unless given. */
    fun config(
        name: String,
        email: String,
        protocol: Protocol,
        host: String,
        port: Int = defaultPort(protocol, Security.TLS),
        security: Security = Security.TLS,
        username: String = email,
        caFile: String? = null,
        smtp: ServerConfig? = null,
        displayName: String = "",
        pop3Delete: Pop3DeletePolicy = Pop3DeletePolicy.Never,
    ) = AccountConfig(
        name = name,
        email = email,
        protocol = protocol,
        server = ServerConfig(host, port.toUShort(), security, username, caFile),
        pop3Delete = pop3Delete,
        displayName = displayName,
        smtp = smtp,
    )
}
