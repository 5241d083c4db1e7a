import BackgroundTasks
import BrevdueKit
import Foundation

/// Background app refresh: iOS wakes the app now and then (at most as often as asked,
/// usually less), it syncs, and new mail becomes a local notification.
enum BackgroundRefresh {
    /// Also listed under BGTaskSchedulerPermittedIdentifiers in Info.plist (project.yml).
    static let identifier = "app.brevdue.mail.refresh"

    static func register() {
        BGTaskScheduler.shared.register(forTaskWithIdentifier: identifier, using: nil) { task in
            guard let task = task as? BGAppRefreshTask else { return }
            handle(task)
        }
    }

    /// Asks for the next refresh in about 15 minutes.
    static func schedule() {
        let request = BGAppRefreshTaskRequest(identifier: identifier)
        request.earliestBeginDate = Date(timeIntervalSinceNow: 15 * 60)
        do {
            try BGTaskScheduler.shared.submit(request)
        } catch {
            print("background refresh not scheduled: \(error)")
        }
    }

    private static func handle(_ task: BGAppRefreshTask) {
        schedule() // keep the chain going
        let work = Task { @MainActor in
            // One syncNow (outbox, queued changes, pull); Event.newMail posts notifications.
            let report = await AppModel.shared.status.sync()
            task.setTaskCompleted(success: report?.accounts.allSatisfy { $0.pulled != nil } ?? false)
        }
        task.expirationHandler = {
            work.cancel()
            task.setTaskCompleted(success: false)
        }
    }
}
