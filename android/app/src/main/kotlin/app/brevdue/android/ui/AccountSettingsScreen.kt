package app.brevdue.android.ui

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.rememberScrollState
import androidx.compose.foundation.selection.selectable
import androidx.compose.foundation.text.KeyboardOptions
import androidx.compose.foundation.verticalScroll
import androidx.compose.material3.AlertDialog
import androidx.compose.material3.Button
import androidx.compose.material3.ButtonDefaults
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.RadioButton
import androidx.compose.material3.Scaffold
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.saveable.rememberSaveable
import androidx.compose.runtime.setValue
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.semantics.Role
import androidx.compose.ui.text.input.KeyboardType
import androidx.compose.ui.text.input.PasswordVisualTransformation
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import app.brevdue.android.MailViewModel
import app.brevdue.android.R
import app.brevdue.core.Pop3DeletePolicy

/**
 * One account's settings: display name, password, servers, SMTP, the POP3 policy (saved
 * with `editAccount`: the engine checks a new password or server first and a refusal
 * leaves the form as typed), the Sent folder, and removal (asked first). An OAuth2
 * account has no password: "Signs in with {name}" and "Sign in again" (begun at once
 * with [signInAgain], when offered with an `oauth_sign_in_again` error).
 */
@Composable
fun AccountSettingsScreen(
    model: MailViewModel,
    account: String,
    signInAgain: Boolean = false,
    onBack: () -> Unit,
    onRemoved: () -> Unit,
) {
    val state by model.settings.state.collectAsStateWithLifecycle()
    // Begun once, not again when the screen is recreated (rotation).
    var beginSignIn by rememberSaveable(account) { mutableStateOf(signInAgain) }
    LaunchedEffect(account) {
        model.settings.load(account)
        if (beginSignIn) {
            beginSignIn = false
            model.settings.beginSignInAgain()
        }
    }
    LaunchedEffect(state.removed) { if (state.removed) onRemoved() }
    var confirmRemove by rememberSaveable { mutableStateOf(false) }
    val loaded = state.form
    var form by remember(loaded) { mutableStateOf(loaded) }
    val number = KeyboardOptions(keyboardType = KeyboardType.Number)

    Scaffold(topBar = { BackBar(stringResource(R.string.account_settings), onBack) }) { padding ->
        Column(
            Modifier.padding(padding).padding(16.dp).verticalScroll(rememberScrollState()),
            verticalArrangement = Arrangement.spacedBy(12.dp),
        ) {
            state.account?.let { Text(it.email, style = MaterialTheme.typography.titleMedium) }
            state.error?.let { Text(errorText(it), color = MaterialTheme.colorScheme.error) }
            if (state.saved) Text(stringResource(R.string.settings_saved))
            if (state.signedInAgain) Text(stringResource(R.string.settings_signed_in_again))
            val f = form ?: return@Column
            OutlinedTextField(f.displayName, { form = f.copy(displayName = it) }, Modifier.fillMaxWidth(),
                label = { Text(stringResource(R.string.settings_display_name)) })
            val provider = state.signsInWith
            if (provider != null) {
                // OAuth2: no password here; a refused or withdrawn sign-in is renewed in the browser.
                Text(stringResource(R.string.settings_signs_in_with, provider))
                val url = state.signInUrl
                if (url == null) {
                    OutlinedButton(enabled = !state.saving, onClick = { model.act { model.settings.beginSignInAgain() } }) {
                        Text(stringResource(if (state.saving) R.string.setup_checking else R.string.settings_sign_in_again))
                    }
                } else {
                    Text(stringResource(R.string.signin_waiting))
                    Row {
                        TextButton(onClick = { model.browser.open(url) }) { Text(stringResource(R.string.signin_open_again)) }
                        TextButton(onClick = { model.settings.cancelSignIn() }) { Text(stringResource(R.string.cancel)) }
                    }
                }
            } else {
                OutlinedTextField(f.password, { form = f.copy(password = it) }, Modifier.fillMaxWidth(),
                    label = { Text(stringResource(R.string.settings_new_password)) },
                    visualTransformation = PasswordVisualTransformation(),
                    keyboardOptions = KeyboardOptions(keyboardType = KeyboardType.Password))
            }

            Text(stringResource(R.string.settings_incoming), style = MaterialTheme.typography.titleMedium)
            OutlinedTextField(f.host, { form = f.copy(host = it) }, Modifier.fillMaxWidth(),
                label = { Text(stringResource(R.string.setup_incoming_server)) })
            OutlinedTextField(f.port, { form = f.copy(port = it.filter(Char::isDigit)) }, Modifier.fillMaxWidth(),
                label = { Text(stringResource(R.string.settings_port)) }, keyboardOptions = number)
            SecurityChoice(stringResource(R.string.setup_security), f.security, allowDefault = false) {
                if (it != null) form = f.copy(security = it)
            }
            OutlinedTextField(f.username, { form = f.copy(username = it) }, Modifier.fillMaxWidth(),
                label = { Text(stringResource(R.string.settings_username)) })

            Text(stringResource(R.string.settings_outgoing), style = MaterialTheme.typography.titleMedium)
            OutlinedTextField(f.smtpHost, { form = f.copy(smtpHost = it) }, Modifier.fillMaxWidth(),
                label = { Text(stringResource(R.string.settings_smtp_server)) })
            OutlinedTextField(f.smtpPort, { form = f.copy(smtpPort = it.filter(Char::isDigit)) }, Modifier.fillMaxWidth(),
                label = { Text(stringResource(R.string.settings_smtp_port)) }, keyboardOptions = number)
            SecurityChoice(stringResource(R.string.setup_smtp_security), f.smtpSecurity, allowDefault = false) {
                if (it != null) form = f.copy(smtpSecurity = it)
            }
            OutlinedTextField(f.smtpUsername, { form = f.copy(smtpUsername = it) }, Modifier.fillMaxWidth(),
                label = { Text(stringResource(R.string.settings_smtp_username)) })
            OutlinedTextField(f.caFile, { form = f.copy(caFile = it) }, Modifier.fillMaxWidth(),
                label = { Text(stringResource(R.string.setup_ca_file)) })

            if (state.isPop3) {
                Text(stringResource(R.string.settings_pop3_delete), style = MaterialTheme.typography.titleMedium)
                var days by remember(f.pop3Delete) {
                    mutableStateOf((f.pop3Delete as? Pop3DeletePolicy.AfterDays)?.days?.toString() ?: "14")
                }
                listOf(
                    Pop3DeletePolicy.Never to R.string.pop3_never,
                    Pop3DeletePolicy.AfterDownload to R.string.pop3_after_download,
                    Pop3DeletePolicy.WhenDeletedHere to R.string.pop3_when_deleted_here,
                    Pop3DeletePolicy.AfterDays(days.toUIntOrNull() ?: 14u) to R.string.pop3_after_days,
                ).forEach { (policy, label) ->
                    val selected = f.pop3Delete::class == policy::class
                    Row(
                        Modifier.fillMaxWidth().selectable(selected = selected, role = Role.RadioButton,
                            onClick = { form = f.copy(pop3Delete = policy) }),
                        verticalAlignment = Alignment.CenterVertically,
                    ) {
                        RadioButton(selected = selected, onClick = null)
                        Text(stringResource(label))
                    }
                }
                if (f.pop3Delete is Pop3DeletePolicy.AfterDays) {
                    OutlinedTextField(days, {
                        days = it.filter(Char::isDigit)
                        days.toUIntOrNull()?.let { d -> form = f.copy(pop3Delete = Pop3DeletePolicy.AfterDays(d)) }
                    }, Modifier.fillMaxWidth(), label = { Text(stringResource(R.string.pop3_days)) }, keyboardOptions = number)
                }
            }

            Button(enabled = !state.saving, onClick = { model.act { model.settings.save(f) } }) {
                Text(stringResource(if (state.saving) R.string.setup_checking else R.string.settings_save))
            }

            if (state.folders.isNotEmpty() && !state.isPop3) {
                Text(stringResource(R.string.settings_sent_folder), style = MaterialTheme.typography.titleMedium)
                state.folders.forEach { folder ->
                    val selected = folder.name == state.sentFolder
                    Row(
                        Modifier.fillMaxWidth().selectable(selected = selected, role = Role.RadioButton,
                            onClick = { model.act { model.settings.chooseSentFolder(folder.name) } }),
                        verticalAlignment = Alignment.CenterVertically,
                    ) {
                        RadioButton(selected = selected, onClick = null)
                        Text(folder.name)
                    }
                }
            }

            OutlinedButton(
                onClick = { confirmRemove = true },
                colors = ButtonDefaults.outlinedButtonColors(contentColor = MaterialTheme.colorScheme.error),
            ) { Text(stringResource(R.string.settings_remove)) }
        }
    }

    if (confirmRemove) {
        AlertDialog(
            onDismissRequest = { confirmRemove = false },
            title = { Text(stringResource(R.string.settings_remove)) },
            text = { Text(stringResource(R.string.settings_remove_confirm, state.account?.email ?: account)) },
            confirmButton = {
                TextButton(onClick = {
                    confirmRemove = false
                    model.act { model.settings.remove() }
                }) { Text(stringResource(R.string.settings_remove_yes)) }
            },
            dismissButton = {
                TextButton(onClick = { confirmRemove = false }) { Text(stringResource(R.string.cancel)) }
            },
        )
    }
}
