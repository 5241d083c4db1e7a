//! Folder roles by name, for servers without SPECIAL-USE (RFC 6154).

use crate::model::FolderRole;

/// The role the names servers and clients commonly use imply, judged by the last part
/// of a folder's path.
pub fn role_by_name(name: &str) -> Option<FolderRole> {
    if name.eq_ignore_ascii_case("INBOX") {
        return Some(FolderRole::Inbox);
    }
    let leaf = name
        .rsplit(['/', '.'])
        .next()
        .unwrap_or(name)
        .to_lowercase();
    Some(match leaf.as_str() {
        "sent" | "sent items" | "sent mail" | "sent messages" | "gesendet" => FolderRole::Sent,
        "drafts" | "draft" | "entwürfe" => FolderRole::Drafts,
        "trash" | "deleted items" | "deleted messages" | "bin" | "papierkorb" => FolderRole::Trash,
        "junk" | "spam" | "junk e-mail" | "junk mail" => FolderRole::Junk,
        "archive" | "archives" | "archiv" => FolderRole::Archive,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_by_name_without_special_use() {
        let cases = [
            ("Sent", Some(FolderRole::Sent)),
            ("INBOX.Sent Items", Some(FolderRole::Sent)),
            ("Deleted Items", Some(FolderRole::Trash)),
            ("Spam", Some(FolderRole::Junk)),
            ("Work/Archive", Some(FolderRole::Archive)),
            ("Entwürfe", Some(FolderRole::Drafts)),
            ("inbox", Some(FolderRole::Inbox)),
            ("Receipts", None),
        ];
        for (name, role) in cases {
            assert_eq!(role_by_name(name), role, "{name}");
        }
    }
}
