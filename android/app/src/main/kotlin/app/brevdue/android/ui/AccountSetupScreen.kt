package app.brevdue.android.ui

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.rememberScrollState
import androidx.compose.foundation.text.KeyboardOptions
import androidx.compose.foundation.verticalScroll
import androidx.compose.material3.Button
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.RadioButton
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.saveable.rememberSaveable
import androidx.compose.runtime.setValue
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.text.input.KeyboardType
import androidx.compose.ui.text.input.PasswordVisualTransformation
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import app.brevdue.android.MailViewModel
import app.brevdue.core.Protocol
import app.brevdue.core.Security
import app.brevdue.kit.ProtocolAdvice

/** Account setup: address, server, password, and IMAP or POP3 with the advice beside it. */
@Composable
fun AccountSetupScreen(model: MailViewModel, onDone: () -> Unit) {
    val state by model.accounts.state.collectAsStateWithLifecycle()
    var email by rememberSaveable { mutableStateOf("") }
    var host by rememberSaveable { mutableStateOf("") }
    var password by rememberSaveable { mutableStateOf("") }
    var protocol by rememberSaveable { mutableStateOf(Protocol.IMAP) }

    Column(
        Modifier.padding(16.dp).verticalScroll(rememberScrollState()),
        verticalArrangement = Arrangement.spacedBy(12.dp),
    ) {
        Text("Add an account", style = MaterialTheme.typography.headlineSmall)
        OutlinedTextField(email, { email = it }, Modifier.fillMaxWidth(),
            label = { Text("Address") }, keyboardOptions = KeyboardOptions(keyboardType = KeyboardType.Email))
        OutlinedTextField(host, { host = it }, Modifier.fillMaxWidth(),
            label = { Text("Mail server (e.g. imap.example.com)") })
        OutlinedTextField(password, { password = it }, Modifier.fillMaxWidth(),
            label = { Text("Password") }, visualTransformation = PasswordVisualTransformation())

        Text("POP3 or IMAP?", style = MaterialTheme.typography.titleMedium)
        Text(ProtocolAdvice.SHORT, style = MaterialTheme.typography.bodyMedium)
        listOf(Protocol.IMAP, Protocol.POP3).forEach { p ->
            Row(verticalAlignment = Alignment.CenterVertically) {
                RadioButton(selected = protocol == p, onClick = { protocol = p })
                Column {
                    Text(if (p == Protocol.IMAP) "IMAP (recommended)" else "POP3")
                    Text(ProtocolAdvice.explain(p), style = MaterialTheme.typography.bodySmall)
                }
            }
        }

        state.error?.let { Text(it.hint, color = MaterialTheme.colorScheme.error) }
        Button(
            enabled = !state.adding && email.contains('@') && host.isNotBlank() && password.isNotEmpty(),
            onClick = {
                val config = ProtocolAdvice.config(
                    name = email.substringBefore('@'),
                    email = email.trim(),
                    protocol = protocol,
                    host = host.trim(),
                    port = ProtocolAdvice.defaultPort(protocol, Security.TLS),
                    security = Security.TLS,
                )
                model.act { if (model.accounts.add(config, password) != null) onDone() }
            },
        ) { Text(if (state.adding) "Checking…" else "Add account") }
    }
}
