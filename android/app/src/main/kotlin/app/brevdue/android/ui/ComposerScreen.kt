package app.brevdue.android.ui

import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.rememberScrollState
import androidx.compose.foundation.text.KeyboardOptions
import androidx.compose.foundation.verticalScroll
import androidx.compose.material3.LinearProgressIndicator
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.text.input.KeyboardType
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import app.brevdue.android.AndroidFiles
import app.brevdue.android.MailViewModel
import app.brevdue.android.R
import app.brevdue.core.ComposeMode
import app.brevdue.kit.SendOutcome

/**
 * New message, reply (to all), forward or a reopened draft: the engine's preview fills in
 * the recipients, the subject and the quote; the user may change any of them, attach
 * files, keep it in Drafts, or send it through the outbox. Everything shown is the
 * composer view model's state (started by [MailViewModel.compose] / [MailViewModel.openDraft]),
 * so a rotation loses nothing.
 */
@Composable
fun ComposerScreen(model: MailViewModel, files: AndroidFiles, onDone: () -> Unit) {
    val state by model.composer.state.collectAsStateWithLifecycle()
    val email = KeyboardOptions(keyboardType = KeyboardType.Email)
    Column {
        BackBar(
            stringResource(
                when (state.mode) {
                    is ComposeMode.Reply -> R.string.compose_reply
                    is ComposeMode.ReplyAll -> R.string.compose_reply_all
                    is ComposeMode.Forward -> R.string.compose_forward
                    else -> if (state.draftId != null) R.string.compose_draft else R.string.compose_new
                },
            ),
            onDone,
        ) {
            TextButton(enabled = state.canSaveDraft, onClick = {
                model.act { if (model.composer.saveDraft() != null) onDone() }
            }) { Text(stringResource(R.string.save_draft)) }
            TextButton(enabled = !state.sending && !state.savingDraft, onClick = {
                model.act { if (model.composer.discardDraft()) onDone() }
            }) { Text(stringResource(R.string.discard)) }
            TextButton(enabled = state.canSend, onClick = {
                model.act {
                    when (model.composer.send()) {
                        is SendOutcome.Failed, is SendOutcome.Invalid -> Unit // stays, with the advice
                        else -> onDone()
                    }
                }
            }) { Text(stringResource(R.string.send)) }
        }
        if (state.preparing || state.sending || state.savingDraft) LinearProgressIndicator(Modifier.fillMaxWidth())
        Column(Modifier.padding(16.dp).verticalScroll(rememberScrollState())) {
            state.error?.let { Text(errorText(it), color = MaterialTheme.colorScheme.error) }
            OutlinedTextField(state.to, { v -> model.composer.edit { it.copy(to = v) } },
                Modifier.fillMaxWidth(), label = { Text(stringResource(R.string.to)) }, keyboardOptions = email)
            OutlinedTextField(state.cc, { v -> model.composer.edit { it.copy(cc = v) } },
                Modifier.fillMaxWidth(), label = { Text(stringResource(R.string.cc)) }, keyboardOptions = email)
            OutlinedTextField(state.bcc, { v -> model.composer.edit { it.copy(bcc = v) } },
                Modifier.fillMaxWidth(), label = { Text(stringResource(R.string.bcc)) }, keyboardOptions = email)
            OutlinedTextField(state.subject, { v -> model.composer.edit { it.copy(subject = v) } },
                Modifier.fillMaxWidth(), label = { Text(stringResource(R.string.subject)) })
            OutlinedTextField(state.body, { v -> model.composer.edit { it.copy(body = v) } },
                Modifier.fillMaxWidth().padding(top = 8.dp), minLines = 8,
                label = { Text(stringResource(R.string.message_body)) })
            when (val o = state.outcome) {
                is SendOutcome.Queued -> Text(adviceText(o.advice, o.reason ?: ""))
                SendOutcome.Refused -> Text(stringResource(R.string.send_refused), color = MaterialTheme.colorScheme.error)
                is SendOutcome.Invalid -> o.problems.forEach {
                    Text(adviceText(it), color = MaterialTheme.colorScheme.error)
                }
                is SendOutcome.Failed -> {
                    Text(errorText(o.error), color = MaterialTheme.colorScheme.error)
                    // The provider no longer takes the sign-in: renew it, the message kept in Drafts.
                    if (o.error.advice?.id == "oauth_sign_in_again") {
                        TextButton(onClick = {
                            val account = state.account
                            model.act {
                                model.composer.saveDraft()
                                model.signInAgain(account)
                            }
                        }) {
                            Text(stringResource(R.string.settings_sign_in_again))
                        }
                    }
                }
                else -> Unit
            }
            // The user's files (bytes from the system's picker), then what the engine appends
            // below the text: a forward's attachments, and the quote or forwarded message.
            state.files.forEachIndexed { index, f ->
                Row(verticalAlignment = Alignment.CenterVertically) {
                    Text(stringResource(R.string.attachment_line, f.name, f.data.size.toLong()), Modifier.weight(1f))
                    TextButton(onClick = { model.composer.removeFile(index) }) { Text(stringResource(R.string.remove)) }
                }
            }
            TextButton(onClick = { model.act { model.composer.attachFiles(files) } }) { Text(stringResource(R.string.attach)) }
            state.attachments.forEach {
                Text(stringResource(R.string.attachment_line, it.name, it.size.toLong()), style = MaterialTheme.typography.bodySmall)
            }
            if (state.quoted.isNotEmpty()) {
                Text(state.quoted, Modifier.padding(top = 8.dp), style = MaterialTheme.typography.bodySmall,
                    color = MaterialTheme.colorScheme.onSurfaceVariant)
            }
        }
    }
}
