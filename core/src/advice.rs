//! What the engine tells a person: a stable id with one parameter, and its words in
//! English and Norwegian Bokmål, in one table. Every platform ships this table in its own
//! resource format (Android `strings.xml`, Apple `.strings`, the desktop's JSON), written
//! from here: the test `platform_resources_match_the_table` fails when a checked-in copy
//! differs, and `BREVDUE_WRITE_RESOURCES=1` rewrites them.

/// Advice for people: `id` names the words (the platforms' resource key, after
/// `advice_`), `detail` fills their one `{detail}` slot (a server's words, an address, a
/// count), which may be empty.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, uniffi::Record)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Advice {
    pub id: String,
    pub detail: String,
}

/// The languages the table is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Language {
    English,
    NorwegianBokmal,
}

impl Language {
    /// From a BCP 47 tag or a POSIX locale ("nb", "nb-NO", "no_NO.UTF-8", "nn"): Bokmål
    /// for Norwegian, English otherwise.
    pub fn from_tag(tag: &str) -> Self {
        let primary = tag
            .split(['-', '_', '.'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        match primary.as_str() {
            "nb" | "no" | "nn" => Language::NorwegianBokmal,
            _ => Language::English,
        }
    }
}

struct Entry {
    id: &'static str,
    en: &'static str,
    nb: &'static str,
}

macro_rules! table {
    ($($id:literal => $en:literal, $nb:literal;)*) => {
        const TABLE: &[Entry] = &[$(Entry { id: $id, en: $en, nb: $nb }),*];
    };
}

table! {
    "connection_refused" =>
        "The server refused the connection. Check the server name and port.",
        "Tjeneren avviste tilkoblingen. Sjekk tjenernavnet og porten.";
    "timeout" =>
        "The server did not answer in time. Check your connection; Brevdue tries again by itself.",
        "Tjeneren svarte ikke i tide. Sjekk tilkoblingen; Brevdue prøver igjen av seg selv.";
    "network" =>
        "The server cannot be reached. Check your connection; Brevdue tries again by itself.",
        "Tjeneren kan ikke nås. Sjekk tilkoblingen; Brevdue prøver igjen av seg selv.";
    "certificate_not_trusted" =>
        "The server's certificate is not trusted, so Brevdue did not use the connection. Check the server name, or add your organisation's certificate.",
        "Tjenerens sertifikat er ikke klarert, så Brevdue brukte ikke tilkoblingen. Sjekk tjenernavnet, eller legg til organisasjonens sertifikat.";
    "wrong_host_name" =>
        "The server's certificate is for another name. Use the server name your provider gives.",
        "Tjenerens sertifikat gjelder et annet navn. Bruk tjenernavnet leverandøren oppgir.";
    "tls" =>
        "A secure connection could not be set up. Check the port and the security setting.",
        "En sikker tilkobling kunne ikke settes opp. Sjekk porten og sikkerhetsinnstillingen.";
    "auth_failed" =>
        "The server did not accept the user name or password. Check them, or use an app password if your provider asks for one.",
        "Tjeneren godtok ikke brukernavnet eller passordet. Sjekk dem, eller bruk et app-passord hvis leverandøren krever det.";
    "protocol_unsupported" =>
        "The server does not offer what Brevdue needs ({detail}). Check the protocol and the port.",
        "Tjeneren tilbyr ikke det Brevdue trenger ({detail}). Sjekk protokollen og porten.";
    "plaintext_not_allowed" =>
        "The server offers no encryption, and Brevdue does not send your password in clear. Choose TLS or STARTTLS.",
        "Tjeneren tilbyr ikke kryptering, og Brevdue sender ikke passordet ditt ukryptert. Velg TLS eller STARTTLS.";
    "protocol" =>
        "The server gave an answer Brevdue cannot use: {detail}",
        "Tjeneren ga et svar Brevdue ikke kan bruke: {detail}";
    "not_found" =>
        "Not found: {detail}",
        "Finnes ikke: {detail}";
    "already_exists" =>
        "That name is taken: {detail}",
        "Navnet er allerede i bruk: {detail}";
    "invalid_input" =>
        "Check what you entered: {detail}",
        "Sjekk det du skrev inn: {detail}";
    "missing_credentials" =>
        "No password is stored for this account. Enter it again.",
        "Det er ikke lagret noe passord for denne kontoen. Skriv det inn på nytt.";
    "oauth_sign_in_again" =>
        "{detail} no longer accepts Brevdue's sign-in. Sign in again in the account's settings.",
        "{detail} godtar ikke lenger innloggingen til Brevdue. Logg inn på nytt i kontoinnstillingene.";
    "oauth_cancelled" =>
        "The sign-in was cancelled, so nothing was saved. Try again when you are ready.",
        "Innloggingen ble avbrutt, så ingenting ble lagret. Prøv igjen når du er klar.";
    "oauth_not_built_in" =>
        "{detail} needs you to sign in through its own page, and this build of Brevdue has no sign-in registered there. Use an app password if the provider offers one.",
        "{detail} krever at du logger inn på sin egen side, og denne utgaven av Brevdue har ingen innlogging registrert der. Bruk et app-passord hvis leverandøren tilbyr det.";
    "oauth_account_has_no_password" =>
        "This account signs in with {detail}, not a password. Use \u{201c}Sign in again\u{201d} instead.",
        "Denne kontoen logger inn med {detail}, ikke passord. Bruk \u{ab}Logg inn på nytt\u{bb} i stedet.";
    "send_refused" =>
        "The mail server refused the message ({detail}). It is kept as a draft.",
        "E-posttjeneren avviste meldingen ({detail}). Den er tatt vare på som utkast.";
    "storage" =>
        "Brevdue could not save on this device. Free some space, then try again.",
        "Brevdue fikk ikke lagret på denne enheten. Frigjør litt plass og prøv igjen.";
    "closed" =>
        "The mail engine has stopped. Open the app again.",
        "E-postmotoren har stoppet. Åpne appen på nytt.";
    "address_invalid" =>
        "\u{201c}{detail}\u{201d} is not an e-mail address.",
        "\u{ab}{detail}\u{bb} er ikke en e-postadresse.";
    "no_recipient" =>
        "Add at least one recipient.",
        "Legg til minst én mottaker.";
    "no_one_to_reply_to" =>
        "This message has no address to reply to. Enter a recipient.",
        "Denne meldingen har ingen adresse å svare til. Skriv inn en mottaker.";
    "folder_needs_name" =>
        "Give the folder a name.",
        "Gi mappen et navn.";
    "folder_level_empty" =>
        "\u{201c}{detail}\u{201d} has an empty level. Write levels as Parent/Child.",
        "\u{ab}{detail}\u{bb} har et tomt nivå. Skriv nivåer som Overordnet/Undermappe.";
    "folder_name_character" =>
        "Folder names on this server cannot contain \u{201c}{detail}\u{201d}. Choose another name.",
        "Mappenavn på denne tjeneren kan ikke inneholde \u{ab}{detail}\u{bb}. Velg et annet navn.";
    "sent_folder_created" =>
        "The server has no Sent folder, so Brevdue made \u{201c}{detail}\u{201d} to keep copies of what you send. You can choose another folder in the account's settings.",
        "Tjeneren har ingen mappe for sendt e-post, så Brevdue laget \u{ab}{detail}\u{bb} for kopier av det du sender. Du kan velge en annen mappe i kontoinnstillingene.";
    "account_needs_email" =>
        "Enter your e-mail address.",
        "Skriv inn e-postadressen din.";
    "account_needs_server" =>
        "Enter the incoming mail server (your provider lists it, often as imap.{detail}).",
        "Skriv inn tjeneren for innkommende e-post (leverandøren oppgir den, ofte som imap.{detail}).";
    "no_keychain" =>
        "This computer has no keychain Brevdue can keep your password in. Start the desktop's keyring (for example GNOME Keyring or KWallet), then try again.",
        "Denne datamaskinen har ingen nøkkelring Brevdue kan lagre passordet ditt i. Start skrivebordets nøkkelring (for eksempel GNOME Keyring eller KWallet), og prøv igjen.";
    "new_mail_from" =>
        "New mail from {detail}",
        "Ny e-post fra {detail}";
    "new_mail_count" =>
        "{detail} new messages",
        "{detail} nye meldinger";
    "outbox_waiting" =>
        "Not sent yet: the mail server cannot be reached. It goes out by itself when it can.",
        "Ikke sendt ennå: e-posttjeneren kan ikke nås. Den sendes av seg selv når det går.";
    "pop3_read_elsewhere" =>
        "{detail} message(s) left the server without this device deleting them: this account is read on more than one device. With POP3 what you do on one device never reaches the other; IMAP keeps them in step.",
        "{detail} melding(er) forsvant fra tjeneren uten at denne enheten slettet dem: kontoen leses på mer enn én enhet. Med POP3 når det du gjør på én enhet aldri den andre; IMAP holder dem i takt.";
    "pop3_several_devices" =>
        "This account is read on more than one device. With POP3 each device keeps its own copy and what you do on one never reaches the other; IMAP keeps them in step.",
        "Denne kontoen leses på mer enn én enhet. Med POP3 har hver enhet sin egen kopi, og det du gjør på én, når aldri den andre; IMAP holder dem i takt.";
    "pop3_explained" =>
        "POP3: this device keeps its own copy. Read state, folders and sent mail stay here and never reach your other devices.",
        "POP3: denne enheten har sin egen kopi. Lest-status, mapper og sendt e-post blir her og når aldri de andre enhetene dine.";
    "imap_explained" =>
        "IMAP: reading, replying, filing and deleting here reach the server, so your other devices see them.",
        "IMAP: det du leser, svarer på, sorterer og sletter her, når tjeneren, så de andre enhetene dine ser det.";
    "pop_or_imap" =>
        "One device: POP3 can do. Several devices: IMAP, which keeps them in step. When in doubt, IMAP.",
        "Én enhet: POP3 holder. Flere enheter: IMAP, som holder dem i takt. Er du i tvil, velg IMAP.";
    "discovery_found_nothing" =>
        "We could not find the settings for {detail}. Enter the server details by hand.",
        "Vi fant ikke innstillingene for {detail}. Skriv inn tjeneropplysningene selv.";
    "discovery_timeout" =>
        "The settings for {detail} could not be looked up in time. Check your connection and try again, or enter the server details by hand.",
        "Innstillingene for {detail} kunne ikke slås opp i tide. Sjekk tilkoblingen og prøv igjen, eller skriv inn tjeneropplysningene selv.";
    "discovery_plaintext_only" =>
        "The servers found for {detail} offer only unencrypted connections, so your password would travel in clear. Enter other server details, or choose a plain connection if you accept that.",
        "Tjenerne som ble funnet for {detail}, tilbyr bare ukrypterte tilkoblinger, så passordet ditt ville blitt sendt ukryptert. Skriv inn andre tjeneropplysninger, eller velg ukryptert tilkobling hvis du godtar det.";
}

impl Advice {
    /// Advice by id; panics in tests (and debug builds) on an id not in the table.
    pub fn new(id: &'static str, detail: impl Into<String>) -> Self {
        debug_assert!(Self::known(id), "advice id '{id}' is not in the table");
        Self {
            id: id.to_owned(),
            detail: detail.into(),
        }
    }

    /// The words in `language`; an unknown id (from a newer engine) gives the detail.
    pub fn text(&self, language: Language) -> String {
        match entry(&self.id) {
            Some(entry) => {
                let words = match language {
                    Language::English => entry.en,
                    Language::NorwegianBokmal => entry.nb,
                };
                words.replace("{detail}", &self.detail)
            }
            None => self.detail.clone(),
        }
    }
}

impl Advice {
    /// Whether the table has words for `id`.
    pub fn known(id: &str) -> bool {
        entry(id).is_some()
    }
}

fn entry(id: &str) -> Option<&'static Entry> {
    TABLE.iter().find(|e| e.id == id)
}

/// The platforms' resource files, rendered from the table: (path from the repository
/// root, contents).
pub fn platform_resources() -> Vec<(&'static str, String)> {
    vec![
        (
            "android/app/src/main/res/values/advice.xml",
            android_xml(Language::English),
        ),
        (
            "android/app/src/main/res/values-nb/advice.xml",
            android_xml(Language::NorwegianBokmal),
        ),
        (
            "ios/BrevdueKit/Sources/BrevdueKit/Resources/en.lproj/Advice.strings",
            apple_strings(Language::English),
        ),
        (
            "ios/BrevdueKit/Sources/BrevdueKit/Resources/nb.lproj/Advice.strings",
            apple_strings(Language::NorwegianBokmal),
        ),
        ("desktop/src/advice.json", desktop_json()),
    ]
}

const GENERATED: &str = "Written from core/src/advice.rs (BREVDUE_WRITE_RESOURCES=1 cargo test -p brevdue-core advice); do not edit.";

fn words(entry: &Entry, language: Language) -> &'static str {
    match language {
        Language::English => entry.en,
        Language::NorwegianBokmal => entry.nb,
    }
}

fn android_xml(language: Language) -> String {
    let mut out =
        format!("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<!-- {GENERATED} -->\n<resources>\n");
    for entry in TABLE {
        // Android's format: positional %1$s; apostrophes and quotes escaped.
        let text = words(entry, language)
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('\'', "\\'")
            .replace('"', "\\\"")
            .replace('%', "%%")
            .replace("{detail}", "%1$s");
        out.push_str(&format!(
            "    <string name=\"advice_{}\" formatted=\"true\">{text}</string>\n",
            entry.id
        ));
    }
    out.push_str("</resources>\n");
    out
}

fn apple_strings(language: Language) -> String {
    let mut out = format!("/* {GENERATED} */\n");
    for entry in TABLE {
        let text = words(entry, language)
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('%', "%%")
            .replace("{detail}", "%@");
        out.push_str(&format!("\"advice_{}\" = \"{text}\";\n", entry.id));
    }
    out
}

fn desktop_json() -> String {
    let table = |language| {
        TABLE
            .iter()
            .map(|e| (e.id.to_owned(), words(e, language).to_owned()))
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    let value = serde_json::json!({
        "_comment": GENERATED,
        "en": table(Language::English),
        "nb": table(Language::NorwegianBokmal),
    });
    serde_json::to_string_pretty(&value).expect("a map of strings serializes") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_each_text_has_at_most_one_slot() {
        let mut ids: Vec<&str> = TABLE.iter().map(|e| e.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), TABLE.len());
        for entry in TABLE {
            for text in [entry.en, entry.nb] {
                assert!(text.matches("{detail}").count() <= 1, "{}", entry.id);
                assert_eq!(
                    entry.en.contains("{detail}"),
                    entry.nb.contains("{detail}"),
                    "{}: both languages use the detail, or neither",
                    entry.id
                );
            }
        }
    }

    #[test]
    fn the_detail_fills_its_slot_and_unknown_ids_fall_back_to_it() {
        let advice = Advice::new("address_invalid", "bob@");
        assert_eq!(
            advice.text(Language::NorwegianBokmal),
            "\u{ab}bob@\u{bb} er ikke en e-postadresse."
        );
        let newer = Advice {
            id: "from_a_newer_engine".into(),
            detail: "the engine's sentence".into(),
        };
        assert_eq!(newer.text(Language::English), "the engine's sentence");
    }

    #[test]
    fn norwegian_locales_pick_bokmal() {
        for tag in ["nb", "nb-NO", "no_NO.UTF-8", "nn-NO"] {
            assert_eq!(Language::from_tag(tag), Language::NorwegianBokmal, "{tag}");
        }
        for tag in ["en-GB", "C", "", "sv-SE"] {
            assert_eq!(Language::from_tag(tag), Language::English, "{tag}");
        }
    }

    #[test]
    fn platform_resources_match_the_table() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let write = std::env::var_os("BREVDUE_WRITE_RESOURCES").is_some();
        for (path, contents) in platform_resources() {
            let file = root.join(path);
            if write {
                std::fs::create_dir_all(file.parent().unwrap()).unwrap();
                std::fs::write(&file, &contents).unwrap();
            }
            let on_disk = std::fs::read_to_string(&file).unwrap_or_default();
            assert!(
                on_disk == contents,
                "{path} differs from core/src/advice.rs: run \
                 BREVDUE_WRITE_RESOURCES=1 cargo test -p brevdue-core advice"
            );
        }
    }

    #[test]
    fn android_strings_escape_what_aapt_would_misread() {
        let xml = android_xml(Language::English);
        assert!(xml.contains("server\\'s certificate"));
        assert!(xml.contains("(%1$s)"));
        assert!(!xml.contains("{detail}"));
        let strings = apple_strings(Language::NorwegianBokmal);
        assert!(strings.contains("\"advice_not_found\" = \"Finnes ikke: %@\";"));
    }
}
