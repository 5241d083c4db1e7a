package app.brevdue.kit

import app.brevdue.core.Address
import app.brevdue.core.Draft
import app.brevdue.core.SendReport
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update

/** What the composer writes: a new message, a reply (to all) or a forward. */
sealed interface ComposeMode {
    data object New : ComposeMode
    data class Reply(val original: Long, val all: Boolean = false) : ComposeMode
    data class Forward(val original: Long) : ComposeMode
}

/** How sending ended. */
sealed interface SendOutcome {
    /** Handed to the SMTP server. */
    data object Sent : SendOutcome
    /** In the outbox; sent when the server can be reached (the reason, for people). */
    data class Queued(val reason: String?) : SendOutcome
    /** Refused for good; kept as a draft. */
    data object Refused : SendOutcome
    data class Failed(val error: UiError) : SendOutcome
}

data class ComposerState(
    val account: String = "",
    val mode: ComposeMode = ComposeMode.New,
    val to: String = "",
    val cc: String = "",
    val subject: String = "",
    val body: String = "",
    val sending: Boolean = false,
    val outcome: SendOutcome? = null,
) {
    /** A reply takes its recipients and subject from the original. */
    val canSend: Boolean
        get() = !sending && account.isNotBlank() && (mode !is ComposeMode.New || to.isNotBlank())
}

/** Parses "Name <a@b>, c@d" into addresses. */
fun parseAddresses(text: String): List<Address> = text.split(',', ';')
    .map { it.trim() }
    .filter { it.isNotEmpty() }
    .map { part ->
        val m = Regex("^(.*)<([^>]+)>$").find(part)
        if (m != null) {
            Address(m.groupValues[1].trim().trim('"').ifEmpty { null }, m.groupValues[2].trim())
        } else {
            Address(null, part)
        }
    }

/** The composer: fields as state, then the durable outbox and one sending attempt. */
class ComposerViewModel(private val mail: Mail) {
    private val _state = MutableStateFlow(ComposerState())
    val state: StateFlow<ComposerState> = _state.asStateFlow()

    fun start(account: String, mode: ComposeMode = ComposeMode.New) {
        _state.value = ComposerState(account = account, mode = mode)
    }

    fun edit(transform: (ComposerState) -> ComposerState) = _state.update(transform)

    suspend fun send(): SendOutcome {
        val s = _state.value
        _state.update { it.copy(sending = true, outcome = null) }
        val draft = Draft(
            account = s.account, from = null, to = parseAddresses(s.to), cc = parseAddresses(s.cc),
            bcc = emptyList(), subject = s.subject, body = s.body, attachments = emptyList(),
        )
        val outcome = try {
            // Written to the outbox first: nothing is lost if the app dies now.
            when (val mode = s.mode) {
                ComposeMode.New -> mail.engine.send(draft)
                is ComposeMode.Reply -> mail.engine.reply(mode.original, mode.all, draft)
                is ComposeMode.Forward -> mail.engine.forward(mode.original, draft)
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
