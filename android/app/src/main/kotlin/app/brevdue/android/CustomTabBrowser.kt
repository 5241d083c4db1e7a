package app.brevdue.android

import android.app.Activity
import android.content.ActivityNotFoundException
import android.content.Context
import android.content.Intent
import android.net.Uri
import android.widget.Toast
import androidx.browser.customtabs.CustomTabsIntent
import app.brevdue.kit.SignInBrowser
import java.lang.ref.WeakReference

/**
 * Opens an OAuth2 sign-in page in a Custom Tab: the user's own browser (its saved logins,
 * its address bar), never a WebView of ours. The provider sends it back to
 * `app.brevdue.android:/oauth2redirect`, which [OAuthRedirectActivity] receives.
 *
 * Opened from the activity on screen when there is one, so the tab sits in the app's task
 * and closes when the redirect brings [MainActivity] back to the top.
 */
class CustomTabBrowser(private val app: Context) : SignInBrowser {
    @Volatile
    private var shown: WeakReference<Activity>? = null

    /** The activity on screen (MainActivity, from onCreate). */
    fun attach(activity: Activity) {
        shown = WeakReference(activity)
    }

    /** [activity] is going (onDestroy); a newer one may already be attached. */
    fun detach(activity: Activity) {
        if (shown?.get() === activity) shown = null
    }

    override fun open(url: String) {
        val tab = CustomTabsIntent.Builder().setShowTitle(true).build()
        val activity = shown?.get()?.takeUnless { it.isFinishing || it.isDestroyed }
        val context: Context = activity ?: app.also { tab.intent.addFlags(Intent.FLAG_ACTIVITY_NEW_TASK) }
        try {
            tab.launchUrl(context, Uri.parse(url))
        } catch (e: ActivityNotFoundException) {
            Toast.makeText(app, app.getString(R.string.signin_no_browser), Toast.LENGTH_LONG).show()
        }
    }
}
