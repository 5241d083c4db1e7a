import BrevdueKit
import SwiftUI

/// "Add account": address + password and one "Continue" (the engine's discovery; no
/// password is sent), then what was found to confirm, or every field by hand. The engine
/// checks the login before saving. When the provider signs in on its own page (the
/// discovery's OAuth2 provider, or an issuer entered by hand), "Add" is "Sign in with …":
/// the page in `browser`, then the same "added" path.
struct AccountSetupView: View {
    @StateObject private var setup: AccountSetupViewModel
    let browser: OAuthBrowser
    let onAdded: () -> Void
    @Environment(\.dismiss) private var dismiss
    @State private var email = ""
    @State private var password = ""

    init(session: BrevdueSession, browser: OAuthBrowser, onAdded: @escaping () -> Void) {
        _setup = StateObject(wrappedValue: AccountSetupViewModel(session: session))
        self.browser = browser
        self.onAdded = onAdded
    }

    /// The sign-in through the provider's page, then the same path as "Add".
    private func signIn() {
        Task {
            if await setup.signIn(browser: browser) != nil {
                onAdded()
                dismiss()
            }
        }
    }

    var body: some View {
        NavigationStack {
            Group {
                switch setup.state.step {
                case .address: addressForm
                case .confirm: ConfirmDiscoveryView(setup: setup, signIn: signIn)
                case .manual: ManualAccountForm(setup: setup)
                }
            }
            .navigationTitle("Add account")
            .toolbar {
                ToolbarItem(placement: .cancellationAction) {
                    Button("Cancel") { dismiss() }
                }
                ToolbarItem(placement: .confirmationAction) {
                    if setup.state.busy {
                        ProgressView().accessibilityLabel(Text("Working…"))
                    } else if setup.state.step == .address {
                        Button("Continue") {
                            Task { await setup.discover(email: email, password: password) }
                        }
                        .disabled(email.isEmpty)
                    } else if setup.state.addsWithSignIn {
                        Button("Sign in", action: signIn)
                    } else {
                        Button("Add") {
                            Task {
                                if await setup.confirm() != nil {
                                    onAdded()
                                    dismiss()
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    private var addressForm: some View {
        Form {
            Section {
                TextField("E-mail address", text: $email)
                    .textContentType(.emailAddress).keyboardType(.emailAddress)
                    .textInputAutocapitalization(.never).autocorrectionDisabled()
                SecureField("Password", text: $password)
                    .textContentType(.password)
            } footer: {
                VStack(alignment: .leading, spacing: 4) {
                    Text("Brevdue looks up your provider's settings. Your password is sent only when you confirm them.")
                    Text("Some providers sign you in on their own page instead; then no password is needed.")
                }
            }
            Section {
                Button("Enter settings by hand") {
                    setup.edit { $0.email = email; $0.password = password }
                    setup.enterByHand()
                }
            }
        }
    }
}

/// What discovery found, to confirm: servers, source, the POP-or-IMAP advice.
private struct ConfirmDiscoveryView: View {
    @ObservedObject var setup: AccountSetupViewModel
    /// "Sign in with {name}": the provider's page, then the account is added.
    let signIn: () -> Void

    var body: some View {
        let state = setup.state
        Form {
            if let discovery = state.discovery {
                Section("Found") {
                    LabeledContent("Source", value: sourceName(discovery.source))
                    LabeledContent("Address", value: state.form.email)
                }
                if let provider = state.offeredSignIn {
                    // No password: the provider's own page signs the user in.
                    Section {
                        Button(action: signIn) {
                            Label("Sign in with \(provider.name)", systemImage: "person.badge.key")
                        }
                        .disabled(state.busy)
                    } footer: {
                        Text("You sign in on \(provider.name)'s own page; Brevdue never sees your password.")
                    }
                } else {
                    if let advice = state.signInUnavailableAdvice {
                        Section {
                            Label(localized(advice), systemImage: "key")
                                .foregroundStyle(.orange)
                        }
                    }
                    Section {
                        SecureField(
                            "Password",
                            text: Binding(
                                get: { setup.state.form.password },
                                set: { v in setup.edit { $0.password = v } })
                        )
                        .textContentType(.password)
                    }
                }
                if state.choices.count > 1 {
                    Section {
                        Picker("Protocol", selection: protocolBinding) {
                            ForEach(state.choices.compactMap { $0.protocol }, id: \.self) { kind in
                                Text(kind == .pop3 ? "POP3" : "IMAP").tag(kind)
                            }
                        }
                        .pickerStyle(.segmented)
                    } footer: {
                        if let advice = state.protocolAdvice { Text(localized(advice)) }
                    }
                }
                Section("Incoming mail") {
                    LabeledContent("Protocol", value: state.form.protocolKind == .pop3 ? "POP3" : "IMAP")
                    LabeledContent("Host", value: state.form.host)
                    LabeledContent("Port", value: state.form.port.map(String.init) ?? "")
                    LabeledContent("Security", value: securityName(state.form.security))
                    LabeledContent("User name", value: state.form.username)
                }
                Section("Outgoing mail (SMTP)") {
                    LabeledContent("Host", value: state.form.smtpHost ?? state.form.host)
                    LabeledContent("Port", value: state.form.smtpPort.map(String.init) ?? "")
                    LabeledContent("Security", value: securityName(state.form.smtpSecurity))
                }
                if let advice = state.plaintextAdvice {
                    Section {
                        Label(localized(advice), systemImage: "exclamationmark.triangle")
                            .foregroundStyle(.orange)
                        Toggle(
                            "Use an unencrypted connection",
                            isOn: Binding(
                                get: { setup.state.plaintextChosen },
                                set: { setup.choosePlaintext($0) }))
                    }
                }
            }
            if let error = state.error {
                Section {
                    Label(error.userMessage(), systemImage: "exclamationmark.circle")
                        .foregroundStyle(.red)
                }
            }
            Section {
                Button("Enter settings by hand") { setup.enterByHand() }
                Button("Use another address") { setup.startOver() }
            }
        }
    }

    private var protocolBinding: Binding<MailProtocol> {
        Binding(
            get: { setup.state.form.protocolKind },
            set: { kind in
                if let draft = setup.state.choices.first(where: { $0.protocol == kind }) {
                    setup.choose(draft)
                }
            })
    }
}

/// Every field by hand, pre-filled with what discovery found; explicit SMTP (so
/// "993 TLS + 587 STARTTLS" can be entered) and the CA file.
struct ManualAccountForm: View {
    @ObservedObject var setup: AccountSetupViewModel

    private func text(_ path: WritableKeyPath<AccountForm, String>) -> Binding<String> {
        Binding(get: { setup.state.form[keyPath: path] }, set: { v in setup.edit { $0[keyPath: path] = v } })
    }

    private func optionalText(_ path: WritableKeyPath<AccountForm, String?>) -> Binding<String> {
        Binding(
            get: { setup.state.form[keyPath: path] ?? "" },
            set: { v in setup.edit { $0[keyPath: path] = v.isEmpty ? nil : v } })
    }

    private func port(_ path: WritableKeyPath<AccountForm, UInt16?>) -> Binding<String> {
        Binding(
            get: { setup.state.form[keyPath: path].map(String.init) ?? "" },
            set: { v in setup.edit { $0[keyPath: path] = UInt16(v) } })
    }

    private func value<T>(_ path: WritableKeyPath<AccountForm, T>) -> Binding<T> {
        Binding(get: { setup.state.form[keyPath: path] }, set: { v in setup.edit { $0[keyPath: path] = v } })
    }

    var body: some View {
        let form = setup.state.form
        Form {
            if let error = setup.state.error {
                Section {
                    Label(error.userMessage(), systemImage: "exclamationmark.circle")
                        .foregroundStyle(.red)
                }
            }
            Section("You") {
                TextField("E-mail address", text: text(\.email))
                    .textContentType(.emailAddress).keyboardType(.emailAddress)
                    .textInputAutocapitalization(.never).autocorrectionDisabled()
                TextField("Name shown to others", text: text(\.displayName))
                if setup.state.needsPassword {
                    SecureField("Password", text: text(\.password))
                } else if let provider = setup.state.offeredSignIn, !form.usesCustomSignIn {
                    Label("Signs in with \(provider.name)", systemImage: "person.badge.key")
                }
            }
            Section {
                Picker("Protocol", selection: value(\.protocolKind)) {
                    Text("IMAP").tag(MailProtocol.imap)
                    Text("POP3").tag(MailProtocol.pop3)
                }
                .pickerStyle(.segmented)
                if form.protocolKind == .pop3 {
                    Picker("Remove from server", selection: value(\.pop3Delete)) {
                        Pop3PolicyOptions()
                    }
                }
                TextField("Host", text: text(\.host))
                    .textInputAutocapitalization(.never).autocorrectionDisabled()
                // The usual port and security are the core's (resolveAccount).
                TextField(form.resolvedPort.map { "Port (\($0))" } ?? "Port", text: port(\.port))
                    .keyboardType(.numberPad)
                Picker("Security", selection: value(\.security)) { SecurityOptions(automatic: true) }
                TextField("User name (default: the address)", text: text(\.username))
                    .textInputAutocapitalization(.never).autocorrectionDisabled()
            } header: {
                Text("Incoming mail")
            } footer: {
                VStack(alignment: .leading, spacing: 4) {
                    Text(localized(AccountsViewModel.protocolChoiceAdvice))
                    Text(localized(AccountsViewModel.advice(for: form.protocolKind)))
                        .foregroundStyle(form.protocolKind == .pop3 ? Color.orange : Color.secondary)
                }
            }
            Section("Outgoing mail (SMTP)") {
                TextField("SMTP host (default: the incoming host)", text: optionalText(\.smtpHost))
                    .textInputAutocapitalization(.never).autocorrectionDisabled()
                TextField("SMTP port", text: port(\.smtpPort)).keyboardType(.numberPad)
                Picker("SMTP security", selection: value(\.smtpSecurity)) { SecurityOptions(automatic: true) }
                TextField("SMTP user name (default: the incoming one)", text: optionalText(\.smtpUsername))
                    .textInputAutocapitalization(.never).autocorrectionDisabled()
            }
            Section {
                TextField("CA certificate file (PEM, optional)", text: optionalText(\.caFile))
                    .textInputAutocapitalization(.never).autocorrectionDisabled()
            } footer: {
                Text("Only for a server with its own certificate authority.")
            }
            Section {
                TextField("Sign-in server (OAuth2 issuer)", text: text(\.oauthIssuer))
                    .keyboardType(.URL)
                    .textInputAutocapitalization(.never).autocorrectionDisabled()
                TextField("Client id", text: text(\.oauthClientId))
                    .textInputAutocapitalization(.never).autocorrectionDisabled()
            } header: {
                Text("Sign-in (OAuth2, optional)")
            } footer: {
                Text("For a company's own sign-in: with both filled in, you sign in on that server's page instead of with a password.")
            }
        }
    }
}

/// The security choices (tagged `Security?` when `automatic`, else `Security`).
struct SecurityOptions: View {
    let automatic: Bool

    var body: some View {
        if automatic {
            Text("Automatic").tag(Security?.none)
            Text("TLS").tag(Security?.some(.tls))
            Text("STARTTLS").tag(Security?.some(.startTls))
            Text("None").tag(Security?.some(.plain))
        } else {
            Text("TLS").tag(Security.tls)
            Text("STARTTLS").tag(Security.startTls)
            Text("None").tag(Security.plain)
        }
    }
}

struct Pop3PolicyOptions: View {
    var body: some View {
        Text("Never").tag(Pop3DeletePolicy.never)
        Text("After download").tag(Pop3DeletePolicy.afterDownload)
        Text("When deleted here").tag(Pop3DeletePolicy.whenDeletedHere)
    }
}

func securityName(_ security: Security?) -> String {
    switch security {
    case .tls: return "TLS"
    case .startTls: return "STARTTLS"
    case .plain: return String(localized: "None")
    case nil: return String(localized: "Automatic")
    }
}

/// Where discovery found the settings, in the user's words.
func sourceName(_ source: DiscoverySource) -> String {
    switch source {
    case .providerAutoconfig: return String(localized: "The provider's settings")
    case .wellKnown: return String(localized: "The domain's published settings")
    case .ispdb: return String(localized: "The Thunderbird provider database")
    case .mxIspdb: return String(localized: "The mail host's entry in the Thunderbird provider database")
    case .srv: return String(localized: "DNS records")
    case .guess: return String(localized: "Common server names, checked")
    }
}
