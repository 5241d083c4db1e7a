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
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.text.input.KeyboardType
import androidx.compose.ui.text.input.PasswordVisualTransformation
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import app.brevdue.android.MailViewModel
import app.brevdue.android.R
import app.brevdue.core.Protocol
import app.brevdue.kit.ProtocolAdvice
import app.brevdue.kit.accountDraft

/**
 * Account setup: address, servers, password, and IMAP or POP3 with the advice beside it.
 * The form goes to the engine as typed; it fills in the ports, security, login and name,
 * and says which field is missing.
 */
@Composable
fun AccountSetupScreen(model: MailViewModel, onDone: () -> Unit) {
    val state by model.accounts.state.collectAsStateWithLifecycle()
    var email by rememberSaveable { mutableStateOf("") }
    var host by rememberSaveable { mutableStateOf("") }
    var port by rememberSaveable { mutableStateOf("") }
    var smtpHost by rememberSaveable { mutableStateOf("") }
    var smtpPort by rememberSaveable { mutableStateOf("") }
    var password by rememberSaveable { mutableStateOf("") }
    var protocol by rememberSaveable { mutableStateOf(Protocol.IMAP) }
    val number = KeyboardOptions(keyboardType = KeyboardType.Number)

    Column(
        Modifier.padding(16.dp).verticalScroll(rememberScrollState()),
        verticalArrangement = Arrangement.spacedBy(12.dp),
    ) {
        Text(stringResource(R.string.setup_title), style = MaterialTheme.typography.headlineSmall)
        OutlinedTextField(email, { email = it }, Modifier.fillMaxWidth(),
            label = { Text(stringResource(R.string.setup_address)) },
            keyboardOptions = KeyboardOptions(keyboardType = KeyboardType.Email))
        OutlinedTextField(host, { host = it }, Modifier.fillMaxWidth(),
            label = { Text(stringResource(R.string.setup_incoming_server)) })
        OutlinedTextField(port, { port = it.filter(Char::isDigit) }, Modifier.fillMaxWidth(),
            label = { Text(stringResource(R.string.setup_port_optional)) }, keyboardOptions = number)
        OutlinedTextField(smtpHost, { smtpHost = it }, Modifier.fillMaxWidth(),
            label = { Text(stringResource(R.string.setup_outgoing_server)) })
        OutlinedTextField(smtpPort, { smtpPort = it.filter(Char::isDigit) }, Modifier.fillMaxWidth(),
            label = { Text(stringResource(R.string.setup_smtp_port_optional)) }, keyboardOptions = number)
        OutlinedTextField(password, { password = it }, Modifier.fillMaxWidth(),
            label = { Text(stringResource(R.string.setup_password)) },
            visualTransformation = PasswordVisualTransformation())

        Text(stringResource(R.string.setup_pop_or_imap), style = MaterialTheme.typography.titleMedium)
        Text(adviceText(ProtocolAdvice.SHORT), style = MaterialTheme.typography.bodyMedium)
        listOf(Protocol.IMAP, Protocol.POP3).forEach { p ->
            Row(verticalAlignment = Alignment.CenterVertically) {
                RadioButton(selected = protocol == p, onClick = { protocol = p })
                Column {
                    Text(stringResource(if (p == Protocol.IMAP) R.string.setup_imap_recommended else R.string.setup_pop3))
                    Text(adviceText(ProtocolAdvice.explain(p)), style = MaterialTheme.typography.bodySmall)
                }
            }
        }

        state.error?.let { Text(errorText(it), color = MaterialTheme.colorScheme.error) }
        Button(
            enabled = !state.adding && password.isNotEmpty(),
            onClick = {
                // Blank fields are absent: the engine fills them in.
                val draft = accountDraft(
                    email = email, host = host, protocol = protocol,
                    port = port.trim().toUShortOrNull(),
                    smtpHost = smtpHost, smtpPort = smtpPort.trim().toUShortOrNull(),
                )
                model.act { if (model.accounts.add(draft, password) != null) onDone() }
            },
        ) { Text(stringResource(if (state.adding) R.string.setup_checking else R.string.setup_add)) }
    }
}
