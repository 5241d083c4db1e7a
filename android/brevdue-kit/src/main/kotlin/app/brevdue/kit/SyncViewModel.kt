package app.brevdue.kit

import app.brevdue.core.AccountStatus
import app.brevdue.core.Problem
import app.brevdue.core.StatusSubscription
import app.brevdue.core.SyncNowReport
import app.brevdue.core.SyncStatus
import app.brevdue.core.SyncStatusListener
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Job
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update
import java.util.concurrent.atomic.AtomicBoolean

/** A [Problem] as a screen shows it. */
fun Problem.toUiError() = UiError(kind.name, message, advice)

/** The status bar: every account's sync status as the engine keeps it, and "sync now". */
data class SyncState(
    /** The engine's status per account (syncing, progress, push, last problem, what waits). */
    val accounts: List<AccountStatus> = emptyList(),
    /** The last "sync now" the user asked for: per account what went out and came in. */
    val syncNow: SyncNowReport? = null,
    /** "Sync now" itself could not run (or the status cannot be watched). */
    val error: UiError? = null,
) {
    val syncing: Boolean get() = accounts.any { it.syncing }

    /** The account being synced now (the first, when several are). */
    val current: AccountStatus? get() = accounts.firstOrNull { it.syncing }

    /** 0..1 within the folder being synced, or null when unknown. */
    val progress: Float? get() = current?.takeIf { it.total > 0u }?.let { it.done.toFloat() / it.total.toFloat() }

    /** Per account, its last failure since its last good sync (the engine's advice). */
    val problems: Map<String, UiError>
        get() = accounts.mapNotNull { a -> a.problem?.let { a.account to it.toUiError() } }.toMap()

    /** Per account, what the last "sync now" left to do and why (a pull that failed, mail in the outbox, queued changes). */
    val syncNowProblems: Map<String, UiError>
        get() = syncNow?.accounts?.mapNotNull { a -> a.problem?.let { a.account to it.toUiError() } }?.toMap().orEmpty()

    /** Changes waiting for the server, refused by it, and mail in the outbox, over every account. */
    val waiting: Int get() = accounts.sumOf { it.changesWaiting.toInt() }
    val refused: Int get() = accounts.sumOf { it.changesFailed.toInt() }
    val outbox: Int get() = accounts.sumOf { it.outbox.toInt() }

    fun of(account: String): AccountStatus? = accounts.firstOrNull { it.account == account }
}

/** The engine's sync status, watched (first as it is, then every change); and "sync now". */
class SyncViewModel(private val mail: Mail, scope: CoroutineScope) : AutoCloseable {
    private val _status = MutableStateFlow(SyncState())
    val status: StateFlow<SyncState> = _status.asStateFlow()
    private val subscription: StatusSubscription? =
        catching({ e -> _status.update { it.copy(error = e) } }) {
            mail.engine.watchStatus(object : SyncStatusListener {
                override fun onStatus(status: SyncStatus) = _status.update { it.copy(accounts = status.accounts) }
            })
        }

    private val closed = AtomicBoolean(false)

    init {
        scope.coroutineContext[Job]?.invokeOnCompletion { close() }
    }

    /**
     * "Sync now" for one account or all: the engine sends the outbox and the queued
     * changes past any backoff and pulls, and reports each account's outcome. True when
     * every account pulled.
     */
    suspend fun sync(account: String? = null): Boolean {
        _status.update { it.copy(error = null) }
        val report = catching({ e -> _status.update { it.copy(error = e) } }) {
            mail.engine.syncNow(account)
        } ?: return false
        _status.update { s ->
            // Keeps the other accounts' outcomes of an earlier "sync now" of all.
            val done = report.accounts.map { it.account }.toSet()
            val kept = s.syncNow?.accounts?.filter { it.account !in done }.orEmpty()
            s.copy(syncNow = SyncNowReport(kept + report.accounts))
        }
        return report.accounts.all { it.pulled != null }
    }

    /** Stops watching (also when the scope ends). */
    override fun close() {
        if (closed.compareAndSet(false, true)) subscription?.use { it.cancel() }
    }
}
