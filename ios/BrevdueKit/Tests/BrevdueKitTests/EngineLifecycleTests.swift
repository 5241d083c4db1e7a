import Foundation
import XCTest
@testable import BrevdueKit

final class EventTests: XCTestCase {
    /// Events arrive while subscribed and stop once the subscription handle is closed.
    func testEventsStopAfterTheHandleIsClosed() async throws {
        try await Fixture.deliver(from: "ev2", to: "ev1", subjects: ["E1", "E2"])
        let session = try await Fixture.imapSession("ev1")
        defer { session.close() }
        let recorder = Recorder()
        let control = Recorder() // stays subscribed: proves events still flow afterwards
        let subscription = try session.engine.subscribe(listener: recorder)
        let controlSubscription = try session.engine.subscribe(listener: control)
        defer { controlSubscription.cancel() }

        _ = try await session.engine.sync(account: nil)
        func has(_ events: [Event], _ match: (Event) -> Bool) -> Bool { events.contains(where: match) }
        let isProgress: (Event) -> Bool = { if case .syncProgress = $0 { return true } else { return false } }
        let isFinished: (Event) -> Bool = { if case .syncFinished = $0 { return true } else { return false } }
        let result1 = await Fixture.waitUntil(5) { has(recorder.events, isFinished) }
        XCTAssertTrue(result1)
        XCTAssertTrue(has(recorder.events, isProgress), "\(recorder.events)")
        XCTAssertTrue(recorder.events.contains { if case .messagesChanged(_, "INBOX", let added, _, _) = $0 { return !added.isEmpty } else { return false } })

        subscription.cancel()
        subscription.cancel() // cancelling twice is harmless
        let before = recorder.events.count
        let controlBefore = control.events.count

        // More work: new mail, a sync, local changes, a folder.
        try await Fixture.deliver(from: "ev2", to: "ev1", subjects: ["E3"])
        _ = try await session.engine.sync(account: nil)
        let ids = try await session.engine.messages(account: "main", folder: "INBOX", limit: 10, offset: 0).map(\.id)
        try await session.engine.mark(ids: ids, change: .read)
        try await session.engine.createFolder(account: "main", name: "After")
        _ = try await session.engine.pushChanges(account: nil)
        let result2 = await Fixture.waitUntil(5) { has(Array(control.events.dropFirst(controlBefore)), isFinished) }
        XCTAssertTrue(result2,
                      "the control listener saw no second sync")
        try? await Task.sleep(nanoseconds: 500_000_000)
        XCTAssertEqual(recorder.events.count, before, "events after close: \(recorder.events.dropFirst(before))")
        print("events: \(before) before close, 0 after; control listener got \(control.events.count - controlBefore) more")

        // The session's stream ends when the session closes; observers stop too.
        let stream = session.events()
        let counter = Recorder()
        let token = session.observe { counter.onEvent(event: $0) }
        let drained = Task { () -> Int in
            var n = 0
            for await _ in stream { n += 1 }
            return n
        }
        _ = try await session.engine.sync(account: nil)
        let result3 = await Fixture.waitUntil(5) { has(counter.events, isFinished) }
        XCTAssertTrue(result3)
        session.close()
        let streamed = await drained.value
        XCTAssertGreaterThan(streamed, 0)
        let afterClose = counter.events.count
        try? await Task.sleep(nanoseconds: 200_000_000)
        XCTAssertEqual(counter.events.count, afterClose)
        token.cancel()
    }
}

final class MemoryTests: XCTestCase {
    static func rssKB() -> Int {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
    }

    /// Opens and closes the engine 1,000 times on one data directory (with an account and
    /// a subscription each time): memory stays bounded.
    func testOpenAndClose1000TimesWithBoundedMemory() async throws {
        let dir = Fixture.tempDir("memory")
        let passwords = MemoryPasswordStore()
        do {
            let first = try BrevdueSession(dataDir: dir, passwords: passwords)
            _ = try await first.engine.addAccount(config: Fixture.imapConfig("mem1"), password: Fixture.password)
            _ = try await first.engine.sync(account: nil)
            first.close()
        }
        func cycle() async throws {
            let session = try BrevdueSession(dataDir: dir, passwords: passwords)
            let recorder = Recorder()
            let subscription = try session.engine.subscribe(listener: recorder)
            let accounts = try await session.engine.accounts()
            XCTAssertEqual(accounts.count, 1)
            _ = try await session.engine.folders(account: nil)
            subscription.cancel()
            session.close()
        }
        for _ in 0..<50 { try await cycle() }
        let warm = Self.rssKB()
        let started = Date()
        for i in 0..<1000 {
            try await cycle()
            if i == 499 { print("memory: VmRSS after 500 cycles: \(Self.rssKB() / 1024) MB") }
        }
        let end = Self.rssKB()
        let seconds = Date().timeIntervalSince(started)
        let growthMB = Double(end - warm) / 1024
        print(String(format: "memory: VmRSS after warm-up %.1f MB, after 1000 open/close %.1f MB, growth %.1f MB (%.1f s, %.1f ms per cycle)",
                     Double(warm) / 1024, Double(end) / 1024, growthMB, seconds, seconds * 1000 / 1000))
        XCTAssertGreaterThan(warm, 0, "no VmRSS in /proc/self/status")
        XCTAssertLessThan(growthMB, 50, "memory grew by \(growthMB) MB over 1000 open/close cycles")
    }
}

