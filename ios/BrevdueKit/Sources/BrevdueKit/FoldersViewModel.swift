import Foundation

public struct FoldersState: Sendable {
    public var folders: [Folder] = []
    public var error: BrevdueError? = nil
    public var unread: UInt32 { folders.reduce(0) { $0 + $1.unread } }
}

/// The folder list of one account (or of all): Inbox first, then the special folders,
/// then the user's own by name.
public final class FoldersViewModel: ViewModel<FoldersState>, @unchecked Sendable {
    public let session: BrevdueSession
    public let account: String?
    private var token: ObservationToken?

    public init(session: BrevdueSession, account: String?) {
        self.session = session
        self.account = account
        super.init(state: FoldersState())
        token = session.observe { [weak self] event in self?.handle(event) }
    }

    deinit { token?.cancel() }

    static func rank(_ role: FolderRole?) -> Int {
        switch role {
        case .inbox: return 0
        case .drafts: return 1
        case .sent: return 2
        case .archive: return 3
        case .all: return 4
        case .junk: return 5
        case .trash: return 6
        case nil: return 7
        }
    }

    public static func ordered(_ folders: [Folder]) -> [Folder] {
        folders.sorted {
            let (a, b) = (rank($0.role), rank($1.role))
            if $0.account != $1.account { return $0.account < $1.account }
            if a != b { return a < b }
            return $0.name.localizedStandardCompare($1.name) == .orderedAscending
        }
    }

    public func load() {
        serially {
            do {
                let folders = Self.ordered(try session.engine.folders(account: account))
                update { $0.folders = folders; $0.error = nil }
            } catch {
                update { $0.error = asBrevdueError(error) }
            }
        }
    }

    /// Creates a folder here at once; the server follows through the change queue.
    @discardableResult
    public func create(_ name: String, account: String? = nil) -> Bool {
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
            try session.engine.createFolder(account: target, name: name)
            load()
            return true
        } catch {
            update { $0.error = asBrevdueError(error) }
            return false
        }
    }

    public func rename(_ old: String, to new: String, account: String? = nil) {
        guard let target = account ?? self.account else { return }
        do {
            try session.engine.renameFolder(account: target, old: old, new: new)
            load()
        } catch { update { $0.error = asBrevdueError(error) } }
    }

    public func delete(_ name: String, account: String? = nil) {
        guard let target = account ?? self.account else { return }
        do {
            try session.engine.deleteFolder(account: target, name: name)
            load()
        } catch { update { $0.error = asBrevdueError(error) } }
    }

    func handle(_ event: Event) {
        switch event {
        case .foldersChanged(let a), .messagesChanged(let a, _, _, _, _), .syncFinished(let a, _):
            if account == nil || account == a { load() }
        default: break
        }
    }
}
