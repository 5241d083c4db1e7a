import Foundation
import XCTest
@testable import BrevdueKit

/// What a live list's listener got, batch by batch (from the engine's thread).
final class Batches<Row: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var received: [[ListChange<Row>]] = []
    func add(_ batch: [ListChange<Row>]) { lock.lock(); received.append(batch); lock.unlock() }
    var all: [[ListChange<Row>]] { lock.lock(); defer { lock.unlock() }; return received }
    var changes: [ListChange<Row>] { all.flatMap { $0 } }
}

/// Lists, the status, the reader, undo and drafts as the engine keeps them (issue 13,
/// round 2): the view models hold what the engine sends, nothing of their own.
final class LiveListTests: XCTestCase {
    /// A message list gets the whole list once, then an insert for new mail and a set for
    /// a read mark; the folder counts follow; a stopped list gets nothing more.
    func testListsFollowNewMailAndReadMarksWithoutReloading() async throws {
        try await Fixture.deliver(from: "live2", to: "live1", subjects: ["First"])
        let phone = try await Fixture.imapSession("live1")
        defer { phone.close() }
        let status = SyncStatusViewModel(session: phone)
        await status.sync()

        let list = MessageListViewModel(session: phone, account: "main", folder: "INBOX")
        let batches = Batches<MessageSummary>()
        list.onDiffs = { batches.add($0) }
        list.start()
        let folders = FoldersViewModel(session: phone, account: "main")
        let folderBatches = Batches<Folder>()
        folders.onDiffs = { folderBatches.add($0) }
        folders.start()
        let inboxUnread = { folders.state.folders.first { $0.role == .inbox }?.unread }
        var ok = await Fixture.waitUntil(5) { list.state.messages.map(\.subject) == ["First"] && inboxUnread() == 1 }
        XCTAssertTrue(ok, "\(list.state.messages.map(\.subject)), unread \(String(describing: inboxUnread()))")
        XCTAssertEqual(batches.all.first?.count, 1)
        XCTAssertTrue(batches.all.first?.first?.isReset == true, "first a Reset: \(batches.all)")
        XCTAssertEqual(folders.state.folders.first?.role, .inbox, "the engine's order: Inbox first")

        // New mail: one Insert at the top, no second Reset.
        try await Task.sleep(nanoseconds: 1_100_000_000) // a later Date header: newest
        try await Fixture.deliver(from: "live2", to: "live1", subjects: ["Second"])
        await status.sync()
        ok = await Fixture.waitUntil(5) { list.state.messages.map(\.subject) == ["Second", "First"] }
        XCTAssertTrue(ok, "\(list.state.messages.map(\.subject))")
        let inserts = batches.changes.compactMap { c -> (Int, String)? in
            if case .insert(let i, let row) = c { return (i, row.subject) } else { return nil }
        }
        XCTAssertEqual(inserts.map(\.0), [0], "\(batches.all)")
        XCTAssertEqual(inserts.map(\.1), ["Second"])
        XCTAssertEqual(batches.changes.filter(\.isReset).count, 1, "the list was sent whole again")
        ok = await Fixture.waitUntil(5) { inboxUnread() == 2 }
        XCTAssertTrue(ok, "the folder's unread count did not follow: \(String(describing: inboxUnread()))")

        // A read mark: a Set of that row.
        let second = list.state.messages[0]
        let before = batches.changes.count
        await list.mark([second.id], .read)
        ok = await Fixture.waitUntil(5) { list.state.messages.first?.flags.seen == true }
        XCTAssertTrue(ok)
        let after = Array(batches.changes.dropFirst(before))
        XCTAssertTrue(after.contains { if case .set(0, let row) = $0 { return row.id == second.id && row.flags.seen } else { return false } }, "\(after)")
        XCTAssertFalse(after.contains { $0.isReset || $0.isInsert || $0.isRemove }, "\(after)")
        ok = await Fixture.waitUntil(5) { inboxUnread() == 1 }
        XCTAssertTrue(ok, "unread \(String(describing: inboxUnread()))")
        XCTAssertEqual(folderBatches.changes.filter(\.isReset).count, 1, "folders sent whole again")
        XCTAssertTrue(folderBatches.changes.contains(where: \.isSet), "counts come as updates")

        // The unified inbox: every account's Inbox in one live list.
        _ = try await phone.engine.addAccount(config: Fixture.imapConfig("live2", name: "other"), password: Fixture.password)
        try await Fixture.deliver(from: "live1", to: "live2", subjects: ["For the other"])
        await status.sync()
        let unified = MessageListViewModel(session: phone, account: nil, folder: "INBOX")
        unified.start()
        ok = await Fixture.waitUntil(5) { Set(unified.state.messages.map(\.account)) == ["main", "other"] }
        XCTAssertTrue(ok, "\(unified.state.messages.map { "\($0.account): \($0.subject)" })")

        // Stopped: nothing more arrives.
        list.stop()
        let count = batches.all.count
        await list.mark([second.id], .unread)
        try await Task.sleep(nanoseconds: 400_000_000)
        XCTAssertEqual(batches.all.count, count, "a cancelled list still got \(batches.all.dropFirst(count))")
        XCTAssertTrue(status.state.status.accounts.allSatisfy { $0.problem == nil }, "\(status.state.status)")
    }
}

final class ReaderRulesTests: XCTestCase {
    /// The engine sanitizes, blocks remote images, remembers "always for this sender",
    /// and marks read by its setting; the reader shows what it got.
    func testReaderShowsTheEnginesHtmlAndRemoteChoice() async throws {
        try Fixture.deliverRaw(from: "read2", to: "read1", message: Fixture.htmlMessage(from: "read2", to: "read1", subject: "Offer 1"))
        let phone = try await Fixture.imapSession("read1")
        defer { phone.close() }
        _ = try await phone.engine.syncNow(account: nil)
        let offer1 = try await Fixture.find(phone, folder: "INBOX", subject: "Offer 1")
        let first = try XCTUnwrap(offer1)

        let reader = ReaderViewModel(session: phone, id: first.id)
        await reader.open()
        XCTAssertNil(reader.state.error)
        let html = try XCTUnwrap(reader.state.html)
        XCTAssertTrue(html.contains("Offer: Offer 1"), html)
        XCTAssertFalse(html.contains("<script"), html)
        XCTAssertFalse(html.contains("onclick"), html)
        XCTAssertFalse(html.contains("track.example"), html)
        XCTAssertEqual(reader.state.blockedRemote, 1)
        XCTAssertFalse(reader.state.remoteShown)
        XCTAssertTrue(reader.state.markedRead, "marked read by the default setting")
        let opened1 = try await phone.engine.message(id: first.id)
        XCTAssertEqual(opened1.summary.flags.seen, true)

        // This time only.
        await reader.showRemoteOnce()
        XCTAssertTrue(reader.state.remoteShown)
        XCTAssertTrue(reader.state.html?.contains("track.example") == true)
        await ReaderViewModel(session: phone, id: first.id).open()
        let again = ReaderViewModel(session: phone, id: first.id)
        await again.open()
        XCTAssertFalse(again.state.remoteShown, "shown once stays once")

        // Always for this sender: a second message from them shows its images.
        await again.allowRemoteFromSender()
        XCTAssertTrue(again.state.remoteShown)
        try await phone.engine.setMarkReadOnOpen(mark: false)
        try Fixture.deliverRaw(from: "read2", to: "read1", message: Fixture.htmlMessage(from: "read2", to: "read1", subject: "Offer 2"))
        _ = try await phone.engine.syncNow(account: nil)
        let offer2 = try await Fixture.find(phone, folder: "INBOX", subject: "Offer 2")
        let second = try XCTUnwrap(offer2)
        let next = ReaderViewModel(session: phone, id: second.id)
        await next.open()
        XCTAssertTrue(next.state.remoteShown, "the sender's choice was not kept")
        XCTAssertEqual(next.state.blockedRemote, 0)
        XCTAssertTrue(next.state.html?.contains("track.example") == true)
        XCTAssertFalse(next.state.html?.contains("<script") == true)
        XCTAssertFalse(next.state.markedRead, "mark-read-on-open is off")
        let opened2 = try await phone.engine.message(id: second.id)
        XCTAssertEqual(opened2.summary.flags.seen, false)
    }

    /// A body that cannot be downloaded: the cached headers with the engine's advice.
    func testReaderShowsTheProblemWhenTheBodyIsMissing() async throws {
        try await Fixture.deliver(from: "read2", to: "read1", subjects: ["Gone soon"])
        let phone = try Fixture.session("read1-phone")
        defer { phone.close() }
        _ = try await phone.engine.addAccount(config: Fixture.imapConfig("read1"), password: Fixture.password)
        try await phone.engine.setBodyPrefetch(newest: 0) // headers only
        _ = try await phone.engine.syncNow(account: nil)
        let gone = try await Fixture.find(phone, folder: "INBOX", subject: "Gone soon")
        let message = try XCTUnwrap(gone)
        XCTAssertFalse(message.hasBody)

        // Another device removes it from the server first.
        let pc = try await Fixture.imapSession("read1")
        defer { pc.close() }
        _ = try await pc.engine.syncNow(account: nil)
        let pcGone = try await Fixture.find(pc, folder: "INBOX", subject: "Gone soon")
        let there = try XCTUnwrap(pcGone)
        try await pc.engine.moveMessages(ids: [there.id], folder: "Trash")
        _ = try await pc.engine.syncNow(account: nil)

        let reader = ReaderViewModel(session: phone, id: message.id)
        await reader.open()
        XCTAssertNil(reader.state.error, "\(String(describing: reader.state.error))")
        XCTAssertEqual(reader.state.message?.summary.subject, "Gone soon", "the cached headers")
        let problem = try XCTUnwrap(reader.state.problem, "no problem for a missing body")
        XCTAssertFalse(problem.advice.id.isEmpty)
        print("reader problem: \(problem.kind) \(problem.advice.id): \(localized(problem.advice, language: "en"))")
    }
}

final class UndoTests: XCTestCase {
    /// Undoing a queued folder creation also undoes the move into it; nothing reaches
    /// the server.
    func testUndoFolderCreationTakesTheMoveWithIt() async throws {
        try await Fixture.deliver(from: "live2", to: "undo1", subjects: ["Keep me"])
        let phone = try await Fixture.imapSession("undo1")
        defer { phone.close() }
        let status = SyncStatusViewModel(session: phone)
        await status.sync()
        let list = MessageListViewModel(session: phone, account: "main", folder: "INBOX")
        list.start()
        let folders = FoldersViewModel(session: phone, account: "main")
        folders.start()
        var ok = await Fixture.waitUntil(5) { list.state.messages.count == 1 && folders.state.loaded }
        XCTAssertTrue(ok)
        let message = list.state.messages[0]

        let created = await folders.create("Later")
        XCTAssertTrue(created)
        await list.move([message.id], to: "Later")
        ok = await Fixture.waitUntil(5) {
            list.state.messages.isEmpty && folders.state.folders.contains { $0.name == "Later" }
        }
        XCTAssertTrue(ok, "the folder and the move show at once")
        ok = await Fixture.waitUntil(5) { status.state.account("main")?.changesWaiting == 2 }
        XCTAssertTrue(ok, "the status counts two waiting changes: \(status.state.status)")
        await status.refreshChanges()
        XCTAssertEqual(status.state.pending.map(\.kind), [.createFolder, .move], "\(status.state.pending)")
        let create = try XCTUnwrap(status.state.pending.first { $0.kind == .createFolder })

        let undone = await status.undo(create.id)
        XCTAssertEqual(undone?.count, 2, "the move depended on the folder: \(String(describing: undone))")
        XCTAssertNil(status.state.lastError)
        XCTAssertTrue(status.state.pending.isEmpty, "\(status.state.pending)")
        ok = await Fixture.waitUntil(5) {
            list.state.messages.map(\.id) == [message.id] && !folders.state.folders.contains { $0.name == "Later" }
        }
        XCTAssertTrue(ok, "\(list.state.messages.map(\.subject)); \(folders.state.folders.map(\.name))")
        ok = await Fixture.waitUntil(5) { status.state.account("main")?.changesWaiting == 0 }
        XCTAssertTrue(ok, "\(status.state.status)")

        // The server never saw either.
        await status.sync()
        let other = try await Fixture.imapSession("undo1")
        defer { other.close() }
        _ = try await other.engine.syncNow(account: nil)
        let otherFolders = try await other.engine.folders(account: nil)
        XCTAssertFalse(otherFolders.contains { $0.name == "Later" })
        let kept = try await Fixture.find(other, folder: "INBOX", subject: "Keep me")
        XCTAssertNotNil(kept)
    }
}

final class DraftTests: XCTestCase {
    /// A reply saved twice is one draft; another device reopens it with To, Bcc, the text
    /// and the reply it began as; once sent, Drafts is empty on both.
    func testReplyDraftSavedTwiceReopenedElsewhereAndSent() async throws {
        try await Fixture.deliver(from: "draft2", to: "draft1", subjects: ["Plans"])
        let phone = try await Fixture.imapSession("draft1")
        defer { phone.close() }
        let status = SyncStatusViewModel(session: phone)
        await status.sync()
        let plans = try await Fixture.find(phone, folder: "INBOX", subject: "Plans")
        let original = try XCTUnwrap(plans)
        let folders = FoldersViewModel(session: phone, account: "main")
        folders.start()
        var ok = await Fixture.waitUntil(5) { folders.drafts(of: "main") != nil }
        XCTAssertTrue(ok, "no Drafts folder: \(folders.state.folders.map(\.name))")
        let draftsFolder = try XCTUnwrap(folders.drafts(of: "main")).name
        let drafts = MessageListViewModel(session: phone, account: "main", folder: draftsFolder)
        drafts.start()
        ok = await Fixture.waitUntil(5) { drafts.state.loaded }
        XCTAssertTrue(ok)
        XCTAssertTrue(drafts.state.messages.isEmpty)

        let composer = ComposerViewModel(session: phone, account: "main", mode: .reply(original: original.id))
        await composer.prepare()
        let bcc = "Archive <\(Fixture.email("draft1"))>"
        composer.edit { $0.bcc = bcc; $0.body = "First thoughts." }
        var saved = await composer.saveDraft()
        XCTAssertTrue(saved, "\(String(describing: composer.state.error))")
        let firstSave = try XCTUnwrap(composer.state.draftId)
        composer.edit { $0.body = "Second thoughts." }
        saved = await composer.saveDraft()
        XCTAssertTrue(saved, "\(String(describing: composer.state.error))")
        XCTAssertNotEqual(composer.state.draftId, firstSave)
        ok = await Fixture.waitUntil(5) { drafts.state.messages.count == 1 }
        XCTAssertTrue(ok, "\(drafts.state.messages.map(\.subject))")
        try? await Task.sleep(nanoseconds: 200_000_000)
        XCTAssertEqual(drafts.state.messages.map(\.subject), ["Re: Plans"], "one draft, not two")
        XCTAssertEqual(drafts.state.messages.first?.id, composer.state.draftId)

        // Reopened here: the reply it began as.
        let here = try await ComposerViewModel.open(draft: try XCTUnwrap(composer.state.draftId), session: phone)
        XCTAssertEqual(here.mode, .reply(original: original.id))
        XCTAssertEqual(here.state.body.trimmingCharacters(in: .whitespacesAndNewlines), "Second thoughts.")

        // To the server, then another device.
        let pushed = await status.pushChanges()
        XCTAssertEqual(pushed?.pending, 0, "\(String(describing: pushed))")
        let pc = try await Fixture.imapSession("draft1")
        defer { pc.close() }
        _ = try await pc.engine.syncNow(account: nil)
        let pcPlans = try await Fixture.find(pc, folder: "INBOX", subject: "Plans")
        let pcOriginal = try XCTUnwrap(pcPlans)
        let pcDrafts = try await pc.engine.messages(account: "main", folder: draftsFolder, limit: 10, offset: 0)
        XCTAssertEqual(pcDrafts.map(\.subject), ["Re: Plans"], "one draft on the server")
        let reopened = try await ComposerViewModel.open(draft: pcDrafts[0].id, session: pc)
        XCTAssertEqual(reopened.mode, .reply(original: pcOriginal.id))
        XCTAssertEqual(reopened.state.to, Fixture.email("draft2"))
        XCTAssertEqual(parseAddressList(text: reopened.state.bcc).addresses.map(\.address), [Fixture.email("draft1")])
        XCTAssertEqual(reopened.state.body.trimmingCharacters(in: .whitespacesAndNewlines), "Second thoughts.")
        XCTAssertEqual(reopened.state.subject, "Re: Plans")
        XCTAssertTrue(reopened.state.quoted.contains("> Hello"), reopened.state.quoted)

        // Sent from there: out of Drafts on both devices.
        reopened.edit { $0.body = "Final answer." }
        let sent = await reopened.send()
        XCTAssertTrue(sent, "\(String(describing: reopened.state.error))")
        XCTAssertEqual(reopened.state.report?.sent, 1)
        XCTAssertNil(reopened.state.draftId)
        _ = try await pc.engine.syncNow(account: nil)
        let pcDraftsAfter = try await pc.engine.messages(account: "main", folder: draftsFolder, limit: 10, offset: 0)
        XCTAssertTrue(pcDraftsAfter.isEmpty)
        await status.sync()
        ok = await Fixture.waitUntil(5) { drafts.state.messages.isEmpty }
        XCTAssertTrue(ok, "the phone's Drafts still has \(drafts.state.messages.map(\.subject))")

        // The reply arrived, threaded, with the last text.
        let sender = try await Fixture.imapSession("draft2")
        defer { sender.close() }
        _ = try await sender.engine.syncNow(account: nil)
        let sentReply = try await Fixture.find(sender, folder: "INBOX", subject: "Re: Plans")
        let reply = try XCTUnwrap(sentReply)
        let opened = try await sender.engine.openMessage(id: reply.id)
        XCTAssertEqual(opened.inReplyTo, original.messageId)
        XCTAssertTrue(opened.text?.contains("Final answer.") == true, opened.text ?? "")
        XCTAssertEqual(opened.to.map(\.address), [Fixture.email("draft2")])

        // A new draft, discarded.
        let note = ComposerViewModel(session: phone, account: "main")
        note.edit { $0.subject = "Scratch"; $0.body = "maybe" }
        saved = await note.saveDraft()
        XCTAssertTrue(saved, "\(String(describing: note.state.error))")
        ok = await Fixture.waitUntil(5) { drafts.state.messages.map(\.subject) == ["Scratch"] }
        XCTAssertTrue(ok)
        let discarded = await note.discardDraft()
        XCTAssertTrue(discarded)
        ok = await Fixture.waitUntil(5) { drafts.state.messages.isEmpty }
        XCTAssertTrue(ok, "\(drafts.state.messages.map(\.subject))")
    }
}
