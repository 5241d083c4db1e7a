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
import androidx.compose.material3.Button
import androidx.compose.material3.Card
import androidx.compose.material3.Checkbox
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.RadioButton
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
import app.brevdue.core.AccountDraft
import app.brevdue.core.DiscoverySource
import app.brevdue.core.Protocol
import app.brevdue.core.Security
import app.brevdue.kit.ProtocolAdvice
import app.brevdue.kit.SetupForm
import app.brevdue.kit.SetupState
import app.brevdue.kit.SetupStep

/**
 * Account setup: address + password and "Continue" (the engine finds the servers; no
 * password is sent), then what was found to confirm (the password goes to the server only
 * then), or the servers by hand, pre-filled with what was found. A provider that signs in
 * on its own page (discovery's `oauth`, or an issuer typed by hand) takes no password:
 * "Sign in with {name}" opens its page in a Custom Tab and the redirect adds the account
 * (MailViewModel.signInRedirect).
 */
@Composable
fun AccountSetupScreen(model: MailViewModel, onDone: () -> Unit) {
    val state by model.setup.state.collectAsStateWithLifecycle()
    var email by rememberSaveable { mutableStateOf(state.email) }
    var password by rememberSaveable { mutableStateOf("") }
    var allowPlain by rememberSaveable { mutableStateOf(false) }

    Column(
        Modifier.padding(16.dp).verticalScroll(rememberScrollState()),
        verticalArrangement = Arrangement.spacedBy(12.dp),
    ) {
        Text(stringResource(R.string.setup_title), style = MaterialTheme.typography.headlineSmall)
        OutlinedTextField(email, { email = it }, Modifier.fillMaxWidth(),
            label = { Text(stringResource(R.string.setup_address)) },
            keyboardOptions = KeyboardOptions(keyboardType = KeyboardType.Email))
        // No password for a provider that signs in on its own page; by hand, the manual fields have it.
        val oauth = state.oauth.takeIf { state.step == SetupStep.CONFIRM }
        if (oauth == null && state.step != SetupStep.MANUAL) {
            PasswordField(password) { password = it }
        }
        state.error?.let { Text(errorText(it), color = MaterialTheme.colorScheme.error) }
        SignInWaiting(model, state)

        when (state.step) {
            SetupStep.ADDRESS, SetupStep.DISCOVERING -> {
                Button(
                    // The password is not needed yet (nor at all, if the provider signs in on its page).
                    enabled = state.step == SetupStep.ADDRESS && email.isNotBlank(),
                    onClick = { model.act { model.setup.discover(email) } },
                ) {
                    Text(stringResource(if (state.step == SetupStep.DISCOVERING) R.string.setup_looking_up else R.string.setup_continue))
                }
                TextButton(onClick = { model.setup.manual() }) { Text(stringResource(R.string.setup_by_hand)) }
            }
            SetupStep.CONFIRM -> {
                val chosen = state.chosen
                Text(stringResource(R.string.setup_found), style = MaterialTheme.typography.titleMedium)
                state.discovery?.let { Text(stringResource(R.string.setup_source, sourceName(it.source))) }
                state.protocolAdvice?.let { advice ->
                    Text(adviceText(advice), style = MaterialTheme.typography.bodyMedium)
                    state.options.forEach { option ->
                        Row(
                            Modifier.fillMaxWidth().selectable(
                                selected = option == chosen, role = Role.RadioButton,
                                onClick = { model.setup.choose(option) },
                            ),
                            verticalAlignment = Alignment.CenterVertically,
                        ) {
                            RadioButton(selected = option == chosen, onClick = null)
                            Column {
                                Text(stringResource(if (option.protocol == Protocol.POP3) R.string.setup_pop3 else R.string.setup_imap_recommended))
                                Text(adviceText(ProtocolAdvice.explain(option.protocol ?: Protocol.IMAP)),
                                    style = MaterialTheme.typography.bodySmall)
                            }
                        }
                    }
                }
                if (chosen != null) FoundServers(chosen)
                // The provider needs its own sign-in and this build has none: an app password.
                state.oauthUnavailable?.let { Text(adviceText(it), color = MaterialTheme.colorScheme.error) }
                if (state.plaintext) {
                    Text(adviceText(app.brevdue.core.Advice("discovery_plaintext_only", state.email)),
                        color = MaterialTheme.colorScheme.error)
                    Row(
                        Modifier.selectable(selected = allowPlain, role = Role.Checkbox, onClick = { allowPlain = !allowPlain }),
                        verticalAlignment = Alignment.CenterVertically,
                    ) {
                        Checkbox(allowPlain, onCheckedChange = null)
                        Text(stringResource(R.string.setup_allow_plain))
                    }
                }
                if (oauth != null) {
                    Text(stringResource(R.string.signin_no_password_needed, oauth.name))
                    Button(
                        enabled = !state.adding && state.signIn == null,
                        onClick = { model.act { model.setup.signIn() } },
                    ) { Text(if (state.adding) stringResource(R.string.setup_checking) else stringResource(R.string.signin_with, oauth.name)) }
                } else {
                    Button(
                        enabled = !state.adding && password.isNotEmpty(),
                        onClick = { model.act { if (model.setup.confirm(password, allowPlain) != null) onDone() } },
                    ) { Text(stringResource(if (state.adding) R.string.setup_checking else R.string.setup_add)) }
                }
                Row {
                    TextButton(onClick = { model.setup.manual() }) { Text(stringResource(R.string.setup_by_hand)) }
                    TextButton(onClick = { model.setup.restart() }) { Text(stringResource(R.string.setup_other_address)) }
                }
            }
            SetupStep.MANUAL -> ManualSetup(model, state, email, password, { password = it }, onDone)
        }
    }
}

@Composable
private fun PasswordField(password: String, onChange: (String) -> Unit) {
    OutlinedTextField(password, onChange, Modifier.fillMaxWidth(),
        label = { Text(stringResource(R.string.setup_password)) },
        visualTransformation = PasswordVisualTransformation(),
        keyboardOptions = KeyboardOptions(keyboardType = KeyboardType.Password))
}

/** A sign-in open in the browser: waiting for it, the page again, or cancel. */
@Composable
private fun SignInWaiting(model: MailViewModel, state: SetupState) {
    val url = state.signInUrl ?: return
    Card(Modifier.fillMaxWidth()) {
        Column(Modifier.padding(12.dp), verticalArrangement = Arrangement.spacedBy(4.dp)) {
            Text(stringResource(R.string.signin_waiting))
            Row {
                TextButton(onClick = { model.browser.open(url) }) { Text(stringResource(R.string.signin_open_again)) }
                TextButton(onClick = { model.setup.cancelSignIn() }) { Text(stringResource(R.string.cancel)) }
            }
        }
    }
}

/** What discovery found, as the confirmation shows it. */
@Composable
private fun FoundServers(draft: AccountDraft) {
    Card(Modifier.fillMaxWidth()) {
        Column(Modifier.padding(12.dp), verticalArrangement = Arrangement.spacedBy(4.dp)) {
            Text(stringResource(R.string.setup_incoming_found,
                if (draft.protocol == Protocol.POP3) "POP3" else "IMAP",
                draft.host.orEmpty(), draft.port?.toString().orEmpty(), securityName(draft.security)))
            Text(stringResource(R.string.setup_outgoing_found,
                draft.smtpHost ?: draft.host.orEmpty(), draft.smtpPort?.toString().orEmpty(), securityName(draft.smtpSecurity)))
            draft.username?.let { Text(stringResource(R.string.setup_login_found, it)) }
        }
    }
}

/** The servers by hand: incoming, SMTP with its own host, port and security, the CA file. */
@Composable
private fun ManualSetup(
    model: MailViewModel,
    state: SetupState,
    email: String,
    password: String,
    onPassword: (String) -> Unit,
    onDone: () -> Unit,
) {
    val prefill = state.form
    val adding = state.adding
    // Pre-filled from discovery (or what the engine kept after a refusal).
    var form by remember(prefill) { mutableStateOf(prefill.copy(email = prefill.email.ifBlank { email })) }
    LaunchedEffect(email) { if (email.isNotBlank()) form = form.copy(email = email) }
    val number = KeyboardOptions(keyboardType = KeyboardType.Number)

    Text(stringResource(R.string.setup_pop_or_imap), style = MaterialTheme.typography.titleMedium)
    Text(adviceText(ProtocolAdvice.SHORT), style = MaterialTheme.typography.bodyMedium)
    listOf(Protocol.IMAP, Protocol.POP3).forEach { p ->
        Row(
            Modifier.fillMaxWidth().selectable(selected = form.protocol == p, role = Role.RadioButton,
                onClick = { form = form.copy(protocol = p) }),
            verticalAlignment = Alignment.CenterVertically,
        ) {
            RadioButton(selected = form.protocol == p, onClick = null)
            Column {
                Text(stringResource(if (p == Protocol.IMAP) R.string.setup_imap_recommended else R.string.setup_pop3))
                Text(adviceText(ProtocolAdvice.explain(p)), style = MaterialTheme.typography.bodySmall)
            }
        }
    }
    OutlinedTextField(form.displayName, { form = form.copy(displayName = it) }, Modifier.fillMaxWidth(),
        label = { Text(stringResource(R.string.settings_display_name)) })
    OutlinedTextField(form.host, { form = form.copy(host = it) }, Modifier.fillMaxWidth(),
        label = { Text(stringResource(R.string.setup_incoming_server)) })
    OutlinedTextField(form.port, { form = form.copy(port = it.filter(Char::isDigit)) }, Modifier.fillMaxWidth(),
        label = { Text(stringResource(R.string.setup_port_optional)) }, keyboardOptions = number)
    SecurityChoice(stringResource(R.string.setup_security), form.security) { form = form.copy(security = it) }
    OutlinedTextField(form.username, { form = form.copy(username = it) }, Modifier.fillMaxWidth(),
        label = { Text(stringResource(R.string.setup_username_optional)) })
    OutlinedTextField(form.smtpHost, { form = form.copy(smtpHost = it) }, Modifier.fillMaxWidth(),
        label = { Text(stringResource(R.string.setup_outgoing_server)) })
    OutlinedTextField(form.smtpPort, { form = form.copy(smtpPort = it.filter(Char::isDigit)) }, Modifier.fillMaxWidth(),
        label = { Text(stringResource(R.string.setup_smtp_port_optional)) }, keyboardOptions = number)
    SecurityChoice(stringResource(R.string.setup_smtp_security), form.smtpSecurity) { form = form.copy(smtpSecurity = it) }
    OutlinedTextField(form.smtpUsername, { form = form.copy(smtpUsername = it) }, Modifier.fillMaxWidth(),
        label = { Text(stringResource(R.string.setup_smtp_username_optional)) })
    OutlinedTextField(form.caFile, { form = form.copy(caFile = it) }, Modifier.fillMaxWidth(),
        label = { Text(stringResource(R.string.setup_ca_file)) })
    // A company's own identity server instead of a password: both fields, or neither.
    Text(stringResource(R.string.setup_oauth_section), style = MaterialTheme.typography.titleMedium)
    Text(stringResource(R.string.setup_oauth_explain), style = MaterialTheme.typography.bodySmall)
    OutlinedTextField(form.oauthIssuer, { form = form.copy(oauthIssuer = it) }, Modifier.fillMaxWidth(),
        label = { Text(stringResource(R.string.setup_oauth_issuer)) },
        keyboardOptions = KeyboardOptions(keyboardType = KeyboardType.Uri))
    OutlinedTextField(form.oauthClientId, { form = form.copy(oauthClientId = it) }, Modifier.fillMaxWidth(),
        label = { Text(stringResource(R.string.setup_oauth_client_id)) })
    if (form.signsInWithIssuer) {
        Button(
            enabled = !adding && state.signIn == null,
            onClick = { model.act { model.setup.signInManual(form) } },
        ) { Text(stringResource(if (adding) R.string.setup_checking else R.string.setup_sign_in)) }
    } else {
        PasswordField(password, onPassword)
        Button(
            enabled = !adding && password.isNotEmpty(),
            onClick = { model.act { if (model.setup.addManual(form, password) != null) onDone() } },
        ) { Text(stringResource(if (adding) R.string.setup_checking else R.string.setup_add)) }
    }
    TextButton(onClick = { model.setup.restart() }) { Text(stringResource(R.string.setup_find_again)) }
}

/** TLS, STARTTLS or none; [selected] null = the engine's default for the port. */
@Composable
fun SecurityChoice(title: String, selected: Security?, allowDefault: Boolean = true, onSelect: (Security?) -> Unit) {
    Text(title, style = MaterialTheme.typography.labelLarge)
    val options = (if (allowDefault) listOf<Security?>(null) else emptyList()) +
        listOf(Security.TLS, Security.START_TLS, Security.PLAIN)
    options.forEach { option ->
        Row(
            Modifier.fillMaxWidth().selectable(selected = selected == option, role = Role.RadioButton,
                onClick = { onSelect(option) }),
            verticalAlignment = Alignment.CenterVertically,
        ) {
            RadioButton(selected = selected == option, onClick = null)
            Text(if (option == null) stringResource(R.string.security_default) else securityName(option))
        }
    }
}

@Composable
fun securityName(security: Security?): String = stringResource(
    when (security) {
        Security.TLS -> R.string.security_tls
        Security.START_TLS -> R.string.security_starttls
        Security.PLAIN -> R.string.security_plain
        null -> R.string.security_default
    },
)

@Composable
private fun sourceName(source: DiscoverySource): String = stringResource(
    when (source) {
        DiscoverySource.PROVIDER_AUTOCONFIG -> R.string.source_provider_autoconfig
        DiscoverySource.WELL_KNOWN -> R.string.source_well_known
        DiscoverySource.ISPDB -> R.string.source_ispdb
        DiscoverySource.MX_ISPDB -> R.string.source_mx_ispdb
        DiscoverySource.SRV -> R.string.source_srv
        DiscoverySource.GUESS -> R.string.source_guess
    },
)
