package app.brevdue.kit

import app.brevdue.core.BrevdueException

/** An engine failure as a screen shows it: its kind and a sentence, plus what to do. */
data class UiError(val kind: String, val message: String) {
    /** What the user can do about it. */
    val hint: String
        get() = when (kind) {
            "AuthFailed" -> "The server refused the user name or password."
            "MissingCredentials" -> "No password is stored for this account: enter it again."
            "CertificateNotTrusted", "WrongHostName", "Tls" ->
                "The server's certificate could not be verified; the connection was not used."
            "ConnectionRefused", "Timeout", "Network" ->
                "The server cannot be reached now. Changes wait and are sent later."
            "PlaintextNotAllowed" -> "The server offers no encryption; choose TLS or STARTTLS."
            "SendRefused" -> "The server refused the message; it was kept in Drafts."
            else -> message
        }

    companion object {
        fun of(error: Throwable): UiError = when (error) {
            is BrevdueException -> UiError(error::class.simpleName ?: "Error", error.reason)
            else -> UiError("Error", error.message ?: error.toString())
        }
    }
}

/** The engine's sentence for people (the variant's one field). */
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
