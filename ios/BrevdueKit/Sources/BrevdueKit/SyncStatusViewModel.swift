import Foundation

public struct SyncProgress: Sendable, Equatable {
    public var folder: String
    public var done: UInt32
    public var total: UInt32
    public var fraction: Double { total == 0 ? 1 : Double(done) / Double(total) }
}

public struct SyncStatusState: Sendable {
    /// Accounts syncing right now.
    public var syncing: Set<String> = []
    /// The latest progress per account (while it syncs).
    public var progress: [String: SyncProgress] = [:]
    /// Every progress step seen, in order (what the progress bar went through).
    public var progressSteps: [SyncProgress] = []
    public var lastReports: [String: SyncReport] = [:]
    public var lastSync: Date? = nil
    /// Changes made here and not yet confirmed by the server.
    public var pending: [PendingChange] = []
    /// Changes the server refused; reverted here, can be retried or discarded.
    public var failed: [PendingChange] = []
    public var failureNotices: [String] = []
    public var outbox: [OutboxMessage] = []
    /// POP3 advice per account ("read on more than one device"), as the engine gave it.
    public var advisories: [String: Advice] = [:]
    public var pushConnected: [String: Bool] = [:]
    /// What the last "sync now" did, per account.
    public var lastSyncNow: SyncNowReport? = nil
    /// Per account, why something is left to do: the last "sync now"'s problem, or the
    /// engine's latest `Event.error` (its kind, English sentence and advice).
    public var problems: [String: AccountProblem] = [:]
    /// The engine's new-mail announcements this session, oldest first.
    public var newMail: [NewMailNotice] = []
    /// A call into the engine that failed as a whole (a closed engine, say).
    public var lastError: BrevdueError? = nil
    public var isSyncing: Bool { !syncing.isEmpty }
}

/// Why something is left to do for an account, as the engine said it (a "sync now"
/// problem or an `Event.error`): the kind, the English sentence and the advice to show.
public struct AccountProblem: Sendable, Equatable {
    public var kind: ErrorKind
    public var message: String
    public var advice: Advice
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

/// The status bar: sync with progress, pending and failed changes, the outbox, the POP3
/// advisory and errors, kept current from the engine's events.
public final class SyncStatusViewModel: ViewModel<SyncStatusState>, @unchecked Sendable {
    public let session: BrevdueSession
    private var token: ObservationToken?
    /// Called for every `Event.newMail` (the engine decides what is new; notifications
    /// come from here only).
    public var onNewMail: ((NewMailNotice) -> Void)?

    public init(session: BrevdueSession) {
        self.session = session
        super.init(state: SyncStatusState())
        token = session.observe { [weak self] event in self?.handle(event) }
    }

    deinit { token?.cancel() }

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
                    $0.problems[a.account] = a.problem.map {
                        AccountProblem(kind: $0.kind, message: $0.message, advice: $0.advice)
                    }
                }
                $0.lastSync = Date()
                $0.lastError = nil
            }
            refreshChanges()
            return report
        } catch {
            update { $0.lastError = asBrevdueError(error) }
            refreshChanges()
            return nil
        }
    }

    /// Sends queued changes now.
    @discardableResult
    public func pushChanges(account: String? = nil) async -> PushReport? {
        do {
            let report = try await session.engine.pushChanges(account: account)
            refreshChanges()
            return report
        } catch {
            update { $0.lastError = asBrevdueError(error) }
            return nil
        }
    }

    public func refreshChanges() {
        serially {
            do {
                let changes = try session.engine.changes(account: nil)
                let outbox = try session.engine.outbox(account: nil)
                update {
                    $0.pending = changes.filter { $0.state == .pending }
                    $0.failed = changes.filter { $0.state == .failed }
                    $0.outbox = outbox
                }
            } catch { update { $0.lastError = asBrevdueError(error) } }
        }
    }

    public func retry(_ change: Int64) {
        do { try session.engine.retryChange(id: change) } catch {
            update { $0.lastError = asBrevdueError(error) }
        }
        refreshChanges()
    }

    public func discard(_ change: Int64) {
        do { try session.engine.discardChange(id: change) } catch {
            update { $0.lastError = asBrevdueError(error) }
        }
        refreshChanges()
    }

    /// The user says another device reads this POP3 account.
    public func reportReadOnAnotherDevice(_ account: String) {
        do { try session.engine.readOnAnotherDevice(account: account) } catch {
            update { $0.lastError = asBrevdueError(error) }
        }
    }

    public func dismissAdvisory(_ account: String) { update { $0.advisories[account] = nil } }

    func handle(_ event: Event) {
        switch event {
        case .syncStarted(let account):
            update { $0.syncing.insert(account) }
        case .syncProgress(let account, let folder, let done, let total):
            let step = SyncProgress(folder: folder, done: done, total: total)
            update { $0.progress[account] = step; $0.progressSteps.append(step) }
        case .syncFinished(let account, let report):
            update {
                $0.syncing.remove(account)
                $0.progress[account] = nil
                $0.lastReports[account] = report
            }
        case .changesApplied, .outboxChanged:
            refreshChanges()
        case .changeFailed(let account, _, let kind, let message):
            update { $0.failureNotices.append("\(account): \(kind) refused: \(message)") }
            refreshChanges()
        case .advisory(let account, _, let advice):
            update { $0.advisories[account] = advice }
        case .newMail(let account, let folder, let total, let messages):
            let notice = NewMailNotice(
                account: account, folder: folder, total: total, messages: messages)
            update { $0.newMail.append(notice) }
            onNewMail?(notice)
        case .pushState(let account, let connected):
            update { $0.pushConnected[account] = connected }
        case .error(let account, let kind, let message, let advice):
            update {
                $0.syncing.remove(account)
                $0.problems[account] = AccountProblem(kind: kind, message: message, advice: advice)
            }
        default:
            break
        }
    }
}
