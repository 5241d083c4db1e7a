import BrevdueKit
import Network
import SwiftUI

@main
struct BrevdueApp: App {
    @StateObject private var model = AppModel.shared
    @Environment(\.scenePhase) private var scenePhase

    init() {
        // Must happen before launch finishes.
        BackgroundRefresh.register()
    }

    var body: some Scene {
        WindowGroup {
            AccountsView()
                .environmentObject(model)
                .task { await Notifications.requestPermission() }
        }
        .onChange(of: scenePhase) { _, phase in
            switch phase {
            case .active:
                model.becameActive()
            case .background:
                BackgroundRefresh.schedule()
            default:
                break
            }
        }
    }
}

/// The one engine of the app and the view models that live as long as it.
@MainActor
final class AppModel: ObservableObject {
    static let shared = AppModel()

    let session: BrevdueSession
    let accounts: AccountsViewModel
    let status: SyncStatusViewModel
    /// The system browser for OAuth2 sign-ins (ASWebAuthenticationSession).
    let browser: OAuthBrowser = WebAuthenticationBrowser()
    /// Cellular, a personal hotspot or Low Data Mode: the engine brings headers only.
    private let path = NWPathMonitor()

    private init() {
        let support = FileManager.default.urls(for: .applicationSupportDirectory, in: .userDomainMask)[0]
        let dataDir = support.appendingPathComponent("Brevdue", isDirectory: true).path
        do {
            session = try BrevdueSession(dataDir: dataDir, passwords: KeychainPasswordStore())
        } catch {
            fatalError("cannot open the mail store in \(dataDir): \(error)")
        }
        accounts = AccountsViewModel(session: session)
        status = SyncStatusViewModel(session: session)
        // The engine decides what is new mail (Event.newMail); nothing else notifies.
        status.onNewMail = { notice in Notifications.newMail(notice) }
        Task { [accounts] in await accounts.load() }
        path.pathUpdateHandler = { [engine = session.engine] update in
            try? engine.setMetered(metered: update.isExpensive || update.isConstrained)
        }
        path.start(queue: DispatchQueue(label: "app.brevdue.network"))
    }

    /// Foreground: sync now and keep IMAP accounts pushed (IDLE) while the app is open.
    func becameActive() {
        try? session.engine.startPush(account: nil)
        try? session.engine.networkChanged()
        Task { await status.sync() }
    }
}
