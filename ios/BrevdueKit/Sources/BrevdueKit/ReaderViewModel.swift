import Foundation

public struct ReaderState: Sendable {
    public var message: Message? = nil
    /// The HTML part made safe to show (remote images blocked unless allowed).
    public var html: SafeHtml? = nil
    public var remoteContentAllowed = false
    public var loading = false
    public var error: BrevdueError? = nil
}

/// One message: its body downloaded on demand, marked read when opened.
public final class ReaderViewModel: ViewModel<ReaderState>, @unchecked Sendable {
    public let session: BrevdueSession
    public let id: Int64

    public init(session: BrevdueSession, id: Int64) {
        self.session = session
        self.id = id
        super.init(state: ReaderState())
    }

    /// Fetches the body if needed (without marking it read on the server), then marks the
    /// message read here (queued for the server).
    public func open(markRead: Bool = true) async {
        update { $0.loading = true; $0.error = nil }
        do {
            var message = try await session.engine.openMessage(id: id)
            if markRead && !message.summary.flags.seen {
                try session.engine.mark(ids: [id], change: .read)
                message.summary.flags.seen = true
            }
            let allow = state.remoteContentAllowed
            let html = message.html.map { sanitizeHtml(html: $0, allowRemote: allow) }
            update { $0.message = message; $0.html = html; $0.loading = false }
        } catch {
            update { $0.loading = false; $0.error = asBrevdueError(error) }
        }
    }

    /// Shows remote images of this message (after the user asked).
    public func allowRemoteContent() {
        let html = state.message?.html.map { sanitizeHtml(html: $0, allowRemote: true) }
        update { $0.remoteContentAllowed = true; $0.html = html }
    }

    private func reload() {
        serially {
            if let fresh = try? session.engine.message(id: id) {
                update { $0.message = fresh }
            }
        }
    }

    public func setFlag(_ change: FlagChange) {
        do {
            try session.engine.mark(ids: [id], change: change)
            reload()
        } catch { update { $0.error = asBrevdueError(error) } }
    }

    public func toggleFlagged() {
        setFlag(state.message?.summary.flags.flagged == true ? .unflagged : .flagged)
    }

    public func move(to folder: String) {
        do { try session.engine.moveMessages(ids: [id], folder: folder); reload() } catch {
            update { $0.error = asBrevdueError(error) }
        }
    }

    public func archive() {
        do { try session.engine.archive(ids: [id]) } catch { update { $0.error = asBrevdueError(error) } }
    }

    public func delete() {
        do { try session.engine.delete(ids: [id]) } catch { update { $0.error = asBrevdueError(error) } }
    }
}
