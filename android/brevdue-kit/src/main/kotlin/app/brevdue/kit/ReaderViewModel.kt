package app.brevdue.kit

import app.brevdue.core.FlagChange
import app.brevdue.core.Message
import app.brevdue.core.SafeHtml
import app.brevdue.core.sanitizeHtml
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update

sealed interface ReaderState {
    data object Empty : ReaderState
    data class Loading(val id: Long) : ReaderState
    data class Shown(
        val message: Message,
        /** The HTML part made safe to show, or null for text-only mail. */
        val html: SafeHtml?,
        val remoteImages: Boolean,
    ) : ReaderState {
        /** Remote images that were left out; the screen offers "show images". */
        val blockedImages: Int get() = html?.blockedRemote?.toInt() ?: 0
    }
    data class Failed(val id: Long, val error: UiError) : ReaderState
}

/** One message: fetched on demand, marked read, HTML sanitized, remote images on request. */
class ReaderViewModel(private val mail: Mail) {
    private val _state = MutableStateFlow<ReaderState>(ReaderState.Empty)
    val state: StateFlow<ReaderState> = _state.asStateFlow()

    suspend fun open(id: Long, markRead: Boolean = true) {
        _state.value = ReaderState.Loading(id)
        val message = catching({ e -> _state.value = ReaderState.Failed(id, e) }) {
            // Downloads the body if only the headers are here (BODY.PEEK: not marked read).
            val message = mail.engine.openMessage(id)
            if (markRead && !message.summary.flags.seen) {
                mail.call { it.mark(listOf(id), FlagChange.READ) }
                mail.call { it.message(id) }
            } else {
                message
            }
        } ?: return
        _state.value = ReaderState.Shown(message, message.html?.let { sanitizeHtml(it, false) }, false)
    }

    /** Shows (or hides again) remote images of the message on screen. */
    fun setRemoteImages(allow: Boolean) = _state.update { s ->
        if (s is ReaderState.Shown) {
            s.copy(html = s.message.html?.let { sanitizeHtml(it, allow) }, remoteImages = allow)
        } else {
            s
        }
    }

    fun closeMessage() {
        _state.value = ReaderState.Empty
    }
}
