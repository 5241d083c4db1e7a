package app.brevdue.kit

import app.brevdue.core.FlagChange
import app.brevdue.core.MessageListListener
import app.brevdue.core.MessageQuery
import app.brevdue.core.MessageSummary
import app.brevdue.core.ThreadSummary
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.Job
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withContext

data class MessageListState(
    /** Null with folder "INBOX": the unified inbox of every account. */
    val account: String? = null,
    val folder: String = "INBOX",
    /** Newest first; grows a page at a time with [MessageListViewModel.loadMore]. */
    val messages: List<MessageSummary> = emptyList(),
    val endReached: Boolean = false,
    /** Waiting for the list, or for the next page. */
    val loading: Boolean = false,
    /** Conversations instead of messages (one account's folder only). */
    val threaded: Boolean = false,
    val threads: List<ThreadSummary> = emptyList(),
    val error: UiError? = null,
) {
    val unified: Boolean get() = account == null
}

/** Marks a row shows: unread, flagged, answered, forwarded, attachment. */
fun MessageSummary.marks(): String = buildString {
    append(if (flags.seen) ' ' else '*')
    append(if (flags.flagged) '!' else ' ')
    append(if (flags.answered) 'R' else if (flags.forwarded) 'F' else ' ')
    append(if (hasAttachments) '@' else ' ')
}

/**
 * One folder's messages (or the unified inbox), paged, with mark and move. The list is
 * the engine's live query: the whole page first, then only what changed; nothing here
 * reloads it. Actions change the store and the engine sends the difference.
 */
class MessageListViewModel(
    private val mail: Mail,
    scope: CoroutineScope,
    private val pageSize: Int = 50,
) : AutoCloseable {
    private val _state = MutableStateFlow(MessageListState())
    val state: StateFlow<MessageListState> = _state.asStateFlow()
    private val live = LiveSubscription<MessageSummary>()
    /**
     * Every row the engine sent: the [shown] ones, the next page, and one more that says
     * whether there is a page after that. So "load more" shows its page at once and knows
     * the end exactly (the engine says nothing when a larger limit adds no rows).
     */
    private var rows: List<MessageSummary> = emptyList()
    private var shown = pageSize

    private fun ahead() = shown + pageSize + 1

    init {
        scope.coroutineContext[Job]?.invokeOnCompletion { close() }
    }

    /**
     * Shows a folder of one account, or with [account] null that folder of every account
     * ("INBOX": the unified inbox); returns once the first page is here.
     */
    suspend fun show(account: String?, folder: String = "INBOX", threaded: Boolean = false) {
        val query = MessageQuery(account, folder, (2 * pageSize + 1).toUInt())
        val before = live.start(
            onDiffs = ::applyDiffs,
            onError = { e -> _state.update { it.copy(error = UiError.of(e), loading = false) } },
            reset = {
                rows = emptyList()
                shown = pageSize
                _state.value = MessageListState(
                    account = account, folder = folder,
                    threaded = threaded && account != null, loading = true,
                )
            },
        ) { l ->
            mail.engine.watchMessages(query, object : MessageListListener {
                override fun onDiffs(diffs: List<app.brevdue.core.MessageListDiff>) = l.diffs(diffs.map { it.toRowDiff() })
                override fun onError(error: app.brevdue.core.BrevdueException) = l.error(error)
            })
        }
        live.awaitDelivery(before)
    }

    /** Shows the Inbox of every account, newest first. */
    suspend fun showUnifiedInbox() = show(null, "INBOX")

    /** The next page, at once from the rows already here (no-op at the end). */
    suspend fun loadMore() {
        // Not a store call: it waits for the list's lock, which a callback may hold while it
        // reads the conversations, and reads them itself (see [publish]); off the caller's thread.
        withContext(Dispatchers.IO) {
            live.setLimit {
                val s = _state.value
                if (!s.loading && !s.endReached) {
                    shown += pageSize
                    publish()
                }
                ahead()
            }
        }
    }

    /** Runs on the engine's callback thread, one batch at a time. */
    private fun applyDiffs(diffs: List<RowDiff<MessageSummary>>) {
        rows = rows.applying(diffs)
        publish()
    }

    /** The state from [rows] (under the live list's lock). */
    private fun publish() {
        val s = _state.value
        var error: UiError? = null
        // Conversations have no live query in the engine yet: read them with each change, in
        // the same update as the rows. This runs on the engine's callback thread or on
        // [loadMore]'s, never the caller's, so it waits here for the engine's suspend call.
        val threads = if (s.threaded && s.account != null) {
            catching({ error = it }) {
                runBlocking { mail.call { it.threads(s.account, s.folder, shown.toUInt()) } }
            } ?: s.threads
        } else {
            emptyList()
        }
        _state.update {
            it.copy(
                messages = rows.take(shown), endReached = rows.size <= shown,
                threads = threads, loading = false, error = error,
            )
        }
    }

    /** Applies at once here; the server follows through the change queue. */
    suspend fun mark(ids: List<Long>, change: FlagChange) {
        catching({ e -> _state.update { it.copy(error = e) } }) { mail.call { it.mark(ids, change) } }
    }

    suspend fun move(ids: List<Long>, folder: String) {
        catching({ e -> _state.update { it.copy(error = e) } }) { mail.call { it.moveMessages(ids, folder) } }
    }

    suspend fun archive(ids: List<Long>) {
        catching({ e -> _state.update { it.copy(error = e) } }) { mail.call { it.archive(ids) } }
    }

    suspend fun delete(ids: List<Long>) {
        catching({ e -> _state.update { it.copy(error = e) } }) { mail.call { it.delete(ids) } }
    }

    suspend fun setThreaded(threaded: Boolean) {
        val s = _state.value
        show(s.account, s.folder, threaded)
    }

    /** Stops the live list (also when the scope ends). */
    override fun close() = live.cancel()
}
