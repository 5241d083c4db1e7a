import AuthenticationServices
import BrevdueKit
import UIKit

/// The system browser for OAuth2 sign-ins (BrevdueKit's `OAuthBrowser`, what the view
/// models' callers hand to `signIn(browser:)` / `signInAgain(browser:)`):
/// `ASWebAuthenticationSession`, which shows the provider's page over the app and returns
/// when the provider sends the browser to `app.brevdue.ios:/oauth2redirect`. The code,
/// `state` and PKCE are the engine's; this only shows the page and hands back the address.
struct WebAuthenticationBrowser: OAuthBrowser {
    func signIn(url: URL, callbackScheme: String) async throws -> URL {
        let page = await SignInPage()
        return try await withCheckedThrowingContinuation { continuation in
            Task { @MainActor in
                page.show(url: url, callbackScheme: callbackScheme, continuation: continuation)
            }
        }
    }
}

/// One sign-in page on screen: the session (kept alive while it is shown) and who waits
/// for its answer.
@MainActor
private final class SignInPage: NSObject, ASWebAuthenticationPresentationContextProviding {
    private var session: ASWebAuthenticationSession?
    private var continuation: CheckedContinuation<URL, Error>?

    func show(url: URL, callbackScheme: String, continuation: CheckedContinuation<URL, Error>) {
        self.continuation = continuation
        // The handler holds the page until it has answered (finish breaks the cycle).
        let session = ASWebAuthenticationSession(url: url, callbackURLScheme: callbackScheme) {
            callback, error in
            Task { @MainActor in self.finish(callback, error) }
        }
        session.presentationContextProvider = self
        // Safari's cookies are used, so a user already signed in to the provider there
        // need not type the password again.
        session.prefersEphemeralWebBrowserSession = false
        self.session = session
        if !session.start() {
            finish(nil, nil)
        }
    }

    private func finish(_ callback: URL?, _ error: Error?) {
        guard let continuation else { return }
        self.continuation = nil
        session = nil
        if let callback {
            continuation.resume(returning: callback)
        } else if let error = error as? ASWebAuthenticationSessionError, error.code == .canceledLogin {
            // The user closed the page: the view model tells the engine, which says so.
            continuation.resume(throwing: OAuthBrowserError.cancelled)
        } else if let error {
            continuation.resume(throwing: error)
        } else {
            continuation.resume(throwing: OAuthBrowserError.cancelled)
        }
    }

    /// The window the sign-in page is shown over: the app's key window (the system asks
    /// on the main thread).
    nonisolated func presentationAnchor(for session: ASWebAuthenticationSession) -> ASPresentationAnchor {
        MainActor.assumeIsolated {
            let windows = UIApplication.shared.connectedScenes
                .compactMap { $0 as? UIWindowScene }
                .flatMap(\.windows)
            return windows.first(where: \.isKeyWindow) ?? windows.first ?? ASPresentationAnchor()
        }
    }
}
