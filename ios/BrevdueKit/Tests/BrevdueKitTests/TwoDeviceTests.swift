import Foundation
import XCTest
@testable import BrevdueKit

/// The Rust CLI (`brevdue`) as the second device, the "PC".
struct Cli {
    let dataDir = Fixture.tempDir("pc")
    let binary: String = {
        guard let path = ProcessInfo.processInfo.environment["BREVDUE_CLI"] else {
            fatalError("BREVDUE_CLI is not set: run the tests with ios/test.sh")
        }
        return path
    }()

    @discardableResult
    func run(_ args: [String]) throws -> Data {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["--data-dir", dataDir] + args
        var env = ProcessInfo.processInfo.environment
        env["BREVDUE_TEST_PW"] = Fixture.password
        process.environment = env
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let errors = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw NSError(domain: "brevdue", code: Int(process.terminationStatus), userInfo: [
                NSLocalizedDescriptionKey: "brevdue \(args.joined(separator: " ")) exited \(process.terminationStatus): \(String(decoding: errors, as: UTF8.self))"])
        }
        return data
    }

    func json(_ args: [String]) throws -> [[String: Any]] {
        let data = try run(args + ["--json"])
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [[String: Any]], String(decoding: data, as: UTF8.self))
    }

    func list(_ folder: String) throws -> [[String: Any]] { try json(["list", "--folder", folder]) }
}

final class TwoDeviceTests: XCTestCase {
    /// The phone (Swift, this engine through the bindings) and the PC (the Rust CLI) on one
    /// IMAP mailbox: what one does, the other sees.
    func testPhoneAndPcStayInStepOverImap() async throws {
        try await Fixture.deliver(from: "dev2", to: "dev1", subjects: ["Invoice 42", "Lunch?", "Newsletter"])
        let s = Fixture.server

        // The PC.
        let pc = Cli()
        try pc.run([
            "account", "add", "pc", "--email", Fixture.email("dev1"), "--protocol", "imap",
            "--host", s.host, "--port", String(s.imaps_port), "--security", "tls", "--user", "dev1",
            "--password-env", "BREVDUE_TEST_PW", "--ca-file", s.ca_file,
            "--smtp-port", String(s.smtps_port), "--smtp-security", "tls",
        ])
        try pc.run(["sync"])
        XCTAssertEqual(Set(try pc.list("INBOX").compactMap { $0["subject"] as? String }), ["Invoice 42", "Lunch?", "Newsletter"])
        XCTAssertTrue(try pc.list("INBOX").allSatisfy { $0["seen"] as? Bool == false })

        // The phone: reads Lunch and answers it, files the invoice in a new folder.
        let phone = try Fixture.session("phone")
        defer { phone.close() }
        let accounts = AccountsViewModel(session: phone)
        let result15 = await accounts.add(Fixture.imapForm("dev1", name: "phone"))
        XCTAssertNotNil(result15)
        let status = SyncStatusViewModel(session: phone)
        let result16 = await status.sync()
        XCTAssertEqual(result16?.newMessages, 3)
        let inbox = MessageListViewModel(session: phone, account: "phone", folder: "INBOX")
        inbox.start()
        let listed = await Fixture.waitUntil(5) { inbox.state.messages.count == 3 }
        XCTAssertTrue(listed, "\(inbox.state.messages.map(\.subject))")
        let lunch = try XCTUnwrap(inbox.state.messages.first { $0.subject == "Lunch?" })
        let invoice = try XCTUnwrap(inbox.state.messages.first { $0.subject == "Invoice 42" })
        let reader = ReaderViewModel(session: phone, id: lunch.id)
        await reader.open()
        XCTAssertEqual(reader.state.message?.summary.flags.seen, true)
        let reply = ComposerViewModel(session: phone, account: "phone", mode: .reply(original: lunch.id))
        await reply.prepare()
        XCTAssertEqual(reply.state.to, Fixture.email("dev2"))
        reply.edit { $0.body = "Yes, at noon." }
        let replied = await reply.send()
        XCTAssertTrue(replied, "\(String(describing: reply.state.error))")
        let folders = FoldersViewModel(session: phone, account: "phone")
        folders.start()
        let created = await folders.create("Receipts")
        XCTAssertTrue(created)
        await inbox.move([invoice.id], to: "Receipts")
        let syncNow = await status.sync() // one syncNow: the outbox, the changes, then the pull
        XCTAssertNil(syncNow?.accounts.first?.problem, "\(String(describing: syncNow))")
        XCTAssertTrue(status.state.pending.isEmpty, "\(status.state.pending)")
        XCTAssertTrue(status.state.failed.isEmpty, "\(status.state.failed)")

        // The PC sees all of it.
        try pc.run(["sync"])
        let pcInbox = try pc.list("INBOX")
        let pcLunch = try XCTUnwrap(pcInbox.first { $0["subject"] as? String == "Lunch?" })
        XCTAssertEqual(pcLunch["seen"] as? Bool, true, "read on the phone")
        XCTAssertEqual(pcLunch["answered"] as? Bool, true, "answered on the phone")
        XCTAssertFalse(pcInbox.contains { $0["subject"] as? String == "Invoice 42" }, "filed on the phone")
        XCTAssertEqual(try pc.list("Receipts").compactMap { $0["subject"] as? String }, ["Invoice 42"])
        XCTAssertTrue(try pc.list("Sent").contains { $0["subject"] as? String == "Re: Lunch?" })
        let pcFolders = try pc.json(["folders"])
        let receipts = try XCTUnwrap(pcFolders.first { $0["name"] as? String == "Receipts" })
        XCTAssertEqual(receipts["total"] as? Int, 1)
        XCTAssertEqual(pcFolders.first { $0["name"] as? String == "INBOX" }?["unread"] as? Int, 1)

        // And back: the PC reads the newsletter and files it; the phone follows.
        let newsletter = try XCTUnwrap(pcInbox.first { $0["subject"] as? String == "Newsletter" })
        let id = String(try XCTUnwrap(newsletter["id"] as? Int))
        try pc.run(["mark", id, "--read"])
        try pc.run(["move", id, "--to", "Receipts"])
        await status.sync()
        XCTAssertNil(status.state.lastError)
        let receiptsList = MessageListViewModel(session: phone, account: "phone", folder: "Receipts")
        receiptsList.start()
        let arrived = await Fixture.waitUntil(5) { receiptsList.state.messages.contains { $0.subject == "Newsletter" } }
        XCTAssertTrue(arrived, "\(receiptsList.state.messages.map(\.subject))")
        let moved = try XCTUnwrap(receiptsList.state.messages.first { $0.subject == "Newsletter" })
        XCTAssertTrue(moved.flags.seen)
        // The lists already open followed by themselves.
        let inboxFollowed = await Fixture.waitUntil(5) { inbox.state.messages.map(\.subject) == ["Lunch?"] }
        XCTAssertTrue(inboxFollowed, "\(inbox.state.messages.map(\.subject))")
        let countsFollowed = await Fixture.waitUntil(5) {
            folders.state.folders.first { $0.name == "Receipts" }?.total == 2
                && folders.state.folders.first { $0.name == "INBOX" }?.unread == 0
        }
        XCTAssertTrue(countsFollowed, "\(folders.state.folders.map { "\($0.name) \($0.total)/\($0.unread)" })")
    }
}

final class ChangeQueueTests: XCTestCase {
    /// Pending changes show until the server confirms them; a change the server refuses is
    /// reverted, listed as failed, and can be discarded.
    func testPendingAndFailedChanges() async throws {
        try await Fixture.deliver(from: "chg2", to: "chg1", subjects: ["C1", "C2"])
        let a = try await Fixture.imapSession("chg1")
        defer { a.close() }
        let b = try await Fixture.imapSession("chg1")
        defer { b.close() }
        let status = SyncStatusViewModel(session: a)
        let result17 = await status.sync()
        XCTAssertEqual(result17?.newMessages, 2)
        _ = try await b.engine.sync(account: nil)

        // Pending until pushed.
        let list = MessageListViewModel(session: a, account: "main", folder: "INBOX")
        list.start()
        let listed = await Fixture.waitUntil(5) { list.state.messages.count == 2 }
        XCTAssertTrue(listed)
        let c1 = try XCTUnwrap(list.state.messages.first { $0.subject == "C1" })
        await list.mark([c1.id], .flagged)
        let created = await FoldersViewModel(session: a, account: "main").create("Projects")
        XCTAssertTrue(created)
        await status.refreshChanges()
        XCTAssertEqual(Set(status.state.pending.map(\.kind)), [.flags, .createFolder], "\(status.state.pending)")
        XCTAssertTrue(status.state.pending.allSatisfy { !$0.target.isEmpty && $0.account == "main" })
        let pushed = await status.pushChanges()
        XCTAssertEqual(pushed?.applied, 2, "\(String(describing: pushed))")
        XCTAssertTrue(status.state.pending.isEmpty)

        // Device B removes the folder; device A, not yet told, files a message there.
        _ = try await b.engine.sync(account: nil)
        try await b.engine.deleteFolder(account: "main", name: "Projects")
        let result18 = try await b.engine.pushChanges(account: nil).pending
        XCTAssertEqual(result18, 0)

        let c2 = try XCTUnwrap(list.state.messages.first { $0.subject == "C2" })
        await list.move([c2.id], to: "Projects")
        let gone = await Fixture.waitUntil(5) { !list.state.messages.contains { $0.id == c2.id } }
        XCTAssertTrue(gone, "the move shows at once")
        await status.refreshChanges()
        XCTAssertEqual(status.state.pending.map(\.kind), [.move])
        let report = await status.pushChanges()
        XCTAssertEqual(report?.failed, 1, "\(String(describing: report))")
        let result19 = await Fixture.waitUntil(5) { !status.state.failureNotices.isEmpty }
        XCTAssertTrue(result19, "no ChangeFailed event")
        await status.refreshChanges()
        let failed = try XCTUnwrap(status.state.failed.first, "\(status.state)")
        XCTAssertEqual(failed.kind, .move)
        XCTAssertEqual(failed.state, .failed)
        XCTAssertFalse(failed.lastError.isEmpty)
        print("failed change: \(failed.target): \(failed.lastError)")
        // Reverted here: C2 is back in the Inbox.
        let result20 = await Fixture.waitUntil(5) { list.state.messages.contains { $0.subject == "C2" } }
        XCTAssertTrue(result20)

        await status.discard(failed.id)
        XCTAssertTrue(status.state.failed.isEmpty)
        XCTAssertTrue(status.state.pending.isEmpty)
    }
}
