//! Sign-ins in progress: begun when the app opens the provider's page, finished when the
//! browser comes back with a code (at the loopback listener, or handed over by the app
//! from its own redirect), exchanged for tokens.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use oauth2::PkceCodeVerifier;
use reqwest::Url;

use super::client::TokenClient;
use super::loopback::Loopback;
use super::plan::Tokens;
use super::{OAuthProvider, OAuthStart};
use crate::error::{Error, ErrorKind, Result};

/// How long the user has to sign in in the browser.
const SIGN_IN_LIMIT: Duration = Duration::from_secs(10 * 60);

struct Pending {
    provider: OAuthProvider,
    redirect_uri: String,
    verifier: PkceCodeVerifier,
    loopback: Option<Loopback>,
    started: Instant,
}

#[derive(Default)]
pub struct SignIns {
    pending: Mutex<HashMap<String, Pending>>,
}

impl SignIns {
    /// The page to open. Without `redirect_uri` the browser comes back to a listener on
    /// 127.0.0.1 (desktop, CLI); a phone passes its app's redirect URI.
    pub async fn begin(
        &self,
        client: &TokenClient,
        email: &str,
        provider: OAuthProvider,
        redirect_uri: Option<String>,
    ) -> Result<OAuthStart> {
        let loopback = match &redirect_uri {
            Some(_) => None,
            None => Some(Loopback::bind().await?),
        };
        let redirect_uri = redirect_uri
            .or_else(|| loopback.as_ref().map(|l| l.redirect_uri.clone()))
            .unwrap_or_default();
        let auth = client.authorize(&provider, &redirect_uri, email)?;
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        pending.retain(|_, p| p.started.elapsed() < SIGN_IN_LIMIT);
        pending.insert(
            auth.state.clone(),
            Pending {
                provider,
                redirect_uri: redirect_uri.clone(),
                verifier: auth.verifier,
                loopback,
                started: Instant::now(),
            },
        );
        Ok(OAuthStart {
            url: auth.url,
            state: auth.state,
            redirect_uri,
        })
    }

    /// Waits for the browser (or takes the redirect URL the app received), checks it
    /// belongs to this sign-in, and exchanges the code for tokens.
    pub async fn finish(
        &self,
        client: &TokenClient,
        state: &str,
        redirect_url: Option<String>,
    ) -> Result<(OAuthProvider, Tokens)> {
        let pending = self
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(state)
            .filter(|p| p.started.elapsed() < SIGN_IN_LIMIT)
            .ok_or_else(|| {
                Error::invalid("this sign-in has expired or was already used: start it again")
            })?;
        let url = match (redirect_url, pending.loopback) {
            (Some(url), _) => url,
            (None, Some(loopback)) => {
                loopback
                    .wait(SIGN_IN_LIMIT.saturating_sub(pending.started.elapsed()))
                    .await?
            }
            (None, None) => {
                return Err(Error::invalid(
                    "the sign-in needs the address the browser was sent back to",
                ))
            }
        };
        let code = code_from_redirect(&url, state, &pending.redirect_uri)?;
        let tokens = client
            .exchange(
                &pending.provider,
                &pending.redirect_uri,
                &code,
                pending.verifier,
            )
            .await?;
        Ok((pending.provider, tokens))
    }
}

/// The code in the provider's redirect, after checking it is ours: the same redirect
/// URI and `state` (RFC 6749 §10.12), and no error.
fn code_from_redirect(url: &str, state: &str, redirect_uri: &str) -> Result<String> {
    let parsed = Url::parse(url).map_err(|err| {
        Error::invalid(format!("the sign-in came back with a bad address: {err}"))
    })?;
    let expected = Url::parse(redirect_uri).ok();
    let same_target = expected.is_some_and(|e| {
        e.scheme() == parsed.scheme()
            && e.host_str() == parsed.host_str()
            && e.port() == parsed.port()
            && e.path() == parsed.path()
    });
    if !same_target {
        return Err(Error::invalid("the sign-in came back to another address"));
    }
    let query: HashMap<String, String> = parsed.query_pairs().into_owned().collect();
    if query.get("state").map(String::as_str) != Some(state) {
        return Err(Error::invalid(
            "the sign-in came back for another request: start it again",
        ));
    }
    if let Some(error) = query.get("error") {
        let cancelled = error == "access_denied";
        return Err(Error::advised(
            ErrorKind::AuthFailed,
            crate::advice::Advice::new(
                if cancelled {
                    "oauth_cancelled"
                } else {
                    "oauth_sign_in_again"
                },
                "",
            ),
            format!(
                "the sign-in was not finished: {}",
                query
                    .get("error_description")
                    .unwrap_or(error)
                    .replace(['\r', '\n'], " ")
            ),
        ));
    }
    query
        .get("code")
        .filter(|c| !c.is_empty())
        .cloned()
        .ok_or_else(|| Error::invalid("the sign-in came back without a code"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_are_checked_before_their_code_is_used() {
        let uri = "http://127.0.0.1:4711/";
        let ok = code_from_redirect("http://127.0.0.1:4711/?code=c1&state=s1", "s1", uri);
        assert_eq!(ok.unwrap(), "c1");
        let app = "no.brevdue.app:/oauth2redirect";
        assert_eq!(
            code_from_redirect("no.brevdue.app:/oauth2redirect?state=s&code=k", "s", app).unwrap(),
            "k"
        );
        for (url, what) in [
            (
                "http://127.0.0.1:4711/?code=c1&state=other",
                "another request",
            ),
            ("http://127.0.0.1:9999/?code=c1&state=s1", "another address"),
            ("http://evil.test:4711/?code=c1&state=s1", "another address"),
            ("http://127.0.0.1:4711/?state=s1", "without a code"),
            ("not a url", "bad address"),
        ] {
            let err = code_from_redirect(url, "s1", uri).unwrap_err();
            assert!(err.message.contains(what), "{url}: {}", err.message);
        }
        let denied = code_from_redirect(
            "http://127.0.0.1:4711/?error=access_denied&state=s1",
            "s1",
            uri,
        )
        .unwrap_err();
        assert_eq!(denied.kind, ErrorKind::AuthFailed);
        assert_eq!(denied.advice().id, "oauth_cancelled");
    }
}
