import Foundation
import XCTest
@testable import BrevdueKit

/// The rules the Swift code used to copy now come from the core (issue 13): compose
/// preview and compose as written, the advice words, account defaults, new mail.
final class CoreComposeTests: XCTestCase {
    /// Bug: a reply dropped what the user typed in To (the engine re-derived the
    /// recipients). The preview fills To; what the user leaves there is who gets it.
    func testReplyGoesToTheAddressTheUserTyped() async throws {
        try await Fixture.deliver(from: "rep2", to: "rep1", subjects: ["Question"])
        let phone = try await Fixture.imapSession("rep1")
        defer { phone.close() }
        _ = try await phone.engine.syncNow(account: nil)
        let question = try await Fixture.find(phone, folder: "INBOX", subject: "Question")
        let original = try XCTUnwrap(question)

        let composer = ComposerViewModel(session: phone, account: "main", mode: .reply(original: original.id))
        let prepared = await composer.prepare()
        XCTAssertTrue(prepared, "\(String(describing: composer.state.error))")
        XCTAssertEqual(composer.state.to, Fixture.email("rep2"), "the preview's recipient")
        XCTAssertEqual(composer.state.subject, "Re: Question")
        composer.edit { $0.to = "Third <\(Fixture.email("rep3"))>"; $0.body = "Over to you." }
        let sent = await composer.send()
        XCTAssertTrue(sent, "\(String(describing: composer.state.error))")
        XCTAssertEqual(composer.state.report?.sent, 1)

        let third = try await Fixture.imapSession("rep3")
        defer { third.close() }
        _ = try await third.engine.syncNow(account: nil)
        let toThird = try await Fixture.find(third, folder: "INBOX", subject: "Re: Question")
        let got = try XCTUnwrap(toThird,
                                "the typed address got nothing")
        let opened = try await third.engine.openMessage(id: got.id)
        XCTAssertEqual(opened.to.map(\.address), [Fixture.email("rep3")])
        XCTAssertEqual(opened.inReplyTo, original.messageId, "still threaded as a reply")
        XCTAssertTrue(opened.text?.contains("Over to you.") == true)

        let sender = try await Fixture.imapSession("rep2")
        defer { sender.close() }
        _ = try await sender.engine.syncNow(account: nil)
        let toSender = try await Fixture.find(sender, folder: "INBOX", subject: "Re: Question")
        XCTAssertNil(toSender,
                     "the original sender was removed from To but got the reply")
    }

    /// Bug: iOS forwards got the Swift subject rule ("SV: VS: x" became "Fwd: VS: x").
    /// The composer shows the core's subject and the sent message carries it.
    func testForwardSubjectIsTheCores() async throws {
        let originals = ["Re: Fwd: Plans": "Fwd: Plans", "SV: VS: Lunsj": "Fwd: Lunsj"]
        try await Fixture.deliver(from: "fwd2", to: "fwd1", subjects: Array(originals.keys))
        let phone = try await Fixture.imapSession("fwd1")
        defer { phone.close() }
        _ = try await phone.engine.syncNow(account: nil)

        for (subject, expected) in originals {
            let found = try await Fixture.find(phone, folder: "INBOX", subject: subject)
            let original = try XCTUnwrap(found)
            let preview = try await phone.engine.composePreview(mode: .forward(original: original.id))
            XCTAssertEqual(preview.subject, expected, "the core's rule changed?")
            let composer = ComposerViewModel(session: phone, account: "main", mode: .forward(original: original.id))
            await composer.prepare()
            XCTAssertEqual(composer.state.subject, preview.subject)
            XCTAssertEqual(composer.state.quoted, preview.quoted)
            XCTAssertTrue(composer.state.quoted.contains(subject), composer.state.quoted)
            composer.edit { $0.to = Fixture.email("fwd3"); $0.body = "See below." }
            let sent = await composer.send()
            XCTAssertTrue(sent, "\(String(describing: composer.state.error))")
        }

        let carol = try await Fixture.imapSession("fwd3")
        defer { carol.close() }
        _ = try await carol.engine.syncNow(account: nil)
        let inbox = try await carol.engine.messages(account: nil, folder: "INBOX", limit: 10, offset: 0)
        XCTAssertEqual(Set(inbox.map(\.subject)), Set(originals.values), "\(inbox.map(\.subject))")
        for message in inbox {
            let opened = try await carol.engine.openMessage(id: message.id)
            XCTAssertTrue(opened.text?.contains("See below.") == true)
            XCTAssertTrue(opened.text?.contains("Hello: ") == true, "the forwarded text: \(opened.text ?? "")")
        }
    }
}

final class CoreAdviceTests: XCTestCase {
    /// `localized` reads the core's Advice.strings from `Bundle.module`.
    func testAdviceWordsFromTheBundle() {
        let auth = Advice(id: "auth_failed", detail: "")
        XCTAssertTrue(localized(auth, language: "nb").contains("passordet"))
        XCTAssertTrue(localized(auth, language: "nb-NO").contains("passordet"))
        XCTAssertTrue(localized(auth, language: "en").contains("password"))
        XCTAssertEqual(localized(auth, language: "fr"), localized(auth, language: "en"), "English otherwise")
        XCTAssertEqual(localized(auth), localized(auth, language: "en"))
        let invalid = Advice(id: "address_invalid", detail: "nobody")
        XCTAssertEqual(localized(invalid, language: "en"), "\u{201c}nobody\u{201d} is not an e-mail address.")
        XCTAssertEqual(localized(invalid, language: "nb"), "\u{ab}nobody\u{bb} er ikke en e-postadresse.")
        // An id from a newer engine: the detail, or the reason given.
        let unknown = Advice(id: "from_a_newer_engine", detail: "the detail")
        XCTAssertEqual(localized(unknown), "the detail")
        XCTAssertEqual(localized(unknown, fallback: "the reason"), "the reason")
        let error = BrevdueError.Timeout(reason: "read timed out", advice: Advice(id: "nope", detail: ""))
        XCTAssertEqual(error.userMessage(), "read timed out")
    }

    /// A password that stopped working: the sync's problem and every `Event.error` carry
    /// `auth_failed`, never "cannot be reached".
    func testEngineErrorEventsCarryTheirAdvice() async throws {
        let passwords = MemoryPasswordStore()
        let session = try BrevdueSession(dataDir: Fixture.tempDir("err2"), passwords: passwords)
        defer { session.close() }
        _ = try await session.engine.addAccount(config: Fixture.imapConfig("err2"), password: Fixture.password)
        let recorder = Recorder()
        let subscription = try session.engine.subscribe(listener: recorder)
        defer { subscription.cancel() }
        let status = SyncStatusViewModel(session: session)
        try passwords.set(account: "main", password: "changed-elsewhere")

        let report = await status.sync()
        let outcome = try XCTUnwrap(report?.accounts.first, "\(String(describing: status.state.lastError))")
        XCTAssertNil(outcome.pulled)
        XCTAssertEqual(outcome.problem?.kind, .authFailed)
        XCTAssertEqual(outcome.problem?.advice.id, "auth_failed")
        let errorEvents = { recorder.events.compactMap { e -> (ErrorKind, String, Advice)? in
            if case .error(_, let kind, let message, let advice) = e { return (kind, message, advice) }
            return nil
        } }
        let seen = await Fixture.waitUntil(5) { !errorEvents().isEmpty }
        XCTAssertTrue(seen, "no Event.error for a refused login: \(recorder.events)")
        for (kind, message, advice) in errorEvents() {
            XCTAssertEqual(kind, .authFailed, message)
            XCTAssertEqual(advice.id, "auth_failed", message)
            XCTAssertFalse(localized(advice, language: "en").contains("cannot be reached"))
        }
        let settled = await Fixture.waitUntil(5) { status.state.problems["main"]?.advice.id == "auth_failed" }
        XCTAssertTrue(settled, "\(status.state.problems)")
        let shown = localized(try XCTUnwrap(status.state.problems["main"]).advice, language: "nb")
        XCTAssertTrue(shown.contains("passordet"), shown)
        XCTAssertNil(status.state.lastError, "the call itself worked; the account has the problem")
    }
}

final class CoreAccountAndNewMailTests: XCTestCase {
    /// The form is an `AccountDraft`; the defaults are the core's.
    func testAccountFormDefaultsAreTheCores() throws {
        var form = AccountForm()
        form.email = "ann@example.test"
        form.host = "mail.example.test"
        let config = try form.config()
        XCTAssertEqual(config.name, "ann@example.test")
        XCTAssertEqual(config.server.port, 993)
        XCTAssertEqual(config.server.security, .tls)
        XCTAssertEqual(config.server.username, "ann@example.test")
        XCTAssertNil(config.smtp, "nothing said about sending: the engine derives it")
        XCTAssertEqual(form.resolvedPort, 993)
        form.smtpPort = 587
        let smtp = try XCTUnwrap(try form.config().smtp)
        XCTAssertEqual(smtp.host, "mail.example.test")
        XCTAssertEqual(smtp.security, .startTls, "security from the SMTP port")
        XCTAssertEqual(smtp.username, "ann@example.test")
        form.port = 143
        XCTAssertEqual(try form.config().server.security, .startTls, "security from the port")
        form.protocolKind = .pop3
        form.port = nil
        XCTAssertEqual(form.resolvedPort, 995)
        XCTAssertNil(AccountForm().resolvedPort, "nothing to resolve yet")
    }

    /// Notifications come from `Event.newMail` only: nothing for the first sync, then the
    /// sender and subject of what arrived.
    func testNewMailComesFromTheEngine() async throws {
        try await Fixture.deliver(from: "new2", to: "new1", subjects: ["Old news"])
        let phone = try await Fixture.imapSession("new1")
        defer { phone.close() }
        let status = SyncStatusViewModel(session: phone)
        let box = NoticeBox()
        status.onNewMail = { box.add($0) }
        let first = await status.sync()
        XCTAssertEqual(first?.newMessages, 1)
        try? await Task.sleep(nanoseconds: 300_000_000)
        XCTAssertTrue(status.state.newMail.isEmpty, "the first sync announced \(status.state.newMail)")

        try await Fixture.deliver(from: "new2", to: "new1", subjects: ["Lunch at noon?"])
        let second = await status.sync()
        XCTAssertEqual(second?.accounts.first?.pulled?.newMessages, 1)
        let announced = await Fixture.waitUntil(5) { !status.state.newMail.isEmpty }
        XCTAssertTrue(announced, "no Event.newMail")
        let notice = try XCTUnwrap(status.state.newMail.first)
        XCTAssertEqual(notice.account, "main")
        XCTAssertEqual(notice.total, 1)
        XCTAssertEqual(notice.messages.map(\.subject), ["Lunch at noon?"])
        XCTAssertEqual(notice.messages.first?.from.address, Fixture.email("new2"))
        let handed = await Fixture.waitUntil(5) { box.notices == [notice] }
        XCTAssertTrue(handed, "onNewMail got \(box.notices)")
    }
}

/// Notices handed to `onNewMail` (from the engine's thread).
final class NoticeBox: @unchecked Sendable {
    private let lock = NSLock()
    private var received: [NewMailNotice] = []
    func add(_ notice: NewMailNotice) { lock.lock(); received.append(notice); lock.unlock() }
    var notices: [NewMailNotice] { lock.lock(); defer { lock.unlock() }; return received }
}
