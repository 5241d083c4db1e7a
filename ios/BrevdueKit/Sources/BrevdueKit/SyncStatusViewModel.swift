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
    /// POP3 advice per account ("read on more than one device").
    public var advisories: [String: String] = [:]
    public var pushConnected: [String: Bool] = [:]
    public var lastError: BrevdueError? = nil
    /// Why the outbox or the change queue could not reach the server, if so.
    public var offline: String? = nil
    public var isSyncing: Bool { !syncing.isEmpty }
}

/// The status bar: sync with progress, pending and failed changes, the outbox, the POP3
/// advisory and errors, kept current from the engine's events.
public final class SyncStatusViewModel: ViewModel<SyncStatusState>, @unchecked Sendable {
    public let session: BrevdueSession
    private var token: ObservationToken?
    /// Called with (account, new messages) after a sync that found new mail (notifications).
    public var onNewMail: ((String, UInt32) -> Void)?

    public init(session: BrevdueSession) {
        self.session = session
        super.init(state: SyncStatusState())
        token = session.observe { [weak self] event in self?.handle(event) }
    }

    deinit { token?.cancel() }

    /// One sync pass as the user means it (like `brevdue sync`): sends the outbox and replays
    /// the queued changes at once, even while they wait out a backoff (the engine's `sync`
    /// respects it), then pulls from the server. Returns the new messages.
    @discardableResult
    public func sync(account: String? = nil) async -> UInt32 {
        do {
            let sent = try await session.engine.sendOutbox(account: account)
            let pushed = try await session.engine.pushChanges(account: account)
            update { $0.offline = sent.offline ?? pushed.offline }
            let reports = try await session.engine.sync(account: account)
            var new: UInt32 = 0
            update {
                for r in reports { $0.lastReports[r.account] = r.report }
                $0.lastSync = Date()
                $0.lastError = nil
            }
            for r in reports where r.report.newMessages > 0 {
                new += r.report.newMessages
                onNewMail?(r.account, r.report.newMessages)
            }
            refreshChanges()
            return new
        } catch {
            update { $0.lastError = asBrevdueError(error) }
            refreshChanges()
            return 0
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
        case .advisory(let account, let message):
            update { $0.advisories[account] = message }
        case .pushState(let account, let connected):
            update { $0.pushConnected[account] = connected }
        case .error(let account, _, let message):
            update {
                $0.syncing.remove(account)
                $0.lastError = .Network(reason: "\(account): \(message)")
            }
        default:
            break
        }
    }
}
