package app.brevdue.kit

import app.brevdue.core.Account
import app.brevdue.core.Advice
import app.brevdue.core.Event
import app.brevdue.core.Protocol
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update
import kotlinx.coroutines.launch

/** The engine's advice for one account (e.g. `pop3_read_elsewhere`); [message] is its English. */
data class AccountAdvice(val account: String, val advice: Advice, val message: String)

/**
 * The POP3 advisory: the engine's own (mail left the server without this device deleting
 * it) or the user's ("I read this account on my PC too"), plus the devices explanation.
 */
class AdviceViewModel(private val mail: Mail, scope: CoroutineScope) {
    private val _advice = MutableStateFlow<List<AccountAdvice>>(emptyList())
    val advice: StateFlow<List<AccountAdvice>> = _advice.asStateFlow()

    init {
        scope.launch {
            mail.events.collect { e ->
                if (e is Event.Advisory) {
                    _advice.update { list ->
                        val item = AccountAdvice(e.account, e.advice, e.message)
                        if (list.any { it.account == item.account && it.advice == item.advice }) list else list + item
                    }
                }
            }
        }
    }

    /** The user says they read this account elsewhere too; POP3 accounts get advice. */
    suspend fun readOnAnotherDevice(account: String) {
        mail.call { it.readOnAnotherDevice(account) }
    }

    fun dismiss(advice: AccountAdvice) = _advice.update { it - advice }

    companion object {
        /**
         * What the account screen says about devices, from the account's capabilities:
         * `imap_explained`, or for POP3 `pop3_explained` then `pop_or_imap`.
         */
        fun devicesExplanation(account: Account): List<Advice> =
            if (account.protocol == Protocol.IMAP && account.capabilities.syncsReadState) {
                listOf(Advice("imap_explained", ""))
            } else {
                listOf(Advice("pop3_explained", ""), Advice("pop_or_imap", ""))
            }
    }
}
