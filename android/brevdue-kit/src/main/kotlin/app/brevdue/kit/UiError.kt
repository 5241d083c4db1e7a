package app.brevdue.kit

import app.brevdue.core.Advice
import app.brevdue.core.BrevdueException

/**
 * An engine failure as a screen shows it: its kind, the engine's English sentence (for
 * logs, and the fallback) and the engine's [Advice], which the app puts in the user's
 * language (`advice_<id>` resources). [advice] is null only for a failure that did not
 * come from the engine.
 */
data class UiError(val kind: String, val reason: String, val advice: Advice?) {
    companion object {
        fun of(error: Throwable): UiError = when (error) {
            is BrevdueException -> UiError(error::class.simpleName ?: "Error", error.reason, error.advice)
            else -> UiError("Error", error.message ?: error.toString(), null)
        }
    }
}

/** The engine's sentence in English, for logs (every variant has one). */
val BrevdueException.reason: String
    get() = when (this) {
        is BrevdueException.ConnectionRefused -> reason
        is BrevdueException.Timeout -> reason
        is BrevdueException.Network -> reason
        is BrevdueException.CertificateNotTrusted -> reason
        is BrevdueException.WrongHostName -> reason
        is BrevdueException.Tls -> reason
        is BrevdueException.AuthFailed -> reason
        is BrevdueException.ProtocolUnsupported -> reason
        is BrevdueException.PlaintextNotAllowed -> reason
        is BrevdueException.Protocol -> reason
        is BrevdueException.NotFound -> reason
        is BrevdueException.AlreadyExists -> reason
        is BrevdueException.InvalidInput -> reason
        is BrevdueException.MissingCredentials -> reason
        is BrevdueException.SendRefused -> reason
        is BrevdueException.Storage -> reason
        is BrevdueException.Closed -> reason
    }

/** What the user reads (every variant has it). */
val BrevdueException.advice: Advice
    get() = when (this) {
        is BrevdueException.ConnectionRefused -> advice
        is BrevdueException.Timeout -> advice
        is BrevdueException.Network -> advice
        is BrevdueException.CertificateNotTrusted -> advice
        is BrevdueException.WrongHostName -> advice
        is BrevdueException.Tls -> advice
        is BrevdueException.AuthFailed -> advice
        is BrevdueException.ProtocolUnsupported -> advice
        is BrevdueException.PlaintextNotAllowed -> advice
        is BrevdueException.Protocol -> advice
        is BrevdueException.NotFound -> advice
        is BrevdueException.AlreadyExists -> advice
        is BrevdueException.InvalidInput -> advice
        is BrevdueException.MissingCredentials -> advice
        is BrevdueException.SendRefused -> advice
        is BrevdueException.Storage -> advice
        is BrevdueException.Closed -> advice
    }

/** Runs [block]; a failure becomes a [UiError] passed to [onError] (rethrows cancellation). */
internal inline fun <T> catching(onError: (UiError) -> Unit, block: () -> T): T? =
    try {
        block()
    } catch (e: kotlinx.coroutines.CancellationException) {
        throw e
    } catch (e: Exception) {
        onError(UiError.of(e))
        null
    }
