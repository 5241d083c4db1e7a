import BrevdueKit
import SwiftUI
import WebKit

struct ReaderView: View {
    @StateObject var reader: ReaderViewModel
    @State private var composing: ComposeMode?
    @State private var folders: [Folder] = []

    init(reader: ReaderViewModel) {
        _reader = StateObject(wrappedValue: reader)
    }

    var body: some View {
        Group {
            if let message = reader.state.message {
                ScrollView {
                    VStack(alignment: .leading, spacing: 8) {
                        Text(message.summary.subject).font(.title3).bold()
                        Text(message.summary.from.name.map { "\($0) <\(message.summary.from.address)>" } ?? message.summary.from.address)
                            .font(.subheadline)
                        Text("To: \(formatAddressList(addresses: message.to))")
                            .font(.caption).foregroundStyle(.secondary)
                        ForEach(message.attachments, id: \.name) { a in
                            Label("\(a.name) (\(a.size / 1024) KB)", systemImage: "paperclip").font(.caption)
                        }
                        Divider()
                        if let problem = reader.state.problem {
                            // The body could not be downloaded: the engine's advice.
                            Label(localized(problem.advice, fallback: problem.message),
                                  systemImage: "exclamationmark.triangle")
                                .font(.caption).foregroundStyle(.orange)
                        }
                        if let html = reader.state.html {
                            // Already sanitized by the engine, remote images as allowed.
                            if reader.state.blockedRemote > 0 {
                                VStack(alignment: .leading, spacing: 4) {
                                    Text("\(Int(reader.state.blockedRemote)) remote image(s) blocked")
                                    HStack {
                                        Button("Show images this time") {
                                            Task { await reader.showRemoteOnce() }
                                        }
                                        Button("Always for this sender") {
                                            Task { await reader.allowRemoteFromSender() }
                                        }
                                    }
                                    .buttonStyle(.bordered)
                                }
                                .font(.caption)
                            }
                            HTMLView(html: html).frame(minHeight: 400)
                        } else {
                            Text(message.text ?? "").textSelection(.enabled)
                        }
                    }
                    .padding()
                }
                .toolbar {
                    ToolbarItemGroup(placement: .bottomBar) {
                        Button { composing = .reply(original: message.summary.id) } label: {
                            Label("Reply", systemImage: "arrowshape.turn.up.left")
                        }
                        Button { composing = .replyAll(original: message.summary.id) } label: {
                            Label("Reply all", systemImage: "arrowshape.turn.up.left.2")
                        }
                        Button { composing = .forward(original: message.summary.id) } label: {
                            Label("Forward", systemImage: "arrowshape.turn.up.right")
                        }
                        Button { Task { await reader.toggleFlagged() } } label: {
                            if message.summary.flags.flagged {
                                Label("Remove flag", systemImage: "flag.slash")
                            } else {
                                Label("Flag", systemImage: "flag")
                            }
                        }
                        Menu {
                            ForEach(folders, id: \.id) { f in
                                Button(f.name) { Task { await reader.move(to: f.name) } }
                            }
                        } label: { Label("Move", systemImage: "folder") }
                        Button { Task { await reader.archive() } } label: { Label("Archive", systemImage: "archivebox") }
                        Button(role: .destructive) { Task { await reader.delete() } } label: { Label("Delete", systemImage: "trash") }
                    }
                }
                .sheet(item: Binding(get: { composing.map(Sheet.init) }, set: { composing = $0?.mode })) { sheet in
                    ComposerView(composer: ComposerViewModel(
                        session: reader.session, account: message.summary.account, mode: sheet.mode))
                }
                .onAppear {
                    Task {
                        folders = (try? await reader.session.engine.folders(account: message.summary.account)) ?? []
                    }
                }
            } else if let error = reader.state.error {
                Text(error.userMessage()).foregroundStyle(.red).padding()
            } else {
                ProgressView()
            }
        }
        .navigationBarTitleDisplayMode(.inline)
        // The engine marks it read on open (its setting) and blocks remote images.
        .task { await reader.open() }
    }

    private struct Sheet: Identifiable {
        let mode: ComposeMode
        var id: String { String(describing: mode) }
    }
}

/// Sanitized mail HTML in a web view without JavaScript.
struct HTMLView: UIViewRepresentable {
    let html: String

    func makeUIView(context: Context) -> WKWebView {
        let config = WKWebViewConfiguration()
        config.defaultWebpagePreferences.allowsContentJavaScript = false
        return WKWebView(frame: .zero, configuration: config)
    }

    func updateUIView(_ view: WKWebView, context: Context) {
        view.loadHTMLString(html, baseURL: nil)
    }
}
