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
/// `resolveAccount` + `engine.addAccount`; or every field by hand. Every default and
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
            let password = $0.form.password
            $0.form = AccountForm(draft: draft, password: password)
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
        if current.step == .confirm, let advice = current.plaintextAdvice, !current.plaintextChosen {
            update { $0.error = .invalidInput(advice, "only unencrypted servers were found") }
            return nil
        }
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
}
