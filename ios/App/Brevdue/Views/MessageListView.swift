import BrevdueKit
import SwiftUI

struct MessageListView: View {
    @StateObject var list: MessageListViewModel
    @EnvironmentObject var model: AppModel
    @State private var query = ""
    @State private var composing = false

    init(list: MessageListViewModel) {
        _list = StateObject(wrappedValue: list)
    }

    var body: some View {
        List {
            ForEach(list.state.messages, id: \.id) { message in
                NavigationLink {
                    ReaderView(reader: ReaderViewModel(session: list.session, id: message.id))
                } label: {
                    MessageRow(message: message)
                }
                .onAppear {
                    if message.id == list.state.messages.last?.id { list.loadMore() }
                }
                .swipeActions(edge: .leading) {
                    Button(message.flags.seen ? "Unread" : "Read") {
                        list.mark([message.id], message.flags.seen ? .unread : .read)
                    }.tint(.blue)
                }
                .swipeActions(edge: .trailing) {
                    Button("Delete", role: .destructive) { list.delete([message.id]) }
                    Button("Archive") { list.archive([message.id]) }.tint(.green)
                }
            }
        }
        .listStyle(.plain)
        .navigationTitle(list.folder)
        .searchable(text: $query)
        .onSubmit(of: .search) { list.search(query) }
        .onChange(of: query) { _, q in if q.isEmpty { list.loadFirstPage() } }
        .refreshable {
            await model.status.sync(account: list.account)
            list.refresh()
        }
        .toolbar {
            if let account = list.account {
                Button { composing = true } label: { Image(systemName: "square.and.pencil") }
                    .sheet(isPresented: $composing) {
                        ComposerView(composer: ComposerViewModel(session: list.session, account: account))
                    }
            }
        }
        .onAppear { list.loadFirstPage() }
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
                if message.flags.flagged { Image(systemName: "flag.fill").foregroundStyle(.orange) }
                if message.flags.answered { Image(systemName: "arrowshape.turn.up.left") }
                if message.hasAttachments { Image(systemName: "paperclip") }
                Text(message.subject).lineLimit(1)
            }
            .font(.subheadline)
        }
    }
}
