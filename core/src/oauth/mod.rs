//! OAuth2 sign-in for providers that take no password (Microsoft) or prefer none
//! (Google, Yahoo, AOL): the authorization-code flow with PKCE through the system browser,
//! tokens kept in the platform's credential store, access tokens refreshed before they
//! expire and once after a refused login, and a revoked grant turned into "sign in
//! again" instead of a retry loop.
//!
//! Layers: `providers` (the profiles, as data), `plan` (pure decisions), `client` (the
//! token endpoint over our rustls configuration), `loopback` (the desktop's redirect
//! listener, RFC 8252), `signin` (sign-ins in progress).

mod client;
mod loopback;
pub mod plan;
pub mod providers;
mod signin;

pub(crate) use client::sign_in_again;
pub use client::{issuer_provider, TokenClient};
pub(crate) use plan::{token_step, TokenStep, Tokens};
pub use signin::SignIns;

/// The SASL mechanism a provider's servers take tokens with.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, uniffi::Enum,
)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "lowercase")]
pub enum OAuthMechanism {
    /// Google's and Microsoft's (`user=…^Aauth=Bearer …^A^A`).
    Xoauth2,
    /// RFC 7628.
    Oauthbearer,
}

impl OAuthMechanism {
    pub fn as_str(self) -> &'static str {
        match self {
            OAuthMechanism::Xoauth2 => "XOAUTH2",
            OAuthMechanism::Oauthbearer => "OAUTHBEARER",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_lowercase().as_str() {
            "xoauth2" => Some(Self::Xoauth2),
            "oauthbearer" => Some(Self::Oauthbearer),
            _ => None,
        }
    }

    /// The client's first SASL message for `user` with `token` (before base64).
    pub fn initial_response(self, user: &str, token: &str) -> String {
        match self {
            OAuthMechanism::Xoauth2 => format!("user={user}\x01auth=Bearer {token}\x01\x01"),
            OAuthMechanism::Oauthbearer => {
                // RFC 7628 §3.1: a saslname escapes ',' and '='.
                let name = user.replace('=', "=3D").replace(',', "=2C");
                format!("n,a={name},\x01auth=Bearer {token}\x01\x01")
            }
        }
    }

    /// What the client answers the server's error challenge with, so that the server
    /// finishes with its refusal (RFC 7628 §3.2.3; XOAUTH2 takes an empty line).
    pub fn error_acknowledgement(self) -> &'static [u8] {
        match self {
            OAuthMechanism::Xoauth2 => b"",
            OAuthMechanism::Oauthbearer => b"\x01",
        }
    }
}

/// An OAuth2 provider's endpoints and the app's registration with it. Built-in profiles
/// come from `providers`; a custom one from its issuer's discovery document. Nothing in
/// it is secret: it is stored with the account.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, uniffi::Record)]
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    serde(rename_all = "camelCase"),
    ts(export)
)]
pub struct OAuthProvider {
    /// `google`, `microsoft`, `yahoo`, `aol`, or `custom`.
    pub id: String,
    /// What the user reads ("Google", "Microsoft", or the issuer's host).
    pub name: String,
    pub authorize_url: String,
    pub token_url: String,
    pub revoke_url: Option<String>,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub mechanism: OAuthMechanism,
}

/// A sign-in begun: the page to open in the system browser, and the id that finishes it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
#[cfg_attr(
    feature = "ts",
    derive(serde::Serialize, ts_rs::TS),
    serde(rename_all = "camelCase"),
    ts(export)
)]
pub struct OAuthStart {
    pub url: String,
    /// The OAuth2 `state`; pass it to finish the sign-in.
    pub state: String,
    /// Where the provider sends the browser back: the loopback listener, or the app's.
    pub redirect_uri: String,
}

/// Opens `url` in the user's browser on a desktop system: `$BROWSER` when set (the Unix
/// convention git and Python follow), else the system's opener. The phones open pages
/// themselves (Custom Tabs, ASWebAuthenticationSession).
#[cfg(not(any(target_os = "android", target_os = "ios")))]
pub fn open_system_browser(url: &str) -> crate::error::Result<()> {
    use std::process::{Command, Stdio};
    let browser = std::env::var("BROWSER")
        .ok()
        .filter(|b| !b.trim().is_empty());
    let (program, args): (String, Vec<&str>) = match &browser {
        Some(b) => (b.clone(), vec![url]),
        None if cfg!(target_os = "macos") => ("open".into(), vec![url]),
        None if cfg!(windows) => ("rundll32".into(), vec!["url.dll,FileProtocolHandler", url]),
        None => ("xdg-open".into(), vec![url]),
    };
    Command::new(&program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .map(drop)
        .map_err(|err| {
            crate::error::Error::new(
                crate::error::ErrorKind::NotFound,
                format!("cannot open a browser ({program}: {err}): open the page yourself"),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sasl_initial_responses_follow_each_mechanism() {
        assert_eq!(
            OAuthMechanism::Xoauth2.initial_response("anna@example.test", "T0k"),
            "user=anna@example.test\x01auth=Bearer T0k\x01\x01"
        );
        assert_eq!(
            OAuthMechanism::Oauthbearer.initial_response("a,b=c@example.test", "T0k"),
            "n,a=a=2Cb=3Dc@example.test,\x01auth=Bearer T0k\x01\x01"
        );
        assert_eq!(
            OAuthMechanism::parse("XOAUTH2"),
            Some(OAuthMechanism::Xoauth2)
        );
        assert_eq!(
            OAuthMechanism::parse("oauthbearer"),
            Some(OAuthMechanism::Oauthbearer)
        );
        assert_eq!(OAuthMechanism::parse("plain"), None);
    }
}
