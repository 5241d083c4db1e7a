import BrevdueKit
import SwiftUI

/// One account's settings: password, servers, SMTP, display name, POP3 policy
/// (`editAccount`: a new password or server is checked first; a refusal keeps the form as
/// typed), the Sent folder (`chooseSpecialFolder`) and removing the account. An OAuth2
/// account shows the provider it signs in with and "Sign in again" (the page in
/// `browser`) instead of the password.
struct AccountSettingsView: View {
    @StateObject private var settings: AccountSettingsViewModel
    let browser: OAuthBrowser
    let onRemoved: () -> Void
    @Environment(\.dismiss) private var dismiss
    @State private var confirmingRemove = false

    init(session: BrevdueSession, account: Account, browser: OAuthBrowser, onRemoved: @escaping () -> Void) {
        _settings = StateObject(wrappedValue: AccountSettingsViewModel(session: session, account: account))
        self.browser = browser
        self.onRemoved = onRemoved
    }

    private func signInAgain() {
        Task { await settings.signInAgain(browser: browser) }
    }

    private func text(_ path: WritableKeyPath<AccountSettingsForm, String>) -> Binding<String> {
        Binding(get: { settings.state.form[keyPath: path] }, set: { v in settings.edit { $0[keyPath: path] = v } })
    }

    private func port(_ path: WritableKeyPath<AccountSettingsForm, UInt16?>) -> Binding<String> {
        Binding(
            get: { settings.state.form[keyPath: path].map(String.init) ?? "" },
            set: { v in settings.edit { $0[keyPath: path] = UInt16(v) } })
    }

    private func value<T>(_ path: WritableKeyPath<AccountSettingsForm, T>) -> Binding<T> {
        Binding(get: { settings.state.form[keyPath: path] }, set: { v in settings.edit { $0[keyPath: path] = v } })
    }

    private var sentFolder: Binding<String> {
        Binding(
            get: { settings.state.folder(for: .sent)?.name ?? "" },
            set: { name in Task { await settings.choose(folder: name, for: .sent) } })
    }

    var body: some View {
        let state = settings.state
        Form {
            if let error = state.error {
                Section {
                    Label(error.userMessage(), systemImage: "exclamationmark.circle")
                        .foregroundStyle(.red)
                    // The provider no longer takes the sign-in: the action that fixes it.
                    if error.needsSignInAgain, state.signsInWith != nil {
                        Button("Sign in again", action: signInAgain).disabled(state.busy)
                    }
                }
            } else if state.signedInAgain {
                Section {
                    Label("Signed in again", systemImage: "checkmark.circle").foregroundStyle(.green)
                }
            } else if state.saved {
                Section {
                    Label("Saved", systemImage: "checkmark.circle").foregroundStyle(.green)
                }
            }
            Section("You") {
                LabeledContent("E-mail address", value: state.account.email)
                TextField("Name shown to others", text: text(\.displayName))
                if let provider = state.signsInWith {
                    Label("Signs in with \(provider.name)", systemImage: "person.badge.key")
                    Button("Sign in again", action: signInAgain).disabled(state.busy)
                } else {
                    SecureField("New password (blank: unchanged)", text: text(\.password))
                }
            }
            Section("Incoming mail") {
                LabeledContent("Protocol", value: state.account.protocol == .pop3 ? "POP3" : "IMAP")
                TextField("Host", text: text(\.host))
                    .textInputAutocapitalization(.never).autocorrectionDisabled()
                TextField("Port", text: port(\.port)).keyboardType(.numberPad)
                Picker("Security", selection: value(\.security)) { SecurityOptions(automatic: false) }
                TextField("User name", text: text(\.username))
                    .textInputAutocapitalization(.never).autocorrectionDisabled()
                if state.account.protocol == .pop3 {
                    Picker("Remove from server", selection: value(\.pop3Delete)) { Pop3PolicyOptions() }
                }
            }
            Section("Outgoing mail (SMTP)") {
                TextField("SMTP host", text: text(\.smtpHost))
                    .textInputAutocapitalization(.never).autocorrectionDisabled()
                TextField("SMTP port", text: port(\.smtpPort)).keyboardType(.numberPad)
                Picker("SMTP security", selection: value(\.smtpSecurity)) { SecurityOptions(automatic: false) }
                TextField("SMTP user name", text: text(\.smtpUsername))
                    .textInputAutocapitalization(.never).autocorrectionDisabled()
            }
            Section {
                TextField("CA certificate file (PEM, optional)", text: text(\.caFile))
                    .textInputAutocapitalization(.never).autocorrectionDisabled()
            } footer: {
                Text("Only for a server with its own certificate authority.")
            }
            if state.account.capabilities.syncsFolders {
                Section("Folders") {
                    Picker("Sent folder", selection: sentFolder) {
                        if state.folder(for: .sent) == nil { Text("None").tag("") }
                        ForEach(state.folders.filter(\.selectable), id: \.id) { folder in
                            Text(folder.name).tag(folder.name)
                        }
                    }
                }
            }
            Section {
                Button("Remove account", role: .destructive) { confirmingRemove = true }
            }
        }
        .navigationTitle(state.account.name)
        .toolbar {
            ToolbarItem(placement: .confirmationAction) {
                if state.busy {
                    ProgressView().accessibilityLabel(Text("Working…"))
                } else {
                    Button("Save") { Task { await settings.save() } }
                        .disabled(state.form.isUnchanged(from: state.account))
                }
            }
        }
        .confirmationDialog(
            "Remove this account?", isPresented: $confirmingRemove, titleVisibility: .visible
        ) {
            Button("Remove account", role: .destructive) {
                Task {
                    if await settings.remove() {
                        onRemoved()
                        dismiss()
                    }
                }
            }
            Button("Cancel", role: .cancel) {}
        } message: {
            Text("Its mail, drafts and queued changes on this device are deleted. Nothing is deleted on the server.")
        }
        .task { await settings.load() }
    }
}
