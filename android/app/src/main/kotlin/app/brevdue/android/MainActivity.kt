package app.brevdue.android

import android.Manifest
import android.os.Build
import android.os.Bundle
import androidx.activity.ComponentActivity
import androidx.activity.compose.BackHandler
import androidx.activity.compose.setContent
import androidx.activity.result.contract.ActivityResultContracts
import androidx.activity.viewModels
import androidx.compose.material3.MaterialTheme
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.saveable.rememberSaveable
import androidx.compose.runtime.setValue
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import app.brevdue.android.ui.AccountSetupScreen
import app.brevdue.android.ui.ChangesScreen
import app.brevdue.android.ui.ComposerScreen
import app.brevdue.android.ui.MailboxScreen
import app.brevdue.android.ui.ReaderScreen
import app.brevdue.android.ui.SearchScreen
import app.brevdue.core.ComposeMode

/** The screens the app moves between. */
sealed interface Screen {
    data object Setup : Screen
    data object Mailbox : Screen
    data class Reader(val id: Long) : Screen
    data class Composer(val mode: ComposeMode) : Screen
    data object Search : Screen
    data object Changes : Screen
}

class MainActivity : ComponentActivity() {
    private val model: MailViewModel by viewModels()

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        if (Build.VERSION.SDK_INT >= 33) {
            registerForActivityResult(ActivityResultContracts.RequestPermission()) {}
                .launch(Manifest.permission.POST_NOTIFICATIONS)
        }
        val fromNotification = intent.getLongExtra(EXTRA_MESSAGE, -1L).takeIf { it >= 0 }
        setContent {
            MaterialTheme {
                val accounts by model.accounts.state.collectAsStateWithLifecycle()
                var screen: Screen by remember {
                    mutableStateOf(fromNotification?.let { Screen.Reader(it) } ?: Screen.Mailbox)
                }
                var account by rememberSaveable { mutableStateOf<String?>(null) }
                LaunchedEffect(accounts.accounts) {
                    if (account == null) account = accounts.accounts.firstOrNull()?.name
                    account?.let { model.showAccount(it) }
                }
                val back = { screen = Screen.Mailbox }
                BackHandler(enabled = screen != Screen.Mailbox) { back() }
                when (val s = if (accounts.accounts.isEmpty() && screen == Screen.Mailbox) Screen.Setup else screen) {
                    Screen.Setup -> AccountSetupScreen(model, onDone = back)
                    Screen.Mailbox -> MailboxScreen(
                        model,
                        account = account,
                        onAccount = { account = it; model.showAccount(it) },
                        navigate = { screen = it },
                    )
                    is Screen.Reader -> ReaderScreen(model, s.id, onBack = back, navigate = { screen = it })
                    is Screen.Composer -> ComposerScreen(model, account ?: "", s.mode, onDone = back)
                    Screen.Search -> SearchScreen(model, onBack = back, open = { screen = Screen.Reader(it) })
                    Screen.Changes -> ChangesScreen(model, onBack = back)
                }
            }
        }
    }

    companion object {
        const val EXTRA_MESSAGE = "app.brevdue.MESSAGE"
    }
}
