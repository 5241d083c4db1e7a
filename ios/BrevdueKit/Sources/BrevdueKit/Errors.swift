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

    /// The engine's own sentence.
    public var message: String {
        switch self {
        case .ConnectionRefused(let m), .Timeout(let m), .Network(let m),
            .CertificateNotTrusted(let m), .WrongHostName(let m), .Tls(let m),
            .AuthFailed(let m), .ProtocolUnsupported(let m), .PlaintextNotAllowed(let m),
            .Protocol(let m), .NotFound(let m), .AlreadyExists(let m), .InvalidInput(let m),
            .MissingCredentials(let m), .SendRefused(let m), .Storage(let m), .Closed(let m):
            return m
        }
    }

    /// What a screen shows: a headline for the kind, then the engine's sentence.
    public var userMessage: String {
        let headline: String
        switch self {
        case .AuthFailed, .MissingCredentials: headline = "The server refused the user name or password."
        case .CertificateNotTrusted, .WrongHostName, .Tls:
            headline = "The server's identity could not be verified."
        case .ConnectionRefused, .Timeout, .Network: headline = "The server cannot be reached."
        case .PlaintextNotAllowed, .ProtocolUnsupported, .Protocol:
            headline = "The server does not speak what the account expects."
        case .SendRefused: headline = "The message was refused; it was kept as a draft."
        case .NotFound: headline = "It is no longer there."
        case .AlreadyExists: headline = "It already exists."
        case .InvalidInput: headline = "Please check what you entered."
        case .Storage: headline = "Mail on this device could not be read or written."
        case .Closed: headline = "The mail engine is closed."
        }
        return "\(headline) \(message)"
    }
}

/// Any error as a `BrevdueError` (foreign errors become `Storage`).
func asBrevdueError(_ error: Error) -> BrevdueError {
    (error as? BrevdueError) ?? .Storage(reason: String(describing: error))
}
