import Foundation

public struct MessageListState: Sendable {
    public var messages: [MessageSummary] = []
    /// Whether another page may follow.
    public var hasMore = true
    /// The search in effect, if any.
    public var query: String? = nil
    public var error: BrevdueError? = nil
}

/// A folder's messages, newest first, a page at a time; marking, filing and deleting.
/// Local changes show at once; the engine queues them for the server.
public final class MessageListViewModel: ViewModel<MessageListState>, @unchecked Sendable {
    public let session: BrevdueSession
    public let account: String?
    public let folder: String
    public let pageSize: UInt32
    private var token: ObservationToken?

    public init(session: BrevdueSession, account: String?, folder: String, pageSize: UInt32 = 50) {
        self.session = session
        self.account = account
        self.folder = folder
        self.pageSize = max(pageSize, 1)
        super.init(state: MessageListState())
        token = session.observe { [weak self] event in self?.handle(event) }
    }

    deinit { token?.cancel() }

    private func page(offset: UInt32, limit: UInt32) throws -> [MessageSummary] {
        try session.engine.messages(account: account, folder: folder, limit: limit, offset: offset)
    }

    /// The newest `limit` messages, replacing what is shown (and any search).
    private func showNewest(_ limit: UInt32) {
        do {
            let rows = try page(offset: 0, limit: limit)
            update {
                $0.messages = rows
                $0.hasMore = rows.count == Int(limit)
                $0.query = nil
                $0.error = nil
            }
        } catch { update { $0.error = asBrevdueError(error) } }
    }

    /// The newest page.
    public func loadFirstPage() {
        serially { showNewest(pageSize) }
    }

    /// The next page, appended (when the list is scrolled to its end).
    public func loadMore() {
        serially {
            let current = state
            guard current.hasMore, current.query == nil else { return }
            do {
                let next = try page(offset: UInt32(current.messages.count), limit: pageSize)
                update {
                    let known = Set($0.messages.map(\.id))
                    $0.messages += next.filter { !known.contains($0.id) }
                    $0.hasMore = next.count == Int(pageSize)
                }
            } catch { update { $0.error = asBrevdueError(error) } }
        }
    }

    /// Reloads as many rows as are shown (after a change or a sync).
    public func refresh() {
        serially {
            let current = state
            if let query = current.query { return search(query) }
            showNewest(max(UInt32(current.messages.count), pageSize))
        }
    }

    /// Full-text search over the account (an empty query goes back to the folder).
    public func search(_ query: String) {
        serially {
            let query = query.trimmingCharacters(in: .whitespaces)
            guard !query.isEmpty else { return loadFirstPage() }
            do {
                let hits = try session.engine.search(query: query, account: account, limit: 200)
                update { $0.messages = hits; $0.hasMore = false; $0.query = query; $0.error = nil }
            } catch { update { $0.error = asBrevdueError(error) } }
        }
    }

    private func perform(_ body: () throws -> Void) {
        do {
            try body()
            refresh()
        } catch { update { $0.error = asBrevdueError(error) } }
    }

    public func mark(_ ids: [Int64], _ change: FlagChange) {
        perform { try session.engine.mark(ids: ids, change: change) }
    }

    public func move(_ ids: [Int64], to folder: String) {
        perform { try session.engine.moveMessages(ids: ids, folder: folder) }
    }

    public func archive(_ ids: [Int64]) { perform { try session.engine.archive(ids: ids) } }

    public func delete(_ ids: [Int64]) { perform { try session.engine.delete(ids: ids) } }

    public var unreadCount: Int { state.messages.filter { !$0.flags.seen }.count }

    func handle(_ event: Event) {
        // Local changes (mark, move, delete) come with an empty folder: any list may show them.
        if case .messagesChanged(let a, let f, _, _, _) = event,
            account == nil || account == a, f == folder || f.isEmpty
        {
            refresh()
        }
    }
}
