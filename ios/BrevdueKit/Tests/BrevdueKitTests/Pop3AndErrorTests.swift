import Foundation
import XCTest
@testable import BrevdueKit

final class Pop3Tests: XCTestCase {
    /// A POP3 account: downloads once, keeps what it does here, and the advisory when a
    /// second device takes the mail away.
    func testPop3AccountAndTheAdvisory() async throws {
        try await Fixture.deliver(from: "pop2", to: "pop1", subjects: ["P1", "P2", "P3"])

        let pc = try Fixture.session("pop-pc")
        defer { pc.close() }
        let accounts = AccountsViewModel(session: pc)
        var form = AccountForm()
        form.name = "pop"
        form.email = Fixture.email("pop1")
        form.protocolKind = .pop3
        form.host = Fixture.server.host
        form.port = Fixture.server.pop3s_port
        form.username = "pop1"
        form.password = Fixture.password
        form.caFile = Fixture.server.ca_file
        form.pop3Delete = .never
        let added = await accounts.add(form)
        let account = try XCTUnwrap(added, "\(String(describing: accounts.state.error))")
        XCTAssertEqual(account.protocol, .pop3)
        XCTAssertEqual(account.pop3Delete, .never)
        let caps = account.capabilities
        XCTAssertFalse(caps.syncsReadState || caps.syncsFolders || caps.syncsSent || caps.push)
        let advice = try XCTUnwrap(AccountsViewModel.advice(for: account))
        XCTAssertEqual(advice.id, "pop3_explained")
        XCTAssertEqual(AccountsViewModel.advice(for: .pop3), advice)
        XCTAssertTrue(localized(advice, language: "en").contains("POP3"), localized(advice, language: "en"))
        XCTAssertTrue(localized(AccountsViewModel.protocolChoiceAdvice, language: "en").contains("IMAP"))

        let pcStatus = SyncStatusViewModel(session: pc)
        let result10 = await pcStatus.sync()
        XCTAssertEqual(result10?.newMessages, 3)
        let result11 = await pcStatus.sync()
        XCTAssertEqual(result11?.newMessages, 0, "downloaded twice")
        let list = MessageListViewModel(session: pc, account: "pop", folder: "INBOX")
        list.start()
        let listed = await Fixture.waitUntil(5) { list.state.messages.count == 3 }
        XCTAssertTrue(listed)
        XCTAssertEqual(Set(list.state.messages.map(\.subject)), ["P1", "P2", "P3"])
        XCTAssertTrue(list.state.messages.allSatisfy { $0.hasBody && $0.uid == nil })
        let reader = ReaderViewModel(session: pc, id: list.state.messages[0].id)
        await reader.open()
        XCTAssertTrue(reader.state.message?.text?.contains("Hello: ") == true)

        // What happens here stays here: nothing is queued for the server.
        let folders = FoldersViewModel(session: pc, account: "pop")
        let created = await folders.create("Kept")
        XCTAssertTrue(created)
        let (kept, flagged) = (list.state.messages[1].id, list.state.messages[0].id)
        await list.move([kept], to: "Kept")
        await list.mark([flagged], .flagged)
        await pcStatus.refreshChanges()
        XCTAssertTrue(pcStatus.state.pending.isEmpty, "a POP3 account queued \(pcStatus.state.pending)")
        XCTAssertTrue(pcStatus.state.advisories.isEmpty)

        // A phone that deletes after download takes the mail away: the PC is advised.
        let phone = try Fixture.session("pop-phone")
        defer { phone.close() }
        _ = try await phone.engine.addAccount(
            config: Fixture.pop3Config("pop1", delete: .afterDownload), password: Fixture.password)
        let phoneStatus = SyncStatusViewModel(session: phone)
        let result12 = await phoneStatus.sync()
        XCTAssertEqual(result12?.newMessages, 3)
        await pcStatus.sync()
        let advised = await Fixture.waitUntil(5) { pcStatus.state.advisories["pop"] != nil }
        XCTAssertTrue(advised, "no advisory after the mail left the server")
        let advisory = try XCTUnwrap(pcStatus.state.advisories["pop"])
        XCTAssertEqual(advisory, Advice(id: "pop3_read_elsewhere", detail: "3"))
        let message = localized(advisory, language: "en")
        XCTAssertTrue(message.hasPrefix("3 message(s)") && message.contains("more than one device"), message)
        XCTAssertTrue(localized(advisory, language: "nb").contains("mer enn én enhet"))
        print("POP3 advisory: \(message)")
        pcStatus.dismissAdvisory("pop")
        XCTAssertNil(pcStatus.state.advisories["pop"])

        // The phone deleted the mail itself: no advice, until the user says so.
        await phoneStatus.sync()
        try? await Task.sleep(nanoseconds: 300_000_000)
        XCTAssertTrue(phoneStatus.state.advisories.isEmpty, "\(phoneStatus.state.advisories)")
        await phoneStatus.reportReadOnAnotherDevice("pop")
        let result13 = await Fixture.waitUntil(5) { phoneStatus.state.advisories["pop"] != nil }
        XCTAssertTrue(result13)
        XCTAssertEqual(phoneStatus.state.advisories["pop"]?.id, "pop3_several_devices")

        // Switching the PC to IMAP keeps what it did here.
        let report = await accounts.switchToImap(
            "pop",
            server: ServerConfig(
                host: Fixture.server.host, port: Fixture.server.imaps_port, security: .tls,
                username: "pop1", caFile: Fixture.server.ca_file))
        XCTAssertNotNil(report, "\(String(describing: accounts.state.error))")
        XCTAssertEqual(accounts.state.accounts.first?.protocol, .imap)
        XCTAssertNil(AccountsViewModel.advice(for: try XCTUnwrap(accounts.state.accounts.first)))
    }
}

final class ErrorTests: XCTestCase {
    func testTypedErrors() async throws {
        let session = try Fixture.session("errors")
        defer { session.close() }

        // Wrong password: AuthFailed, from the engine and in the view model.
        do {
            _ = try await session.engine.addAccount(config: Fixture.imapConfig("err1"), password: "wrong")
            XCTFail("a wrong password was accepted")
        } catch BrevdueError.AuthFailed(let reason, let advice) {
            XCTAssertFalse(reason.isEmpty)
            XCTAssertEqual(advice.id, "auth_failed")
        } catch {
            XCTFail("expected AuthFailed, got \(error)")
        }
        let accounts = AccountsViewModel(session: session)
        var form = Fixture.imapForm("err1")
        form.password = "wrong"
        let none = await accounts.add(form)
        XCTAssertNil(none)
        guard case .AuthFailed = accounts.state.error else {
            return XCTFail("expected AuthFailed, got \(String(describing: accounts.state.error))")
        }
        XCTAssertEqual(accounts.state.error?.kind, "AuthFailed")
        XCTAssertEqual(accounts.state.error?.advice.id, "auth_failed")
        // The words come from the core-written Advice.strings in the package's bundle.
        let norwegian = accounts.state.error?.userMessage(language: "nb") ?? ""
        XCTAssertTrue(norwegian.contains("passordet"), norwegian)
        let english = accounts.state.error?.userMessage(language: "en") ?? ""
        XCTAssertTrue(english.contains("password"), english)
        XCTAssertFalse(english.contains("cannot be reached"), english)
        XCTAssertEqual(accounts.state.error?.userMessage(), english, "LANG=C: the development language")
        XCTAssertFalse(accounts.state.busy)

        // POP3, wrong password.
        do {
            _ = try await session.engine.addAccount(
                config: Fixture.pop3Config("err1", delete: .never), password: "wrong")
            XCTFail("a wrong POP3 password was accepted")
        } catch BrevdueError.AuthFailed {
        } catch { XCTFail("expected AuthFailed over POP3, got \(error)") }

        // The test server's certificate without its CA: CertificateNotTrusted.
        var untrusted = Fixture.imapConfig("err1")
        untrusted.server.caFile = nil
        untrusted.smtp = nil
        do {
            _ = try await session.engine.addAccount(config: untrusted, password: Fixture.password)
            XCTFail("an untrusted certificate was accepted")
        } catch BrevdueError.CertificateNotTrusted(let reason, let advice) {
            XCTAssertFalse(reason.isEmpty)
            XCTAssertEqual(advice.id, "certificate_not_trusted")
        } catch { XCTFail("expected CertificateNotTrusted, got \(error)") }

        // Nothing listening: ConnectionRefused.
        var refused = Fixture.imapConfig("err1")
        refused.server.port = 1
        do {
            _ = try await session.engine.addAccount(config: refused, password: Fixture.password)
            XCTFail("connected to a closed port")
        } catch BrevdueError.ConnectionRefused(_, let advice) {
            XCTAssertEqual(advice.id, "connection_refused")
        } catch { XCTFail("expected ConnectionRefused, got \(error)") }

        // A form without a server: InvalidInput with the core's advice, before any network.
        var incomplete = Fixture.imapForm("err1")
        incomplete.host = ""
        let result14 = await accounts.add(incomplete)
        XCTAssertNil(result14)
        XCTAssertEqual(accounts.state.error?.kind, "InvalidInput")
        XCTAssertEqual(accounts.state.error?.advice, Advice(id: "account_needs_server", detail: "example.test"))
        var noEmail = Fixture.imapForm("err1")
        noEmail.email = " "
        let result14b = await accounts.add(noEmail)
        XCTAssertNil(result14b)
        XCTAssertEqual(accounts.state.error?.advice.id, "account_needs_email")

        // Unknown message: NotFound. A closed engine: Closed.
        do {
            _ = try await session.engine.message(id: 987_654)
            XCTFail("found a message that does not exist")
        } catch BrevdueError.NotFound {
        } catch { XCTFail("expected NotFound, got \(error)") }
        let stored = try await session.engine.accounts()
        XCTAssertTrue(stored.isEmpty, "failed logins must not store accounts")
        session.close()
        do {
            _ = try await session.engine.accounts()
            XCTFail("a closed engine answered")
        } catch BrevdueError.Closed {
        } catch { XCTFail("expected Closed, got \(error)") }
        do {
            _ = try await session.engine.sync(account: nil)
            XCTFail("a closed engine synced")
        } catch BrevdueError.Closed {
        } catch { XCTFail("expected Closed, got \(error)") }
    }
}
