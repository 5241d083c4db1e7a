package app.brevdue.kit

import app.brevdue.core.BrevdueException
import app.brevdue.core.Folder
import app.brevdue.core.FolderListDiff
import app.brevdue.core.FolderListListener
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Job
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update

data class FoldersState(
    /** Null: the folders of every account. */
    val account: String? = null,
    /** In the engine's order (per account: Inbox, the special folders, then by name). */
    val folders: List<Folder> = emptyList(),
    val selected: String = "INBOX",
    val error: UiError? = null,
) {
    /** What the drawer lists: the folders that hold mail. */
    val drawer: List<Folder> get() = folders.filter { it.selectable }
}

/**
 * The folder drawer with unread counts, as the engine's live folder list: the whole list
 * first, then only what changed (a count, a new folder); nothing here reloads it.
 */
class FoldersViewModel(private val mail: Mail, scope: CoroutineScope) : AutoCloseable {
    private val _state = MutableStateFlow(FoldersState())
    val state: StateFlow<FoldersState> = _state.asStateFlow()
    private val live = LiveSubscription<Folder>()

    init {
        scope.coroutineContext[Job]?.invokeOnCompletion { close() }
    }

    /** Watches the folders of [account] (null: every account); returns once they are here. */
    suspend fun show(account: String?) {
        val before = live.start(
            onDiffs = { diffs -> _state.update { it.copy(folders = it.folders.applying(diffs), error = null) } },
            onError = { e -> _state.update { it.copy(error = UiError.of(e)) } },
            reset = { _state.update { FoldersState(account = account, selected = it.selected) } },
        ) { l ->
            mail.engine.watchFolders(account, object : FolderListListener {
                override fun onDiffs(diffs: List<FolderListDiff>) = l.diffs(diffs.map { it.toRowDiff() })
                override fun onError(error: BrevdueException) = l.error(error)
            })
        }
        live.awaitDelivery(before)
    }

    fun select(folder: String) = _state.update { it.copy(selected = folder) }

    /** Creates it here at once (it arrives in the list); the server follows through the queue. */
    suspend fun create(name: String): Boolean {
        val account = _state.value.account ?: return false
        return catching({ e -> _state.update { it.copy(error = e) } }) {
            mail.call { it.createFolder(account, name) }
        } != null
    }

    /** Stops the live list (also when the scope ends). */
    override fun close() = live.cancel()
}
