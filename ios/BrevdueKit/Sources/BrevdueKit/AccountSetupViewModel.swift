import Foundation

extension AccountForm {
    /// The form as a discovery draft fills it (the password is the user's, kept apart:
    /// discovery never sees it).
    public init(draft: AccountDraft, password: String = "") {
        self.init()
        name = draft.name ?? ""
        email = draft.email ?? ""
        displayName = draft.displayName ?? ""
        protocolKind = draft.protocol ?? .imap
        host = draft.host ?? ""
        port = draft.port
        security = draft.security
        username = draft.username ?? ""
        self.password = password
        caFile = draft.caFile
        pop3Delete = draft.pop3Delete ?? .never
        smtpHost = draft.smtpHost
        smtpPort = draft.smtpPort
        smtpSecurity = draft.smtpSecurity
        smtpUsername = draft.smtpUsername
    }
}

/// Where the "add account" flow is.
public enum AccountSetupStep: Equatable, Sendable {
    /// Address and password, one "Continue".
    case address
    /// What discovery found, for the user to confirm (the password goes out only then).
    case confirm
    /// Every field by hand (pre-filled with what discovery found, if anything).
    case manual
}

public struct AccountSetupState: Sendable {
    public var step: AccountSetupStep = .address
    /// What the last `discover` found (kept when the user goes on by hand).
    public var discovery: Discovery? = nil
    /// The form the confirmation or the manual screen adds: the discovery's draft (or
    /// the alternative chosen), else what the user typed.
    public var form = AccountForm()
    /// The discovery found only unencrypted servers and the user chose to use them.
    public var plaintextChosen = false
    public var busy = false
    public var error: BrevdueError? = nil
    /// The account added, when the flow is done.
    public var added: Account? = nil
    /// An OAuth2 sign-in begun (`beginSignIn`): the page to open is `signInUrl`; it ends
    /// with `finishSignIn(redirectUrl:)` or `cancelSignIn()`.
    public var signIn: OAuthStart? = nil
    /// The provider of the sign-in begun (the discovery's, or the custom issuer's).
    public var signInProvider: OAuthProvider? = nil

    /// The page to open in the browser for the sign-in begun.
    public var signInUrl: URL? { signIn.flatMap { URL(string: $0.url) } }

    /// The provider the confirmation offers "Sign in with {name}" for, instead of a
    /// password (the core found Google, Microsoft, Yahoo or AOL and this build can sign
    /// in with it).
    public var offeredSignIn: OAuthProvider? { discovery?.oauth }

    /// The provider needs its own sign-in but this build has none for it
    /// (`oauth_not_built_in`, detail: the provider's name): use an app password.
    public var signInUnavailableAdvice: Advice? { discovery?.oauthUnavailable }

    /// "Add" signs in through a browser instead of sending a password: the manual
    /// screen's issuer and client id are filled, or the discovery offered a provider
    /// (and, by hand, the incoming server is still the one it found).
    public var addsWithSignIn: Bool {
        switch step {
        case .address: return false
        case .confirm: return offeredSignIn != nil
        case .manual:
            if form.usesCustomSignIn { return true }
            guard let discovery, discovery.oauth != nil else { return false }
            return form.host == (discovery.draft.host ?? "")
        }
    }

    /// The password is needed (the address screen may leave it blank for a provider that
    /// signs in through its own page).
    public var needsPassword: Bool { !addsWithSignIn }

    /// The confirmation's "POP or IMAP?" help when the provider offers both.
    public var protocolAdvice: Advice? {
        guard let discovery, !discovery.alternatives.isEmpty else { return nil }
        return AccountsViewModel.protocolChoiceAdvice
    }

    /// The warning shown when only a plain connection was found (`discovery_plaintext_only`).
    public var plaintextAdvice: Advice? {
        guard let discovery, discovery.plaintext else { return nil }
        return Advice(id: "discovery_plaintext_only", detail: form.email)
    }

    /// Every incoming choice the discovery offered: its draft first, then the alternatives.
    public var choices: [AccountDraft] {
        guard let discovery else { return [] }
        return [discovery.draft] + discovery.alternatives
    }
}

/// The "add account" flow: address + password → `engine.discover` → confirmation →
/// `resolveAccount` + `engine.addAccount`; or every field by hand. When the discovery
/// offers an OAuth2 provider (or the manual fields name an issuer and client id), "Add"
/// is a sign-in instead: `beginSignIn` → the page in the browser → `finishSignIn(redirectUrl:)`
/// → `engine.addOauthAccount` (or `signIn(browser:)` for all three). Every default and
/// every rule is the core's; this holds the screens' state.
public final class AccountSetupViewModel: ViewModel<AccountSetupState>, @unchecked Sendable {
    public let session: BrevdueSession

    public init(session: BrevdueSession) {
        self.session = session
        super.init(state: AccountSetupState())
    }

    /// Looks the address up (no password is sent). Found: the confirmation, with the
    /// form filled. Not found: the error's advice and the manual fields, with the address
    /// and password kept. `caFile`: one extra trusted CA (a private server's).
    public func discover(email: String, password: String, caFile: String? = nil) async {
        update {
            $0.busy = true
            $0.error = nil
            $0.form.email = email
            $0.form.password = password
            $0.form.caFile = caFile
        }
        do {
            let found = try await session.engine.discover(email: email, caFile: caFile)
            update {
                $0.busy = false
                $0.discovery = found
                $0.plaintextChosen = false
                $0.form = AccountForm(draft: found.draft, password: password)
                $0.step = .confirm
            }
        } catch {
            update {
                $0.busy = false
                $0.discovery = nil
                $0.error = asBrevdueError(error)
                $0.step = .manual
            }
        }
    }

    /// Uses one of `state.choices` (POP3 instead of IMAP, for example).
    public func choose(_ draft: AccountDraft) {
        update {
            let old = $0.form
            $0.form = AccountForm(draft: draft, password: old.password)
            $0.form.oauthIssuer = old.oauthIssuer
            $0.form.oauthClientId = old.oauthClientId
        }
    }

    /// The user accepts an unencrypted connection the discovery found.
    public func choosePlaintext(_ chosen: Bool) { update { $0.plaintextChosen = chosen } }

    /// "Enter settings by hand": the manual fields, pre-filled with what was found.
    public func enterByHand() { update { $0.step = .manual } }

    /// Back to the address screen.
    public func startOver() {
        update {
            let email = $0.form.email
            $0 = AccountSetupState()
            $0.form.email = email
        }
    }

    /// Changes the form (the manual screen's fields).
    public func edit(_ body: (inout AccountForm) -> Void) { update { body(&$0.form) } }

    /// The confirmation's "Add" (or the manual screen's): `resolveAccount`, then
    /// `engine.addAccount`, which checks the login first and saves nothing on failure.
    /// A plain-only discovery needs `choosePlaintext(true)` first.
    @discardableResult
    public func confirm() async -> Account? {
        let current = state
        guard plaintextAccepted(current) else { return nil }
        update { $0.busy = true; $0.error = nil }
        do {
            let config = try current.form.config()
            let account = try await session.engine.addAccount(
                config: config, password: current.form.password)
            update { $0.busy = false; $0.added = account }
            return account
        } catch {
            update { $0.busy = false; $0.error = asBrevdueError(error) }
            return nil
        }
    }

    /// A plain-only discovery needs `choosePlaintext(true)` before anything is sent.
    private func plaintextAccepted(_ current: AccountSetupState) -> Bool {
        if current.step == .confirm, let advice = current.plaintextAdvice, !current.plaintextChosen {
            update { $0.error = .invalidInput(advice, "only unencrypted servers were found") }
            return false
        }
        return true
    }

    // MARK: OAuth2 sign-in

    /// Begins the sign-in "Add" makes when `state.addsWithSignIn`: with the custom issuer of
    /// the manual fields (its discovery document, with the engine's default scopes and
    /// mechanism), else with the provider the discovery offered. Returns the page to open in
    /// the browser (also `state.signInUrl`); nil with `state.error` when it cannot start.
    @discardableResult
    public func beginSignIn() async -> URL? {
        let current = state
        guard plaintextAccepted(current) else { return nil }
        update { $0.busy = true; $0.error = nil; $0.signIn = nil; $0.signInProvider = nil }
        do {
            // The form must make an account before the user goes to the browser.
            _ = try current.form.config()
            let provider: OAuthProvider
            if current.step == .manual, current.form.usesCustomSignIn {
                // The engine's defaults: its scopes and mechanism for a custom issuer.
                provider = try await session.engine.oauthProviderFromIssuer(
                    issuer: current.form.oauthIssuer, clientId: current.form.oauthClientId,
                    scopes: [], mechanism: nil)
            } else if let offered = current.offeredSignIn, current.addsWithSignIn {
                provider = offered
            } else {
                throw BrevdueError.invalidInput(
                    Advice(id: "invalid_input", detail: current.form.email),
                    "this account signs in with a password")
            }
            let start = try await session.engine.beginSignIn(
                email: current.form.email, provider: provider, redirectUri: OAuthSignIn.redirectUri)
            update {
                $0.busy = false
                $0.signIn = start
                $0.signInProvider = provider
            }
            return URL(string: start.url)
        } catch {
            update { $0.busy = false; $0.error = asBrevdueError(error) }
            return nil
        }
    }

    /// Finishes the sign-in begun with the address the browser was sent back to: the core
    /// exchanges the code, checks that the servers take the token, and saves the account
    /// (`state.added`, as for a password). A failure (a refusal, `oauth_cancelled`) saves
    /// nothing and is `state.error`; the sign-in is over either way.
    @discardableResult
    public func finishSignIn(redirectUrl: String) async -> Account? {
        let current = state
        guard let start = current.signIn else {
            update {
                $0.error = .invalidInput(
                    Advice(id: "invalid_input", detail: ""), "no sign-in was begun")
            }
            return nil
        }
        update { $0.busy = true; $0.error = nil }
        do {
            let config = try current.form.config()
            let account = try await session.engine.addOauthAccount(
                config: config, state: start.state, redirectUrl: redirectUrl)
            update { $0.busy = false; $0.signIn = nil; $0.added = account }
            return account
        } catch {
            update { $0.busy = false; $0.signIn = nil; $0.error = asBrevdueError(error) }
            return nil
        }
    }

    /// The user closed the sign-in page: the core is told the way a provider tells a
    /// refusal, so it forgets the sign-in and `state.error` is its `oauth_cancelled`.
    public func cancelSignIn() async {
        guard let start = state.signIn else { return }
        _ = await finishSignIn(redirectUrl: OAuthSignIn.cancelledRedirect(for: start))
    }

    /// "Sign in with {name}" (or "Add" by hand with an issuer): begin, the browser, finish.
    @discardableResult
    public func signIn(browser: OAuthBrowser) async -> Account? {
        guard await beginSignIn() != nil, let start = state.signIn else { return nil }
        do {
            let redirect = try await OAuthSignIn.redirect(for: start, browser: browser)
            return await finishSignIn(redirectUrl: redirect)
        } catch {
            // The browser could not be shown: forget the sign-in here and in the core.
            await cancelSignIn()
            update { $0.error = asBrevdueError(error) }
            return nil
        }
    }
}
