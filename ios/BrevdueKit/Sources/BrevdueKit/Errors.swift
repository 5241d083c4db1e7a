import Foundation

extension BrevdueError {
    /// The kind's name, as in the engine (`AuthFailed`, `CertificateNotTrusted`, ...).
    public var kind: String {
        switch self {
        case .ConnectionRefused: return "ConnectionRefused"
        case .Timeout: return "Timeout"
        case .Network: return "Network"
        case .CertificateNotTrusted: return "CertificateNotTrusted"
        case .WrongHostName: return "WrongHostName"
        case .Tls: return "Tls"
        case .AuthFailed: return "AuthFailed"
        case .ProtocolUnsupported: return "ProtocolUnsupported"
        case .PlaintextNotAllowed: return "PlaintextNotAllowed"
        case .Protocol: return "Protocol"
        case .NotFound: return "NotFound"
        case .AlreadyExists: return "AlreadyExists"
        case .InvalidInput: return "InvalidInput"
        case .MissingCredentials: return "MissingCredentials"
        case .SendRefused: return "SendRefused"
        case .Storage: return "Storage"
        case .Closed: return "Closed"
        }
    }

    private var parts: (reason: String, advice: Advice) {
        switch self {
        case .ConnectionRefused(let r, let a), .Timeout(let r, let a), .Network(let r, let a),
            .CertificateNotTrusted(let r, let a), .WrongHostName(let r, let a), .Tls(let r, let a),
            .AuthFailed(let r, let a), .ProtocolUnsupported(let r, let a),
            .PlaintextNotAllowed(let r, let a), .Protocol(let r, let a), .NotFound(let r, let a),
            .AlreadyExists(let r, let a), .InvalidInput(let r, let a),
            .MissingCredentials(let r, let a), .SendRefused(let r, let a), .Storage(let r, let a),
            .Closed(let r, let a):
            return (r, a)
        }
    }

    /// The engine's sentence, in English (for logs).
    public var reason: String { parts.reason }

    /// What the user reads, as an id and its detail (see `localized`).
    public var advice: Advice { parts.advice }

    /// What a screen shows: the advice in `language` (the device's if nil), or the
    /// engine's sentence for advice this app has no words for.
    public func userMessage(language: String? = nil) -> String {
        localized(advice, language: language, fallback: reason)
    }
}

/// The words for `advice` from the core-written `Advice.strings` (`advice_<id>`, `%@` =
/// detail): in `language` ("nb", "en", "nb-NO") if given, else in the device's language.
/// An id this build has no words for (a newer engine) gives `fallback`, else the detail.
public func localized(_ advice: Advice, language: String? = nil, fallback: String? = nil) -> String {
    let key = "advice_\(advice.id)"
    let text = adviceBundle(language).localizedString(forKey: key, value: nil, table: "Advice")
    guard text != key else {
        if let fallback, !fallback.isEmpty { return fallback }
        return advice.detail
    }
    return text.replacingOccurrences(of: "%@", with: advice.detail)
}

/// `Bundle.module`, or its `<language>.lproj` for an explicit language (whole tag first,
/// then the language alone; English when neither is there).
private func adviceBundle(_ language: String?) -> Bundle {
    guard let language else { return Bundle.module }
    let primary = String(language.split(whereSeparator: { $0 == "-" || $0 == "_" }).first ?? "")
    for name in [language, primary, "en"] where !name.isEmpty {
        if let path = Bundle.module.path(forResource: name, ofType: "lproj"),
            let bundle = Bundle(path: path)
        {
            return bundle
        }
    }
    return Bundle.module
}

extension BrevdueError {
    /// An error the kit itself raises for what the user typed (the engine's advice).
    static func invalidInput(_ advice: Advice, _ reason: String) -> BrevdueError {
        .InvalidInput(reason: reason, advice: advice)
    }
}

/// Any error as a `BrevdueError` (foreign errors become `Storage`).
func asBrevdueError(_ error: Error) -> BrevdueError {
    (error as? BrevdueError)
        ?? .Storage(
            reason: String(describing: error), advice: Advice(id: "storage", detail: ""))
}
