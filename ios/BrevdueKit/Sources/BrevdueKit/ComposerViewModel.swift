import Foundation

public struct ComposerState: Sendable {
    public var from: String? = nil
    public var to = ""
    public var cc = ""
    public var bcc = ""
    public var subject = ""
    public var body = ""
    public var attachments: [AttachmentFile] = []
    /// The quote (reply) or the forwarded message the engine puts below `body`.
    public var quoted = ""
    /// The original's attachments a forward carries along (the engine adds them).
    public var forwarded: [Attachment] = []
    /// The engine's preview has filled To, Cc and Subject.
    public var prepared = false
    /// Parts of To, Cc or Bcc that are not addresses (`address_invalid`), as typed.
    public var addressProblems: [Advice] = []
    public var sending = false
    /// The last save in Drafts (the next save replaces it; sending takes it out).
    public var draftId: Int64? = nil
    public var savingDraft = false
    /// The draft was thrown away.
    public var discarded = false
    /// The outbox row once queued.
    public var outboxId: Int64? = nil
    public var report: SendReport? = nil
    public var error: BrevdueError? = nil
    /// Sent, or safely queued in the outbox (it goes out on the next sync).
    public var done: Bool { outboxId != nil && error == nil }
}

/// New mail, replies and forwards (the core's `ComposeMode`). `prepare()` fills To, Cc
/// and Subject from the engine's preview; the user edits them, and what is left in To, Cc
/// and Bcc is exactly who gets the message. The engine adds Message-ID, Date, the
/// threading headers, the quote and forwarded attachments. It can be kept as a real
/// IMAP draft (`saveDraft`), reopened on any device (`open(draft:)`), sent or discarded.
public final class ComposerViewModel: ViewModel<ComposerState>, @unchecked Sendable {
    public let session: BrevdueSession
    public let account: String
    public let mode: ComposeMode

    public init(session: BrevdueSession, account: String, mode: ComposeMode = .new) {
        self.session = session
        self.account = account
        self.mode = mode
        super.init(state: ComposerState(prepared: mode == .new))
    }

    private init(session: BrevdueSession, saved: SavedDraft) {
        self.session = session
        account = saved.draft.account
        mode = saved.mode
        let d = saved.draft
        super.init(state: ComposerState(
            from: d.from, to: formatAddressList(addresses: d.to),
            cc: formatAddressList(addresses: d.cc), bcc: formatAddressList(addresses: d.bcc),
            subject: d.subject, body: d.body, attachments: d.attachments,
            prepared: false, draftId: saved.id))
    }

    /// Reopens a draft from the Drafts folder (saved here or on another device) with its
    /// recipients, Bcc, text, attachments and the reply or forward it began as.
    public static func open(draft id: Int64, session: BrevdueSession) async throws
        -> ComposerViewModel
    {
        let saved = try await session.engine.openDraft(id: id)
        let composer = ComposerViewModel(session: session, saved: saved)
        await composer.prepare()
        return composer
    }

    /// Fills To, Cc, Subject and the quote from `engine.composePreview` (once; later calls
    /// keep what the user typed). Returns whether the composer is ready.
    @discardableResult
    public func prepare() async -> Bool {
        if state.prepared { return true }
        do {
            let preview = try await session.engine.composePreview(mode: mode)
            update {
                guard !$0.prepared else { return }
                // A reopened draft keeps what was written; it only gets the quote shown.
                if $0.draftId == nil {
                    $0.to = formatAddressList(addresses: preview.to)
                    $0.cc = formatAddressList(addresses: preview.cc)
                    $0.subject = preview.subject
                }
                $0.quoted = preview.quoted
                $0.forwarded = preview.attachments
                $0.prepared = true
                $0.error = nil
            }
            return true
        } catch {
            update { $0.error = asBrevdueError(error) }
            return false
        }
    }

    public func edit(_ body: (inout ComposerState) -> Void) { update(body) }

    /// What is wrong with To, Cc and Bcc as typed now (for the view to show while typing).
    public func checkAddresses() -> [Advice] {
        let s = state
        let problems = [s.to, s.cc, s.bcc].flatMap { parseAddressList(text: $0).problems }
        update { $0.addressProblems = problems }
        return problems
    }

    /// The composer's content as the engine takes it (only the parts that are addresses).
    private func draft(_ s: ComposerState) -> Draft {
        Draft(
            account: account, from: s.from,
            to: parseAddressList(text: s.to).addresses,
            cc: parseAddressList(text: s.cc).addresses,
            bcc: parseAddressList(text: s.bcc).addresses,
            subject: s.subject, body: s.body, attachments: s.attachments)
    }

    /// Keeps the message in the account's Drafts folder, replacing the last save.
    /// Recipients may be missing; parts that are not addresses are listed in
    /// `addressProblems` and left out. Returns whether it was saved.
    @discardableResult
    public func saveDraft() async -> Bool {
        _ = checkAddresses()
        let s = state
        update { $0.savingDraft = true; $0.error = nil }
        do {
            let id = try await session.engine.saveDraft(
                mode: mode, draft: draft(s), replaces: s.draftId)
            update { $0.draftId = id; $0.savingDraft = false }
            return true
        } catch {
            update { $0.savingDraft = false; $0.error = asBrevdueError(error) }
            return false
        }
    }

    /// Throws the saved draft away (here and, through the queue, on the server).
    @discardableResult
    public func discardDraft() async -> Bool {
        guard let id = state.draftId else {
            update { $0.discarded = true }
            return true
        }
        do {
            try await session.engine.discardDraft(id: id)
            update { $0.draftId = nil; $0.discarded = true }
            return true
        } catch {
            update { $0.error = asBrevdueError(error) }
            return false
        }
    }

    /// Writes the message into the durable outbox, then tries to send it. Returns whether
    /// it is on its way (sent, or queued for a retry).
    @discardableResult
    public func send() async -> Bool {
        let s = state
        update { $0.sending = true; $0.error = nil }
        do {
            guard checkAddresses().isEmpty else {
                let problem = state.addressProblems[0]
                throw BrevdueError.invalidInput(
                    problem, "'\(problem.detail)' is not a valid address")
            }
            let outboxId: Int64
            if let draftId = s.draftId {
                // Queued as written now, and out of Drafts.
                outboxId = try await session.engine.sendDraft(id: draftId, mode: mode, draft: draft(s))
            } else {
                outboxId = try await session.engine.compose(mode: mode, draft: draft(s))
            }
            update { $0.outboxId = outboxId; $0.draftId = nil }
            let report = try await session.engine.sendOutbox(account: account)
            update { $0.report = report; $0.sending = false }
            return true
        } catch {
            update { $0.sending = false; $0.error = asBrevdueError(error) }
            return false
        }
    }
}
