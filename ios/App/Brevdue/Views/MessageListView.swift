import BrevdueKit
import SwiftUI

/// A folder's messages (or the unified inbox) as the engine's live list keeps them. In a
/// Drafts folder a row opens the draft in the composer.
struct MessageListView: View {
    @StateObject var list: MessageListViewModel
    @EnvironmentObject var model: AppModel
    @State private var query = ""
    @State private var composing = false
    @State private var openDraft: DraftRef?
    let drafts: Bool

    init(list: MessageListViewModel, drafts: Bool = false) {
        _list = StateObject(wrappedValue: list)
        self.drafts = drafts
    }

    var body: some View {
        List {
            ForEach(list.state.messages, id: \.id) { message in
                Group {
                    if drafts {
                        Button { openDraft = DraftRef(id: message.id) } label: { MessageRow(message: message) }
                    } else {
                        NavigationLink {
                            ReaderView(reader: ReaderViewModel(session: list.session, id: message.id))
                        } label: {
                            MessageRow(message: message)
                        }
                    }
                }
                .onAppear {
                    if message.id == list.state.messages.last?.id { list.loadMore() }
                }
                .swipeActions(edge: .leading) {
                    if !drafts {
                        Button(message.flags.seen ? "Unread" : "Read") {
                            Task { await list.mark([message.id], message.flags.seen ? .unread : .read) }
                        }.tint(.blue)
                    }
                }
                .swipeActions(edge: .trailing) {
                    if drafts {
                        Button("Discard draft", role: .destructive) { Task { await list.discardDraft(message.id) } }
                    } else {
                        Button("Delete", role: .destructive) { Task { await list.delete([message.id]) } }
                        Button("Archive") { Task { await list.archive([message.id]) } }.tint(.green)
                    }
                }
            }
            if let error = list.state.error {
                Text(error.userMessage()).font(.caption).foregroundStyle(.red)
            }
        }
        .listStyle(.plain)
        .navigationTitle(drafts ? String(localized: "Drafts") : list.folder)
        .searchable(text: $query)
        .onSubmit(of: .search) { Task { await list.search(query) } }
        .onChange(of: query) { _, q in if q.isEmpty { list.clearSearch() } }
        // The list follows by itself; pulling asks the servers now.
        .refreshable { await model.status.sync(account: list.account) }
        .toolbar {
            if let account = list.account {
                Button { composing = true } label: { Label("New message", systemImage: "square.and.pencil") }
                    .sheet(isPresented: $composing) {
                        ComposerView(composer: ComposerViewModel(session: list.session, account: account))
                    }
            }
        }
        .sheet(item: $openDraft) { ref in DraftComposerLoader(session: list.session, id: ref.id) }
        .onAppear { list.start() }
    }

    private struct DraftRef: Identifiable { let id: Int64 }
}

/// Opens a saved draft (`engine.openDraft`), then the composer with it.
struct DraftComposerLoader: View {
    let session: BrevdueSession
    let id: Int64
    @State private var composer: ComposerViewModel?
    @State private var error: BrevdueError?

    var body: some View {
        Group {
            if let composer {
                ComposerView(composer: composer)
            } else if let error {
                Text(error.userMessage()).foregroundStyle(.red).padding()
            } else {
                ProgressView()
            }
        }
        .task {
            do {
                composer = try await ComposerViewModel.open(draft: id, session: session)
            } catch {
                self.error = (error as? BrevdueError)
                    ?? .Storage(reason: "\(error)", advice: Advice(id: "storage", detail: ""))
            }
        }
    }
}

struct MessageRow: View {
    let message: MessageSummary

    var body: some View {
        VStack(alignment: .leading, spacing: 2) {
            HStack {
                Text(message.from.name ?? message.from.address)
                    .fontWeight(message.flags.seen ? .regular : .bold)
                Spacer()
                Text(Date(timeIntervalSince1970: TimeInterval(message.date)), style: .date)
                    .font(.caption).foregroundStyle(.secondary)
            }
            HStack(spacing: 4) {
                if message.flags.flagged { Image(systemName: "flag.fill").foregroundStyle(.orange).accessibilityLabel(Text("Flagged")) }
                if message.flags.answered { Image(systemName: "arrowshape.turn.up.left").accessibilityLabel(Text("Answered")) }
                if message.hasAttachments { Image(systemName: "paperclip").accessibilityLabel(Text("Attachment")) }
                Text(message.subject).lineLimit(1)
            }
            .font(.subheadline)
        }
    }
}
