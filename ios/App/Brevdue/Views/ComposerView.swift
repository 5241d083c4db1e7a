import BrevdueKit
import SwiftUI

struct ComposerView: View {
    @StateObject var composer: ComposerViewModel
    @Environment(\.dismiss) private var dismiss
    @State private var to = ""
    @State private var cc = ""
    @State private var subject = ""
    @State private var text = ""

    init(composer: ComposerViewModel) {
        _composer = StateObject(wrappedValue: composer)
    }

    private var title: String {
        switch composer.mode {
        case .new: return "New message"
        case .reply: return "Reply"
        case .replyAll: return "Reply all"
        case .forward: return "Forward"
        }
    }

    var body: some View {
        NavigationStack {
            Form {
                Section {
                    // Filled from the engine's preview; whoever is left here gets the message.
                    TextField("To", text: $to)
                        .keyboardType(.emailAddress).textInputAutocapitalization(.never)
                    TextField("Cc", text: $cc)
                        .keyboardType(.emailAddress).textInputAutocapitalization(.never)
                    TextField("Subject", text: $subject)
                    // After a send attempt: each part that is not an address (parseAddressList).
                    ForEach(composer.state.addressProblems, id: \.self) { problem in
                        Text(localized(problem)).font(.caption).foregroundStyle(.red)
                    }
                }
                Section {
                    TextEditor(text: $text).frame(minHeight: 240)
                }
                if !composer.state.quoted.isEmpty || !composer.state.forwarded.isEmpty {
                    // What the engine puts below the text: the quote or the forwarded message.
                    Section {
                        ForEach(composer.state.forwarded, id: \.name) { a in
                            Label(a.name, systemImage: "paperclip").font(.caption)
                        }
                        Text(composer.state.quoted).font(.caption).foregroundStyle(.secondary)
                    }
                }
                if let error = composer.state.error {
                    Section { Text(error.userMessage()).foregroundStyle(.red) }
                }
            }
            .navigationTitle(title)
            .navigationBarTitleDisplayMode(.inline)
            .toolbar {
                ToolbarItem(placement: .cancellationAction) { Button("Cancel") { dismiss() } }
                ToolbarItem(placement: .confirmationAction) {
                    if composer.state.sending || !composer.state.prepared {
                        ProgressView()
                    } else {
                        Button("Send") {
                            composer.edit { $0.to = to; $0.cc = cc; $0.subject = subject; $0.body = text }
                            Task { if await composer.send() { dismiss() } }
                        }
                    }
                }
            }
            .task {
                await composer.prepare()
                to = composer.state.to
                cc = composer.state.cc
                subject = composer.state.subject
            }
        }
    }
}
