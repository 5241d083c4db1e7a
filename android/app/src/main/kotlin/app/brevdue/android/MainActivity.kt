package app.brevdue.android

import android.Manifest
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
    data class Settings(val account: String) : Screen
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
        if (savedInstanceState == null) {
            intent.getLongExtra(EXTRA_MESSAGE, -1L).takeIf { it >= 0 }?.let { model.screen = Screen.Reader(it) }
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
                    is Screen.Settings -> AccountSettingsScreen(model, s.account, onBack = back, onRemoved = {
                        account = null
                        back()
                    })
                }
            }
        }
    }

    companion object {
        const val EXTRA_MESSAGE = "app.brevdue.MESSAGE"
    }
}
