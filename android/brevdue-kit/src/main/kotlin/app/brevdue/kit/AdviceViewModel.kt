package app.brevdue.kit

import app.brevdue.core.Account
import app.brevdue.core.Event
import app.brevdue.core.Protocol
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update
import kotlinx.coroutines.launch

/** One piece of advice for an account, e.g. "read on more than one device". */
data class Advice(val account: String, val message: String)

/**
 * The POP3 advisory: the engine's own (mail left the server without this device deleting
 * it) or the user's ("I read this account on my PC too"), plus the devices explanation.
 */
class AdviceViewModel(private val mail: Mail, scope: CoroutineScope) {
    private val _advice = MutableStateFlow<List<Advice>>(emptyList())
    val advice: StateFlow<List<Advice>> = _advice.asStateFlow()

    init {
        scope.launch {
            mail.events.collect { e ->
                if (e is Event.Advisory) {
                    _advice.update { list ->
                        val item = Advice(e.account, e.message)
                        if (item in list) list else list + item
                    }
                }
            }
        }
    }

    /** The user says they read this account elsewhere too; POP3 accounts get advice. */
    suspend fun readOnAnotherDevice(account: String) {
        mail.call { it.readOnAnotherDevice(account) }
    }

    fun dismiss(advice: Advice) = _advice.update { it - advice }

    companion object {
        /** What the account screen says about devices, from the account's capabilities. */
        fun devicesExplanation(account: Account): String =
            if (account.protocol == Protocol.IMAP && account.capabilities.syncsReadState) {
                "IMAP: reading, replying, filing and deleting here reach the server, so your " +
                    "other devices see them."
            } else {
                "POP3: this phone keeps its own copy. Read state, folders and sent mail stay " +
                    "on this phone and never reach your other devices. If you read this account " +
                    "on more than one device, switch to IMAP."
            }
    }
}
