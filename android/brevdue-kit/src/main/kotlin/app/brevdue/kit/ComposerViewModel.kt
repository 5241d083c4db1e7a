package app.brevdue.kit

import app.brevdue.core.Advice
import app.brevdue.core.Attachment
import app.brevdue.core.AttachmentFile
import app.brevdue.core.ComposeMode
import app.brevdue.core.Draft
import app.brevdue.core.SendReport
import app.brevdue.core.formatAddressList
import app.brevdue.core.parseAddressList
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update

/** How sending ended. */
sealed interface SendOutcome {
    /** Handed to the SMTP server. */
    data object Sent : SendOutcome
    /** In the outbox; sent when the server can be reached ([reason] in English, for logs). */
    data class Queued(val reason: String?) : SendOutcome {
        val advice: Advice get() = Advice("outbox_waiting", "")
    }
    /** Refused for good; kept as a draft. */
    data object Refused : SendOutcome
    /** Parts of To, Cc or Bcc that are not addresses (`address_invalid`); nothing was queued. */
    data class Invalid(val problems: List<Advice>) : SendOutcome
    data class Failed(val error: UiError) : SendOutcome
}

data class ComposerState(
    val account: String = "",
    val mode: ComposeMode = ComposeMode.New,
    /** As the user types them; a reply or forward starts from the engine's preview. */
    val to: String = "",
    val cc: String = "",
    val bcc: String = "",
    val subject: String = "",
    val body: String = "",
    /** What the engine puts below [body]: the quote, or the forwarded message (read-only). */
    val quoted: String = "",
    /** The original's attachments a forward carries along (the engine adds them). */
    val attachments: List<Attachment> = emptyList(),
    /** The files the user attached, with their bytes. */
    val files: List<AttachmentFile> = emptyList(),
    /** The draft this is (reopened, or the last save): the next save replaces it. */
    val draftId: Long? = null,
    val savingDraft: Boolean = false,
    /** Waiting for the engine's preview of a reply or forward. */
    val preparing: Boolean = false,
    /** The preview could not be made (e.g. the original is gone). */
    val error: UiError? = null,
    val sending: Boolean = false,
    val outcome: SendOutcome? = null,
) {
    /** Whether there is a recipient and so on is the engine's to say, when sending. */
    val canSend: Boolean get() = !sending && !preparing && !savingDraft && account.isNotBlank()
    val canSaveDraft: Boolean get() = canSend
}

/**
 * The composer: fields as state (kept here, so a screen rotation loses nothing), drafts
 * saved to the account's Drafts folder, then the durable outbox and one sending attempt.
 */
class ComposerViewModel(private val mail: Mail) {
    private val _state = MutableStateFlow(ComposerState())
    val state: StateFlow<ComposerState> = _state.asStateFlow()

    /** Starts writing; a reply or forward is filled in from the engine's preview. */
    suspend fun start(account: String, mode: ComposeMode = ComposeMode.New) {
        val started = ComposerState(account = account, mode = mode, preparing = mode != ComposeMode.New)
        _state.value = started
        if (mode == ComposeMode.New) return
        val preview = catching({ e -> _state.update { it.copy(preparing = false, error = e) } }) {
            mail.engine.composePreview(mode)
        } ?: return
        _state.update {
            if (it.mode != mode || it.account != account || it.draftId != null) return@update it // started again
            it.copy(
                to = formatAddressList(preview.to), cc = formatAddressList(preview.cc),
                subject = preview.subject, quoted = preview.quoted,
                attachments = preview.attachments, preparing = false,
            )
        }
    }

    /**
     * Reopens draft [id] (saved here or on another device): its recipients, Bcc, text,
     * attachments and the reply or forward it began as, with that mode's quote below.
     */
    suspend fun openDraft(id: Long): Boolean {
        _state.value = ComposerState(draftId = id, preparing = true)
        val saved = catching({ e -> _state.update { if (it.draftId == id) it.copy(preparing = false, error = e) else it } }) {
            mail.engine.openDraft(id)
        } ?: return false
        val d = saved.draft
        // The quote or forwarded message the engine will add, shown below the text.
        val preview = if (saved.mode == ComposeMode.New) null else catching({}) { mail.engine.composePreview(saved.mode) }
        var opened = false
        _state.update {
            if (it.draftId != id) return@update it // something else was started meanwhile
            opened = true
            ComposerState(
                account = d.account, mode = saved.mode, draftId = saved.id,
                to = formatAddressList(d.to), cc = formatAddressList(d.cc), bcc = formatAddressList(d.bcc),
                subject = d.subject, body = d.body, files = d.attachments,
                quoted = preview?.quoted ?: "", attachments = preview?.attachments ?: emptyList(),
            )
        }
        return opened
    }

    /** Adds the files the user picks through [picker]. */
    suspend fun attachFiles(picker: FilePicker) {
        val picked = catching({ e -> _state.update { it.copy(error = e) } }) { picker.pickFiles() } ?: return
        if (picked.isNotEmpty()) _state.update { it.copy(files = it.files + picked) }
    }

    fun removeFile(index: Int) = _state.update { s -> s.copy(files = s.files.filterIndexed { i, _ -> i != index }) }

    /**
     * Saves what the composer holds to Drafts (recipients may be missing), replacing the
     * last save. Returns the draft's id, or null (the outcome says why).
     */
    suspend fun saveDraft(): Long? {
        val s = _state.value
        val draft = draftOf(s) ?: return null
        _state.update { it.copy(savingDraft = true, outcome = null) }
        val id = catching({ e -> _state.update { it.copy(savingDraft = false, outcome = SendOutcome.Failed(e)) } }) {
            mail.engine.saveDraft(s.mode, draft, s.draftId)
        } ?: return null
        _state.update { it.copy(savingDraft = false, draftId = id) }
        return id
    }

    /** Throws the draft away, here and on the server, and empties the composer. */
    suspend fun discardDraft(): Boolean {
        val s = _state.value
        if (s.draftId != null) {
            catching({ e -> _state.update { it.copy(outcome = SendOutcome.Failed(e)) } }) {
                mail.call { it.discardDraft(s.draftId) }
            } ?: return false
        }
        _state.value = ComposerState(account = s.account)
        return true
    }

    /** The draft as the engine takes it, or null when a recipient field has a part that is not an address. */
    private fun draftOf(s: ComposerState): Draft? {
        val to = parseAddressList(s.to)
        val cc = parseAddressList(s.cc)
        val bcc = parseAddressList(s.bcc)
        val problems = to.problems + cc.problems + bcc.problems
        if (problems.isNotEmpty()) {
            _state.update { it.copy(outcome = SendOutcome.Invalid(problems)) }
            return null
        }
        return Draft(
            account = s.account, from = null, to = to.addresses, cc = cc.addresses,
            bcc = bcc.addresses, subject = s.subject, body = s.body, attachments = s.files,
        )
    }

    fun edit(transform: (ComposerState) -> ComposerState) = _state.update(transform)

    /**
     * Checks the recipients as typed, queues the message as written (a draft leaves
     * Drafts), then tries to send it.
     */
    suspend fun send(): SendOutcome {
        val s = _state.value
        val draft = draftOf(s) ?: return _state.value.outcome!!
        _state.update { it.copy(sending = true, outcome = null) }
        val outcome = try {
            // Written to the outbox first: nothing is lost if the app dies now. The engine
            // adds the quote, the threading headers and a forward's attachments.
            if (s.draftId != null) {
                mail.engine.sendDraft(s.draftId, s.mode, draft)
                _state.update { it.copy(draftId = null) } // gone from Drafts
            } else {
                mail.engine.compose(s.mode, draft)
            }
            outcomeOf(mail.engine.sendOutbox(s.account))
        } catch (e: kotlinx.coroutines.CancellationException) {
            throw e
        } catch (e: Exception) {
            SendOutcome.Failed(UiError.of(e))
        }
        _state.update { it.copy(sending = false, outcome = outcome) }
        return outcome
    }

    private fun outcomeOf(report: SendReport): SendOutcome = when {
        report.failed > 0u -> SendOutcome.Refused
        report.queued > 0u || report.offline != null -> SendOutcome.Queued(report.offline)
        else -> SendOutcome.Sent
    }
}
