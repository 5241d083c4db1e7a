//! The providers Brevdue signs in with, as data: endpoints, scopes, the servers that
//! take their tokens, and the app's client id given at build time
//! (`BREVDUE_OAUTH_<ID>_CLIENT_ID`, and `_CLIENT_SECRET` where the provider issues one to
//! installed apps; none is committed). A provider without a client id is not offered.

use super::{OAuthMechanism, OAuthProvider};

struct Profile {
    id: &'static str,
    name: &'static str,
    authorize_url: &'static str,
    token_url: &'static str,
    revoke_url: Option<&'static str>,
    scopes: &'static [&'static str],
    /// Host names of the IMAP, POP3 and SMTP servers that take its tokens.
    hosts: &'static [&'static str],
    client_id: Option<&'static str>,
    client_secret: Option<&'static str>,
}

const PROFILES: &[Profile] = &[
    Profile {
        id: "google",
        name: "Google",
        authorize_url: "https://accounts.google.com/o/oauth2/v2/auth",
        token_url: "https://oauth2.googleapis.com/token",
        revoke_url: Some("https://oauth2.googleapis.com/revoke"),
        scopes: &["https://mail.google.com/"],
        hosts: &[
            "imap.gmail.com",
            "pop.gmail.com",
            "smtp.gmail.com",
            "imap.googlemail.com",
            "pop.googlemail.com",
            "smtp.googlemail.com",
        ],
        client_id: option_env!("BREVDUE_OAUTH_GOOGLE_CLIENT_ID"),
        client_secret: option_env!("BREVDUE_OAUTH_GOOGLE_CLIENT_SECRET"),
    },
    Profile {
        id: "microsoft",
        name: "Microsoft",
        authorize_url: "https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
        token_url: "https://login.microsoftonline.com/common/oauth2/v2.0/token",
        revoke_url: None,
        scopes: &[
            "https://outlook.office.com/IMAP.AccessAsUser.All",
            "https://outlook.office.com/POP.AccessAsUser.All",
            "https://outlook.office.com/SMTP.Send",
            "offline_access",
        ],
        hosts: &[
            "outlook.office365.com",
            "smtp.office365.com",
            "imap-mail.outlook.com",
            "pop-mail.outlook.com",
            "smtp-mail.outlook.com",
        ],
        client_id: option_env!("BREVDUE_OAUTH_MICROSOFT_CLIENT_ID"),
        client_secret: None,
    },
    Profile {
        id: "yahoo",
        name: "Yahoo",
        authorize_url: "https://api.login.yahoo.com/oauth2/request_auth",
        token_url: "https://api.login.yahoo.com/oauth2/get_token",
        revoke_url: None,
        scopes: &["mail-w"],
        hosts: &[
            "imap.mail.yahoo.com",
            "pop.mail.yahoo.com",
            "smtp.mail.yahoo.com",
        ],
        client_id: option_env!("BREVDUE_OAUTH_YAHOO_CLIENT_ID"),
        client_secret: option_env!("BREVDUE_OAUTH_YAHOO_CLIENT_SECRET"),
    },
    Profile {
        id: "aol",
        name: "AOL",
        authorize_url: "https://api.login.aol.com/oauth2/request_auth",
        token_url: "https://api.login.aol.com/oauth2/get_token",
        revoke_url: None,
        scopes: &["mail-w"],
        hosts: &["imap.aol.com", "pop.aol.com", "smtp.aol.com"],
        client_id: option_env!("BREVDUE_OAUTH_AOL_CLIENT_ID"),
        client_secret: option_env!("BREVDUE_OAUTH_AOL_CLIENT_SECRET"),
    },
];

fn provider(profile: &Profile, client_id: &str) -> OAuthProvider {
    OAuthProvider {
        id: profile.id.to_owned(),
        name: profile.name.to_owned(),
        authorize_url: profile.authorize_url.to_owned(),
        token_url: profile.token_url.to_owned(),
        revoke_url: profile.revoke_url.map(str::to_owned),
        client_id: client_id.to_owned(),
        scopes: profile.scopes.iter().map(|s| (*s).to_owned()).collect(),
        mechanism: OAuthMechanism::Xoauth2,
    }
}

/// The built-in providers this build has a client id for.
pub fn available() -> Vec<OAuthProvider> {
    PROFILES
        .iter()
        .filter_map(|p| p.client_id.map(|id| provider(p, id)))
        .collect()
}

/// A built-in provider by id, with `client_id` when the build has none (a self-built
/// app registered by its user).
pub fn builtin(id: &str, client_id: Option<&str>) -> Option<OAuthProvider> {
    let profile = PROFILES.iter().find(|p| p.id == id)?;
    let client_id = client_id.or(profile.client_id)?;
    Some(provider(profile, client_id))
}

/// The provider whose servers include `host` (an IMAP, POP3 or SMTP host), if this build
/// can sign in with it.
pub fn for_host(host: &str) -> Option<OAuthProvider> {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let profile = PROFILES.iter().find(|p| p.hosts.contains(&host.as_str()))?;
    profile.client_id.map(|id| provider(profile, id))
}

/// Whether `host` belongs to a provider that signs in with OAuth2 at all (whether or not
/// this build has its client id): Microsoft takes no passwords.
pub fn known_id_for_host(host: &str) -> Option<&'static str> {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    PROFILES
        .iter()
        .find(|p| p.hosts.contains(&host.as_str()))
        .map(|p| p.id)
}

/// The name of the provider whose servers include `host`, whether or not this build can
/// sign in with it.
pub fn known_name_for_host(host: &str) -> Option<&'static str> {
    let id = known_id_for_host(host)?;
    PROFILES.iter().find(|p| p.id == id).map(|p| p.name)
}

/// The client secret a provider gives installed apps (not a secret in the usual sense,
/// but never stored with the account).
pub(crate) fn client_secret(provider: &OAuthProvider) -> Option<&'static str> {
    PROFILES
        .iter()
        .find(|p| p.id == provider.id && p.client_id == Some(provider.client_id.as_str()))
        .and_then(|p| p.client_secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_are_found_by_server_host() {
        for (host, id) in [
            ("imap.gmail.com", Some("google")),
            ("SMTP.GMAIL.COM.", Some("google")),
            ("outlook.office365.com", Some("microsoft")),
            ("smtp-mail.outlook.com", Some("microsoft")),
            ("imap.mail.yahoo.com", Some("yahoo")),
            ("imap.aol.com", Some("aol")),
            ("imap.example.test", None),
        ] {
            assert_eq!(known_id_for_host(host), id, "{host}");
        }
        assert_eq!(known_name_for_host("smtp.office365.com"), Some("Microsoft"));
        assert_eq!(known_name_for_host("imap.example.test"), None);
        let google = builtin("google", Some("id-1")).unwrap();
        assert_eq!(google.client_id, "id-1");
        assert_eq!(google.scopes, ["https://mail.google.com/"]);
        assert!(google.token_url.starts_with("https://"));
        assert!(builtin("nobody", Some("x")).is_none());
        // Every endpoint is HTTPS, and every profile names its servers.
        for p in PROFILES {
            assert!(p.authorize_url.starts_with("https://"), "{}", p.id);
            assert!(p.token_url.starts_with("https://"), "{}", p.id);
            assert!(!p.hosts.is_empty() && !p.scopes.is_empty(), "{}", p.id);
        }
    }
}
