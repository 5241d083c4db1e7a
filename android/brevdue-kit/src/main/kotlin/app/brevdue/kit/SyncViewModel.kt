package app.brevdue.kit

import app.brevdue.core.Event
import app.brevdue.core.SyncNowReport
import app.brevdue.core.SyncReport
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update
import kotlinx.coroutines.launch

/** Where a sync stands, for the status bar. */
data class SyncStatus(
    val running: Set<String> = emptySet(),
    val account: String? = null,
    val folder: String? = null,
    val done: Int = 0,
    val total: Int = 0,
    /** The last finished pass per account. */
    val reports: Map<String, SyncReport> = emptyMap(),
    val error: UiError? = null,
    /** The last "sync now" the user asked for: per account what went out and came in. */
    val syncNow: SyncNowReport? = null,
    /**
     * Per account, what that "sync now" left to do and why (the engine's advice): a pull
     * that failed, mail still in the outbox, changes still queued.
     */
    val problems: Map<String, UiError> = emptyMap(),
    /** Whether the push (IDLE) connection is up, per account. */
    val push: Map<String, Boolean> = emptyMap(),
) {
    val syncing: Boolean get() = running.isNotEmpty()

    /** 0..1 within the folder being synced, or null when unknown. */
    val progress: Float? get() = if (syncing && total > 0) done.toFloat() / total else null
}

/** Sync status with progress, from the engine's events; and the "sync now" action. */
class SyncViewModel(private val mail: Mail, scope: CoroutineScope) {
    private val _status = MutableStateFlow(SyncStatus())
    val status: StateFlow<SyncStatus> = _status.asStateFlow()

    init {
        scope.launch { mail.events.collect(::apply) }
    }

    private fun apply(event: Event) = _status.update { s ->
        when (event) {
            is Event.SyncStarted -> s.copy(
                running = s.running + event.account, account = event.account,
                folder = null, done = 0, total = 0, error = null,
            )
            is Event.SyncProgress -> s.copy(
                account = event.account, folder = event.folder,
                done = event.done.toInt(), total = event.total.toInt(),
            )
            is Event.SyncFinished -> s.copy(
                running = s.running - event.account,
                reports = s.reports + (event.account to event.report),
            )
            is Event.Error -> s.copy(
                running = s.running - event.account,
                error = UiError(event.kind.name, event.message, event.advice),
            )
            is Event.PushState -> s.copy(push = s.push + (event.account to event.connected))
            else -> s
        }
    }

    /**
     * "Sync now" for one account or all: the engine sends the outbox and the queued
     * changes past any backoff and pulls, and reports each account's outcome. True when
     * every account pulled.
     */
    suspend fun sync(account: String? = null): Boolean {
        val report = catching({ e -> _status.update { it.copy(error = e, running = emptySet()) } }) {
            mail.engine.syncNow(account)
        } ?: return false
        _status.update { s ->
            val done = report.accounts.map { it.account }.toSet()
            s.copy(
                syncNow = report,
                problems = s.problems.filterKeys { it !in done } +
                    report.accounts.mapNotNull { a ->
                        a.problem?.let { a.account to UiError(it.kind.name, it.message, it.advice) }
                    },
            )
        }
        return report.accounts.all { it.pulled != null }
    }
}
