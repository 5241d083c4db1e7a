package app.brevdue.android

import android.Manifest
import android.content.Intent
import android.os.Build
import android.os.Bundle
import androidx.activity.ComponentActivity
import androidx.activity.compose.BackHandler
import androidx.activity.compose.setContent
import androidx.activity.result.contract.ActivityResultContracts
import androidx.activity.viewModels
import androidx.compose.foundation.isSystemInDarkTheme
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.darkColorScheme
import androidx.compose.material3.lightColorScheme
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.saveable.rememberSaveable
import androidx.compose.runtime.setValue
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import app.brevdue.android.ui.AccountSettingsScreen
import app.brevdue.android.ui.AccountSetupScreen
import app.brevdue.android.ui.ChangesScreen
import app.brevdue.android.ui.ComposerScreen
import app.brevdue.android.ui.MailboxScreen
import app.brevdue.android.ui.ReaderScreen
import app.brevdue.android.ui.SearchScreen

/** The screens the app moves between. */
sealed interface Screen {
    data object Setup : Screen
    data object Mailbox : Screen
    data class Reader(val id: Long) : Screen
    /** What it shows is the composer view model's (a new message, reply, forward or draft). */
    data object Composer : Screen
    data object Search : Screen
    data object Changes : Screen
    /** [signInAgain]: the screen begins "sign in again" as it opens (offered with that advice). */
    data class Settings(val account: String, val signInAgain: Boolean = false) : Screen
}

class MainActivity : ComponentActivity() {
    private val model: MailViewModel by viewModels()

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        if (Build.VERSION.SDK_INT >= 33) {
            registerForActivityResult(ActivityResultContracts.RequestPermission()) {}
                .launch(Manifest.permission.POST_NOTIFICATIONS)
        }
        val files = AndroidFiles(this) // registers its pickers: before the activity starts
        model.browser.attach(this)
        if (savedInstanceState == null) {
            intent.getLongExtra(EXTRA_MESSAGE, -1L).takeIf { it >= 0 }?.let { model.screen = Screen.Reader(it) }
            signInRedirect(intent)
        }
        setContent {
            // Dark mode follows the system's.
            MaterialTheme(colorScheme = if (isSystemInDarkTheme()) darkColorScheme() else lightColorScheme()) {
                val accounts by model.accounts.state.collectAsStateWithLifecycle()
                val screen = model.screen
                var account by rememberSaveable { mutableStateOf<String?>(null) }
                LaunchedEffect(accounts.accounts) {
                    if (account == null) account = accounts.accounts.firstOrNull()?.name
                    account?.let { model.showAccount(it) }
                }
                val back = { model.screen = Screen.Mailbox }
                val navigate = { to: Screen -> model.screen = to }
                BackHandler(enabled = screen != Screen.Mailbox) { back() }
                when (val s = if (accounts.accounts.isEmpty() && screen == Screen.Mailbox) Screen.Setup else screen) {
                    Screen.Setup -> AccountSetupScreen(model, onDone = back)
                    Screen.Mailbox -> MailboxScreen(
                        model,
                        account = account,
                        onAccount = { account = it; model.showAccount(it) },
                        navigate = navigate,
                    )
                    is Screen.Reader -> ReaderScreen(model, s.id, files, onBack = back)
                    Screen.Composer -> ComposerScreen(model, files, onDone = back)
                    Screen.Search -> SearchScreen(model, onBack = back, open = { model.screen = Screen.Reader(it) })
                    Screen.Changes -> ChangesScreen(model, onBack = back)
                    is Screen.Settings -> AccountSettingsScreen(model, s.account, s.signInAgain, onBack = back, onRemoved = {
                        account = null
                        back()
                    })
                }
            }
        }
    }

    /** The sign-in's redirect, handed over by [OAuthRedirectActivity] (the Custom Tab above is gone). */
    override fun onNewIntent(intent: Intent) {
        super.onNewIntent(intent)
        setIntent(intent)
        signInRedirect(intent)
    }

    private fun signInRedirect(intent: Intent?) {
        if (intent?.action != OAuthRedirectActivity.ACTION_SIGN_IN_REDIRECT) return
        intent.data?.toString()?.let(model::signInRedirect)
        // Handled once: a recreated activity must not finish it again.
        setIntent(Intent(this, MainActivity::class.java))
    }

    override fun onDestroy() {
        model.browser.detach(this)
        super.onDestroy()
    }

    companion object {
        const val EXTRA_MESSAGE = "app.brevdue.MESSAGE"
    }
}
