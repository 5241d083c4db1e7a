package app.brevdue.android.ui

import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.rememberScrollState
import androidx.compose.foundation.verticalScroll
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import app.brevdue.android.MailViewModel

/** What has not reached the server yet, what it refused (retry or discard), the outbox. */
@Composable
fun ChangesScreen(model: MailViewModel, onBack: () -> Unit) {
    val state by model.changes.state.collectAsStateWithLifecycle()
    Column {
        BackBar("Changes", onBack) {
            TextButton(onClick = { model.act { model.changes.push() } }) { Text("Send now") }
        }
        Column(Modifier.padding(16.dp).verticalScroll(rememberScrollState())) {
            Text("Waiting for the server", style = MaterialTheme.typography.titleMedium)
            if (state.pending.isEmpty()) Text("Nothing: the server has everything.")
            state.pending.forEach { c ->
                Text("${c.target}${if (c.attempts > 0u) " — ${c.attempts} attempt(s): ${c.lastError}" else ""}")
            }
            Text("Refused by the server", Modifier.padding(top = 16.dp), style = MaterialTheme.typography.titleMedium)
            state.failed.forEach { c ->
                Column(Modifier.padding(vertical = 4.dp)) {
                    Text(c.target)
                    Text(c.lastError, color = MaterialTheme.colorScheme.error)
                    Row {
                        TextButton(onClick = { model.act { model.changes.retry(c.id) } }) { Text("Retry") }
                        TextButton(onClick = { model.act { model.changes.discard(c.id) } }) { Text("Discard") }
                    }
                }
            }
            Text("Outbox", Modifier.padding(top = 16.dp), style = MaterialTheme.typography.titleMedium)
            state.outbox.forEach { m ->
                Text("${m.subject} → ${m.recipients.joinToString()} (${m.state.name.lowercase()})")
            }
        }
    }
}
