package app.brevdue.kit

import app.brevdue.core.Advice
import app.brevdue.core.Attachment
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
    /** The original's attachments a forward carries along. */
    val attachments: List<Attachment> = emptyList(),
    /** Waiting for the engine's preview of a reply or forward. */
    val preparing: Boolean = false,
    /** The preview could not be made (e.g. the original is gone). */
    val error: UiError? = null,
    val sending: Boolean = false,
    val outcome: SendOutcome? = null,
) {
    /** Whether there is a recipient and so on is the engine's to say, when sending. */
    val canSend: Boolean get() = !sending && !preparing && account.isNotBlank()
}

/** The composer: fields as state, then the durable outbox and one sending attempt. */
class ComposerViewModel(private val mail: Mail) {
    private val _state = MutableStateFlow(ComposerState())
    val state: StateFlow<ComposerState> = _state.asStateFlow()

    /** Starts writing; a reply or forward is filled in from the engine's preview. */
    suspend fun start(account: String, mode: ComposeMode = ComposeMode.New) {
        _state.value = ComposerState(account = account, mode = mode, preparing = mode != ComposeMode.New)
        if (mode == ComposeMode.New) return
        val preview = catching({ e -> _state.update { it.copy(preparing = false, error = e) } }) {
            mail.engine.composePreview(mode)
        } ?: return
        _state.update {
            if (it.mode != mode || it.account != account) return@update it // started again meanwhile
            it.copy(
                to = formatAddressList(preview.to), cc = formatAddressList(preview.cc),
                subject = preview.subject, quoted = preview.quoted,
                attachments = preview.attachments, preparing = false,
            )
        }
    }

    fun edit(transform: (ComposerState) -> ComposerState) = _state.update(transform)

    /** Checks the recipients as typed, queues the message as written, then tries to send it. */
    suspend fun send(): SendOutcome {
        val s = _state.value
        val to = parseAddressList(s.to)
        val cc = parseAddressList(s.cc)
        val bcc = parseAddressList(s.bcc)
        val problems = to.problems + cc.problems + bcc.problems
        if (problems.isNotEmpty()) {
            return SendOutcome.Invalid(problems).also { o -> _state.update { it.copy(outcome = o) } }
        }
        _state.update { it.copy(sending = true, outcome = null) }
        val draft = Draft(
            account = s.account, from = null, to = to.addresses, cc = cc.addresses,
            bcc = bcc.addresses, subject = s.subject, body = s.body, attachments = emptyList(),
        )
        val outcome = try {
            // Written to the outbox first: nothing is lost if the app dies now. The engine
            // adds the quote, the threading headers and a forward's attachments.
            mail.engine.compose(s.mode, draft)
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
