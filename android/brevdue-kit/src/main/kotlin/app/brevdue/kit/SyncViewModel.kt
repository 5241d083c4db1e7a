package app.brevdue.kit

import app.brevdue.core.Event
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
    /** Why the outbox or the change queue could not reach the server, if so. */
    val offline: String? = null,
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
                error = UiError(event.kind.name, event.message),
            )
            is Event.PushState -> s.copy(push = s.push + (event.account to event.connected))
            else -> s
        }
    }

    /**
     * One sync pass the user asked for, as the CLI's `sync` does it: the outbox and the
     * queued changes are tried at once, even while they wait out a backoff (the engine's
     * `sync` also sends them first, but respects the backoff), then the pull.
     */
    suspend fun sync(account: String? = null): Boolean =
        catching({ e -> _status.update { it.copy(error = e, running = emptySet()) } }) {
            val sent = mail.engine.sendOutbox(account)
            val pushed = mail.engine.pushChanges(account)
            _status.update { it.copy(offline = sent.offline ?: pushed.offline) }
            mail.engine.sync(account)
        } != null
}
