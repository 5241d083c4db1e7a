import BrevdueKit
import SwiftUI

/// The first screen: accounts (with the POP3 advice), sync status, and the way in.
struct AccountsView: View {
    @EnvironmentObject var model: AppModel
    @State private var adding = false

    var body: some View {
        NavigationStack {
            AccountsList(accounts: model.accounts, status: model.status, adding: $adding)
                .navigationTitle("Mail")
                .toolbar {
                    ToolbarItem(placement: .primaryAction) {
                        Button { adding = true } label: { Image(systemName: "plus") }
                    }
                }
                .sheet(isPresented: $adding) {
                    AddAccountView(accounts: model.accounts)
                }
                .refreshable { await model.status.sync() }
        }
    }
}

private struct AccountsList: View {
    @ObservedObject var accounts: AccountsViewModel
    @ObservedObject var status: SyncStatusViewModel
    @Binding var adding: Bool

    var body: some View {
        List {
            SyncStatusSection(status: status)
            Section("Accounts") {
                if accounts.state.accounts.isEmpty {
                    Button("Add an account") { adding = true }
                }
                ForEach(accounts.state.accounts, id: \.id) { account in
                    NavigationLink {
                        FoldersView(folders: FoldersViewModel(session: accounts.session, account: account.name))
                    } label: {
                        VStack(alignment: .leading, spacing: 4) {
                            Text(account.name).font(.headline)
                            Text(account.email).font(.subheadline).foregroundStyle(.secondary)
                            if let advice = AccountsViewModel.advice(for: account) {
                                Label(localized(advice), systemImage: "iphone.and.arrow.forward")
                                    .font(.caption).foregroundStyle(.orange)
                            }
                        }
                    }
                    .swipeActions {
                        Button("Remove", role: .destructive) {
                            Task { await accounts.remove(account.name) }
                        }
                        if account.protocol == .pop3 {
                            Button("Switch to IMAP") {
                                Task { _ = await accounts.switchToImap(account.name) }
                            }.tint(.blue)
                        }
                    }
                }
            }
        }
        .onAppear { Task { await accounts.load(); await status.refreshChanges() } }
    }
}

/// The "add account" form. The engine checks the login (and SMTP) before saving.
struct AddAccountView: View {
    @ObservedObject var accounts: AccountsViewModel
    @Environment(\.dismiss) private var dismiss
    @State private var form = AccountForm()
    @State private var port = ""

    var body: some View {
        NavigationStack {
            Form {
                Section("You") {
                    TextField("E-mail address", text: $form.email)
                        .textContentType(.emailAddress).keyboardType(.emailAddress)
                        .textInputAutocapitalization(.never)
                    TextField("Name shown to others", text: $form.displayName)
                    SecureField("Password", text: $form.password)
                }
                Section("Server") {
                    Picker("Protocol", selection: $form.protocolKind) {
                        Text("IMAP").tag(MailProtocol.imap)
                        Text("POP3").tag(MailProtocol.pop3)
                    }
                    .pickerStyle(.segmented)
                    Text(localized(AccountsViewModel.protocolChoiceAdvice)).font(.caption)
                    Text(localized(AccountsViewModel.advice(for: form.protocolKind)))
                        .font(.caption)
                        .foregroundStyle(form.protocolKind == .pop3 ? .orange : .secondary)
                    if form.protocolKind == .pop3 {
                        Picker("Remove from server", selection: $form.pop3Delete) {
                            Text("Never").tag(Pop3DeletePolicy.never)
                            Text("After download").tag(Pop3DeletePolicy.afterDownload)
                            Text("When deleted here").tag(Pop3DeletePolicy.whenDeletedHere)
                        }
                    }
                    TextField("Host", text: $form.host).textInputAutocapitalization(.never)
                    // The usual port and security are the core's (resolveAccount).
                    TextField(form.resolvedPort.map { "Port (\($0))" } ?? "Port", text: $port)
                        .keyboardType(.numberPad)
                    Picker("Security", selection: $form.security) {
                        Text("Automatic").tag(Security?.none)
                        Text("TLS").tag(Security?.some(.tls))
                        Text("STARTTLS").tag(Security?.some(.startTls))
                        Text("None").tag(Security?.some(.plain))
                    }
                    TextField("User name (default: the address)", text: $form.username)
                        .textInputAutocapitalization(.never)
                }
                if let error = accounts.state.error {
                    Section { Text(error.userMessage()).foregroundStyle(.red) }
                }
            }
            .navigationTitle("Add account")
            .toolbar {
                ToolbarItem(placement: .cancellationAction) { Button("Cancel") { dismiss() } }
                ToolbarItem(placement: .confirmationAction) {
                    if accounts.state.busy {
                        ProgressView()
                    } else {
                        Button("Add") {
                            form.port = UInt16(port)
                            Task {
                                if await accounts.add(form) != nil { dismiss() }
                            }
                        }
                    }
                }
            }
        }
    }
}
