package app.brevdue.kit

import app.brevdue.core.OAuthProvider
import app.brevdue.core.OAuthStart
import java.net.URLDecoder

/**
 * The OS boundary of an OAuth2 sign-in: opens the provider's page (on Android a Custom
 * Tab). The provider sends the browser back to [SignIn.REDIRECT_URI]; the app hands that
 * URL to the view model that began the sign-in. Tests fake only this.
 */
fun interface SignInBrowser {
    fun open(url: String)
}

/** A sign-in begun with `engine.beginSignIn`: the page to open, waiting for its redirect. */
data class SignIn(val provider: OAuthProvider, val start: OAuthStart) {
    /** The page the browser opens. */
    val url: String get() = start.url

    /** Whether [redirectUrl] (what the app was sent back to) answers this sign-in. */
    fun answeredBy(redirectUrl: String): Boolean = redirectState(redirectUrl) == start.state

    companion object {
        /** The app's redirect URI (its intent filter: scheme `app.brevdue.android`). */
        const val REDIRECT_URI = "app.brevdue.android:/oauth2redirect"

        /** The `state` parameter of a redirect URL, or null. */
        fun redirectState(redirectUrl: String): String? =
            redirectUrl.substringAfter('?', "").substringBefore('#').split('&')
                .map { it.split('=', limit = 2) }
                .firstOrNull { it.size == 2 && it[0] == "state" }
                ?.let { URLDecoder.decode(it[1], Charsets.UTF_8) }
    }
}
