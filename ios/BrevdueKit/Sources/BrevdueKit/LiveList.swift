import Foundation

/// One change to a live list (the core's `MessageListDiff` / `FolderListDiff`): indexes
/// count in the list as the changes before it left it.
public enum ListChange<Row: Sendable>: Sendable {
    case reset([Row])
    case insert(Int, Row)
    case set(Int, Row)
    case remove(Int)

    public var isReset: Bool { if case .reset = self { return true } else { return false } }
    public var isInsert: Bool { if case .insert = self { return true } else { return false } }
    public var isSet: Bool { if case .set = self { return true } else { return false } }
    public var isRemove: Bool { if case .remove = self { return true } else { return false } }
}

extension MessageListDiff {
    var change: ListChange<MessageSummary> {
        switch self {
        case .reset(let rows): return .reset(rows)
        case .insert(let index, let row): return .insert(Int(index), row)
        case .set(let index, let row): return .set(Int(index), row)
        case .remove(let index): return .remove(Int(index))
        }
    }
}

extension FolderListDiff {
    var change: ListChange<Folder> {
        switch self {
        case .reset(let rows): return .reset(rows)
        case .insert(let index, let row): return .insert(Int(index), row)
        case .set(let index, let row): return .set(Int(index), row)
        case .remove(let index): return .remove(Int(index))
        }
    }
}

/// Applies `changes` in order (what the engine computed against the list as it sent it).
func apply<Row>(_ changes: [ListChange<Row>], to rows: inout [Row]) {
    for change in changes {
        switch change {
        case .reset(let all): rows = all
        case .insert(let i, let row) where i <= rows.count: rows.insert(row, at: i)
        case .set(let i, let row) where i < rows.count: rows[i] = row
        case .remove(let i) where i < rows.count: rows.remove(at: i)
        default: assertionFailure("a list change out of range: \(change) on \(rows.count) rows")
        }
    }
}

/// Receives one subscription's diffs for a view model; `owner` applies them only while
/// this feed is the one it subscribed last (a cancelled feed's late batch is dropped).
final class MessageFeed: MessageListListener, @unchecked Sendable {
    weak var owner: MessageListViewModel?
    init(_ owner: MessageListViewModel) { self.owner = owner }
    func onDiffs(diffs: [MessageListDiff]) { owner?.receive(diffs.map(\.change), from: self) }
    func onError(error: BrevdueError) { owner?.failed(error, from: self) }
}

final class FolderFeed: FolderListListener, @unchecked Sendable {
    weak var owner: FoldersViewModel?
    init(_ owner: FoldersViewModel) { self.owner = owner }
    func onDiffs(diffs: [FolderListDiff]) { owner?.receive(diffs.map(\.change), from: self) }
    func onError(error: BrevdueError) { owner?.failed(error, from: self) }
}

final class StatusFeed: SyncStatusListener, @unchecked Sendable {
    weak var owner: SyncStatusViewModel?
    init(_ owner: SyncStatusViewModel) { self.owner = owner }
    func onStatus(status: SyncStatus) { owner?.receive(status) }
}
