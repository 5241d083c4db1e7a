import BrevdueKit
import SwiftUI

struct FoldersView: View {
    @StateObject var folders: FoldersViewModel
    @State private var creating = false
    @State private var newName = ""

    init(folders: FoldersViewModel) {
        _folders = StateObject(wrappedValue: folders)
    }

    var body: some View {
        List(folders.state.folders, id: \.id) { folder in
            NavigationLink {
                // The Drafts folder is the drafts list: a row reopens the draft.
                MessageListView(
                    list: MessageListViewModel(
                        session: folders.session, account: folder.account, folder: folder.name),
                    drafts: folder.role == .drafts)
            } label: {
                HStack {
                    Label(folder.name, systemImage: icon(folder.role))
                    Spacer()
                    if folder.role == .drafts {
                        if folder.total > 0 { Text("\(folder.total)").foregroundStyle(.secondary) }
                    } else if folder.unread > 0 {
                        Text("\(folder.unread)").foregroundStyle(.secondary)
                    }
                }
            }
            .disabled(!folder.selectable)
        }
        .navigationTitle(folders.account ?? String(localized: "Folders"))
        .toolbar {
            Button { creating = true } label: { Label("New folder", systemImage: "folder.badge.plus") }
        }
        .alert("New folder", isPresented: $creating) {
            TextField("Name", text: $newName)
            Button("Create") {
                let name = newName
                Task { await folders.create(name) }
                newName = ""
            }
            Button("Cancel", role: .cancel) { newName = "" }
        }
        .onAppear { folders.start() }
    }

    private func icon(_ role: FolderRole?) -> String {
        switch role {
        case .inbox: return "tray"
        case .sent: return "paperplane"
        case .drafts: return "doc"
        case .trash: return "trash"
        case .junk: return "xmark.bin"
        case .archive: return "archivebox"
        case .all: return "tray.2"
        case nil: return "folder"
        }
    }
}
