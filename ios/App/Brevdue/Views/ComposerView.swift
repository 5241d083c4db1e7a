import BrevdueKit
import SwiftUI

struct ComposerView: View {
    @StateObject var composer: ComposerViewModel
    @Environment(\.dismiss) private var dismiss
    @State private var to = ""
    @State private var cc = ""
    @State private var bcc = ""
    @State private var subject = ""
    @State private var text = ""
    @State private var confirmDiscard = false

    init(composer: ComposerViewModel) {
        _composer = StateObject(wrappedValue: composer)
    }

    private var title: LocalizedStringKey {
        switch composer.mode {
        case .new: return "New message"
        case .reply: return "Reply"
        case .replyAll: return "Reply all"
        case .forward: return "Forward"
        }
    }

    /// What the fields hold now, into the model (before saving or sending).
    private func commit() {
        composer.edit {
            $0.to = to; $0.cc = cc; $0.bcc = bcc; $0.subject = subject; $0.body = text
        }
    }

    var body: some View {
        NavigationStack {
            Form {
                Section {
                    // Filled from the engine's preview (or the saved draft); whoever is left
                    // here gets the message.
                    TextField("To", text: $to)
                        .keyboardType(.emailAddress).textInputAutocapitalization(.never)
                    TextField("Cc", text: $cc)
                        .keyboardType(.emailAddress).textInputAutocapitalization(.never)
                    TextField("Bcc", text: $bcc)
                        .keyboardType(.emailAddress).textInputAutocapitalization(.never)
                    TextField("Subject", text: $subject)
                    // After a send or save: each part that is not an address (parseAddressList).
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
                if composer.state.draftId != nil && !composer.state.savingDraft {
                    Section { Label("Saved in Drafts", systemImage: "doc").font(.caption) }
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
                            commit()
                            Task { if await composer.send() { dismiss() } }
                        }
                    }
                }
                ToolbarItemGroup(placement: .bottomBar) {
                    Button("Save draft") {
                        commit()
                        Task { await composer.saveDraft() }
                    }
                    .disabled(composer.state.savingDraft || !composer.state.prepared)
                    Spacer()
                    Button("Discard draft", role: .destructive) { confirmDiscard = true }
                }
            }
            .confirmationDialog("Discard this draft?", isPresented: $confirmDiscard) {
                Button("Discard draft", role: .destructive) {
                    Task { if await composer.discardDraft() { dismiss() } }
                }
            }
            .task {
                await composer.prepare()
                let s = composer.state
                to = s.to
                cc = s.cc
                bcc = s.bcc
                subject = s.subject
                text = s.body
            }
        }
    }
}
