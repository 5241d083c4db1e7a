package app.brevdue.android

import android.app.Application
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.setValue
import androidx.lifecycle.AndroidViewModel
import androidx.lifecycle.viewModelScope
import app.brevdue.core.ComposeMode
import app.brevdue.kit.AccountSettingsViewModel
import app.brevdue.kit.AccountSetupViewModel
import app.brevdue.kit.AccountsViewModel
import app.brevdue.kit.AdviceViewModel
import app.brevdue.kit.ChangesViewModel
import app.brevdue.kit.ComposerViewModel
import app.brevdue.kit.FoldersViewModel
import app.brevdue.kit.MessageListViewModel
import app.brevdue.kit.ReaderViewModel
import app.brevdue.kit.SearchViewModel
import app.brevdue.kit.SyncViewModel
import kotlinx.coroutines.launch

/**
 * The kit's view models (tested on the JVM), living as long as the activity's ViewModel;
 * their live lists end with [viewModelScope].
 */
class MailViewModel(app: Application) : AndroidViewModel(app) {
    private val mail = app.mail
    val accounts = AccountsViewModel(mail, viewModelScope)

    /** Where OAuth2 sign-in pages open (a Custom Tab); the activity attaches itself. */
    val browser = CustomTabBrowser(app)
    val setup = AccountSetupViewModel(mail, accounts, browser)
    val settings = AccountSettingsViewModel(mail, accounts, browser)
    val sync = SyncViewModel(mail, viewModelScope)
    val folders = FoldersViewModel(mail, viewModelScope)
    val list = MessageListViewModel(mail, viewModelScope)
    val reader = ReaderViewModel(mail)
    val composer = ComposerViewModel(mail)
    val search = SearchViewModel(mail)
    val changes = ChangesViewModel(mail, viewModelScope)
    val advice = AdviceViewModel(mail, viewModelScope)

    /**
     * The screen shown. Kept here, not in the activity, so a rotation (a new activity)
     * stays on it; the composer's text is the composer view model's and survives too.
     */
    var screen: Screen by mutableStateOf(Screen.Mailbox)

    /** Opens the composer for [mode] on [account] (a reply's account is its original's). */
    fun compose(account: String, mode: ComposeMode) {
        screen = Screen.Composer
        act { composer.start(account, mode) }
    }

    /** Reopens a draft in the composer (saved here or on another device). */
    fun openDraft(id: Long) {
        screen = Screen.Composer
        act { composer.openDraft(id) }
    }

    /** Runs a view-model action in this ViewModel's scope (the screens call this). */
    fun act(block: suspend () -> Unit) {
        viewModelScope.launch { block() }
    }

    init {
        act { reader.loadSettings() }
    }

    /** Shows an account: its folders, its Inbox, then a sync. The lists follow by themselves. */
    fun showAccount(name: String) = act {
        folders.show(name)
        list.show(name, folders.state.value.selected)
        sync.sync(name)
    }

    /**
     * The provider sent the browser back to the app ([OAuthRedirectActivity]): the sign-in
     * its `state` belongs to finishes. A new account then takes the same way as one added
     * with a password (the mailbox, its first sync); "sign in again" syncs the account.
     */
    fun signInRedirect(url: String) = act {
        val forSetup = setup.state.value.signIn
        val forSettings = settings.state.value.signIn
        // The one whose state it carries; else the one waiting (the engine then says what is wrong).
        if (forSetup?.answeredBy(url) == true || (forSetup != null && forSettings == null)) {
            if (setup.finishSignIn(url) != null) screen = Screen.Mailbox
        } else if (forSettings != null) {
            val account = settings.finishSignInAgain(url)
            if (account != null) sync.sync(account.name)
        }
    }

    /** "Sign in again" offered with an `oauth_sign_in_again` error: the account's settings, signing in. */
    fun signInAgain(account: String) {
        screen = Screen.Settings(account, signInAgain = true)
    }

    /** The Inbox of every account in one list. */
    fun showUnifiedInbox() = act {
        folders.select("INBOX")
        list.showUnifiedInbox()
    }
}
