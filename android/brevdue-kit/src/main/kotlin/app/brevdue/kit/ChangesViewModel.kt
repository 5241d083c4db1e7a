package app.brevdue.kit

import app.brevdue.core.ChangeState
import app.brevdue.core.Event
import app.brevdue.core.OutboxMessage
import app.brevdue.core.PendingChange
import app.brevdue.core.PushReport
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update
import kotlinx.coroutines.launch
import kotlinx.coroutines.sync.Mutex
import kotlinx.coroutines.sync.withLock

data class ChangesState(
    /** Applied here, on their way to the server. */
    val pending: List<PendingChange> = emptyList(),
    /** Refused by the server and reverted here: retry or discard. */
    val failed: List<PendingChange> = emptyList(),
    val outbox: List<OutboxMessage> = emptyList(),
    /** The server's reasons, newest last, from ChangeFailed events. */
    val refusals: List<String> = emptyList(),
    /** The changes the last undo took back (the one asked for and those depending on it). */
    val undone: List<Long> = emptyList(),
    val error: UiError? = null,
)

/** Pending and failed changes and the outbox, kept current from events. */
class ChangesViewModel(private val mail: Mail, scope: CoroutineScope) {
    private val _state = MutableStateFlow(ChangesState())
    val state: StateFlow<ChangesState> = _state.asStateFlow()
    /** One reload at a time: one started earlier never overwrites a newer one. */
    private val loading = Mutex()

    init {
        scope.launch { refresh() }
        scope.launch {
            mail.events.collect { e ->
                when (e) {
                    is Event.ChangeFailed -> {
                        _state.update { it.copy(refusals = it.refusals + e.message) }
                        refresh()
                    }
                    is Event.ChangesApplied, is Event.OutboxChanged, is Event.MessagesChanged,
                    is Event.FoldersChanged, is Event.SyncFinished -> refresh()
                    else -> Unit
                }
            }
        }
    }

    suspend fun refresh() {
        loading.withLock {
            catching({ e -> _state.update { it.copy(error = e) } }) {
                val changes = mail.call { it.changes(null) }
                val outbox = mail.call { it.outbox(null) }
                _state.update { s ->
                    s.copy(
                        pending = changes.filter { it.state == ChangeState.PENDING },
                        failed = changes.filter { it.state == ChangeState.FAILED },
                        outbox = outbox,
                        error = null,
                    )
                }
            }
        }
    }

    /** Replays the queue now (instead of waiting for the background worker). */
    suspend fun push(account: String? = null): PushReport? {
        val report = catching({ e -> _state.update { it.copy(error = e) } }) {
            mail.engine.pushChanges(account)
        }
        refresh()
        return report
    }

    /**
     * Undoes a waiting change that has not reached the server, with the waiting changes
     * that depend on it (a move into a folder whose creation is undone); the engine puts
     * things back here. Returns the ids it took back, or null (with [ChangesState.error]).
     */
    suspend fun undo(id: Long): List<Long>? {
        var failure: UiError? = null
        val undone = catching({ failure = it }) { mail.engine.cancelChange(id) }
        refresh() // it may have reached the server meanwhile
        _state.update { it.copy(undone = undone ?: emptyList(), error = failure ?: it.error) }
        return undone
    }

    suspend fun retry(id: Long) {
        catching({ e -> _state.update { it.copy(error = e) } }) { mail.call { it.retryChange(id) } }
        refresh()
    }

    suspend fun discard(id: Long) {
        catching({ e -> _state.update { it.copy(error = e) } }) { mail.call { it.discardChange(id) } }
        refresh()
    }
}
