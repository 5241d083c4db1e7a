import BrevdueKit
import SwiftUI

/// Sync progress, the POP3 advisory, pending and failed changes, the outbox, errors.
struct SyncStatusSection: View {
    @ObservedObject var status: SyncStatusViewModel

    var body: some View {
        let state = status.state
        if state.isSyncing || !state.advisories.isEmpty || !state.pending.isEmpty
            || !state.failed.isEmpty || !state.outbox.isEmpty || !state.problems.isEmpty
            || state.lastError != nil
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
                        Button("OK") { status.dismissAdvisory(account) }.font(.caption)
                    }
                }
                if !state.pending.isEmpty || !state.failed.isEmpty {
                    NavigationLink {
                        ChangesView(status: status)
                    } label: {
                        Label("\(state.pending.count) waiting for the server, \(state.failed.count) refused",
                              systemImage: state.failed.isEmpty ? "clock" : "xmark.octagon")
                    }
                }
                if !state.outbox.isEmpty {
                    Label("\(state.outbox.count) in the outbox", systemImage: "tray.and.arrow.up")
                }
                ForEach(state.problems.sorted(by: { $0.key < $1.key }), id: \.key) { account, problem in
                    Text("\(account): \(localized(problem.advice, fallback: problem.message))")
                        .font(.caption)
                        .foregroundStyle(problem.kind == .network || problem.kind == .timeout ? Color.secondary : Color.red)
                }
                if let error = state.lastError {
                    Text(error.userMessage()).font(.caption).foregroundStyle(.red)
                }
            }
        }
    }
}

/// Changes made here that the server has not confirmed, and those it refused.
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
                }
            }
            Section("Refused (undone here)") {
                ForEach(status.state.failed, id: \.id) { change in
                    VStack(alignment: .leading) {
                        Text(change.target)
                        Text(change.lastError).font(.caption).foregroundStyle(.red)
                    }
                    .swipeActions {
                        Button("Discard", role: .destructive) { status.discard(change.id) }
                        Button("Retry") { status.retry(change.id) }.tint(.blue)
                    }
                }
            }
        }
        .navigationTitle("Changes")
        .refreshable { await status.pushChanges() }
        .onAppear { status.refreshChanges() }
    }
}
