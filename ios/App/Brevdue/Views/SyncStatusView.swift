import BrevdueKit
import SwiftUI

/// The engine's sync status (progress, problems, what waits to go out), the POP3
/// advisory, errors.
struct SyncStatusSection: View {
    @ObservedObject var status: SyncStatusViewModel
    /// Opens an account's settings (for `sent_folder_created`: choose another Sent folder).
    var openSettings: ((String) -> Void)? = nil
    /// The system browser, for "Sign in again" on a problem that needs it.
    var browser: OAuthBrowser? = nil

    var body: some View {
        let state = status.state
        let accounts = state.status.accounts
        let waiting = Int(accounts.reduce(0) { $0 + $1.changesWaiting })
        let refused = Int(accounts.reduce(0) { $0 + $1.changesFailed })
        let outbox = Int(accounts.reduce(0) { $0 + $1.outbox })
        if state.isSyncing || !state.advisories.isEmpty || waiting > 0 || refused > 0
            || outbox > 0 || !state.problems.isEmpty || state.lastError != nil
        {
            Section("Status") {
                ForEach(state.syncing.sorted(), id: \.self) { account in
                    if let p = state.progress[account] {
                        ProgressView(value: p.fraction) {
                            Text("\(account): \(p.folder) \(p.done) of \(p.total)").font(.caption)
                        }
                    } else {
                        Label("Syncing \(account)…", systemImage: "arrow.triangle.2.circlepath")
                    }
                }
                ForEach(state.advisories.sorted(by: { $0.key < $1.key }), id: \.key) { account, advice in
                    VStack(alignment: .leading) {
                        Label(account, systemImage: "exclamationmark.triangle").foregroundStyle(.orange)
                        Text(localized(advice)).font(.caption)
                        HStack {
                            Button("OK") { status.dismissAdvisory(account) }
                            if advice.id == "sent_folder_created", let openSettings {
                                Button("Choose another folder") {
                                    status.dismissAdvisory(account)
                                    openSettings(account)
                                }
                            }
                        }
                        .font(.caption).buttonStyle(.borderless)
                    }
                }
                if waiting > 0 || refused > 0 {
                    NavigationLink {
                        ChangesView(status: status)
                    } label: {
                        Label("\(waiting) waiting for the server, \(refused) refused",
                              systemImage: refused == 0 ? "clock" : "xmark.octagon")
                    }
                }
                if outbox > 0 {
                    Label("\(outbox) in the outbox", systemImage: "tray.and.arrow.up")
                }
                ForEach(state.problems.sorted(by: { $0.key < $1.key }), id: \.key) { account, problem in
                    VStack(alignment: .leading) {
                        Text("\(account): \(localized(problem.advice, fallback: problem.message))")
                            .font(.caption)
                            .foregroundStyle(problem.kind == .network || problem.kind == .timeout ? Color.secondary : Color.red)
                        // The provider no longer takes the account's sign-in (oauth_sign_in_again).
                        if problem.needsSignInAgain, let browser {
                            Button("Sign in again") {
                                Task { await status.signInAgain(account, browser: browser) }
                            }
                            .font(.caption).buttonStyle(.borderless)
                        }
                    }
                }
                if let error = state.lastError {
                    Text(error.userMessage()).font(.caption).foregroundStyle(.red)
                }
            }
        }
    }
}

/// Changes made here that the server has not confirmed (they can be undone, with the
/// changes that depend on them), and those it refused.
struct ChangesView: View {
    @ObservedObject var status: SyncStatusViewModel

    var body: some View {
        List {
            Section("Waiting for the server") {
                ForEach(status.state.pending, id: \.id) { change in
                    VStack(alignment: .leading) {
                        Text(change.target)
                        if change.attempts > 0 {
                            Text("\(change.attempts) attempt(s): \(change.lastError)").font(.caption).foregroundStyle(.secondary)
                        }
                    }
                    .swipeActions {
                        Button("Undo") { Task { await status.undo(change.id) } }.tint(.orange)
                    }
                }
            }
            Section("Refused (undone here)") {
                ForEach(status.state.failed, id: \.id) { change in
                    VStack(alignment: .leading) {
                        Text(change.target)
                        Text(change.lastError).font(.caption).foregroundStyle(.red)
                    }
                    .swipeActions {
                        Button("Discard", role: .destructive) { Task { await status.discard(change.id) } }
                        Button("Retry") { Task { await status.retry(change.id) } }.tint(.blue)
                    }
                }
            }
        }
        .navigationTitle("Changes")
        .refreshable { await status.pushChanges() }
        .onAppear { Task { await status.refreshChanges() } }
    }
}
