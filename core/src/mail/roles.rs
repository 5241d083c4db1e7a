//! Folder roles by name, for servers without SPECIAL-USE (RFC 6154): the names that
//! servers and mail clients give special folders in the languages of our users and
//! their neighbours, and Gmail's `[Gmail]/…` folders.

use crate::model::FolderRole;

/// Folder names (in lower case) and the role each implies. English, Norwegian Bokmål
/// and Nynorsk, Swedish, Danish, German, French, Spanish, Dutch, Italian, Polish and
/// Finnish, as Outlook, Thunderbird, Apple Mail, Gmail and webmail servers name them
/// (with and without accents, as some servers strip them).
const NAMES: &[(FolderRole, &[&str])] = &[
    (
        FolderRole::Sent,
        &[
            "sent",
            "sent items",
            "sent mail",
            "sent messages",
            "sent e-mail",
            // nb, nn, da
            "sendt",
            "sendte",
            "sendte elementer",
            "sendt e-post",
            "sendte e-poster",
            "sendte meldinger",
            "sende element",
            "sendt post",
            "sendte e-mails",
            // sv
            "skickat",
            "skickade",
            "skickade objekt",
            "skickade meddelanden",
            // de
            "gesendet",
            "gesendete elemente",
            "gesendete objekte",
            "gesendete nachrichten",
            // fr
            "envoyés",
            "envoyes",
            "éléments envoyés",
            "elements envoyes",
            "messages envoyés",
            // es
            "enviados",
            "enviado",
            "elementos enviados",
            "correo enviado",
            "mensajes enviados",
            // nl
            "verzonden",
            "verzonden items",
            "verzonden berichten",
            // it
            "inviati",
            "posta inviata",
            "elementi inviati",
            "messaggi inviati",
            // pl
            "wysłane",
            "wyslane",
            "elementy wysłane",
            "wysłane elementy",
            // fi
            "lähetetyt",
            "lahetetyt",
            "lähetetyt kohteet",
            "lähetetyt viestit",
        ],
    ),
    (
        FolderRole::Drafts,
        &[
            "drafts",
            "draft",
            "utkast",
            "kladder",
            "kladde",
            "entwürfe",
            "entwuerfe",
            "brouillons",
            "borradores",
            "concepten",
            "concept",
            "bozze",
            "kopie robocze",
            "szkice",
            "luonnokset",
        ],
    ),
    (
        FolderRole::Trash,
        &[
            "trash",
            "deleted",
            "deleted items",
            "deleted messages",
            "bin",
            // nb, nn, da
            "papirkurv",
            "papirkorg",
            "slettede elementer",
            "slettet",
            "sletta element",
            "slettede e-poster",
            "slettet post",
            "slettede meldinger",
            // sv
            "papperskorgen",
            "papperskorg",
            "borttagna objekt",
            "borttagna meddelanden",
            // de
            "papierkorb",
            "gelöschte elemente",
            "gelöschte objekte",
            "gelöschte nachrichten",
            // fr
            "corbeille",
            "éléments supprimés",
            "elements supprimes",
            "messages supprimés",
            // es
            "papelera",
            "elementos eliminados",
            "mensajes eliminados",
            // nl
            "prullenbak",
            "verwijderde items",
            "verwijderde berichten",
            // it
            "cestino",
            "posta eliminata",
            "elementi eliminati",
            // pl
            "kosz",
            "elementy usunięte",
            "usunięte",
            // fi
            "roskakori",
            "poistetut",
            "poistetut kohteet",
        ],
    ),
    (
        FolderRole::Junk,
        &[
            "junk",
            "spam",
            "junk e-mail",
            "junk email",
            "junk mail",
            "bulk mail",
            "søppelpost",
            "soppelpost",
            "uønsket post",
            "uønsket e-post",
            "skräppost",
            "skrappost",
            "junk-e-mail",
            "courrier indésirable",
            "indésirables",
            "pourriel",
            "correo no deseado",
            "ongewenste e-mail",
            "ongewenst",
            "posta indesiderata",
            "wiadomości-śmieci",
            "roskaposti",
        ],
    ),
    (
        FolderRole::Archive,
        &[
            "archive", "archives", "arkiv", "archiv", "archivo", "archief", "archivio", "archiwum",
            "arkisto",
        ],
    ),
];

/// Gmail's folder of all mail, under `[Gmail]/` or `[Google Mail]/` only (elsewhere
/// "All Mail" is just a name).
const ALL_MAIL: &[&str] = &[
    "all mail",
    "alle e-poster",
    "alle e-mails",
    "alla mail",
    "alle nachrichten",
];

/// The role a folder's name implies, judged by the last part of its path.
pub fn role_by_name(name: &str) -> Option<FolderRole> {
    if name.eq_ignore_ascii_case("INBOX") {
        return Some(FolderRole::Inbox);
    }
    let (parent, leaf) = match name.rfind(['/', '.']) {
        Some(at) => (&name[..at], &name[at + 1..]),
        None => ("", name),
    };
    let leaf = leaf.trim().to_lowercase();
    let gmail =
        parent.eq_ignore_ascii_case("[Gmail]") || parent.eq_ignore_ascii_case("[Google Mail]");
    if gmail && ALL_MAIL.contains(&leaf.as_str()) {
        return Some(FolderRole::All);
    }
    NAMES
        .iter()
        .find(|(_, names)| names.contains(&leaf.as_str()))
        .map(|(role, _)| *role)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_by_name_without_special_use() {
        use FolderRole::*;
        let cases = [
            ("Sent", Some(Sent)),
            ("INBOX.Sent Items", Some(Sent)),
            ("Deleted Items", Some(Trash)),
            ("Spam", Some(Junk)),
            ("Work/Archive", Some(Archive)),
            ("Entwürfe", Some(Drafts)),
            ("inbox", Some(Inbox)),
            ("Receipts", None),
            // Norwegian Bokmål and Nynorsk, as the issue lists them
            ("Sendt", Some(Sent)),
            ("Sendte elementer", Some(Sent)),
            ("INBOX.Sendte elementer", Some(Sent)),
            ("Utkast", Some(Drafts)),
            ("Papirkurv", Some(Trash)),
            ("Slettede elementer", Some(Trash)),
            ("Søppelpost", Some(Junk)),
            ("Arkiv", Some(Archive)),
            ("Sende element", Some(Sent)),
            ("Sletta element", Some(Trash)),
            // neighbours and the rest of the list
            ("Skickat", Some(Sent)),
            ("Skräppost", Some(Junk)),
            ("Sendt post", Some(Sent)),
            ("Kladder", Some(Drafts)),
            ("Gesendete Elemente", Some(Sent)),
            ("Éléments envoyés", Some(Sent)),
            ("Corbeille", Some(Trash)),
            ("Elementos enviados", Some(Sent)),
            ("Verzonden items", Some(Sent)),
            ("Posta inviata", Some(Sent)),
            ("Wysłane", Some(Sent)),
            ("Lähetetyt", Some(Sent)),
            ("Roskaposti", Some(Junk)),
            // Gmail
            ("[Gmail]/Sent Mail", Some(Sent)),
            ("[Gmail]/All Mail", Some(All)),
            ("[Google Mail]/All Mail", Some(All)),
            ("[Gmail]/Starred", None),
            ("Projects/All Mail", None),
            // a name that only contains a role word is no role
            ("Sent to accountant", None),
        ];
        for (name, role) in cases {
            assert_eq!(role_by_name(name), role, "{name}");
        }
    }

    #[test]
    fn every_name_is_listed_once_and_in_lower_case() {
        let mut seen = std::collections::HashSet::new();
        for (_, names) in NAMES {
            for name in *names {
                assert_eq!(*name, name.to_lowercase(), "{name}");
                assert!(seen.insert(*name), "{name} is listed twice");
            }
        }
    }
}
