import Foundation

/// The system browser for an OAuth2 sign-in (the OS boundary): shows `url` and returns the
/// address the provider sent the browser back to (with `code` and `state`, or `error`).
/// The app implements it with `ASWebAuthenticationSession`; tests with an HTTP client that
/// submits the provider's login form.
public protocol OAuthBrowser: Sendable {
    /// Throws `OAuthBrowserError.cancelled` when the user closes the page.
    func signIn(url: URL, callbackScheme: String) async throws -> URL
}

public enum OAuthBrowserError: Error, Sendable, Equatable {
    /// The user closed the sign-in page before it finished.
    case cancelled
}

/// The app's part of an OAuth2 sign-in; every rule (PKCE, `state`, which provider, what
/// a refusal means) is the core's.
public enum OAuthSignIn {
    /// The scheme the provider sends the browser back with (the app's bundle id family).
    public static let callbackScheme = "app.brevdue.ios"
    /// The redirect URI registered for the app with each provider.
    public static let redirectUri = "app.brevdue.ios:/oauth2redirect"

    /// The redirect the provider gives when the user refuses (RFC 6749 §4.1.2.1): what the
    /// app hands the core when the user closes the page, so the core says what that means
    /// (`oauth_cancelled`) and forgets the sign-in.
    public static func cancelledRedirect(for start: OAuthStart) -> String {
        var parts = URLComponents()
        parts.queryItems = [
            URLQueryItem(name: "error", value: "access_denied"),
            URLQueryItem(name: "state", value: start.state),
        ]
        return start.redirectUri + "?" + (parts.percentEncodedQuery ?? "")
    }

    /// Shows `start.url` in `browser`: the redirect URL to finish with (the refusal's
    /// when the user closed the page), or nil when the page address is unusable.
    static func redirect(for start: OAuthStart, browser: OAuthBrowser) async throws -> String {
        guard let url = URL(string: start.url) else {
            throw BrevdueError.invalidInput(
                Advice(id: "invalid_input", detail: start.url), "the sign-in page address is not a URL")
        }
        do {
            return try await browser.signIn(url: url, callbackScheme: callbackScheme).absoluteString
        } catch OAuthBrowserError.cancelled {
            return cancelledRedirect(for: start)
        }
    }
}

extension BrevdueError {
    /// The grant was refused or revoked: the account needs "Sign in again".
    public var needsSignInAgain: Bool { advice.id == "oauth_sign_in_again" }
}

extension Problem {
    /// A sync problem that "Sign in again" fixes.
    public var needsSignInAgain: Bool { advice.id == "oauth_sign_in_again" }
}

extension BrevdueSession {
    /// A new sign-in for the OAuth2 account `name` whose grant was refused or revoked, with
    /// the provider it signs in with: begin, the browser, `engine.signInAgain`.
    public func signInAgain(account name: String, browser: OAuthBrowser) async throws -> Account {
        let accounts = try await engine.accounts()
        guard let account = accounts.first(where: { $0.name == name }) else {
            throw BrevdueError.NotFound(reason: "no account \(name)", advice: Advice(id: "not_found", detail: name))
        }
        guard let provider = account.oauth else {
            throw BrevdueError.invalidInput(
                Advice(id: "invalid_input", detail: name), "\(name) signs in with a password")
        }
        let start = try await engine.beginSignIn(
            email: account.email, provider: provider, redirectUri: OAuthSignIn.redirectUri)
        let redirect = try await OAuthSignIn.redirect(for: start, browser: browser)
        return try await engine.signInAgain(name: name, state: start.state, redirectUrl: redirect)
    }
}
