package app.brevdue.kit

import app.brevdue.core.Event
import app.brevdue.core.FlagChange
import app.brevdue.core.MessageSummary
import app.brevdue.core.ThreadSummary
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update
import kotlinx.coroutines.launch
import kotlinx.coroutines.sync.Mutex
import kotlinx.coroutines.sync.withLock

data class MessageListState(
    val account: String? = null,
    val folder: String = "INBOX",
    /** Newest first; grows a page at a time with [MessageListViewModel.loadMore]. */
    val messages: List<MessageSummary> = emptyList(),
    val endReached: Boolean = false,
    val loading: Boolean = false,
    /** Conversations instead of messages. */
    val threaded: Boolean = false,
    val threads: List<ThreadSummary> = emptyList(),
    val error: UiError? = null,
)

/** Marks a row shows: unread, flagged, answered, forwarded, attachment. */
fun MessageSummary.marks(): String = buildString {
    append(if (flags.seen) ' ' else '*')
    append(if (flags.flagged) '!' else ' ')
    append(if (flags.answered) 'R' else if (flags.forwarded) 'F' else ' ')
    append(if (hasAttachments) '@' else ' ')
}

/** One folder's messages, paged, with mark and move. */
class MessageListViewModel(
    private val mail: Mail,
    scope: CoroutineScope,
    private val pageSize: Int = 50,
) {
    private val _state = MutableStateFlow(MessageListState())
    val state: StateFlow<MessageListState> = _state.asStateFlow()
    private val loading = Mutex()

    init {
        scope.launch {
            mail.events.collect { e ->
                val s = _state.value
                if (e is Event.MessagesChanged && e.account == s.account) reload()
            }
        }
    }

    suspend fun show(account: String, folder: String = "INBOX", threaded: Boolean = false) {
        _state.value = MessageListState(account = account, folder = folder, threaded = threaded)
        loadMore()
    }

    /** The next page (no-op at the end). */
    suspend fun loadMore() = loading.withLock {
        val s = _state.value
        val account = s.account ?: return@withLock
        if (s.endReached) return@withLock
        _state.update { it.copy(loading = true) }
        catching({ e -> _state.update { it.copy(error = e, loading = false) } }) {
            val page = mail.call {
                it.messages(account, s.folder, pageSize.toUInt(), s.messages.size.toUInt())
            }
            val threads = if (s.threaded) {
                mail.call { it.threads(account, s.folder, (s.messages.size + pageSize).toUInt()) }
            } else {
                emptyList()
            }
            _state.update {
                it.copy(
                    messages = it.messages + page, endReached = page.size < pageSize,
                    threads = threads, loading = false, error = null,
                )
            }
        }
    }

    /** Reloads what is shown (as many rows as are loaded now, at least one page). */
    suspend fun reload() = loading.withLock {
        val s = _state.value
        val account = s.account ?: return@withLock
        val count = maxOf(s.messages.size, pageSize)
        catching({ e -> _state.update { it.copy(error = e) } }) {
            val messages = mail.call { it.messages(account, s.folder, count.toUInt(), 0u) }
            val threads = if (s.threaded) mail.call { it.threads(account, s.folder, count.toUInt()) } else emptyList()
            _state.update {
                it.copy(messages = messages, threads = threads, endReached = messages.size < count, error = null)
            }
        }
    }

    /** Applies at once here; the server follows through the change queue. */
    suspend fun mark(ids: List<Long>, change: FlagChange) {
        catching({ e -> _state.update { it.copy(error = e) } }) { mail.call { it.mark(ids, change) } }
        reload()
    }

    suspend fun move(ids: List<Long>, folder: String) {
        catching({ e -> _state.update { it.copy(error = e) } }) { mail.call { it.moveMessages(ids, folder) } }
        reload()
    }

    suspend fun archive(ids: List<Long>) {
        catching({ e -> _state.update { it.copy(error = e) } }) { mail.call { it.archive(ids) } }
        reload()
    }

    suspend fun delete(ids: List<Long>) {
        catching({ e -> _state.update { it.copy(error = e) } }) { mail.call { it.delete(ids) } }
        reload()
    }

    suspend fun setThreaded(threaded: Boolean) {
        val s = _state.value
        show(s.account ?: return, s.folder, threaded)
    }
}
