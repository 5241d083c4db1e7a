package app.brevdue.kit

import app.brevdue.core.FlagChange
import app.brevdue.core.Message
import app.brevdue.core.Reading
import app.brevdue.core.ReadingOptions
import app.brevdue.core.RemoteContentScope
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update

sealed interface ReaderState {
    data object Empty : ReaderState
    data class Loading(val id: Long) : ReaderState
    data class Shown(
        val reading: Reading,
        /** Remote content is shown this time only ("show images this time"). */
        val remoteOnce: Boolean = false,
    ) : ReaderState {
        val message: Message get() = reading.message

        /** The engine's sanitized HTML, or null for text-only mail. */
        val html: String? get() = reading.message.html

        /** Remote images the engine left out; the screen offers to show them. */
        val blockedImages: Int get() = reading.blockedRemote.toInt()

        val remoteShown: Boolean get() = reading.remoteShown

        /** Remote content is shown because the user allowed it for this message or sender. */
        val remoteAllowed: Boolean get() = reading.remoteShown && !remoteOnce

        /** Why the body is missing (offline, gone from the server): the headers are shown. */
        val problem: UiError? get() = reading.problem?.toUiError()
    }
    data class Failed(val id: Long, val error: UiError) : ReaderState
}

/**
 * One message as the engine opens it for reading: the body fetched if needed, the HTML
 * sanitized, remote content as the user allowed it, and marked read if the setting says
 * so. Nothing of that is decided here.
 */
class ReaderViewModel(private val mail: Mail) {
    private val _state = MutableStateFlow<ReaderState>(ReaderState.Empty)
    val state: StateFlow<ReaderState> = _state.asStateFlow()
    private val _markReadOnOpen = MutableStateFlow(true)
    /** The setting: opening a message marks it read. */
    val markReadOnOpen: StateFlow<Boolean> = _markReadOnOpen.asStateFlow()
    private val _error = MutableStateFlow<UiError?>(null)
    /** An action on the message shown failed (the message stays shown). */
    val error: StateFlow<UiError?> = _error.asStateFlow()

    /** Reads the setting from the engine. */
    suspend fun loadSettings() {
        catching({ _error.value = it }) { _markReadOnOpen.value = mail.call { it.markReadOnOpen() } }
    }

    suspend fun setMarkReadOnOpen(mark: Boolean) {
        catching({ _error.value = it }) {
            mail.call { it.setMarkReadOnOpen(mark) }
            _markReadOnOpen.value = mark
        }
    }

    /** Opens [id]; [markRead] overrides the setting for this opening only. */
    suspend fun open(id: Long, markRead: Boolean? = null) = load(id, remoteOnce = false, markRead = markRead)

    /** Shows the remote images of the message on screen, this time only. */
    suspend fun showImagesOnce() {
        val s = _state.value as? ReaderState.Shown ?: return
        load(s.message.summary.id, remoteOnce = true, markRead = false)
    }

    /** Always shows remote content from this message's sender (stored by the engine). */
    suspend fun alwaysShowImagesFromSender() = setAllowed(RemoteContentScope.SENDER, true)

    /** Blocks remote content of this message and its sender again. */
    suspend fun blockImages() {
        val s = _state.value as? ReaderState.Shown ?: return
        val id = s.message.summary.id
        val ok = catching({ _error.value = it }) {
            mail.call {
                it.allowRemoteContent(id, RemoteContentScope.MESSAGE, false)
                it.allowRemoteContent(id, RemoteContentScope.SENDER, false)
            }
        }
        if (ok != null) load(id, remoteOnce = false, markRead = false)
    }

    private suspend fun setAllowed(scope: RemoteContentScope, allowed: Boolean) {
        val s = _state.value as? ReaderState.Shown ?: return
        val id = s.message.summary.id
        val ok = catching({ _error.value = it }) { mail.call { it.allowRemoteContent(id, scope, allowed) } }
        if (ok != null) load(id, remoteOnce = false, markRead = false)
    }

    /** Marks the message on screen (flag, unread) and shows it as it is then. */
    suspend fun mark(change: FlagChange) {
        val s = _state.value as? ReaderState.Shown ?: return
        val id = s.message.summary.id
        val ok = catching({ _error.value = it }) { mail.call { it.mark(listOf(id), change) } }
        if (ok != null) load(id, remoteOnce = s.remoteOnce, markRead = false)
    }

    /**
     * Opens attachment [index] of the message shown: the engine writes it into its
     * private cache and [viewer] shows it. Returns the file's path, or null (see [error]).
     */
    suspend fun openAttachment(index: Int, viewer: FileViewer): String? {
        val s = _state.value as? ReaderState.Shown ?: return null
        val attachment = s.message.attachments.getOrNull(index) ?: return null
        _error.value = null
        return catching({ _error.value = it }) {
            mail.engine.openAttachment(s.message.summary.id, index.toUInt()).also {
                viewer.view(it, attachment.name, attachment.mimeType)
            }
        }
    }

    /**
     * "Save as": the user picks a place through [picker] and the engine writes attachment
     * [index] there. Returns the path written, or null (cancelled, or see [error]).
     */
    suspend fun saveAttachment(index: Int, picker: FilePicker): String? {
        val s = _state.value as? ReaderState.Shown ?: return null
        val attachment = s.message.attachments.getOrNull(index) ?: return null
        _error.value = null
        return catching({ _error.value = it }) {
            picker.saveAs(attachment.name, attachment.mimeType) { path ->
                mail.engine.saveAttachment(s.message.summary.id, index.toUInt(), path)
            }
        }
    }

    private suspend fun load(id: Long, remoteOnce: Boolean, markRead: Boolean?) {
        if ((_state.value as? ReaderState.Shown)?.message?.summary?.id != id) _state.value = ReaderState.Loading(id)
        _error.value = null
        val reading = catching({ e -> _state.value = ReaderState.Failed(id, e) }) {
            mail.engine.openForReading(id, ReadingOptions(allowRemoteOnce = remoteOnce, markRead = markRead))
        } ?: return
        _state.update { ReaderState.Shown(reading, remoteOnce = remoteOnce && reading.remoteShown) }
    }

    fun closeMessage() {
        _state.value = ReaderState.Empty
    }
}
