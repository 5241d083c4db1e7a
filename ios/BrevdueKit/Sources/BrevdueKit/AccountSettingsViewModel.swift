import Foundation

/// What the account settings screen holds: the account's settings as text fields, and a
/// new password (blank: unchanged). `edit(from:)` is the core's `AccountEdit` with only
/// what the user changed, so the core keeps deciding what follows (a port that was the
/// usual one, SMTP that followed the incoming server).
public struct AccountSettingsForm: Equatable, Sendable {
    public var displayName: String
    public var host: String
    public var port: UInt16?
    public var security: Security
    public var username: String
    /// Blank: no extra certificate.
    public var caFile: String
    public var smtpHost: String
    public var smtpPort: UInt16?
    public var smtpSecurity: Security
    public var smtpUsername: String
    /// Blank: unchanged.
    public var password: String
    public var pop3Delete: Pop3DeletePolicy

    public init(account: Account) {
        displayName = account.identities.first?.name ?? ""
        host = account.server.host
        port = account.server.port
        security = account.server.security
        username = account.server.username
        caFile = account.server.caFile ?? ""
        smtpHost = account.smtp.host
        smtpPort = account.smtp.port
        smtpSecurity = account.smtp.security
        smtpUsername = account.smtp.username
        password = ""
        pop3Delete = account.pop3Delete
    }

    /// The change from `account`: nil fields are left as they are.
    public func edit(from account: Account) -> AccountEdit {
        let old = AccountSettingsForm(account: account)
        func changed<T: Equatable>(_ new: T, _ was: T) -> T? { new == was ? nil : new }
        return AccountEdit(
            displayName: changed(displayName, old.displayName),
            host: changed(host, old.host),
            port: port == old.port ? nil : port,
            security: changed(security, old.security),
            username: changed(username, old.username),
            caFile: changed(caFile, old.caFile),
            smtpHost: changed(smtpHost, old.smtpHost),
            smtpPort: smtpPort == old.smtpPort ? nil : smtpPort,
            smtpSecurity: changed(smtpSecurity, old.smtpSecurity),
            smtpUsername: changed(smtpUsername, old.smtpUsername),
            password: password.isEmpty ? nil : password,
            pop3Delete: changed(pop3Delete, old.pop3Delete))
    }

    /// Nothing to save.
    public func isUnchanged(from account: Account) -> Bool {
        edit(from: account) == AccountEdit(
            displayName: nil, host: nil, port: nil, security: nil, username: nil, caFile: nil,
            smtpHost: nil, smtpPort: nil, smtpSecurity: nil, smtpUsername: nil, password: nil,
            pop3Delete: nil)
    }
}

public struct AccountSettingsState: Sendable {
    /// The account as the engine last returned it.
    public var account: Account
    public var form: AccountSettingsForm
    /// The account's folders, for choosing the Sent folder (and the other roles).
    public var folders: [Folder] = []
    public var busy = false
    public var error: BrevdueError? = nil
    /// The last save went through.
    public var saved = false
    /// The account is gone (the screen closes).
    public var removed = false
    /// A new OAuth2 sign-in begun ("Sign in again"): the page to open is `signInUrl`.
    public var signIn: OAuthStart? = nil
    /// The last "Sign in again" went through.
    public var signedInAgain = false

    /// The provider this account signs in with ("Signs in with {name}" instead of the
    /// password field); nil for a password account.
    public var signsInWith: OAuthProvider? { account.oauth }

    /// The page to open in the browser for the sign-in begun.
    public var signInUrl: URL? { signIn.flatMap { URL(string: $0.url) } }

    /// "Sign in again" is what fixes the error shown (`oauth_sign_in_again`); it is
    /// offered for every OAuth2 account anyway.
    public var errorNeedsSignInAgain: Bool { error?.needsSignInAgain ?? false }

    /// The folder that has `role` now.
    public func folder(for role: FolderRole) -> Folder? {
        folders.first { $0.role == role }
    }
}

/// One account's settings: `engine.editAccount` (a new password or server is checked by
/// logging in first; a refusal changes nothing and leaves the form as typed),
/// `engine.removeAccount`, and `engine.chooseSpecialFolder` for the Sent folder.
public final class AccountSettingsViewModel: ViewModel<AccountSettingsState>, @unchecked Sendable {
    public let session: BrevdueSession

    public init(session: BrevdueSession, account: Account) {
        self.session = session
        super.init(state: AccountSettingsState(account: account, form: AccountSettingsForm(account: account)))
    }

    /// Changes the form (the screen's fields).
    public func edit(_ body: (inout AccountSettingsForm) -> Void) {
        update { body(&$0.form); $0.saved = false }
    }

    /// Reads the account and its folders again (the form is kept).
    public func load() async {
        let name = state.account.name
        do {
            let account = try await session.engine.accounts().first { $0.name == name }
            let folders = try await session.engine.folders(account: name)
            update {
                if let account { $0.account = account }
                $0.folders = folders
            }
        } catch {
            update { $0.error = asBrevdueError(error) }
        }
    }

    /// Saves what changed. True when saved: the form then shows the account as saved
    /// (the password field blank). On a refusal `state.error` says why, with its advice,
    /// and the form stays as typed.
    @discardableResult
    public func save() async -> Bool {
        let current = state
        let edit = current.form.edit(from: current.account)
        update { $0.busy = true; $0.error = nil; $0.saved = false }
        do {
            let account = try await session.engine.editAccount(name: current.account.name, edit: edit)
            update {
                $0.busy = false
                $0.account = account
                $0.form = AccountSettingsForm(account: account)
                $0.saved = true
            }
            return true
        } catch {
            update { $0.busy = false; $0.error = asBrevdueError(error) }
            return false
        }
    }

    /// Removes the account and everything this device keeps of it (after the screen's
    /// confirmation).
    @discardableResult
    public func remove() async -> Bool {
        update { $0.busy = true; $0.error = nil }
        do {
            try await session.engine.removeAccount(name: state.account.name)
            update { $0.busy = false; $0.removed = true }
            return true
        } catch {
            update { $0.busy = false; $0.error = asBrevdueError(error) }
            return false
        }
    }

    /// Makes `folder` the account's folder for `role` (Sent by default).
    @discardableResult
    public func choose(folder: String, for role: FolderRole = .sent) async -> Bool {
        update { $0.error = nil }
        do {
            try await session.engine.chooseSpecialFolder(
                account: state.account.name, role: role, folder: folder)
            let folders = try await session.engine.folders(account: state.account.name)
            update { $0.folders = folders }
            return true
        } catch {
            update { $0.error = asBrevdueError(error) }
            return false
        }
    }

    // MARK: OAuth2: "Sign in again"

    /// Begins a new sign-in with the account's provider (after its grant was refused or
    /// revoked). Returns the page to open (also `state.signInUrl`); nil with
    /// `state.error` for a password account or when it cannot start.
    @discardableResult
    public func beginSignInAgain() async -> URL? {
        let account = state.account
        update { $0.busy = true; $0.error = nil; $0.signIn = nil; $0.signedInAgain = false }
        do {
            guard let provider = account.oauth else {
                throw BrevdueError.invalidInput(
                    Advice(id: "invalid_input", detail: account.name),
                    "\(account.name) signs in with a password")
            }
            let start = try await session.engine.beginSignIn(
                email: account.email, provider: provider, redirectUri: OAuthSignIn.redirectUri)
            update { $0.busy = false; $0.signIn = start }
            return URL(string: start.url)
        } catch {
            update { $0.busy = false; $0.error = asBrevdueError(error) }
            return nil
        }
    }

    /// Finishes "Sign in again" with the address the browser was sent back to: the core
    /// checks the servers take the new token before it replaces the old. True when done.
    @discardableResult
    public func finishSignInAgain(redirectUrl: String) async -> Bool {
        let current = state
        guard let start = current.signIn else {
            update {
                $0.error = .invalidInput(Advice(id: "invalid_input", detail: ""), "no sign-in was begun")
            }
            return false
        }
        update { $0.busy = true; $0.error = nil }
        do {
            let account = try await session.engine.signInAgain(
                name: current.account.name, state: start.state, redirectUrl: redirectUrl)
            update {
                $0.busy = false
                $0.signIn = nil
                $0.account = account
                $0.form = AccountSettingsForm(account: account)
                $0.signedInAgain = true
            }
            return true
        } catch {
            update { $0.busy = false; $0.signIn = nil; $0.error = asBrevdueError(error) }
            return false
        }
    }

    /// The user closed the sign-in page: the core forgets the sign-in and says so
    /// (`oauth_cancelled`); the account keeps what it had.
    public func cancelSignInAgain() async {
        guard let start = state.signIn else { return }
        _ = await finishSignInAgain(redirectUrl: OAuthSignIn.cancelledRedirect(for: start))
    }

    /// "Sign in again": begin, the browser, finish.
    @discardableResult
    public func signInAgain(browser: OAuthBrowser) async -> Bool {
        guard await beginSignInAgain() != nil, let start = state.signIn else { return false }
        do {
            let redirect = try await OAuthSignIn.redirect(for: start, browser: browser)
            return await finishSignInAgain(redirectUrl: redirect)
        } catch {
            await cancelSignInAgain()
            update { $0.error = asBrevdueError(error) }
            return false
        }
    }
}
