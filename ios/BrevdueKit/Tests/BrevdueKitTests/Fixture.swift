import Foundation
import XCTest
@testable import BrevdueKit

/// The private mail server `ios/test.sh` started on the host (tests/mailserver.py), with
/// the users it created (all with the same password).
struct MailServer: Decodable {
    let host: String
    let imap_port: UInt16
    let imaps_port: UInt16
    let pop3_port: UInt16
    let pop3s_port: UInt16
    let smtp_port: UInt16
    let smtps_port: UInt16
    let ca_file: String
    let state_dir: String
}

enum Fixture {
    static let server: MailServer = {
        guard let json = ProcessInfo.processInfo.environment["BREVDUE_MAILSERVER_JSON"] else {
            fatalError("BREVDUE_MAILSERVER_JSON is not set: run the tests with ios/test.sh")
        }
        return try! JSONDecoder().decode(MailServer.self, from: Data(json.utf8))
    }()

    static let password = ProcessInfo.processInfo.environment["BREVDUE_MAIL_PASSWORD"] ?? "secret"

    static func email(_ user: String) -> String { "\(user)@example.test" }

    static func tempDir(_ prefix: String) -> String {
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("brevdue-\(prefix)-\(UUID().uuidString)").path
        try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    static func smtp(_ user: String) -> ServerConfig {
        ServerConfig(
            host: server.host, port: server.smtps_port, security: .tls, username: user,
            caFile: server.ca_file)
    }

    static func imapConfig(_ user: String, name: String = "main") -> AccountConfig {
        AccountConfig(
            name: name, email: email(user), protocol: .imap,
            server: ServerConfig(
                host: server.host, port: server.imaps_port, security: .tls, username: user,
                caFile: server.ca_file),
            pop3Delete: .never, displayName: "", smtp: smtp(user))
    }

    static func pop3Config(_ user: String, name: String = "pop", delete: Pop3DeletePolicy)
        -> AccountConfig
    {
        AccountConfig(
            name: name, email: email(user), protocol: .pop3,
            server: ServerConfig(
                host: server.host, port: server.pop3s_port, security: .tls, username: user,
                caFile: server.ca_file),
            pop3Delete: delete, displayName: "", smtp: smtp(user))
    }

    /// The "add account" form for an IMAP account on the test server.
    static func imapForm(_ user: String, name: String = "main") -> AccountForm {
        var form = AccountForm()
        form.name = name
        form.email = email(user)
        form.protocolKind = .imap
        form.host = server.host
        form.port = server.imaps_port
        form.security = .tls
        form.username = user
        form.password = password
        form.caFile = server.ca_file
        form.smtpPort = server.smtps_port
        form.smtpSecurity = .tls
        return form
    }

    static func session(_ prefix: String) throws -> BrevdueSession {
        try BrevdueSession(dataDir: tempDir(prefix), passwords: MemoryPasswordStore())
    }

    /// A fresh engine with one IMAP account for `user`.
    static func imapSession(_ user: String, name: String = "main") async throws -> BrevdueSession {
        let session = try Fixture.session(user)
        _ = try await session.engine.addAccount(config: imapConfig(user, name: name), password: password)
        return session
    }

    /// Sends one message per subject from `from` to `to` through the SMTP server (which
    /// delivers into Dovecot); returns their Message-IDs, in order.
    @discardableResult
    static func deliver(from: String, to: String, subjects: [String], body: String = "Hello")
        async throws -> [String]
    {
        let sender = try await imapSession(from, name: "sender")
        defer { sender.close() }
        var ids: [String] = []
        for subject in subjects {
            let outboxId = try await sender.engine.send(
                draft: Draft(
                    account: "sender", from: nil, to: [Address(name: nil, address: email(to))],
                    cc: [], bcc: [], subject: subject, body: "\(body): \(subject)",
                    attachments: []))
            let queued = try await sender.engine.outbox(account: "sender").first { $0.id == outboxId }
            ids.append(try XCTUnwrap(queued).messageId)
            let report = try await sender.engine.sendOutbox(account: "sender")
            XCTAssertEqual(report.sent, 1, "sending \(subject): \(report)")
        }
        return ids
    }

    /// Waits until `check` holds (polling), up to `seconds`.
    static func waitUntil(_ seconds: Double, _ check: () -> Bool) async -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if check() { return true }
            try? await Task.sleep(nanoseconds: 25_000_000)
        }
        return check()
    }

    static func find(_ session: BrevdueSession, folder: String, subject: String) async throws
        -> MessageSummary?
    {
        try await session.engine.messages(account: nil, folder: folder, limit: 1000, offset: 0)
            .first { $0.subject == subject }
    }
}

/// Records every event it receives (a plain engine listener, no view model).
final class Recorder: EngineListener, @unchecked Sendable {
    private let lock = NSLock()
    private var received: [Event] = []

    func onEvent(event: Event) {
        lock.lock()
        received.append(event)
        lock.unlock()
    }

    var events: [Event] {
        lock.lock()
        defer { lock.unlock() }
        return received
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension Fixture {
    /// Hands `message` (a whole RFC 5322 message, lines ending in CRLF) from `user` to
    /// `to` through the test server's plain SMTP port (AUTH PLAIN): for mail the engine's
    /// composer does not write, such as HTML with remote images.
    static func deliverRaw(from user: String, to: String, message: String) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw SmtpError.failed("socket") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(server.smtp_port).bigEndian
        inet_pton(AF_INET, server.host, &address.sin_addr)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw SmtpError.failed("connect to \(server.smtp_port)") }
        var buffer = [UInt8]()
        func reply() throws -> Int {
            // Lines until the last one ("250 ...", not "250-...").
            while true {
                if let end = buffer.firstIndex(of: 10) {
                    let line = String(decoding: buffer[..<end], as: UTF8.self)
                    buffer.removeSubrange(...end)
                    let chars = Array(line)
                    if chars.count >= 4, chars[3] == "-" { continue }
                    return Int(String(line.prefix(3))) ?? 0
                }
                var chunk = [UInt8](repeating: 0, count: 4096)
                let n = recv(fd, &chunk, chunk.count, 0)
                guard n > 0 else { throw SmtpError.failed("the server closed the connection") }
                buffer += chunk[..<n]
            }
        }
        func say(_ line: String, expect: Int) throws {
            let bytes = Array((line + "\r\n").utf8)
            _ = bytes.withUnsafeBufferPointer { send(fd, $0.baseAddress, $0.count, 0) }
            let code = try reply()
            guard code == expect else { throw SmtpError.failed("\(line.prefix(20)): \(code)") }
        }
        guard try reply() == 220 else { throw SmtpError.failed("greeting") }
        try say("EHLO test", expect: 250)
        let plain = Data("\0\(user)\0\(password)".utf8).base64EncodedString()
        try say("AUTH PLAIN \(plain)", expect: 235)
        try say("MAIL FROM:<\(email(user))>", expect: 250)
        try say("RCPT TO:<\(email(to))>", expect: 250)
        try say("DATA", expect: 354)
        try say(message + "\r\n.", expect: 250)
        try say("QUIT", expect: 221)
    }

    enum SmtpError: Error { case failed(String) }

    /// An HTML message with a remote image, as a newsletter sends it.
    static func htmlMessage(from user: String, to: String, subject: String) -> String {
        [
            "From: Shop <\(email(user))>", "To: <\(email(to))>", "Subject: \(subject)",
            "Date: \(Self.rfc2822(Date()))",
            "Message-ID: <\(UUID().uuidString)@example.test>", "MIME-Version: 1.0",
            "Content-Type: text/html; charset=utf-8", "",
            "<p onclick=\"steal()\">Offer: \(subject)</p><script>alert(1)</script>",
            "<img src=\"https://track.example/pixel.gif\" alt=\"\">",
        ].joined(separator: "\r\n")
    }

    static func rfc2822(_ date: Date) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "EEE, dd MMM yyyy HH:mm:ss Z"
        return f.string(from: date)
    }
}
