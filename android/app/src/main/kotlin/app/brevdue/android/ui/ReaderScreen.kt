package app.brevdue.android.ui

import android.webkit.WebView
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.rememberScrollState
import androidx.compose.foundation.verticalScroll
import androidx.compose.material3.CircularProgressIndicator
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.getValue
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.unit.dp
import androidx.compose.ui.viewinterop.AndroidView
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import app.brevdue.android.MailViewModel
import app.brevdue.android.R
import app.brevdue.android.AndroidFiles
import app.brevdue.core.FlagChange
import app.brevdue.core.ComposeMode
import app.brevdue.kit.ReaderState

/**
 * One message as the engine opens it (body fetched, HTML sanitized, remote content as the
 * user allowed it, marked read if the setting says so) in a locked-down WebView.
 */
@Composable
fun ReaderScreen(model: MailViewModel, id: Long, files: AndroidFiles, onBack: () -> Unit) {
    LaunchedEffect(id) { model.reader.open(id) }
    val state by model.reader.state.collectAsStateWithLifecycle()
    val actionError by model.reader.error.collectAsStateWithLifecycle()
    // A reply goes out from the account the message is in (also in the unified inbox).
    val account = (state as? ReaderState.Shown)?.message?.summary?.account
    Column(Modifier.fillMaxSize()) {
        BackBar(stringResource(R.string.message), onBack) {
            if (account != null) {
                TextButton(onClick = { model.compose(account, ComposeMode.Reply(id)) }) { Text(stringResource(R.string.reply)) }
                TextButton(onClick = { model.compose(account, ComposeMode.ReplyAll(id)) }) { Text(stringResource(R.string.reply_all_short)) }
                TextButton(onClick = { model.compose(account, ComposeMode.Forward(id)) }) { Text(stringResource(R.string.forward_short)) }
            }
        }
        when (val s = state) {
            ReaderState.Empty, is ReaderState.Loading -> CircularProgressIndicator(Modifier.padding(16.dp))
            is ReaderState.Failed -> Text(errorText(s.error), Modifier.padding(16.dp), color = MaterialTheme.colorScheme.error)
            is ReaderState.Shown -> {
                val m = s.message
                Column(Modifier.padding(16.dp)) {
                    Text(m.summary.subject, style = MaterialTheme.typography.titleLarge)
                    Text(stringResource(R.string.from_line, "${m.summary.from.name ?: ""} <${m.summary.from.address}>"))
                    Text(stringResource(R.string.to_line, m.to.joinToString { it.address }))
                    Row {
                        TextButton(onClick = { model.act { model.reader.mark(FlagChange.UNREAD) } }) { Text(stringResource(R.string.mark_unread)) }
                        TextButton(onClick = {
                            val change = if (m.summary.flags.flagged) FlagChange.UNFLAGGED else FlagChange.FLAGGED
                            model.act { model.reader.mark(change) }
                        }) { Text(stringResource(if (m.summary.flags.flagged) R.string.unflag else R.string.flag)) }
                        TextButton(onClick = { model.act { model.list.archive(listOf(id)) }; onBack() }) { Text(stringResource(R.string.archive)) }
                        TextButton(onClick = { model.act { model.list.delete(listOf(id)) }; onBack() }) { Text(stringResource(R.string.delete)) }
                    }
                    actionError?.let { Text(errorText(it), color = MaterialTheme.colorScheme.error) }
                    // The body could not be fetched (offline, gone from the server): the headers, and why.
                    s.problem?.let {
                        Text(stringResource(R.string.body_missing, errorText(it)), color = MaterialTheme.colorScheme.error)
                    }
                    // Opened from the engine's cache in the user's viewer, or saved where they choose.
                    m.attachments.forEachIndexed { index, a ->
                        Row(verticalAlignment = Alignment.CenterVertically) {
                            Text(stringResource(R.string.attachment_line, a.name, a.size.toLong()), Modifier.weight(1f))
                            TextButton(onClick = { model.act { model.reader.openAttachment(index, files) } }) {
                                Text(stringResource(R.string.attachment_open))
                            }
                            TextButton(onClick = { model.act { model.reader.saveAttachment(index, files) } }) {
                                Text(stringResource(R.string.attachment_save))
                            }
                        }
                    }
                    if (s.blockedImages > 0) {
                        Row {
                            TextButton(onClick = { model.act { model.reader.showImagesOnce() } }) {
                                Text(stringResource(R.string.show_remote_images_once, s.blockedImages))
                            }
                            TextButton(onClick = { model.act { model.reader.alwaysShowImagesFromSender() } }) {
                                Text(stringResource(R.string.show_remote_images_sender, m.summary.from.address))
                            }
                        }
                    } else if (s.remoteShown) {
                        TextButton(onClick = { model.act { model.reader.blockImages() } }) {
                            Text(stringResource(R.string.hide_remote_images))
                        }
                    }
                }
                val html = s.html
                if (html != null) {
                    AndroidView(
                        factory = { context ->
                            WebView(context).apply {
                                settings.javaScriptEnabled = false
                                settings.allowFileAccess = false
                                settings.allowContentAccess = false
                                settings.blockNetworkImage = true
                            }
                        },
                        update = { web ->
                            // The engine already left remote content out unless allowed; this is a second lock.
                            web.settings.blockNetworkImage = !s.remoteShown
                            web.loadDataWithBaseURL(null, html, "text/html", "utf-8", null)
                        },
                        modifier = Modifier.fillMaxSize(),
                    )
                } else {
                    Text(m.text ?: "", Modifier.padding(16.dp).verticalScroll(rememberScrollState()))
                }
            }
        }
    }
}
