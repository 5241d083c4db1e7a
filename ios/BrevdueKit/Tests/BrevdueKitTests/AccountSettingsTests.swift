import Foundation
import XCTest
@testable import BrevdueKit

/// Real accounts from the app: setup through discovery (tests/provider.py in front of the
/// harness's Dovecot, started by ios/test.sh), and the settings screen's edit, remove
/// and Sent folder, checked against the engine and the server.
final class AccountSettingsTests: XCTestCase {
    private func settings(_ session: BrevdueSession, _ name: String = "main") async throws
        -> AccountSettingsViewModel
    {
        let all = try await session.engine.accounts()
        let account = try XCTUnwrap(all.first { $0.name == name })
        let model = AccountSettingsViewModel(session: session, account: account)
        await model.load()
        return model
    }

    func testEditWithAWrongPasswordIsRefusedAndNothingChanges() async throws {
        let dir = Fixture.tempDir("set1")
        let passwords = MemoryPasswordStore()
        let session = try BrevdueSession(dataDir: dir, passwords: passwords)
        _ = try await session.engine.addAccount(config: Fixture.imapConfig("set1"), password: Fixture.password)
        let before = try await session.engine.accounts()
        let model = try await settings(session)
        // What a settings screen can change (the server's capabilities come with each login).
        func settingsOf(_ accounts: [Account]) -> [String] {
            accounts.map {
                "\($0.name) \($0.server) \($0.smtp) \($0.identities) \($0.pop3Delete)"
            }
        }

        model.edit {
            $0.password = "wrong"
            $0.displayName = "Not saved"
        }
        let saved = await model.save()
        XCTAssertFalse(saved)
        XCTAssertEqual(model.state.error?.kind, "AuthFailed", "\(String(describing: model.state.error))")
        XCTAssertEqual(model.state.error?.advice.id, "auth_failed")
        XCTAssertFalse(model.state.error?.userMessage(language: "en").isEmpty ?? true)
        // The form stays as typed, so the user can fix it.
        XCTAssertEqual(model.state.form.password, "wrong")
        XCTAssertEqual(model.state.form.displayName, "Not saved")
        XCTAssertFalse(model.state.saved)
        // Nothing changed: the account, and the password the engine keeps (it still syncs).
        let after = try await session.engine.accounts()
        XCTAssertEqual(settingsOf(after), settingsOf(before))
        XCTAssertEqual(after.first?.identities.first?.name, "")
        // The old password still works (sync throws on a refused login).
        let synced = try await session.engine.sync(account: "main")
        XCTAssertEqual(synced.map(\.account), ["main"])
        session.close()
        let reopened = try BrevdueSession(dataDir: dir, passwords: passwords)
        defer { reopened.close() }
        let stored = try await reopened.engine.accounts()
        XCTAssertEqual(settingsOf(stored), settingsOf(before))
        // The stored password is still the old one: the reopened engine logs in with it.
        let again = try await reopened.engine.sync(account: "main")
        XCTAssertEqual(again.map(\.account), ["main"])
    }

    func testEditDisplayNameAndSmtpIsSavedAndRemoveRemoves() async throws {
        let dir = Fixture.tempDir("set2")
        let passwords = MemoryPasswordStore()
        let session = try BrevdueSession(dataDir: dir, passwords: passwords)
        _ = try await session.engine.addAccount(config: Fixture.imapConfig("set2"), password: Fixture.password)
        let model = try await settings(session)
        XCTAssertEqual(model.state.form.smtpPort, Fixture.server.smtps_port)
        XCTAssertTrue(model.state.form.isUnchanged(from: model.state.account))

        // 993 TLS in, STARTTLS out on the submission port; a new name in From.
        model.edit {
            $0.displayName = "Kari Nordmann"
            $0.smtpPort = Fixture.server.smtp_port
            $0.smtpSecurity = .startTls
        }
        let edit = model.state.form.edit(from: model.state.account)
        XCTAssertNil(edit.host, "only what changed is sent")
        XCTAssertNil(edit.password)
        let saved = await model.save()
        XCTAssertTrue(saved, "\(String(describing: model.state.error))")
        XCTAssertNil(model.state.error)
        XCTAssertTrue(model.state.saved)
        let account = model.state.account
        XCTAssertEqual(account.identities.first?.name, "Kari Nordmann")
        XCTAssertEqual(account.smtp.port, Fixture.server.smtp_port)
        XCTAssertEqual(account.smtp.security, .startTls)
        XCTAssertEqual(account.server.port, Fixture.server.imaps_port)
        XCTAssertEqual(account.server.security, .tls)
        XCTAssertTrue(model.state.form.isUnchanged(from: account))

        // Saved: another engine on the same data sees it, and sends through it.
        session.close()
        let reopened = try BrevdueSession(dataDir: dir, passwords: passwords)
        defer { reopened.close() }
        let storedAll = try await reopened.engine.accounts()
        let stored = try XCTUnwrap(storedAll.first)
        XCTAssertEqual(stored.identities.first?.name, "Kari Nordmann")
        XCTAssertEqual(stored.smtp.port, Fixture.server.smtp_port)
        XCTAssertEqual(stored.smtp.security, .startTls)
        _ = try await reopened.engine.send(
            draft: Draft(
                account: "main", from: nil, to: [Address(name: nil, address: Fixture.email("set2"))],
                cc: [], bcc: [], subject: "Through STARTTLS", body: "Hello", attachments: []))
        let sent = try await reopened.engine.sendOutbox(account: "main")
        XCTAssertEqual(sent.sent, 1, "\(sent)")

        // Remove removes (the screen asks first).
        let again = try await settings(reopened)
        let removed = await again.remove()
        XCTAssertTrue(removed, "\(String(describing: again.state.error))")
        XCTAssertTrue(again.state.removed)
        let left = try await reopened.engine.accounts()
        XCTAssertTrue(left.isEmpty)
        let accounts = AccountsViewModel(session: reopened)
        await accounts.load()
        XCTAssertTrue(accounts.state.accounts.isEmpty)
    }

    func testChooseTheSentFolder() async throws {
        let session = try await Fixture.imapSession("set3")
        defer { session.close() }
        try await session.engine.createFolder(account: "main", name: "Outgoing")
        _ = try await session.engine.sync(account: nil)
        let model = try await settings(session)
        XCTAssertNotEqual(model.state.folder(for: .sent)?.name, "Outgoing")
        XCTAssertTrue(model.state.folders.contains { $0.name == "Outgoing" }, "\(model.state.folders.map(\.name))")

        let chosen = await model.choose(folder: "Outgoing", for: .sent)
        XCTAssertTrue(chosen, "\(String(describing: model.state.error))")
        XCTAssertEqual(model.state.folder(for: .sent)?.name, "Outgoing")
        let folders = try await session.engine.folders(account: "main")
        XCTAssertEqual(folders.first { $0.role == .sent }?.name, "Outgoing")

        // A folder that is not there: the engine's advice, nothing changed.
        let missing = await model.choose(folder: "No such folder", for: .sent)
        XCTAssertFalse(missing)
        XCTAssertNotNil(model.state.error)
        XCTAssertEqual(model.state.folder(for: .sent)?.name, "Outgoing")
    }

    func testSetupThroughDiscoveryWithOnlyAddressAndPassword() async throws {
        try XCTSkipIf(
            ProcessInfo.processInfo.environment["BREVDUE_TEST_DNS"] == nil,
            "no test provider (run with ios/test.sh)")
        let session = try Fixture.session("disc1")
        defer { session.close() }
        let setup = AccountSetupViewModel(session: session)
        XCTAssertEqual(setup.state.step, .address)

        let email = "disc1@autoconf.test"
        // The harness's certificate is private: the one extra CA a user could give.
        await setup.discover(email: email, password: Fixture.password, caFile: Fixture.server.ca_file)
        XCTAssertNil(setup.state.error, "\(String(describing: setup.state.error))")
        XCTAssertEqual(setup.state.step, .confirm)
        let found = try XCTUnwrap(setup.state.discovery)
        XCTAssertEqual(found.source, .providerAutoconfig)
        XCTAssertFalse(found.plaintext)
        XCTAssertNil(setup.state.plaintextAdvice)
        // IMAP with TLS is chosen; POP3 is the alternative, with the product's advice.
        XCTAssertEqual(setup.state.form.protocolKind, .imap)
        XCTAssertEqual(setup.state.form.host, "localhost")
        XCTAssertEqual(setup.state.form.port, Fixture.server.imaps_port)
        XCTAssertEqual(setup.state.form.security, .tls)
        XCTAssertEqual(setup.state.form.smtpPort, Fixture.server.smtps_port)
        XCTAssertEqual(setup.state.form.smtpSecurity, .tls)
        XCTAssertEqual(setup.state.form.password, Fixture.password)
        XCTAssertEqual(setup.state.protocolAdvice?.id, "pop_or_imap")
        let pop3 = try XCTUnwrap(setup.state.choices.first { $0.protocol == .pop3 })
        // Choosing POP3 and back: the form follows, the password stays.
        setup.choose(pop3)
        XCTAssertEqual(setup.state.form.protocolKind, .pop3)
        XCTAssertEqual(setup.state.form.port, Fixture.server.pop3s_port)
        XCTAssertEqual(setup.state.form.password, Fixture.password)
        setup.choose(found.draft)
        XCTAssertEqual(setup.state.form.protocolKind, .imap)
        XCTAssertEqual(setup.state.form.port, Fixture.server.imaps_port)

        let account = await setup.confirm()
        XCTAssertNil(setup.state.error, "\(String(describing: setup.state.error))")
        let added = try XCTUnwrap(account)
        XCTAssertEqual(added.email, email)
        XCTAssertEqual(added.protocol, .imap)
        XCTAssertEqual(added.server.username, "disc1")
        XCTAssertEqual(setup.state.added?.name, added.name)
        let synced = try await session.engine.sync(account: added.name)
        XCTAssertEqual(synced.map(\.account), [added.name])
    }

    func testPlaintextDiscoveryNeedsTheUsersChoice() async throws {
        try XCTSkipIf(
            ProcessInfo.processInfo.environment["BREVDUE_TEST_DNS"] == nil,
            "no test provider (run with ios/test.sh)")
        let session = try Fixture.session("plain")
        defer { session.close() }
        let setup = AccountSetupViewModel(session: session)
        await setup.discover(email: "disc1@plaintext.test", password: Fixture.password, caFile: Fixture.server.ca_file)
        XCTAssertEqual(setup.state.step, .confirm, "\(String(describing: setup.state.error))")
        XCTAssertEqual(setup.state.discovery?.plaintext, true)
        XCTAssertEqual(setup.state.plaintextAdvice?.id, "discovery_plaintext_only")
        // Not chosen: refused before any password goes out; nothing saved.
        let refused = await setup.confirm()
        XCTAssertNil(refused)
        XCTAssertEqual(setup.state.error?.advice.id, "discovery_plaintext_only")
        let none = try await session.engine.accounts()
        XCTAssertTrue(none.isEmpty)
        // "Enter settings by hand" keeps what was found.
        setup.enterByHand()
        XCTAssertEqual(setup.state.step, .manual)
        XCTAssertEqual(setup.state.form.security, .plain)
        XCTAssertEqual(setup.state.form.email, "disc1@plaintext.test")
    }

    func testDiscoveryErrorShowsItsAdviceAndOpensTheManualFields() async throws {
        try XCTSkipIf(
            ProcessInfo.processInfo.environment["BREVDUE_TEST_DNS"] == nil,
            "no test provider (run with ios/test.sh)")
        let session = try Fixture.session("disc2")
        defer { session.close() }
        let setup = AccountSetupViewModel(session: session)
        await setup.discover(email: "someone@nothing.test", password: "pw", caFile: Fixture.server.ca_file)
        XCTAssertEqual(setup.state.step, .manual)
        XCTAssertEqual(setup.state.error?.advice.id, "discovery_found_nothing", "\(String(describing: setup.state.error))")
        XCTAssertEqual(setup.state.error?.advice.detail, "nothing.test")
        XCTAssertTrue(setup.state.error?.userMessage(language: "nb").contains("nothing.test") ?? false)
        XCTAssertEqual(setup.state.form.email, "someone@nothing.test")
        XCTAssertEqual(setup.state.form.password, "pw")
        let none = try await session.engine.accounts()
        XCTAssertTrue(none.isEmpty)

        // The manual fields, filled by hand with explicit SMTP, add the account.
        setup.edit {
            $0 = Fixture.imapForm("disc2")
            $0.smtpHost = Fixture.server.host
            $0.smtpPort = Fixture.server.smtp_port
            $0.smtpSecurity = .startTls
        }
        let added = await setup.confirm()
        XCTAssertNil(setup.state.error, "\(String(describing: setup.state.error))")
        XCTAssertEqual(added?.smtp.security, .startTls)
        XCTAssertEqual(added?.smtp.port, Fixture.server.smtp_port)
    }
}
