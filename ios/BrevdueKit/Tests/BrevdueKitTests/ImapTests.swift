import Foundation
import XCTest
@testable import BrevdueKit

/// IMAP accounts through the view models: add, sync with progress, folders, paging, the
/// reader, mark, move, create folder, reply and forward; checked against the server.
final class ImapTests: XCTestCase {
    func testAddAccountAndSyncWithProgress() async throws {
        try await Fixture.deliver(from: "sync2", to: "sync1", subjects: ["One", "Two", "Three"])
        let session = try Fixture.session("sync")
        defer { session.close() }

        let accounts = AccountsViewModel(session: session)
        let account = await accounts.add(Fixture.imapForm("sync1"))
        XCTAssertNil(accounts.state.error)
        let added = try XCTUnwrap(account)
        XCTAssertEqual(added.protocol, .imap)
        XCTAssertTrue(added.capabilities.syncsReadState && added.capabilities.syncsFolders)
        XCTAssertEqual(added.smtp.port, Fixture.server.smtps_port)
        XCTAssertEqual(accounts.state.accounts.map(\.name), ["main"])
        XCTAssertNil(AccountsViewModel.advice(for: added), "no POP3 advice for IMAP")
        XCTAssertEqual(AccountsViewModel.advice(for: .imap).id, "imap_explained")

        let recorder = Recorder()
        let subscription = try session.engine.subscribe(listener: recorder)
        defer { subscription.cancel() }
        let status = SyncStatusViewModel(session: session)

        let report = await status.sync()
        XCTAssertEqual(report?.newMessages, 3)
        XCTAssertEqual(report?.accounts.map(\.account), ["main"])
        XCTAssertNil(report?.accounts.first?.problem)
        XCTAssertNil(status.state.lastError)
        XCTAssertTrue(status.state.problems.isEmpty, "\(status.state.problems)")
        XCTAssertEqual(status.state.lastReports["main"]?.newMessages, 3)
        // The engine's status (watched) says when it last synced.
        let synced = await Fixture.waitUntil(5) { status.state.lastSync != nil && !status.state.isSyncing }
        XCTAssertTrue(synced, "\(status.state.status)")
        XCTAssertEqual(status.state.status.accounts.map(\.account), ["main"])
        let result4 = await Fixture.waitUntil(5) { recorder.events.contains { if case .syncFinished = $0 { return true } else { return false } } }
        XCTAssertTrue(result4)

        // The events: started, progress up to the total, finished with the report.
        let events = recorder.events
        XCTAssertTrue(events.contains { if case .syncStarted(account: "main") = $0 { return true } else { return false } }, "\(events)")
        let progress = events.compactMap { e -> (String, UInt32, UInt32)? in
            if case .syncProgress(_, let folder, let done, let total) = e { return (folder, done, total) }
            return nil
        }
        XCTAssertFalse(progress.isEmpty, "no SyncProgress in \(events)")
        let inbox = progress.filter { $0.0 == "INBOX" }
        XCTAssertEqual(inbox.last?.1, 3)
        XCTAssertEqual(inbox.last?.2, 3)
        XCTAssertTrue(zip(inbox, inbox.dropFirst()).allSatisfy { $0.1 <= $1.1 }, "progress goes forward")
        let finished = events.compactMap { e -> SyncReport? in
            if case .syncFinished(account: "main", let report) = e { return report }
            return nil
        }
        XCTAssertEqual(finished.last?.newMessages, 3)
        // The view model shows the engine's status: idle again, no problem (the steps it
        // saw depend on timing: a status listener skips to the newest).
        XCTAssertFalse(status.state.isSyncing)
        XCTAssertNil(status.state.account("main")?.problem)
        print("sync progress steps: \(status.state.progressSteps.map { "\($0.folder) \($0.done)/\($0.total)" })")

        // Folders: Inbox first, the special folders, their counts.
        let folders = FoldersViewModel(session: session, account: "main")
        folders.start()
        let listed = await Fixture.waitUntil(5) { folders.state.loaded }
        XCTAssertTrue(listed, "no folder list")
        let names = folders.state.folders.map(\.name)
        XCTAssertEqual(names.first, "INBOX", "\(names)")
        for role in [FolderRole.sent, .drafts, .trash] {
            XCTAssertTrue(folders.state.folders.contains { $0.role == role }, "no \(role) in \(names)")
        }
        XCTAssertEqual(folders.state.folders.first?.total, 3)
        XCTAssertEqual(folders.state.folders.first?.unread, 3)
        XCTAssertEqual(folders.state.unread, 3)

        // A second sync finds nothing new.
        let result6 = await status.sync()
        XCTAssertEqual(result6?.newMessages, 0)
    }

    func testListPagingReaderMarkMoveCreateFolderAndReply() async throws {
        let subjects = (1...5).map { "Note \($0)" }
        try await Fixture.deliver(from: "list2", to: "list1", subjects: subjects, body: "Body text")
        let phone = try await Fixture.imapSession("list1")
        defer { phone.close() }
        let status = SyncStatusViewModel(session: phone)
        let result7 = await status.sync()
        XCTAssertEqual(result7?.newMessages, 5)

        // Paging (the live list's limit): 2 + 2 + 1, newest first, no duplicates.
        let list = MessageListViewModel(session: phone, account: "main", folder: "INBOX", pageSize: 2)
        list.start()
        var shown = await Fixture.waitUntil(5) { list.state.messages.count == 2 }
        XCTAssertTrue(shown, "\(list.state.messages.count) rows")
        XCTAssertTrue(list.state.hasMore)
        list.loadMore()
        list.loadMore() // the page asked for has not come yet: no second page
        shown = await Fixture.waitUntil(5) { list.state.messages.count == 4 }
        XCTAssertTrue(shown, "\(list.state.messages.count) rows")
        XCTAssertEqual(list.state.limit, 4)
        list.loadMore()
        shown = await Fixture.waitUntil(5) { list.state.messages.count == 5 }
        XCTAssertTrue(shown, "\(list.state.messages.count) rows")
        XCTAssertFalse(list.state.hasMore)
        list.loadMore()
        XCTAssertEqual(list.state.limit, 6, "no page after the last")
        XCTAssertEqual(Set(list.state.messages.map(\.subject)), Set(subjects))
        let dates = list.state.messages.map(\.date)
        XCTAssertEqual(dates, dates.sorted(by: >), "newest first")
        XCTAssertEqual(list.unreadCount, 5)

        // Search.
        await list.search("Note")
        XCTAssertEqual(list.state.messages.count, 5)
        XCTAssertEqual(list.state.query, "Note")
        await list.search("")
        XCTAssertNil(list.state.query)
        shown = await Fixture.waitUntil(5) { list.state.messages.count == 5 }
        XCTAssertTrue(shown, "back to the live list (as far as it was paged)")

        // The reader: the body comes on demand and opening marks it read (the engine's
        // setting; locally, queued).
        let first = list.state.messages[0]
        let reader = ReaderViewModel(session: phone, id: first.id)
        await reader.open()
        XCTAssertNil(reader.state.error)
        let message = try XCTUnwrap(reader.state.message)
        XCTAssertEqual(message.text?.trimmingCharacters(in: .whitespacesAndNewlines), "Body text: \(first.subject)")
        XCTAssertEqual(message.to.map(\.address), [Fixture.email("list1")])
        XCTAssertTrue(message.summary.flags.seen)
        XCTAssertTrue(reader.state.markedRead)
        XCTAssertNil(reader.state.problem)
        let result8 = await Fixture.waitUntil(5) { list.state.messages.first { $0.id == first.id }?.flags.seen == true }
        XCTAssertTrue(result8,
                      "the list did not follow the read mark")
        await status.refreshChanges()
        XCTAssertTrue(status.state.pending.contains { $0.kind == .flags && $0.messageId == first.id },
                      "\(status.state.pending)")
        await reader.toggleFlagged()
        XCTAssertEqual(reader.state.message?.summary.flags.flagged, true)

        // List actions: mark unread, create a folder, move there.
        let second = list.state.messages[1]
        await list.mark([second.id], .read)
        var followed = await Fixture.waitUntil(5) { list.state.messages.first { $0.id == second.id }?.flags.seen == true }
        XCTAssertTrue(followed)
        await list.mark([second.id], .unread)
        followed = await Fixture.waitUntil(5) { list.state.messages.first { $0.id == second.id }?.flags.seen == false }
        XCTAssertTrue(followed)
        let folders = FoldersViewModel(session: phone, account: "main")
        folders.start()
        let emptyName = await folders.create("  ")
        XCTAssertFalse(emptyName, "an empty name is refused")
        XCTAssertEqual(folders.state.error?.kind, "InvalidInput")
        let created = await folders.create("Receipts")
        XCTAssertTrue(created)
        followed = await Fixture.waitUntil(5) { folders.state.folders.contains { $0.name == "Receipts" } }
        XCTAssertTrue(followed, "the folder list did not follow")
        let third = list.state.messages[2]
        await list.move([third.id], to: "Receipts")
        followed = await Fixture.waitUntil(5) { list.state.messages.count == 4 }
        XCTAssertTrue(followed)
        XCTAssertFalse(list.state.messages.contains { $0.messageId == third.messageId })
        let receipts = MessageListViewModel(session: phone, account: "main", folder: "Receipts")
        receipts.start()
        followed = await Fixture.waitUntil(5) { receipts.state.messages.map(\.messageId) == [third.messageId] }
        XCTAssertTrue(followed, "\(receipts.state.messages.map(\.subject))")

        // Everything reaches the server.
        let pushed = await status.pushChanges()
        XCTAssertEqual(pushed?.pending, 0, "\(String(describing: pushed))")
        XCTAssertEqual(pushed?.failed, 0)
        XCTAssertTrue(status.state.pending.isEmpty, "\(status.state.pending)")

        // Reply with the composer: Re: once, to the sender (the engine's preview); sent and
        // filed in Sent.
        let composer = ComposerViewModel(session: phone, account: "main", mode: .reply(original: first.id))
        let prepared = await composer.prepare()
        XCTAssertTrue(prepared, "\(String(describing: composer.state.error))")
        XCTAssertEqual(composer.state.subject, "Re: \(first.subject)")
        XCTAssertTrue(composer.state.quoted.contains("> Body text"), composer.state.quoted)
        XCTAssertEqual(composer.state.to, Fixture.email("list2"))
        composer.edit { $0.body = "Thanks, noted." }
        let sent = await composer.send()
        XCTAssertTrue(sent, "\(String(describing: composer.state.error))")
        XCTAssertTrue(composer.state.done)
        XCTAssertEqual(composer.state.report?.sent, 1)
        let result9 = await status.pushChanges()?.pending
        XCTAssertEqual(result9, 0)
        let replied = try await phone.engine.message(id: first.id)
        XCTAssertEqual(replied.summary.flags.answered, true)

        // Another device (a second engine on the same mailbox) sees all of it.
        let other = try await Fixture.imapSession("list1")
        defer { other.close() }
        _ = try await other.engine.sync(account: nil)
        let otherFirst = try await Fixture.find(other, folder: "INBOX", subject: first.subject)
        let seen = try XCTUnwrap(otherFirst)
        XCTAssertTrue(seen.flags.seen)
        XCTAssertTrue(seen.flags.flagged)
        XCTAssertTrue(seen.flags.answered)
        let otherSecond = try await Fixture.find(other, folder: "INBOX", subject: second.subject)
        XCTAssertEqual(otherSecond?.flags.seen, false)
        let inReceipts = try await Fixture.find(other, folder: "Receipts", subject: third.subject)
        XCTAssertNotNil(inReceipts)
        let stillInInbox = try await Fixture.find(other, folder: "INBOX", subject: third.subject)
        XCTAssertNil(stillInInbox)
        let inSent = try await Fixture.find(other, folder: "Sent", subject: "Re: \(first.subject)")
        XCTAssertNotNil(inSent)

        // And the sender got the reply, threaded under the original.
        let sender = try await Fixture.imapSession("list2")
        defer { sender.close() }
        _ = try await sender.engine.sync(account: nil)
        let sentReply = try await Fixture.find(sender, folder: "INBOX", subject: "Re: \(first.subject)")
        let reply = try XCTUnwrap(sentReply)
        let opened = try await sender.engine.openMessage(id: reply.id)
        XCTAssertEqual(opened.inReplyTo, first.messageId)
        XCTAssertTrue(opened.text?.contains("Thanks, noted.") == true)
        XCTAssertTrue(opened.text?.contains("> Body text") == true, "\(opened.text ?? "")")
    }

    func testComposerNewMailWithAttachmentAndForward() async throws {
        let alice = try await Fixture.imapSession("comp1")
        defer { alice.close() }
        let composer = ComposerViewModel(session: alice, account: "main")
        composer.edit {
            $0.to = "Bob <\(Fixture.email("comp2"))>"
            $0.cc = Fixture.email("comp3")
            $0.subject = "Budget"
            $0.body = "Numbers attached."
            $0.attachments = [AttachmentFile(name: "budget.pdf", mimeType: "application/pdf", data: Data("%PDF-1.4\n%%EOF\n".utf8))]
        }
        let ok = await composer.send()
        XCTAssertTrue(ok, "\(String(describing: composer.state.error))")
        XCTAssertEqual(composer.state.report?.sent, 1)

        // Invalid input is typed.
        let bad = ComposerViewModel(session: alice, account: "main")
        bad.edit { $0.to = "not an address"; $0.subject = "x" }
        let badResult = await bad.send()
        XCTAssertFalse(badResult)
        XCTAssertEqual(bad.state.error?.kind, "InvalidInput")
        XCTAssertEqual(bad.state.error?.advice, Advice(id: "address_invalid", detail: "not an address"))
        XCTAssertEqual(bad.state.addressProblems.map(\.id), ["address_invalid"])
        XCTAssertNil(bad.state.outboxId, "nothing queued")
        let empty = ComposerViewModel(session: alice, account: "main")
        let emptyResult = await empty.send()
        XCTAssertFalse(emptyResult)
        XCTAssertEqual(empty.state.error?.kind, "InvalidInput")
        XCTAssertEqual(empty.state.error?.advice.id, "no_recipient", "the engine's rule")

        let bob = try await Fixture.imapSession("comp2")
        defer { bob.close() }
        _ = try await bob.engine.sync(account: nil)
        let budget = try await Fixture.find(bob, folder: "INBOX", subject: "Budget")
        let got = try XCTUnwrap(budget)
        XCTAssertTrue(got.hasAttachments)
        let full = try await bob.engine.openMessage(id: got.id)
        XCTAssertEqual(full.cc.map(\.address), [Fixture.email("comp3")])
        XCTAssertEqual(full.attachments.map(\.name), ["budget.pdf"])

        // Forward: "Fwd:" once, with the attachment.
        let forward = ComposerViewModel(session: bob, account: "main", mode: .forward(original: got.id))
        await forward.prepare()
        XCTAssertEqual(forward.state.subject, "Fwd: Budget")
        XCTAssertEqual(forward.state.to, "", "a forward starts with no recipient")
        XCTAssertEqual(forward.state.forwarded.map(\.name), ["budget.pdf"])
        forward.edit { $0.to = Fixture.email("comp3"); $0.body = "FYI" }
        let forwarded = await forward.send()
        XCTAssertTrue(forwarded, "\(String(describing: forward.state.error))")
        let carol = try await Fixture.imapSession("comp3")
        defer { carol.close() }
        _ = try await carol.engine.sync(account: nil)
        let forwardedCopy = try await Fixture.find(carol, folder: "INBOX", subject: "Fwd: Budget")
        let fwd = try XCTUnwrap(forwardedCopy)
        XCTAssertTrue(fwd.hasAttachments)
        let ccCopy = try await Fixture.find(carol, folder: "INBOX", subject: "Budget")
        XCTAssertNotNil(ccCopy, "Carol was in Cc")
    }
}
