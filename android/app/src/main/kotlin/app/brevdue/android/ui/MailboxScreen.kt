package app.brevdue.android.ui

import androidx.compose.foundation.clickable
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.items
import androidx.compose.material.icons.Icons
import androidx.compose.material.icons.filled.Create
import androidx.compose.material.icons.filled.Menu
import androidx.compose.material.icons.filled.Refresh
import androidx.compose.material.icons.filled.Search
import androidx.compose.material3.Badge
import androidx.compose.material3.Card
import androidx.compose.material3.ExperimentalMaterial3Api
import androidx.compose.material3.FloatingActionButton
import androidx.compose.material3.HorizontalDivider
import androidx.compose.material3.Icon
import androidx.compose.material3.IconButton
import androidx.compose.material3.LinearProgressIndicator
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.ModalDrawerSheet
import androidx.compose.material3.ModalNavigationDrawer
import androidx.compose.material3.NavigationDrawerItem
import androidx.compose.material3.Scaffold
import androidx.compose.material3.Switch
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.material3.TopAppBar
import androidx.compose.material3.rememberDrawerState
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.getValue
import androidx.compose.runtime.rememberCoroutineScope
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.text.font.FontWeight
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import app.brevdue.android.MailViewModel
import app.brevdue.android.R
import app.brevdue.android.Screen
import app.brevdue.core.MessageSummary
import app.brevdue.kit.AdviceViewModel
import app.brevdue.core.ComposeMode
import app.brevdue.core.FolderRole
import kotlinx.coroutines.launch

/** Folder drawer, sync status, advice, and the message list (or its conversations). */
@OptIn(ExperimentalMaterial3Api::class)
@Composable
fun MailboxScreen(
    model: MailViewModel,
    account: String?,
    onAccount: (String) -> Unit,
    navigate: (Screen) -> Unit,
) {
    val accounts by model.accounts.state.collectAsStateWithLifecycle()
    val folders by model.folders.state.collectAsStateWithLifecycle()
    val list by model.list.state.collectAsStateWithLifecycle()
    val sync by model.sync.status.collectAsStateWithLifecycle()
    val advice by model.advice.advice.collectAsStateWithLifecycle()
    val markReadOnOpen by model.reader.markReadOnOpen.collectAsStateWithLifecycle()
    val drawer = rememberDrawerState(androidx.compose.material3.DrawerValue.Closed)
    val scope = rememberCoroutineScope()

    ModalNavigationDrawer(drawerState = drawer, drawerContent = {
        ModalDrawerSheet {
            accounts.accounts.forEach { a ->
                NavigationDrawerItem(
                    label = { Text(a.email, fontWeight = FontWeight.Bold) },
                    selected = a.name == account,
                    onClick = { onAccount(a.name) },
                )
                if (a.name == account) {
                    AdviceViewModel.devicesExplanation(a).forEach {
                        Text(adviceText(it), Modifier.padding(horizontal = 16.dp),
                            style = MaterialTheme.typography.bodySmall)
                    }
                    NavigationDrawerItem(
                        label = { Text(stringResource(R.string.account_settings)) },
                        selected = false,
                        onClick = { navigate(Screen.Settings(a.name)) },
                    )
                }
            }
            HorizontalDivider()
            if (accounts.accounts.size > 1) {
                NavigationDrawerItem(
                    label = { Text(stringResource(R.string.all_inboxes)) },
                    selected = list.unified,
                    onClick = {
                        model.showUnifiedInbox()
                        scope.launch { drawer.close() }
                    },
                )
            }
            // The engine's live folder list: counts change as mail comes and goes.
            folders.drawer.forEach { f ->
                NavigationDrawerItem(
                    label = { Text(f.name) },
                    badge = { if (f.unread > 0u) Badge { Text("${f.unread}") } },
                    selected = !list.unified && f.name == list.folder && f.account == list.account,
                    onClick = {
                        model.folders.select(f.name)
                        model.act { model.list.show(f.account, f.name, list.threaded) }
                        scope.launch { drawer.close() }
                    },
                )
            }
            HorizontalDivider()
            Row(Modifier.padding(horizontal = 16.dp), verticalAlignment = Alignment.CenterVertically) {
                Text(stringResource(R.string.mark_read_on_open), Modifier.weight(1f))
                Switch(markReadOnOpen, { model.act { model.reader.setMarkReadOnOpen(it) } })
            }
            NavigationDrawerItem(label = { Text(stringResource(R.string.add_account)) }, selected = false,
                onClick = { navigate(Screen.Setup) })
        }
    }) {
        Scaffold(
            topBar = {
                TopAppBar(
                    title = { Text(if (list.unified) stringResource(R.string.all_inboxes) else list.folder) },
                    navigationIcon = {
                        IconButton(onClick = { scope.launch { drawer.open() } }) { Icon(Icons.Filled.Menu, stringResource(R.string.folders)) }
                    },
                    actions = {
                        IconButton(onClick = { navigate(Screen.Search) }) { Icon(Icons.Filled.Search, stringResource(R.string.search)) }
                        IconButton(onClick = { model.act { model.sync.sync(account) } }) {
                            Icon(Icons.Filled.Refresh, stringResource(R.string.sync_now))
                        }
                    },
                )
            },
            floatingActionButton = {
                FloatingActionButton(onClick = { model.compose(account ?: "", ComposeMode.New) }) {
                    Icon(Icons.Filled.Create, stringResource(R.string.write))
                }
            },
        ) { padding ->
            Column(Modifier.padding(padding).fillMaxSize()) {
                // Sync status with progress, as the engine keeps it.
                sync.current?.let { current ->
                    val progress = sync.progress
                    if (progress != null) LinearProgressIndicator(progress = { progress }, modifier = Modifier.fillMaxWidth())
                    else LinearProgressIndicator(Modifier.fillMaxWidth())
                    Text(stringResource(R.string.syncing, current.folder ?: "", if (current.total > 0u) "${current.done}/${current.total}" else ""),
                        Modifier.padding(horizontal = 16.dp), style = MaterialTheme.typography.bodySmall)
                }
                sync.error?.let { Text(errorText(it), Modifier.padding(16.dp), color = MaterialTheme.colorScheme.error) }
                // Each account's last failure, then what the last "sync now" left to do (the engine's advice).
                val problems = sync.problems
                (problems + sync.syncNowProblems.filterKeys { it !in problems }).forEach { (name, problem) ->
                    Text("$name: ${errorText(problem)}", Modifier.padding(horizontal = 16.dp),
                        color = MaterialTheme.colorScheme.error, style = MaterialTheme.typography.bodySmall)
                    // The provider no longer takes the sign-in: renew it in the browser.
                    if (problem.advice?.id == "oauth_sign_in_again") {
                        TextButton(onClick = { model.signInAgain(name) }, Modifier.padding(horizontal = 8.dp)) {
                            Text(stringResource(R.string.settings_sign_in_again))
                        }
                    }
                }
                list.error?.let { Text(errorText(it), Modifier.padding(horizontal = 16.dp), color = MaterialTheme.colorScheme.error) }
                // The POP3 advisory.
                advice.forEach { a ->
                    Card(Modifier.padding(8.dp).fillMaxWidth()) {
                        Column(Modifier.padding(12.dp)) {
                            Text(adviceText(a.advice, a.message))
                            Row {
                                TextButton(onClick = { model.advice.dismiss(a) }) { Text(stringResource(R.string.ok)) }
                                // "Made a Sent folder": another one can be chosen in the settings.
                                if (a.advice.id == "sent_folder_created") {
                                    TextButton(onClick = {
                                        model.advice.dismiss(a)
                                        navigate(Screen.Settings(a.account))
                                    }) { Text(stringResource(R.string.settings_choose_sent)) }
                                }
                            }
                        }
                    }
                }
                // Pending and failed changes and the outbox (the engine's counts).
                if (sync.waiting > 0 || sync.refused > 0 || sync.outbox > 0) {
                    TextButton(onClick = { navigate(Screen.Changes) }) {
                        Text(stringResource(R.string.changes_summary, sync.waiting, sync.refused, sync.outbox))
                    }
                }
                if (!list.unified) {
                    Row(Modifier.padding(horizontal = 16.dp), verticalAlignment = Alignment.CenterVertically) {
                        Text(stringResource(R.string.conversations), Modifier.weight(1f))
                        Switch(list.threaded, { model.act { model.list.setThreaded(it) } })
                    }
                }
                // In a Drafts folder a message opens in the composer, to go on writing it.
                val inDrafts = !list.unified && folders.folders.any {
                    it.account == list.account && it.name == list.folder && it.role == FolderRole.DRAFTS
                }
                val open = { id: Long -> if (inDrafts) model.openDraft(id) else navigate(Screen.Reader(id)) }
                LazyColumn(Modifier.fillMaxSize()) {
                    if (list.threaded) {
                        items(list.threads, key = { it.threadId }) { t ->
                            MessageRow(t.newest, count = t.count.toInt()) { open(t.newest.id) }
                        }
                    } else {
                        items(list.messages, key = { it.id }) { m ->
                            MessageRow(m) { open(m.id) }
                        }
                        // "Load more" near the end: the live list grows by a page (its limit).
                        item {
                            if (!list.endReached && !list.loading) LaunchedEffect(list.messages.size) { model.list.loadMore() }
                        }
                    }
                }
            }
        }
    }
}

/** One row: unread in bold, flag, answered/forwarded and attachment marks. */
@Composable
fun MessageRow(m: MessageSummary, count: Int = 1, onClick: () -> Unit) {
    Column(Modifier.fillMaxWidth().clickable(onClick = onClick).padding(horizontal = 16.dp, vertical = 8.dp)) {
        Row {
            Text(
                m.from.name ?: m.from.address,
                Modifier.weight(1f),
                fontWeight = if (m.flags.seen) FontWeight.Normal else FontWeight.Bold,
            )
            if (count > 1) Text(" ($count)")
            if (m.flags.flagged) Text(" ⚑", color = MaterialTheme.colorScheme.error)
            if (m.flags.answered) Text(" ↩")
            if (m.flags.forwarded) Text(" ↪")
            if (m.hasAttachments) Text(" 📎")
        }
        Text(m.subject, fontWeight = if (m.flags.seen) FontWeight.Normal else FontWeight.Bold, maxLines = 1)
    }
}
