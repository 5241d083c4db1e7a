import Foundation

/// What the "add account" form holds. Blank fields are left to the core: `draft()` is
/// the core's `AccountDraft`, and `resolveAccount` fills in ports, security, the SMTP
/// server and the user names.
public struct AccountForm: Equatable, Sendable {
    public var name = ""
    public var email = ""
    public var displayName = ""
    public var protocolKind: MailProtocol = .imap
    public var host = ""
    public var port: UInt16? = nil
    /// Nil: from the port, else TLS (the core decides).
    public var security: Security? = nil
    public var username = ""
    public var password = ""
    public var caFile: String? = nil
    public var pop3Delete: Pop3DeletePolicy = .never
    public var smtpHost: String? = nil
    public var smtpPort: UInt16? = nil
    public var smtpSecurity: Security? = nil
    public var smtpUsername: String? = nil
    /// The manual fields for a company's own OAuth2 sign-in: its issuer (OpenID discovery)
    /// and the app's client id there. Both filled: the account signs in through it instead
    /// of with a password.
    public var oauthIssuer = ""
    public var oauthClientId = ""

    public init() {}

    /// Both OAuth2 fields are filled in.
    public var usesCustomSignIn: Bool {
        !oauthIssuer.trimmingCharacters(in: .whitespaces).isEmpty
            && !oauthClientId.trimmingCharacters(in: .whitespaces).isEmpty
    }

    public func draft() -> AccountDraft {
        func text(_ value: String) -> String? { value.isEmpty ? nil : value }
        return AccountDraft(
            name: text(name), email: text(email), displayName: text(displayName),
            protocol: protocolKind, host: text(host), port: port, security: security,
            username: text(username), caFile: caFile, smtpHost: smtpHost, smtpPort: smtpPort,
            smtpSecurity: smtpSecurity, smtpUsername: smtpUsername, pop3Delete: pop3Delete)
    }

    /// The complete account, or `InvalidInput` with the core's advice on what is missing.
    public func config() throws -> AccountConfig { try resolveAccount(draft: draft()) }

    /// The incoming port the core would use as the form stands (for the field's
    /// placeholder); nil until the address and server are filled in.
    public var resolvedPort: UInt16? { try? config().server.port }
}

public struct AccountsState: Sendable {
    public var accounts: [Account] = []
    public var busy = false
    public var error: BrevdueError? = nil
}

/// The account list and the "add account" screen.
public final class AccountsViewModel: ViewModel<AccountsState>, @unchecked Sendable {
    public let session: BrevdueSession

    public init(session: BrevdueSession) {
        self.session = session
        super.init(state: AccountsState())
    }

    public func load() async {
        do {
            let accounts = try await session.engine.accounts()
            update { $0.accounts = accounts; $0.error = nil }
        } catch {
            update { $0.error = asBrevdueError(error) }
        }
    }

    /// Checks the login and stores the account; on failure `state.error` says why (typed).
    @discardableResult
    public func add(_ form: AccountForm) async -> Account? {
        update { $0.busy = true; $0.error = nil }
        do {
            let config = try form.config()
            let account = try await session.engine.addAccount(config: config, password: form.password)
            await load()
            update { $0.busy = false }
            return account
        } catch {
            update { $0.busy = false; $0.error = asBrevdueError(error) }
            return nil
        }
    }

    public func remove(_ name: String) async {
        do {
            try await session.engine.removeAccount(name: name)
            await load()
        } catch {
            update { $0.error = asBrevdueError(error) }
        }
    }

    /// Moves a POP3 account to IMAP on the same server (or `server`), keeping what this
    /// device knows.
    public func switchToImap(_ name: String, server: ServerConfig? = nil) async -> SwitchReport? {
        do {
            let report = try await session.engine.switchToImap(account: name, imap: server)
            await load()
            return report
        } catch {
            update { $0.error = asBrevdueError(error) }
            return nil
        }
    }

    /// The POP3 advice shown on the account screen (`pop3_explained`): what stays on
    /// this device. Nil for accounts that keep every device in step.
    public static func advice(for account: Account) -> Advice? {
        let caps = account.capabilities
        guard !caps.syncsReadState || !caps.syncsFolders || !caps.syncsSent else { return nil }
        return Advice(id: "pop3_explained", detail: "")
    }

    /// The "add account" form's help for the protocol chosen (`pop3_explained`,
    /// `imap_explained`).
    public static func advice(for protocolKind: MailProtocol) -> Advice {
        Advice(id: protocolKind == .pop3 ? "pop3_explained" : "imap_explained", detail: "")
    }

    /// The form's help for choosing between them (`pop_or_imap`).
    public static let protocolChoiceAdvice = Advice(id: "pop_or_imap", detail: "")
}
