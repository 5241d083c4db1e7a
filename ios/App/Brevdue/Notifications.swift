import Foundation
import UserNotifications

/// Local notifications for new mail (no push server: the app finds mail when it syncs).
enum Notifications {
    static func requestPermission() async {
        _ = try? await UNUserNotificationCenter.current()
            .requestAuthorization(options: [.alert, .badge, .sound])
    }

    static func newMail(account: String, count: UInt32) {
        let content = UNMutableNotificationContent()
        content.title = account
        content.body = count == 1 ? "1 new message" : "\(count) new messages"
        content.sound = .default
        content.threadIdentifier = account
        let request = UNNotificationRequest(
            identifier: "new-mail-\(account)-\(UUID().uuidString)", content: content, trigger: nil)
        UNUserNotificationCenter.current().add(request)
    }
}
