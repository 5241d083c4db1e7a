import Foundation
#if canImport(Combine)
import Combine
#endif

/// Base of the view models: one value-type `State`, read and replaced under a lock, so the
/// models need no actor and can be driven from any task (and tested on Linux). On Apple
/// platforms a model is an `ObservableObject` whose change notice is sent on the main queue.
open class ViewModel<State>: @unchecked Sendable {
    private let lock = NSLock()
    private var current: State
    private let changeLock = NSLock()
    private var changeHandlers: [(State) -> Void] = []

    public init(state: State) { current = state }

    /// A snapshot of the state.
    public var state: State {
        lock.lock()
        defer { lock.unlock() }
        return current
    }

    /// Calls `handler` after every change (from the thread that made it).
    public func onChange(_ handler: @escaping (State) -> Void) {
        changeLock.lock()
        changeHandlers.append(handler)
        changeLock.unlock()
    }

    /// Changes the state in one step and tells observers.
    public func update(_ body: (inout State) -> Void) {
        lock.lock()
        body(&current)
        let snapshot = current
        lock.unlock()
        changeLock.lock()
        let handlers = changeHandlers
        changeLock.unlock()
        handlers.forEach { $0(snapshot) }
        #if canImport(Combine)
        if Thread.isMainThread {
            objectWillChange.send()
        } else {
            DispatchQueue.main.async { [weak self] in self?.objectWillChange.send() }
        }
        #endif
    }

    #if canImport(Combine)
    public let objectWillChange = ObservableObjectPublisher()
    #endif
}

#if canImport(Combine)
extension ViewModel: ObservableObject {}
#endif
