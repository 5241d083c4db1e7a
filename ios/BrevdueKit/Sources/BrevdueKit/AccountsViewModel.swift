import Foundation

/// What the "add account" form holds, turned into the engine's `AccountConfig`.
public struct AccountForm: Equatable, Sendable {
    public var name = ""
    public var email = ""
    public var displayName = ""
    public var protocolKind: MailProtocol = .imap
    public var host = ""
    public var port: UInt16? = nil
    public var security: Security = .tls
    public var username = ""
    public var password = ""
    public var caFile: String? = nil
    public var pop3Delete: Pop3DeletePolicy = .never
    public var smtpHost: String? = nil
    public var smtpPort: UInt16? = nil
    public var smtpSecurity: Security? = nil

    public init() {}

    /// The usual port for the protocol and security when none is given.
    public var effectivePort: UInt16 {
        if let port { return port }
        switch (protocolKind, security) {
        case (.imap, .tls): return 993
        case (.imap, _): return 143
        case (.pop3, .tls): return 995
        case (.pop3, _): return 110
        }
    }

    public func config() throws -> AccountConfig {
        func require(_ value: String, _ what: String) throws -> String {
            let trimmed = value.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { throw BrevdueError.InvalidInput(reason: "\(what) is missing") }
            return trimmed
        }
        let email = try require(self.email, "the e-mail address")
        guard email.contains("@") else {
            throw BrevdueError.InvalidInput(reason: "'\(email)' is not an e-mail address")
        }
        let host = try require(self.host, "the server")
        let user = username.isEmpty ? email : username
        let server = ServerConfig(
            host: host, port: effectivePort, security: security, username: user, caFile: caFile)
        var smtp: ServerConfig? = nil
        if smtpHost != nil || smtpPort != nil || smtpSecurity != nil {
            let security = smtpSecurity ?? self.security
            let port = smtpPort ?? (security == .tls ? 465 : security == .startTls ? 587 : 25)
            smtp = ServerConfig(
                host: smtpHost ?? host, port: port, security: security, username: user,
                caFile: caFile)
        }
        return AccountConfig(
            name: name.isEmpty ? email : name, email: email, protocol: protocolKind,
            server: server, pop3Delete: pop3Delete, displayName: displayName, smtp: smtp)
    }
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

    public func load() {
        serially {
            do {
                let accounts = try session.engine.accounts()
                update { $0.accounts = accounts; $0.error = nil }
            } catch {
                update { $0.error = asBrevdueError(error) }
            }
        }
    }

    /// Checks the login and stores the account; on failure `state.error` says why (typed).
    @discardableResult
    public func add(_ form: AccountForm) async -> Account? {
        update { $0.busy = true; $0.error = nil }
        do {
            let config = try form.config()
            let account = try await session.engine.addAccount(config: config, password: form.password)
            load()
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
            load()
        } catch {
            update { $0.error = asBrevdueError(error) }
        }
    }

    /// Moves a POP3 account to IMAP on the same server (or `server`), keeping what this
    /// device knows.
    public func switchToImap(_ name: String, server: ServerConfig? = nil) async -> SwitchReport? {
        do {
            let report = try await session.engine.switchToImap(account: name, imap: server)
            load()
            return report
        } catch {
            update { $0.error = asBrevdueError(error) }
            return nil
        }
    }

    /// The POP3 advice shown on the account screen: what stays on this device.
    public static func advice(for account: Account) -> String? {
        let caps = account.capabilities
        guard !caps.syncsReadState || !caps.syncsFolders || !caps.syncsSent else { return nil }
        return "With POP3 this device downloads the mail: what you read, file or send here "
            + "stays here and your other devices won't see it. Reading mail on more than one "
            + "device? IMAP keeps them in step."
    }
}
