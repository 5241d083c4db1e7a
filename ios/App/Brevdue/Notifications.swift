import BrevdueKit
import Foundation
import UserNotifications

/// Local notifications for new mail (no push server: the app finds mail when it syncs).
enum Notifications {
    static func requestPermission() async {
        _ = try? await UNUserNotificationCenter.current()
            .requestAuthorization(options: [.alert, .badge, .sound])
    }

    /// One notification per message the engine announced (newest first, at most 20 in
    /// the event), grouped per account: the sender as the title, the subject as the body.
    static func newMail(_ notice: NewMailNotice) {
        for message in notice.messages {
            let content = UNMutableNotificationContent()
            content.title = message.from.name ?? message.from.address
            content.subtitle = notice.account
            content.body = message.subject
            content.sound = .default
            content.threadIdentifier = notice.account
            let request = UNNotificationRequest(
                identifier: "new-mail-\(message.id)", content: content, trigger: nil)
            UNUserNotificationCenter.current().add(request)
        }
    }
}
