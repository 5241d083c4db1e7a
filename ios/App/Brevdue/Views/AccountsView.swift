import BrevdueKit
import SwiftUI

/// The first screen: accounts (with the POP3 advice), sync status, and the way in.
struct AccountsView: View {
    @EnvironmentObject var model: AppModel
    @State private var adding = false

    var body: some View {
        NavigationStack {
            AccountsList(
                accounts: model.accounts, status: model.status, browser: model.browser, adding: $adding)
                .navigationTitle("Mail")
                .toolbar {
                    ToolbarItem(placement: .primaryAction) {
                        Button { adding = true } label: {
                            Label("Add account", systemImage: "plus")
                        }
                        .accessibilityLabel(Text("Add account"))
                    }
                }
                .sheet(isPresented: $adding) {
                    // A new flow each time the sheet opens.
                    AccountSetupView(session: model.session, browser: model.browser) {
                        Task { await model.accounts.load() }
                    }
                }
                .refreshable { await model.status.sync() }
        }
    }
}

private struct AccountsList: View {
    @ObservedObject var accounts: AccountsViewModel
    @ObservedObject var status: SyncStatusViewModel
    let browser: OAuthBrowser
    @Binding var adding: Bool
    @State private var editing: Account?

    var body: some View {
        List {
            SyncStatusSection(
                status: status,
                openSettings: { name in editing = accounts.state.accounts.first { $0.name == name } },
                browser: browser)
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
                    .contextMenu {
                        Button { editing = account } label: {
                            Label("Account settings", systemImage: "gearshape")
                        }
                    }
                    .swipeActions {
                        // Removing asks first, in the settings.
                        Button("Settings") { editing = account }.tint(.gray)
                        if account.protocol == .pop3 {
                            Button("Switch to IMAP") {
                                Task { _ = await accounts.switchToImap(account.name) }
                            }.tint(.blue)
                        }
                    }
                }
            }
        }
        .navigationDestination(item: $editing) { account in
            AccountSettingsView(session: accounts.session, account: account, browser: browser) {
                Task { await accounts.load() }
            }
        }
        .onAppear { Task { await accounts.load(); await status.refreshChanges() } }
    }
}
