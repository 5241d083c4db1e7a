package app.brevdue.android

import android.app.Activity
import android.content.Intent
import android.os.Bundle

/**
 * Receives the provider's redirect (`app.brevdue.android:/oauth2redirect?code=…&state=…`,
 * or `?error=access_denied&state=…` when the user cancelled) and hands it to
 * [MainActivity], brought back to the top: that closes the Custom Tab above it, and its
 * view model finishes the sign-in the `state` belongs to. Shows nothing itself.
 */
class OAuthRedirectActivity : Activity() {
    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        val uri = intent?.data
        if (uri != null && uri.scheme == REDIRECT_SCHEME && uri.path == REDIRECT_PATH) {
            startActivity(
                Intent(this, MainActivity::class.java)
                    .setAction(ACTION_SIGN_IN_REDIRECT)
                    .setData(uri)
                    .addFlags(Intent.FLAG_ACTIVITY_CLEAR_TOP or Intent.FLAG_ACTIVITY_SINGLE_TOP),
            )
        }
        finish()
    }

    companion object {
        /** The app's redirect URI, `app.brevdue.android:/oauth2redirect` (the kit's `SignIn.REDIRECT_URI`). */
        const val REDIRECT_SCHEME = "app.brevdue.android"
        const val REDIRECT_PATH = "/oauth2redirect"
        const val ACTION_SIGN_IN_REDIRECT = "app.brevdue.SIGN_IN_REDIRECT"
    }
}
