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
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import app.brevdue.android.MailViewModel
import app.brevdue.android.R

/** What has not reached the server yet (undo), what it refused (retry or discard), the outbox. */
@Composable
fun ChangesScreen(model: MailViewModel, onBack: () -> Unit) {
    val state by model.changes.state.collectAsStateWithLifecycle()
    Column {
        BackBar(stringResource(R.string.changes), onBack) {
            TextButton(onClick = { model.act { model.changes.push() } }) { Text(stringResource(R.string.send_now)) }
        }
        Column(Modifier.padding(16.dp).verticalScroll(rememberScrollState())) {
            state.error?.let { Text(errorText(it), color = MaterialTheme.colorScheme.error) }
            Text(stringResource(R.string.changes_waiting), style = MaterialTheme.typography.titleMedium)
            if (state.pending.isEmpty()) Text(stringResource(R.string.changes_none_waiting))
            // Undo takes back the change here, with the waiting ones that depend on it (the engine decides which).
            state.pending.forEach { c ->
                Row(verticalAlignment = Alignment.CenterVertically) {
                    Text(
                        if (c.attempts > 0u) stringResource(R.string.change_attempts, c.target, c.attempts.toInt(), c.lastError) else c.target,
                        Modifier.weight(1f),
                    )
                    TextButton(onClick = { model.act { model.changes.undo(c.id) } }) { Text(stringResource(R.string.undo)) }
                }
            }
            Text(stringResource(R.string.changes_refused), Modifier.padding(top = 16.dp), style = MaterialTheme.typography.titleMedium)
            state.failed.forEach { c ->
                Column(Modifier.padding(vertical = 4.dp)) {
                    Text(c.target)
                    Text(c.lastError, color = MaterialTheme.colorScheme.error)
                    Row {
                        TextButton(onClick = { model.act { model.changes.retry(c.id) } }) { Text(stringResource(R.string.retry)) }
                        TextButton(onClick = { model.act { model.changes.discard(c.id) } }) { Text(stringResource(R.string.discard)) }
                    }
                }
            }
            Text(stringResource(R.string.outbox), Modifier.padding(top = 16.dp), style = MaterialTheme.typography.titleMedium)
            state.outbox.forEach { m ->
                Text("${m.subject} → ${m.recipients.joinToString()} (${m.state.name.lowercase()})")
            }
        }
    }
}
