import Foundation

public struct SyncProgress: Sendable, Equatable {
    public var folder: String
    public var done: UInt32
    public var total: UInt32
    public var fraction: Double { total == 0 ? 1 : Double(done) / Double(total) }
}

public struct SyncStatusState: Sendable {
    /// Every account's status as the engine keeps it (`engine.watchStatus`): syncing and
    /// how far, push, the last problem, what waits in the outbox and the change queue.
    public var status = SyncStatus(accounts: [])
    /// Every progress the status showed, in order (what the progress bar went through).
    public var progressSteps: [SyncProgress] = []
    /// The pulls of the last "sync now", per account.
    public var lastReports: [String: SyncReport] = [:]
    /// What the last "sync now" did, per account.
    public var lastSyncNow: SyncNowReport? = nil
    /// The change queue in detail (the Changes screen: undo, retry, discard), read when
    /// the status's counts change. Changes made here and not yet on the server:
    public var pending: [PendingChange] = []
    /// Changes the server refused; reverted here, can be retried or discarded.
    public var failed: [PendingChange] = []
    public var failureNotices: [String] = []
    public var outbox: [OutboxMessage] = []
    /// POP3 advice per account ("read on more than one device"), as the engine gave it.
    public var advisories: [String: Advice] = [:]
    /// The engine's new-mail announcements this session, oldest first.
    public var newMail: [NewMailNotice] = []
    /// A call into the engine that failed as a whole (a closed engine, say).
    public var lastError: BrevdueError? = nil

    public func account(_ name: String) -> AccountStatus? {
        status.accounts.first { $0.account == name }
    }
    public var isSyncing: Bool { status.accounts.contains { $0.syncing } }
    /// Accounts syncing right now.
    public var syncing: Set<String> { Set(status.accounts.filter(\.syncing).map(\.account)) }
    /// The progress per account while it syncs a folder.
    public var progress: [String: SyncProgress] {
        var out: [String: SyncProgress] = [:]
        for a in status.accounts where a.syncing {
            if let folder = a.folder {
                out[a.account] = SyncProgress(folder: folder, done: a.done, total: a.total)
            }
        }
        return out
    }
    /// Per account, the engine's last problem since a good sync (kind, sentence, advice).
    public var problems: [String: Problem] {
        var out: [String: Problem] = [:]
        for a in status.accounts { if let p = a.problem { out[a.account] = p } }
        return out
    }
    /// When a sync last finished (any account).
    public var lastSync: Date? {
        status.accounts.compactMap(\.lastSynced).max()
            .map { Date(timeIntervalSince1970: TimeInterval($0)) }
    }
}

/// New mail as the engine announced it (`Event.newMail`): what a notification shows.
public struct NewMailNotice: Sendable, Equatable {
    public var account: String
    public var folder: String
    /// How many arrived; `messages` holds the newest (at most 20), newest first.
    public var total: UInt32
    public var messages: [MessageSummary]
}

extension SyncNowReport {
    /// Messages the pulls brought in, over all accounts.
    public var newMessages: UInt32 { accounts.compactMap(\.pulled).reduce(0) { $0 + $1.newMessages } }
}

/// The status bar: the engine's sync status (watched, never rebuilt here from events),
/// the change queue with undo, retry and discard, the outbox, the POP3 advisory, new mail.
public final class SyncStatusViewModel: ViewModel<SyncStatusState>, @unchecked Sendable {
    public let session: BrevdueSession
    private var token: ObservationToken?
    private var subscription: StatusSubscription?
    /// Numbers the reads of the queue's detail, so an older read never replaces what a
    /// newer one stored (reads may overlap now that they are awaited).
    private let changesLock = NSLock()
    private var changesReads: UInt64 = 0
    private var changesStored: UInt64 = 0
    /// Called for every `Event.newMail` (the engine decides what is new; notifications
    /// come from here only).
    public var onNewMail: ((NewMailNotice) -> Void)?

    public init(session: BrevdueSession) {
        self.session = session
        super.init(state: SyncStatusState())
        token = session.observe { [weak self] event in self?.handle(event) }
        do {
            subscription = try session.engine.watchStatus(listener: StatusFeed(self))
        } catch { update { $0.lastError = asBrevdueError(error) } }
    }

    deinit {
        token?.cancel()
        subscription?.cancel()
    }

    /// A status from the engine (the first one as it is, then every change).
    func receive(_ status: SyncStatus) {
        let counts = { (s: SyncStatus) in
            s.accounts.map { [$0.account, "\($0.outbox)", "\($0.changesWaiting)", "\($0.changesFailed)"] }
        }
        var recount = false
        update {
            recount = counts($0.status) != counts(status)
            $0.status = status
            for a in status.accounts where a.syncing {
                guard let folder = a.folder else { continue }
                let step = SyncProgress(folder: folder, done: a.done, total: a.total)
                if $0.progressSteps.last != step { $0.progressSteps.append(step) }
            }
        }
        if recount { Task { [weak self] in await self?.refreshChanges() } }
    }

    /// "Sync now" (pull to refresh, the app coming to the front, background refresh): one
    /// `engine.syncNow` sends the outbox, replays queued changes and pulls, past any
    /// backoff. Returns its report (nil if the engine could not be asked at all).
    @discardableResult
    public func sync(account: String? = nil) async -> SyncNowReport? {
        do {
            let report = try await session.engine.syncNow(account: account)
            update {
                $0.lastSyncNow = report
                for a in report.accounts {
                    if let pulled = a.pulled { $0.lastReports[a.account] = pulled }
                }
                $0.lastError = nil
            }
            await refreshChanges()
            return report
        } catch {
            update { $0.lastError = asBrevdueError(error) }
            return nil
        }
    }

    /// Sends queued changes now.
    @discardableResult
    public func pushChanges(account: String? = nil) async -> PushReport? {
        do {
            let report = try await session.engine.pushChanges(account: account)
            await refreshChanges()
            return report
        } catch {
            update { $0.lastError = asBrevdueError(error) }
            return nil
        }
    }

    /// Reads the change queue and the outbox in detail (the status has their counts).
    public func refreshChanges() async {
        let read = beginChangesRead()
        do {
            let changes = try await session.engine.changes(account: nil)
            let outbox = try await session.engine.outbox(account: nil)
            storeChanges(read) {
                $0.pending = changes.filter { $0.state == .pending }
                $0.failed = changes.filter { $0.state == .failed }
                $0.outbox = outbox
            }
        } catch { update { $0.lastError = asBrevdueError(error) } }
    }

    private func beginChangesRead() -> UInt64 {
        changesLock.lock()
        defer { changesLock.unlock() }
        changesReads += 1
        return changesReads
    }

    /// Stores read number `read` unless a newer read has already been stored.
    private func storeChanges(_ read: UInt64, _ body: (inout SyncStatusState) -> Void) {
        changesLock.lock()
        defer { changesLock.unlock() }
        guard read > changesStored else { return }
        changesStored = read
        update(body)
    }

    /// Undoes a change that has not reached the server, with the waiting changes that
    /// depend on it (a move into a folder being created goes with the folder). Returns
    /// the ids of the changes undone.
    @discardableResult
    public func undo(_ change: Int64) async -> [Int64]? {
        let undone: [Int64]?
        do {
            undone = try await session.engine.cancelChange(id: change)
        } catch {
            update { $0.lastError = asBrevdueError(error) }
            undone = nil
        }
        await refreshChanges()
        return undone
    }

    public func retry(_ change: Int64) async {
        do { try await session.engine.retryChange(id: change) } catch {
            update { $0.lastError = asBrevdueError(error) }
        }
        await refreshChanges()
    }

    public func discard(_ change: Int64) async {
        do { try await session.engine.discardChange(id: change) } catch {
            update { $0.lastError = asBrevdueError(error) }
        }
        await refreshChanges()
    }

    /// The user says another device reads this POP3 account.
    public func reportReadOnAnotherDevice(_ account: String) async {
        do { try await session.engine.readOnAnotherDevice(account: account) } catch {
            update { $0.lastError = asBrevdueError(error) }
        }
    }

    public func dismissAdvisory(_ account: String) { update { $0.advisories[account] = nil } }

    /// "Sign in again" where a sync problem says the provider no longer accepts the
    /// account's sign-in (`Problem.needsSignInAgain`): a new sign-in in `browser`, then a
    /// sync. True when the provider's servers took the new sign-in.
    @discardableResult
    public func signInAgain(_ account: String, browser: OAuthBrowser) async -> Bool {
        do {
            _ = try await session.signInAgain(account: account, browser: browser)
        } catch {
            update { $0.lastError = asBrevdueError(error) }
            return false
        }
        update { $0.lastError = nil }
        await sync(account: account)
        return true
    }

    /// Events that are announcements rather than status: advice, new mail, refusals.
    func handle(_ event: Event) {
        switch event {
        case .changeFailed(let account, _, let kind, let message, _):
            update { $0.failureNotices.append("\(account): \(kind) refused: \(message)") }
        case .advisory(let account, _, let advice):
            update { $0.advisories[account] = advice }
        case .newMail(let account, let folder, let total, let messages):
            let notice = NewMailNotice(
                account: account, folder: folder, total: total, messages: messages)
            update { $0.newMail.append(notice) }
            onNewMail?(notice)
        default:
            break
        }
    }
}
