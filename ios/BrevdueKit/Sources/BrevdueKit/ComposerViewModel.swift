import Foundation

public enum ComposeMode: Sendable, Equatable {
    case new
    case reply(original: MessageSummary, all: Bool)
    case forward(original: MessageSummary)
}

public struct ComposerState: Sendable {
    public var from: String? = nil
    public var to = ""
    public var cc = ""
    public var bcc = ""
    public var subject = ""
    public var body = ""
    public var attachments: [AttachmentFile] = []
    public var sending = false
    /// The outbox row once queued.
    public var outboxId: Int64? = nil
    public var report: SendReport? = nil
    public var error: BrevdueError? = nil
    /// Sent, or safely queued in the outbox (it goes out on the next sync).
    public var done: Bool { outboxId != nil && error == nil }
}

/// New mail, replies and forwards. The engine adds Message-ID, Date, the threading headers,
/// the quote and, for replies, the recipients and subject.
public final class ComposerViewModel: ViewModel<ComposerState>, @unchecked Sendable {
    public let session: BrevdueSession
    public let account: String
    public let mode: ComposeMode

    public init(session: BrevdueSession, account: String, mode: ComposeMode = .new) {
        self.session = session
        self.account = account
        self.mode = mode
        var initial = ComposerState()
        switch mode {
        case .new: break
        case .reply(let original, _):
            initial.to = original.from.address
            initial.subject = Self.prefixed("Re:", original.subject)
        case .forward(let original):
            initial.subject = Self.prefixed("Fwd:", original.subject)
        }
        super.init(state: initial)
    }

    /// "Re: x" for "x", "Re: x" again for "Re: Re: x" (no stacking).
    public static func prefixed(_ prefix: String, _ subject: String) -> String {
        var rest = subject.trimmingCharacters(in: .whitespaces)
        let known = ["re:", "fwd:", "fw:", "aw:", "sv:"]
        while let p = known.first(where: { rest.lowercased().hasPrefix($0) }) {
            rest = String(rest.dropFirst(p.count)).trimmingCharacters(in: .whitespaces)
        }
        return "\(prefix) \(rest)"
    }

    /// "Ann <ann@x>, bob@y" as addresses.
    public static func parseAddresses(_ text: String) throws -> [Address] {
        try text.split(whereSeparator: { $0 == "," || $0 == ";" }).compactMap { part in
            let item = part.trimmingCharacters(in: .whitespaces)
            if item.isEmpty { return nil }
            if let open = item.lastIndex(of: "<"), let close = item.lastIndex(of: ">"), open < close {
                let address = String(item[item.index(after: open)..<close])
                let name = item[..<open].trimmingCharacters(in: CharacterSet(charactersIn: " \""))
                guard address.contains("@") else {
                    throw BrevdueError.InvalidInput(reason: "'\(item)' is not an address")
                }
                return Address(name: name.isEmpty ? nil : name, address: address)
            }
            guard item.contains("@"), !item.contains(" ") else {
                throw BrevdueError.InvalidInput(reason: "'\(item)' is not an address")
            }
            return Address(name: nil, address: item)
        }
    }

    public func edit(_ body: (inout ComposerState) -> Void) { update(body) }

    /// Writes the message into the durable outbox, then tries to send it. Returns whether
    /// it is on its way (sent, or queued for a retry).
    @discardableResult
    public func send() async -> Bool {
        let s = state
        update { $0.sending = true; $0.error = nil }
        do {
            let to = try Self.parseAddresses(s.to)
            let draft = Draft(
                account: account, from: s.from, to: to, cc: try Self.parseAddresses(s.cc),
                bcc: try Self.parseAddresses(s.bcc), subject: s.subject, body: s.body,
                attachments: s.attachments)
            let outboxId: Int64
            switch mode {
            case .new:
                guard !to.isEmpty else {
                    throw BrevdueError.InvalidInput(reason: "add at least one recipient")
                }
                outboxId = try await session.engine.send(draft: draft)
            case .reply(let original, let all):
                // The engine answers the original's sender (and, for all, its recipients).
                var reply = draft
                reply.to = []
                reply.subject = ""
                outboxId = try await session.engine.reply(original: original.id, all: all, draft: reply)
            case .forward(let original):
                guard !to.isEmpty else {
                    throw BrevdueError.InvalidInput(reason: "add at least one recipient")
                }
                outboxId = try await session.engine.forward(original: original.id, draft: draft)
            }
            update { $0.outboxId = outboxId }
            let report = try await session.engine.sendOutbox(account: account)
            update { $0.report = report; $0.sending = false }
            return true
        } catch {
            update { $0.sending = false; $0.error = asBrevdueError(error) }
            return false
        }
    }
}
