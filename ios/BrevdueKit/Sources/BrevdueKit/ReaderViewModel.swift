import Foundation

public struct ReaderState: Sendable {
    /// The message as the engine opened it; its `html` is already sanitized.
    public var message: Message? = nil
    /// Remote images the engine held back (0 when they are shown).
    public var blockedRemote: UInt32 = 0
    /// Remote content is shown (allowed for this message, its sender, or this once).
    public var remoteShown = false
    /// This opening marked the message read (by the engine's setting).
    public var markedRead = false
    /// Why the body is missing (offline, say): the cached headers are shown with this advice.
    public var problem: Problem? = nil
    public var loading = false
    public var error: BrevdueError? = nil
    /// The sanitized HTML to draw, if the message has HTML.
    public var html: String? { message?.html }
}

/// One message, opened by `engine.openForReading`: the body downloaded if needed, the
/// HTML sanitized with remote content as the user allowed it, the read mark as the
/// engine's setting says. Nothing of that is decided here.
public final class ReaderViewModel: ViewModel<ReaderState>, @unchecked Sendable {
    public let session: BrevdueSession
    public let id: Int64

    public init(session: BrevdueSession, id: Int64) {
        self.session = session
        self.id = id
        super.init(state: ReaderState())
    }

    /// Opens the message. `markRead` overrides the engine's "mark read on open" setting.
    public func open(markRead: Bool? = nil) async {
        await read(ReadingOptions(allowRemoteOnce: false, markRead: markRead))
    }

    /// "Show images this time": the same message again with remote content, once.
    public func showRemoteOnce() async {
        await read(ReadingOptions(allowRemoteOnce: true, markRead: false))
    }

    /// "Always for this sender": the engine remembers it; this message shows them now.
    public func allowRemoteFromSender() async {
        do {
            try await session.engine.allowRemoteContent(id: id, scope: .sender, allowed: true)
        } catch {
            update { $0.error = asBrevdueError(error) }
            return
        }
        await read(ReadingOptions(allowRemoteOnce: false, markRead: false))
    }

    private func read(_ options: ReadingOptions) async {
        update { $0.loading = true; $0.error = nil }
        do {
            let reading = try await session.engine.openForReading(id: id, options: options)
            update {
                $0.message = reading.message
                $0.blockedRemote = reading.blockedRemote
                $0.remoteShown = reading.remoteShown
                $0.markedRead = $0.markedRead || reading.markedRead
                $0.problem = reading.problem
                $0.loading = false
            }
        } catch {
            update { $0.loading = false; $0.error = asBrevdueError(error) }
        }
    }

    /// The flags as stored after a change made here.
    private func rereadSummary() async {
        if let fresh = try? await session.engine.message(id: id).summary {
            update { $0.message?.summary = fresh }
        }
    }

    public func setFlag(_ change: FlagChange) async {
        do {
            try await session.engine.mark(ids: [id], change: change)
            await rereadSummary()
        } catch { update { $0.error = asBrevdueError(error) } }
    }

    public func toggleFlagged() async {
        await setFlag(state.message?.summary.flags.flagged == true ? .unflagged : .flagged)
    }

    public func move(to folder: String) async {
        do {
            try await session.engine.moveMessages(ids: [id], folder: folder)
            await rereadSummary()
        } catch {
            update { $0.error = asBrevdueError(error) }
        }
    }

    public func archive() async {
        do { try await session.engine.archive(ids: [id]) } catch {
            update { $0.error = asBrevdueError(error) }
        }
    }

    public func delete() async {
        do { try await session.engine.delete(ids: [id]) } catch {
            update { $0.error = asBrevdueError(error) }
        }
    }
}
