//! OAuth2 sign-in from the command line: the provider named on the command line (a
//! built-in one, or an issuer URL), the system browser opened on the sign-in page
//! (`oauth::open_system_browser`), and the engine's loopback listener waiting for the
//! browser to come back.

use brevdue_core::oauth::{providers, OAuthMechanism, OAuthProvider, OAuthStart};
use brevdue_core::{Engine, Error, Result};

/// The provider `--oauth` names: `google`, `microsoft`, `yahoo`, `aol` (with this build's
/// client id, or `client_id`), or an issuer URL with `client_id`.
pub fn provider(
    engine: &Engine,
    name: &str,
    client_id: Option<&str>,
    mechanism: Option<&str>,
    scopes: Vec<String>,
) -> Result<OAuthProvider> {
    let mechanism = mechanism
        .map(|m| {
            OAuthMechanism::parse(m).ok_or_else(|| {
                Error::invalid(format!(
                    "unknown --oauth-mechanism '{m}': use xoauth2 or oauthbearer"
                ))
            })
        })
        .transpose()?;
    if name.starts_with("https://") || name.starts_with("http://") {
        let client_id = client_id
            .ok_or_else(|| Error::invalid("--oauth with an issuer URL needs --oauth-client-id"))?;
        return engine.block_on(engine.oauth_provider_from_issuer(
            name.to_owned(),
            client_id.to_owned(),
            scopes,
            mechanism,
        ))?;
    }
    let mut provider = providers::builtin(name, client_id).ok_or_else(|| {
        Error::invalid(format!(
            "cannot sign in with '{name}': use google, microsoft, yahoo or aol (this build needs \
             --oauth-client-id for them unless it was built with one), or an issuer URL"
        ))
    })?;
    if let Some(mechanism) = mechanism {
        provider.mechanism = mechanism;
    }
    if !scopes.is_empty() {
        provider.scopes = scopes;
    }
    Ok(provider)
}

/// Begins the sign-in and sends the user to the page.
pub fn begin(engine: &Engine, email: &str, provider: OAuthProvider) -> Result<OAuthStart> {
    let start = engine.block_on(engine.begin_sign_in(email.to_owned(), provider, None))??;
    errln!(
        "Sign in in your browser; if it does not open, open this page:\n{}",
        start.url
    );
    if let Err(err) = brevdue_core::oauth::open_system_browser(&start.url) {
        errln!("{err}");
    }
    Ok(start)
}
