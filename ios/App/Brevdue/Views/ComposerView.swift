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

    private var isReply: Bool {
        if case .reply = composer.mode { return true }
        return false
    }

    var body: some View {
        NavigationStack {
            Form {
                Section {
                    // Replies go to the original's people; the engine works them out.
                    TextField("To", text: $to).disabled(isReply)
                        .keyboardType(.emailAddress).textInputAutocapitalization(.never)
                    if !isReply {
                        TextField("Cc", text: $cc)
                            .keyboardType(.emailAddress).textInputAutocapitalization(.never)
                    }
                    TextField("Subject", text: $subject).disabled(isReply)
                }
                Section {
                    TextEditor(text: $text).frame(minHeight: 240)
                }
                if let error = composer.state.error {
                    Section { Text(error.userMessage).foregroundStyle(.red) }
                }
            }
            .navigationTitle(isReply ? "Reply" : "New message")
            .navigationBarTitleDisplayMode(.inline)
            .toolbar {
                ToolbarItem(placement: .cancellationAction) { Button("Cancel") { dismiss() } }
                ToolbarItem(placement: .confirmationAction) {
                    if composer.state.sending {
                        ProgressView()
                    } else {
                        Button("Send") {
                            composer.edit { $0.to = to; $0.cc = cc; $0.subject = subject; $0.body = text }
                            Task { if await composer.send() { dismiss() } }
                        }
                    }
                }
            }
            .onAppear {
                to = composer.state.to
                subject = composer.state.subject
            }
        }
    }
}
