import Foundation
@_exported import BrevdueCore

/// The engine's `Protocol` enum (IMAP or POP3) under a name that does not clash with the
/// Objective-C runtime's `Protocol` class on Apple platforms.
public typealias MailProtocol = BrevdueCore.`Protocol`

/// One open engine and its event delivery. Every view model works through a session.
///
/// Events arrive on one of the engine's threads; `observe` handlers run there (view models
/// lock their state), and `events()` offers the same events as an `AsyncStream`.
public final class BrevdueSession: @unchecked Sendable {
    public let engine: BrevdueEngine
    public let dataDir: String
    private let hub = EventHub()
    private let lock = NSLock()
    private var subscription: EventSubscription?

    public init(dataDir: String, passwords: PasswordStore) throws {
        try FileManager.default.createDirectory(
            atPath: dataDir, withIntermediateDirectories: true)
        self.dataDir = dataDir
        engine = try BrevdueEngine.open(dataDir: dataDir, passwords: passwords)
        subscription = try engine.subscribe(listener: hub)
    }

    /// Calls `handler` with every event until the token is cancelled or the session closed.
    @discardableResult
    public func observe(_ handler: @escaping @Sendable (Event) -> Void) -> ObservationToken {
        hub.add(handler)
    }

    /// The events from now on, until the session closes.
    public func events() -> AsyncStream<Event> {
        AsyncStream { continuation in
            let token = hub.add({ continuation.yield($0) }, finish: { continuation.finish() })
            continuation.onTermination = { _ in token.cancel() }
        }
    }

    /// Stops event delivery, then background work; later engine calls fail with `Closed`.
    public func close() {
        lock.lock()
        let subscription = self.subscription
        self.subscription = nil
        lock.unlock()
        subscription?.cancel()
        hub.finish()
        engine.shutdown()
    }

    deinit { close() }
}

/// Cancels an `observe` registration.
public final class ObservationToken: @unchecked Sendable {
    private let cancelAction: () -> Void
    init(_ cancel: @escaping () -> Void) { cancelAction = cancel }
    public func cancel() { cancelAction() }
}

/// The engine listener: fans events out to the registered handlers.
final class EventHub: EngineListener, @unchecked Sendable {
    private let lock = NSLock()
    private var handlers: [Int: @Sendable (Event) -> Void] = [:]
    private var finishers: [Int: () -> Void] = [:]
    private var next = 0
    private var finished = false

    func add(
        _ handler: @escaping @Sendable (Event) -> Void, finish: (() -> Void)? = nil
    ) -> ObservationToken {
        lock.lock()
        let id = next
        next += 1
        let done = finished
        if !done {
            handlers[id] = handler
            finishers[id] = finish
        }
        lock.unlock()
        if done { finish?() }
        return ObservationToken { [weak self] in self?.remove(id) }
    }

    private func remove(_ id: Int) {
        lock.lock()
        handlers[id] = nil
        let finisher = finishers.removeValue(forKey: id)
        lock.unlock()
        finisher?()
    }

    func finish() {
        lock.lock()
        finished = true
        handlers.removeAll()
        let all = Array(finishers.values)
        finishers.removeAll()
        lock.unlock()
        all.forEach { $0() }
    }

    func onEvent(event: Event) {
        lock.lock()
        let current = Array(handlers.values)
        lock.unlock()
        for handler in current { handler(event) }
    }
}

/// Passwords in memory: for tests and previews. The app uses the Keychain.
public final class MemoryPasswordStore: PasswordStore, @unchecked Sendable {
    private let lock = NSLock()
    private var passwords: [String: String]

    public init(_ passwords: [String: String] = [:]) { self.passwords = passwords }

    public func get(account: String) throws -> String? {
        lock.lock()
        defer { lock.unlock() }
        return passwords[account]
    }

    public func set(account: String, password: String) throws {
        lock.lock()
        defer { lock.unlock() }
        passwords[account] = password
    }

    public func delete(account: String) throws {
        lock.lock()
        defer { lock.unlock() }
        passwords[account] = nil
    }
}
