import Foundation
import XCTest
@testable import BrevdueKit

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The mail server with OAuth2 that `ios/test.sh` starts for these tests only
/// (`tests/mailserver.py serve --oauth`): Dovecot and the SMTP relay take the tokens of
/// a real OAuth2 server (navikt's mock-oauth2-server), whose login user is the mail user.
struct OAuthMailServer: Decodable {
    struct OAuth: Decodable {
        let issuer: String
        let short_issuer: String
        let client_id: String
    }
    let host: String
    let imaps_port: UInt16
    let smtps_port: UInt16
    let ca_file: String
    let oauth: OAuth
}

/// The system browser, faked at the OS boundary only: it submits the OAuth2 server's
/// login form as `user` (HTTP POST to the sign-in page with `username=`), does not follow
/// the redirect, and returns where it points (the app's redirect URI with code and state).
struct FakeBrowser: OAuthBrowser {
    let user: String
    /// Each page it was asked to show.
    let opened = Opened()

    final class Opened: @unchecked Sendable {
        private let lock = NSLock()
        private var urls: [URL] = []
        func add(_ url: URL) { lock.lock(); urls.append(url); lock.unlock() }
        var all: [URL] { lock.lock(); defer { lock.unlock() }; return urls }
    }

    func signIn(url: URL, callbackScheme: String) async throws -> URL {
        opened.add(url)
        let location = try await FakeBrowser.submitLogin(url: url, user: user)
        guard let redirect = URL(string: location), redirect.scheme == callbackScheme else {
            throw BrowserFailure.unexpected("the sign-in page redirected to \(location)")
        }
        return redirect
    }

    enum BrowserFailure: Error { case unexpected(String) }

    /// POSTs the login form; the `Location` of the answer.
    static func submitLogin(url: URL, user: String) async throws -> String {
        var request = URLRequest(url: url)
        request.httpMethod = "POST"
        request.setValue("application/x-www-form-urlencoded", forHTTPHeaderField: "Content-Type")
        request.httpBody = formBody([("username", user)])
        let response = try await NoRedirects.response(for: request)
        guard (300..<400).contains(response.statusCode),
            let location = response.value(forHTTPHeaderField: "Location")
        else {
            throw BrowserFailure.unexpected("the login form answered \(response.statusCode), no redirect")
        }
        return location
    }
}

/// An `application/x-www-form-urlencoded` body.
func formBody(_ fields: [(String, String)]) -> Data {
    var allowed = CharacterSet.alphanumerics
    allowed.insert(charactersIn: "-._~")
    let encode = { (text: String) in text.addingPercentEncoding(withAllowedCharacters: allowed) ?? "" }
    return Data(fields.map { "\(encode($0.0))=\(encode($0.1))" }.joined(separator: "&").utf8)
}

/// A URLSession task whose redirect is refused, so its answer is the redirect itself.
final class NoRedirects: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    private var continuation: CheckedContinuation<HTTPURLResponse, Error>?

    static func response(for request: URLRequest) async throws -> HTTPURLResponse {
        let delegate = NoRedirects()
        let session = URLSession(configuration: .ephemeral, delegate: delegate, delegateQueue: nil)
        defer { session.finishTasksAndInvalidate() }
        return try await withCheckedThrowingContinuation { continuation in
            delegate.continuation = continuation
            session.dataTask(with: request).resume()
        }
    }

    func urlSession(
        _ session: URLSession, task: URLSessionTask,
        willPerformHTTPRedirection response: HTTPURLResponse, newRequest request: URLRequest,
        completionHandler: @escaping (URLRequest?) -> Void
    ) {
        completionHandler(nil)
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
        let continuation = self.continuation
        self.continuation = nil
        if let error {
            continuation?.resume(throwing: error)
        } else if let response = task.response as? HTTPURLResponse {
            continuation?.resume(returning: response)
        } else {
            continuation?.resume(throwing: FakeBrowser.BrowserFailure.unexpected("no HTTP answer"))
        }
    }
}

/// The user closes the sign-in page.
struct ClosedBrowser: OAuthBrowser {
    func signIn(url: URL, callbackScheme: String) async throws -> URL {
        throw OAuthBrowserError.cancelled
    }
}

/// OAuth2 sign-ins from the app's view models against the real engine and the harness's
/// OAuth2 server: setup through a company issuer's sign-in, then sync and send with the
/// token; "sign in again" after the grant is revoked; a cancelled or wrong sign-in saves
/// nothing.
final class OAuthSignInTests: XCTestCase {
    static let server: OAuthMailServer? = {
        guard let json = ProcessInfo.processInfo.environment["BREVDUE_OAUTH_MAILSERVER_JSON"] else {
            return nil
        }
        return try? JSONDecoder().decode(OAuthMailServer.self, from: Data(json.utf8))
    }()

    private func server() throws -> OAuthMailServer {
        guard let server = Self.server else {
            XCTFail("BREVDUE_OAUTH_MAILSERVER_JSON is not set: run the tests with ios/test.sh")
            throw XCTSkip("no OAuth2 server")
        }
        return server
    }

    private static func email(_ user: String) -> String { "\(user)@example.test" }

    /// The manual screen as a user fills it for a company server with its own sign-in:
    /// servers, the login user (the mail user, the token's subject), issuer and client id;
    /// no password.
    private func manualSetup(_ session: BrevdueSession, user: String, short: Bool = false) throws
        -> AccountSetupViewModel
    {
        let s = try server()
        let setup = AccountSetupViewModel(session: session)
        setup.enterByHand()
        setup.edit {
            $0.name = "main"
            $0.email = Self.email(user)
            $0.protocolKind = .imap
            $0.host = s.host
            $0.port = s.imaps_port
            $0.security = .tls
            $0.username = user
            $0.caFile = s.ca_file
            $0.smtpPort = s.smtps_port
            $0.smtpSecurity = .tls
            $0.oauthIssuer = short ? s.oauth.short_issuer : s.oauth.issuer
            $0.oauthClientId = s.oauth.client_id
        }
        return setup
    }

    /// (a) Setup with the issuer and client id fields → the sign-in page → the redirect →
    /// the account, which syncs and sends with the token (SMTP XOAUTH2); the message arrives.
    func testSetupSignsInThroughTheIssuerThenSyncsAndSends() async throws {
        let passwords = MemoryPasswordStore()
        let session = try BrevdueSession(dataDir: Fixture.tempDir("oauth1"), passwords: passwords)
        defer { session.close() }
        let setup = try manualSetup(session, user: "oauth1")
        XCTAssertTrue(setup.state.addsWithSignIn)
        XCTAssertFalse(setup.state.needsPassword)

        // Begin: the page to open, for the app's redirect URI.
        let begun = await setup.beginSignIn()
        let url = try XCTUnwrap(begun, "\(String(describing: setup.state.error))")
        XCTAssertEqual(setup.state.signInUrl, url)
        let start = try XCTUnwrap(setup.state.signIn)
        XCTAssertEqual(start.redirectUri, OAuthSignIn.redirectUri)
        XCTAssertTrue(start.url.hasPrefix(try server().oauth.issuer), start.url)
        let provider = try XCTUnwrap(setup.state.signInProvider)
        XCTAssertEqual(provider.clientId, "brevdue")
        XCTAssertEqual(provider.scopes, ["openid", "email", "offline_access"], "the engine's default scopes")
        XCTAssertEqual(provider.mechanism, .xoauth2)
        let none = try await session.engine.accounts()
        XCTAssertTrue(none.isEmpty, "nothing is saved before the sign-in finishes")

        // The browser: the login form, and back to the app with the code.
        let redirect = try await FakeBrowser.submitLogin(url: url, user: "oauth1")
        XCTAssertTrue(redirect.hasPrefix(OAuthSignIn.redirectUri), redirect)
        let added = await setup.finishSignIn(redirectUrl: redirect)
        XCTAssertNil(setup.state.error, "\(String(describing: setup.state.error))")
        let account = try XCTUnwrap(added)
        XCTAssertEqual(setup.state.added?.name, account.name)
        XCTAssertNil(setup.state.signIn)
        XCTAssertEqual(account.oauth?.clientId, "brevdue")
        XCTAssertEqual(account.server.username, "oauth1")
        // The tokens are in the platform's store, no password anywhere.
        let stored = try XCTUnwrap(passwords.get(account: account.name))
        XCTAssertTrue(stored.contains("access_token"))
        XCTAssertFalse(stored.contains("secret"))

        // The same "added" path as a password account: the first sync, then send.
        let status = SyncStatusViewModel(session: session)
        let first = await status.sync(account: account.name)
        XCTAssertNotNil(first, "\(String(describing: status.state.lastError))")
        XCTAssertNil(status.state.problems[account.name])
        let subject = "Signed in with OAuth2 \(UUID().uuidString.prefix(8))"
        _ = try await session.engine.send(
            draft: Draft(
                account: account.name, from: nil,
                to: [Address(name: nil, address: Self.email("oauth1"))],
                cc: [], bcc: [], subject: subject, body: "Sent with a token", attachments: []))
        let sent = try await session.engine.sendOutbox(account: account.name)
        XCTAssertEqual(sent.sent, 1, "the SMTP relay takes the token: \(sent)")
        var arrived: MessageSummary? = nil
        let deadline = Date().addingTimeInterval(15)
        while arrived == nil, Date() < deadline {
            _ = try await session.engine.sync(account: account.name)
            arrived = try await Fixture.find(session, folder: "INBOX", subject: subject)
            if arrived == nil { try await Task.sleep(nanoseconds: 200_000_000) }
        }
        XCTAssertNotNil(arrived, "the message sent with the token arrived")
    }

    /// (b) The grant is revoked: sync says "sign in again" (`oauth_sign_in_again`), the
    /// account's settings show the provider and no password, and "Sign in again" (from the
    /// settings, and from the status row) makes it sync again.
    func testSignInAgainAfterTheGrantWasRevoked() async throws {
        let s = try server()
        let passwords = MemoryPasswordStore()
        let dir = Fixture.tempDir("oauth2")
        var session = try BrevdueSession(dataDir: dir, passwords: passwords)
        defer { session.close() }
        // Short-lived tokens (5 s), so the engine must refresh soon.
        let setup = try manualSetup(session, user: "oauth2", short: true)
        let browser = FakeBrowser(user: "oauth2")
        let added = await setup.signIn(browser: browser)
        let account = try XCTUnwrap(added, "\(String(describing: setup.state.error))")
        XCTAssertEqual(browser.opened.all.count, 1)
        _ = try await session.engine.sync(account: account.name)

        // The provider revokes the grant (the user removed the app's access, say); once
        // the access token lapses, the refresh is refused.
        let tokens = try XCTUnwrap(passwords.get(account: account.name))
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(tokens.utf8)) as? [String: Any])
        let refresh = try XCTUnwrap(json["refresh_token"] as? String)
        try await revoke(issuer: s.oauth.short_issuer, token: refresh, clientId: s.oauth.client_id)
        let expires = try XCTUnwrap((json["expires_at"] as? NSNumber)?.doubleValue)
        let wait = expires - Date().timeIntervalSince1970
        if wait > 0 { try await Task.sleep(nanoseconds: UInt64(wait * 1e9)) }
        // The app starts again (the open IMAP session would not log in again).
        session.close()
        session = try BrevdueSession(dataDir: dir, passwords: passwords)

        let status = SyncStatusViewModel(session: session)
        await status.sync(account: account.name)
        let refused = await Fixture.waitUntil(5) { status.state.problems[account.name] != nil }
        XCTAssertTrue(
            refused,
            "\(status.state.status) \(String(describing: status.state.lastSyncNow)) \(String(describing: status.state.lastError))")
        let problem = try XCTUnwrap(status.state.problems[account.name])
        XCTAssertTrue(problem.needsSignInAgain, "\(problem)")
        XCTAssertEqual(problem.kind, .authFailed)
        XCTAssertEqual(problem.advice.detail, account.oauth?.name)
        XCTAssertTrue(localized(problem.advice, language: "nb").contains("Logg inn på nytt"))
        do {
            _ = try await session.engine.sync(account: account.name)
            XCTFail("a revoked grant still synced")
        } catch let error as BrevdueError {
            XCTAssertEqual(error.kind, "AuthFailed")
            XCTAssertTrue(error.needsSignInAgain, "\(error)")
        }

        // The settings: signs in with the provider; a password cannot be set.
        let all = try await session.engine.accounts()
        let settings = AccountSettingsViewModel(
            session: session, account: try XCTUnwrap(all.first { $0.name == account.name }))
        await settings.load()
        XCTAssertEqual(settings.state.signsInWith?.name, account.oauth?.name)
        settings.edit { $0.password = "secret" }
        let savedPassword = await settings.save()
        XCTAssertFalse(savedPassword)
        XCTAssertEqual(settings.state.error?.advice.id, "oauth_account_has_no_password")
        settings.edit { $0.password = "" }

        // "Sign in again" in the settings: a new sign-in with the same provider.
        let again = await settings.signInAgain(browser: browser)
        XCTAssertTrue(again, "\(String(describing: settings.state.error))")
        XCTAssertTrue(settings.state.signedInAgain)
        XCTAssertNil(settings.state.error)
        XCTAssertNil(settings.state.signIn)
        XCTAssertEqual(browser.opened.all.count, 2)
        let synced = try await session.engine.sync(account: account.name)
        XCTAssertEqual(synced.map(\.account), [account.name])
        let cleared = await Fixture.waitUntil(5) { status.state.problems[account.name] == nil }
        XCTAssertTrue(cleared, "\(String(describing: status.state.problems[account.name]))")

        // The same action where the error is shown (the status row).
        let fromStatus = await status.signInAgain(account.name, browser: browser)
        XCTAssertTrue(fromStatus, "\(String(describing: status.state.lastError))")
        XCTAssertEqual(browser.opened.all.count, 3)
        XCTAssertNil(status.state.problems[account.name])
    }

    /// (c) The user cancels (the provider's `error=access_denied`, or the page closed), or
    /// signs in as someone else: nothing is saved, and a cancel shows `oauth_cancelled`.
    func testCancelledOrWrongSignInSavesNothing() async throws {
        let passwords = MemoryPasswordStore()
        let session = try BrevdueSession(dataDir: Fixture.tempDir("oauth3"), passwords: passwords)
        defer { session.close() }
        let setup = try manualSetup(session, user: "oauth3")

        // The provider sends the browser back with a refusal.
        let begun = await setup.beginSignIn()
        XCTAssertNotNil(begun, "\(String(describing: setup.state.error))")
        let start = try XCTUnwrap(setup.state.signIn)
        let refused = await setup.finishSignIn(
            redirectUrl: "\(start.redirectUri)?error=access_denied&state=\(start.state)")
        XCTAssertNil(refused)
        XCTAssertNil(setup.state.added)
        XCTAssertNil(setup.state.signIn)
        XCTAssertEqual(setup.state.error?.advice.id, "oauth_cancelled", "\(String(describing: setup.state.error))")
        XCTAssertFalse(setup.state.error?.userMessage(language: "en").isEmpty ?? true)
        XCTAssertTrue(setup.state.error?.userMessage(language: "nb").contains("avbrutt") ?? false)
        // The sign-in is over in the engine too: that state cannot finish another.
        do {
            _ = try await session.engine.addOauthAccount(
                config: try setup.state.form.config(), state: start.state,
                redirectUrl: "\(start.redirectUri)?code=x&state=\(start.state)")
            XCTFail("a finished sign-in was finished again")
        } catch let error as BrevdueError {
            XCTAssertEqual(error.kind, "InvalidInput", "\(error)")
        }

        // The user closes the page: the same advice.
        let closed = await setup.signIn(browser: ClosedBrowser())
        XCTAssertNil(closed)
        XCTAssertEqual(setup.state.error?.advice.id, "oauth_cancelled", "\(String(describing: setup.state.error))")

        // Signed in as another user: the servers refuse the token for this login.
        let wrong = await setup.signIn(browser: FakeBrowser(user: "oauth4"))
        XCTAssertNil(wrong)
        XCTAssertEqual(setup.state.error?.kind, "AuthFailed", "\(String(describing: setup.state.error))")
        XCTAssertNil(setup.state.added)

        let accounts = try await session.engine.accounts()
        XCTAssertTrue(accounts.isEmpty, "\(accounts.map(\.name))")
        XCTAssertNil(try passwords.get(account: "main"))

        // And then the right sign-in still works from the same screen.
        let right = await setup.signIn(browser: FakeBrowser(user: "oauth3"))
        XCTAssertNotNil(right, "\(String(describing: setup.state.error))")
        XCTAssertNil(setup.state.error)
    }

    /// The provider revokes a refresh token (RFC 7009), as its "remove access" page does.
    private func revoke(issuer: String, token: String, clientId: String) async throws {
        var request = URLRequest(url: try XCTUnwrap(URL(string: "\(issuer)/revoke")))
        request.httpMethod = "POST"
        request.setValue("application/x-www-form-urlencoded", forHTTPHeaderField: "Content-Type")
        request.httpBody = formBody([
            ("client_id", clientId), ("token", token), ("token_type_hint", "refresh_token"),
        ])
        let response = try await NoRedirects.response(for: request)
        XCTAssertTrue((200..<300).contains(response.statusCode), "revoke: \(response.statusCode)")
    }
}
