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
import androidx.compose.ui.Modifier
import androidx.compose.ui.unit.dp
import androidx.compose.ui.viewinterop.AndroidView
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import app.brevdue.android.MailViewModel
import app.brevdue.android.Screen
import app.brevdue.core.FlagChange
import app.brevdue.kit.ComposeMode
import app.brevdue.kit.ReaderState

/** One message: sanitized HTML in a locked-down WebView, remote images on request. */
@Composable
fun ReaderScreen(model: MailViewModel, id: Long, onBack: () -> Unit, navigate: (Screen) -> Unit) {
    LaunchedEffect(id) { model.reader.open(id) }
    val state by model.reader.state.collectAsStateWithLifecycle()
    Column(Modifier.fillMaxSize()) {
        BackBar("Message", onBack) {
            TextButton(onClick = { navigate(Screen.Composer(ComposeMode.Reply(id))) }) { Text("Reply") }
            TextButton(onClick = { navigate(Screen.Composer(ComposeMode.Reply(id, all = true))) }) { Text("All") }
            TextButton(onClick = { navigate(Screen.Composer(ComposeMode.Forward(id))) }) { Text("Fwd") }
        }
        when (val s = state) {
            ReaderState.Empty, is ReaderState.Loading -> CircularProgressIndicator(Modifier.padding(16.dp))
            is ReaderState.Failed -> Text(s.error.hint, Modifier.padding(16.dp), color = MaterialTheme.colorScheme.error)
            is ReaderState.Shown -> {
                val m = s.message
                Column(Modifier.padding(16.dp)) {
                    Text(m.summary.subject, style = MaterialTheme.typography.titleLarge)
                    Text("From: ${m.summary.from.name ?: ""} <${m.summary.from.address}>")
                    Text("To: " + m.to.joinToString { it.address })
                    Row {
                        TextButton(onClick = { model.act { model.list.mark(listOf(id), FlagChange.UNREAD) } }) { Text("Unread") }
                        TextButton(onClick = {
                            val change = if (m.summary.flags.flagged) FlagChange.UNFLAGGED else FlagChange.FLAGGED
                            model.act { model.list.mark(listOf(id), change); model.reader.open(id, markRead = false) }
                        }) { Text(if (m.summary.flags.flagged) "Unflag" else "Flag") }
                        TextButton(onClick = { model.act { model.list.archive(listOf(id)) }; onBack() }) { Text("Archive") }
                        TextButton(onClick = { model.act { model.list.delete(listOf(id)) }; onBack() }) { Text("Delete") }
                    }
                    m.attachments.forEach { Text("📎 ${it.name} (${it.size} bytes)") }
                    if (s.blockedImages > 0 || s.remoteImages) {
                        TextButton(onClick = { model.reader.setRemoteImages(!s.remoteImages) }) {
                            Text(if (s.remoteImages) "Hide remote images" else "Show ${s.blockedImages} remote image(s)")
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
                            web.settings.blockNetworkImage = !s.remoteImages
                            web.loadDataWithBaseURL(null, html.html, "text/html", "utf-8", null)
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
