package app.brevdue.android.ui

import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.getValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import app.brevdue.android.MailViewModel
import app.brevdue.kit.ComposeMode
import app.brevdue.kit.SendOutcome

/** New message, reply (to all) or forward; it goes through the durable outbox. */
@Composable
fun ComposerScreen(model: MailViewModel, account: String, mode: ComposeMode, onDone: () -> Unit) {
    LaunchedEffect(account, mode) { model.composer.start(account, mode) }
    val state by model.composer.state.collectAsStateWithLifecycle()
    Column {
        BackBar(
            when (mode) {
                ComposeMode.New -> "New message"
                is ComposeMode.Reply -> if (mode.all) "Reply to all" else "Reply"
                is ComposeMode.Forward -> "Forward"
            },
            onDone,
        ) {
            TextButton(enabled = state.canSend, onClick = {
                model.act { if (model.composer.send() !is SendOutcome.Failed) onDone() }
            }) { Text("Send") }
        }
        Column(Modifier.padding(16.dp)) {
            if (mode !is ComposeMode.Reply) {
                OutlinedTextField(state.to, { v -> model.composer.edit { it.copy(to = v) } },
                    Modifier.fillMaxWidth(), label = { Text("To") })
            }
            OutlinedTextField(state.cc, { v -> model.composer.edit { it.copy(cc = v) } },
                Modifier.fillMaxWidth(), label = { Text("Cc") })
            if (mode is ComposeMode.New) {
                OutlinedTextField(state.subject, { v -> model.composer.edit { it.copy(subject = v) } },
                    Modifier.fillMaxWidth(), label = { Text("Subject") })
            }
            OutlinedTextField(state.body, { v -> model.composer.edit { it.copy(body = v) } },
                Modifier.fillMaxWidth().padding(top = 8.dp), minLines = 8, label = { Text("Message") })
            when (val o = state.outcome) {
                is SendOutcome.Queued -> Text("In the outbox; it is sent when the server can be reached. ${o.reason ?: ""}")
                SendOutcome.Refused -> Text("The server refused it; it was kept in Drafts.", color = MaterialTheme.colorScheme.error)
                is SendOutcome.Failed -> Text(o.error.hint, color = MaterialTheme.colorScheme.error)
                else -> Unit
            }
        }
    }
}
