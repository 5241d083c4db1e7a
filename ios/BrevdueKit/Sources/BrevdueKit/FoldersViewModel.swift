import Foundation

public struct FoldersState: Sendable {
    public var folders: [Folder] = []
    /// The live list sent its first rows.
    public var loaded = false
    public var error: BrevdueError? = nil
    public var unread: UInt32 { folders.reduce(0) { $0 + $1.unread } }
}

/// The folder list of one account (or of all) with its counts, in the engine's order
/// (Inbox first, then the special folders, then the user's own), kept only from
/// `engine.watchFolders`.
public final class FoldersViewModel: ViewModel<FoldersState>, @unchecked Sendable {
    public let session: BrevdueSession
    public let account: String?
    /// Called after every batch of changes is applied (for animations and tests).
    public var onDiffs: (([ListChange<Folder>]) -> Void)?
    private let feedLock = NSRecursiveLock()
    private var feed: FolderFeed?
    private var subscription: ListSubscription?

    public init(session: BrevdueSession, account: String?) {
        self.session = session
        self.account = account
        super.init(state: FoldersState())
    }

    deinit { subscription?.cancel() }

    /// Starts the live folder list (idempotent).
    public func start() {
        feedLock.lock()
        defer { feedLock.unlock() }
        guard subscription == nil else { return }
        let feed = FolderFeed(self)
        do {
            subscription = try session.engine.watchFolders(account: account, listener: feed)
            self.feed = feed
        } catch { update { $0.error = asBrevdueError(error) } }
    }

    public func stop() {
        feedLock.lock()
        defer { feedLock.unlock() }
        subscription?.cancel()
        subscription = nil
        feed = nil
    }

    func receive(_ changes: [ListChange<Folder>], from source: FolderFeed) {
        feedLock.lock()
        defer { feedLock.unlock() }
        guard source === feed else { return }
        update { apply(changes, to: &$0.folders); $0.loaded = true; $0.error = nil }
        onDiffs?(changes)
    }

    func failed(_ error: BrevdueError, from source: FolderFeed) {
        feedLock.lock()
        defer { feedLock.unlock() }
        guard source === feed else { return }
        update { $0.error = error }
    }

    /// The account's Drafts folder, once the list has it.
    public func drafts(of account: String) -> Folder? {
        state.folders.first { $0.account == account && $0.role == .drafts }
    }

    /// Creates a folder here at once; the server follows through the change queue.
    @discardableResult
    public func create(_ name: String, account: String? = nil) async -> Bool {
        let name = name.trimmingCharacters(in: .whitespaces)
        guard let target = account ?? self.account else {
            // The engine has no advice of its own for these two yet.
            update {
                $0.error = .invalidInput(
                    Advice(id: "invalid_input", detail: "choose an account for the folder"),
                    "choose an account for the folder")
            }
            return false
        }
        guard !name.isEmpty else {
            update {
                $0.error = .invalidInput(
                    Advice(id: "invalid_input", detail: "the folder needs a name"),
                    "the folder needs a name")
            }
            return false
        }
        do {
            try await session.engine.createFolder(account: target, name: name)
            return true
        } catch {
            update { $0.error = asBrevdueError(error) }
            return false
        }
    }

    public func rename(_ old: String, to new: String, account: String? = nil) async {
        guard let target = account ?? self.account else { return }
        do {
            try await session.engine.renameFolder(account: target, old: old, new: new)
        } catch { update { $0.error = asBrevdueError(error) } }
    }

    public func delete(_ name: String, account: String? = nil) async {
        guard let target = account ?? self.account else { return }
        do {
            try await session.engine.deleteFolder(account: target, name: name)
        } catch { update { $0.error = asBrevdueError(error) } }
    }
}
