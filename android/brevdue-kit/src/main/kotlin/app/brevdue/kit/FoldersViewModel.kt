package app.brevdue.kit

import app.brevdue.core.Event
import app.brevdue.core.Folder
import app.brevdue.core.FolderRole
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update
import kotlinx.coroutines.launch
import kotlinx.coroutines.sync.Mutex
import kotlinx.coroutines.sync.withLock

data class FoldersState(
    val account: String? = null,
    val folders: List<Folder> = emptyList(),
    val selected: String = "INBOX",
    val error: UiError? = null,
) {
    /** Inbox and the special folders first, then the user's own, by name. */
    val drawer: List<Folder>
        get() = folders.filter { it.selectable }.sortedWith(
            compareBy<Folder>({ it.role?.let(ROLE_ORDER::indexOf) ?: ROLE_ORDER.size }, { it.name }),
        )

    companion object {
        private val ROLE_ORDER = listOf(
            FolderRole.INBOX, FolderRole.DRAFTS, FolderRole.SENT, FolderRole.ARCHIVE,
            FolderRole.JUNK, FolderRole.TRASH, FolderRole.ALL,
        )
    }
}

/** The folder drawer of one account, with unread counts kept current. */
class FoldersViewModel(private val mail: Mail, scope: CoroutineScope) {
    private val _state = MutableStateFlow(FoldersState())
    val state: StateFlow<FoldersState> = _state.asStateFlow()
    /** One reload at a time: one started earlier never overwrites a newer one. */
    private val loading = Mutex()

    init {
        scope.launch {
            mail.events.collect { e ->
                val account = _state.value.account
                val mine = when (e) {
                    is Event.FoldersChanged -> e.account == account
                    is Event.MessagesChanged -> e.account == account
                    is Event.SyncFinished -> e.account == account
                    else -> false
                }
                if (mine) refresh()
            }
        }
    }

    suspend fun show(account: String) {
        _state.update { it.copy(account = account) }
        refresh()
    }

    fun select(folder: String) = _state.update { it.copy(selected = folder) }

    suspend fun refresh() {
        loading.withLock {
            val account = _state.value.account ?: return@withLock
            catching({ e -> _state.update { it.copy(error = e) } }) {
                val folders = mail.call { it.folders(account) }
                _state.update { it.copy(folders = folders, error = null) }
            }
        }
    }

    /** Creates it here at once; the server follows through the change queue. */
    suspend fun create(name: String): Boolean {
        val account = _state.value.account ?: return false
        val ok = catching({ e -> _state.update { it.copy(error = e) } }) {
            mail.call { it.createFolder(account, name) }
        } != null
        refresh()
        return ok
    }
}
