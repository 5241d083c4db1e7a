import Foundation

public struct MessageListState: Sendable {
    /// The rows as the engine's live list left them (or the search hits).
    public var messages: [MessageSummary] = []
    /// How many of the newest the live list shows (grows with `loadMore`).
    public var limit: UInt32 = 0
    /// The live list sent its first rows.
    public var loaded = false
    /// The search in effect, if any (its hits are a snapshot, not a live list).
    public var query: String? = nil
    public var error: BrevdueError? = nil
    /// Another page may follow: the list filled what was asked for.
    public var hasMore: Bool { loaded && query == nil && messages.count >= Int(limit) }
}

/// A folder's messages (or the unified inbox: account nil, folder "INBOX"), newest
/// first, kept only from `engine.watchMessages`: the whole list, then the engine's inserts,
/// updates and removals. Marking, filing and deleting go to the engine; the list follows.
public final class MessageListViewModel: ViewModel<MessageListState>, @unchecked Sendable {
    public let session: BrevdueSession
    public let account: String?
    public let folder: String
    public let pageSize: UInt32
    /// Called after every batch of changes is applied (for animations and tests).
    public var onDiffs: (([ListChange<MessageSummary>]) -> Void)?
    private let feedLock = NSRecursiveLock()
    private var feed: MessageFeed?
    private var subscription: ListSubscription?

    public init(session: BrevdueSession, account: String?, folder: String, pageSize: UInt32 = 50) {
        self.session = session
        self.account = account
        self.folder = folder
        self.pageSize = max(pageSize, 1)
        super.init(state: MessageListState())
    }

    deinit { subscription?.cancel() }

    /// Starts the live list (when the screen appears); again after `stop` or a search.
    public func start() {
        feedLock.lock()
        defer { feedLock.unlock() }
        guard subscription == nil else { return }
        let limit = max(state.limit, pageSize)
        let feed = MessageFeed(self)
        do {
            let query = MessageQuery(account: account, folder: folder, limit: limit)
            subscription = try session.engine.watchMessages(query: query, listener: feed)
            self.feed = feed
            update { $0.limit = limit; $0.query = nil; $0.error = nil }
        } catch { update { $0.error = asBrevdueError(error) } }
    }

    /// Stops the live list (the query changes, or the screen goes).
    public func stop() {
        feedLock.lock()
        defer { feedLock.unlock() }
        subscription?.cancel()
        subscription = nil
        feed = nil
        update { $0.loaded = false }
    }

    func receive(_ changes: [ListChange<MessageSummary>], from source: MessageFeed) {
        feedLock.lock()
        defer { feedLock.unlock() }
        guard source === feed else { return }
        update {
            apply(changes, to: &$0.messages)
            $0.loaded = true
            $0.error = nil
        }
        onDiffs?(changes)
    }

    func failed(_ error: BrevdueError, from source: MessageFeed) {
        feedLock.lock()
        defer { feedLock.unlock() }
        guard source === feed else { return }
        update { $0.error = error }
    }

    /// The next page (when the list is scrolled to its end): the live list grows.
    public func loadMore() {
        feedLock.lock()
        defer { feedLock.unlock() }
        guard state.hasMore, let subscription else { return }
        let limit = state.limit + pageSize
        update { $0.limit = limit }
        subscription.setLimit(limit: limit)
    }

    /// Full-text search over the account; an empty query goes back to the live list.
    public func search(_ query: String) async {
        let query = query.trimmingCharacters(in: .whitespaces)
        guard !query.isEmpty else { return clearSearch() }
        stop()
        await runSearch(query)
    }

    public func clearSearch() {
        guard state.query != nil || subscription == nil else { return }
        update { $0.query = nil; $0.messages = [] }
        start()
    }

    private func runSearch(_ query: String) async {
        do {
            let hits = try await session.engine.search(query: query, account: account, limit: 200)
            update { $0.messages = hits; $0.query = query; $0.loaded = true; $0.error = nil }
        } catch { update { $0.error = asBrevdueError(error) } }
    }

    private func perform(_ body: () async throws -> Void) async {
        do {
            try await body()
            // Search hits are a snapshot: read them again. The live list follows by itself.
            if let query = state.query { await runSearch(query) }
        } catch { update { $0.error = asBrevdueError(error) } }
    }

    public func mark(_ ids: [Int64], _ change: FlagChange) async {
        await perform { try await session.engine.mark(ids: ids, change: change) }
    }

    public func move(_ ids: [Int64], to folder: String) async {
        await perform { try await session.engine.moveMessages(ids: ids, folder: folder) }
    }

    public func archive(_ ids: [Int64]) async {
        await perform { try await session.engine.archive(ids: ids) }
    }

    public func delete(_ ids: [Int64]) async {
        await perform { try await session.engine.delete(ids: ids) }
    }

    /// Drafts: throws the draft away (here and on the server).
    public func discardDraft(_ id: Int64) async {
        await perform { try await session.engine.discardDraft(id: id) }
    }

    public var unreadCount: Int { state.messages.filter { !$0.flags.seen }.count }
}
