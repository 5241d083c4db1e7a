//! The provider's endpoints over reqwest and our rustls configuration (the platform's
//! verifier decides), through the oauth2 crate: the authorization URL with PKCE, the
//! code exchange, refresh, revocation, and an issuer's discovery document for a custom
//! provider. Endpoints must be HTTPS; plain HTTP only to this machine (tests, RFC 8252).

use std::time::Duration;

use oauth2::basic::{BasicClient, BasicErrorResponseType};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, RefreshToken, RequestTokenError, Scope, TokenResponse, TokenUrl,
};
use reqwest::Url;

use super::plan::Tokens;
use super::{providers, OAuthMechanism, OAuthProvider};
use crate::error::{Error, ErrorKind, Result};
use crate::net;

const TIMEOUT: Duration = Duration::from_secs(30);
/// A token response or discovery document is a few KiB.
const MAX_BODY: usize = 256 << 10;

/// An authorization page to open, with what finishes it.
pub(crate) struct Authorization {
    pub url: String,
    pub state: String,
    pub verifier: PkceCodeVerifier,
}

pub struct TokenClient {
    http: reqwest::Client,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HttpError(String);

/// The oauth2 crate's requests go out through our client. Boxed: the futures of a
/// closure-based client are not `Send` for every lifetime, which the engine needs.
impl<'c> oauth2::AsyncHttpClient<'c> for TokenClient {
    type Error = HttpError;
    type Future = std::pin::Pin<
        Box<
            dyn std::future::Future<Output = std::result::Result<oauth2::HttpResponse, HttpError>>
                + Send
                + 'c,
        >,
    >;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(self.send(request))
    }
}

/// An endpoint we may talk to: HTTPS, or HTTP on the loopback.
pub(crate) fn check_endpoint(what: &str, url: &str) -> Result<Url> {
    let parsed = Url::parse(url)
        .map_err(|err| Error::invalid(format!("the {what} '{url}' is not a URL: {err}")))?;
    let loopback = parsed.host_str().is_some_and(net::is_loopback);
    match parsed.scheme() {
        "https" => Ok(parsed),
        "http" if loopback => Ok(parsed),
        _ => Err(Error::invalid(format!(
            "the {what} '{url}' is not HTTPS: Brevdue signs in over HTTPS only"
        ))),
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The provider refused the grant (revoked, expired, or the password changed): only
/// the user can help, by signing in again.
pub(crate) fn sign_in_again(provider: &str, why: &str) -> Error {
    Error::advised(
        ErrorKind::AuthFailed,
        crate::advice::Advice::new("oauth_sign_in_again", provider),
        format!("{provider} no longer accepts this app's sign-in ({why}): sign in again"),
    )
}

macro_rules! oauth_client {
    ($provider:expr, $redirect:expr) => {{
        let provider: &OAuthProvider = $provider;
        check_endpoint("sign-in page", &provider.authorize_url)?;
        check_endpoint("token endpoint", &provider.token_url)?;
        let bad = |err: oauth2::url::ParseError| Error::invalid(format!("bad OAuth2 URL: {err}"));
        let mut client = BasicClient::new(ClientId::new(provider.client_id.clone()))
            .set_auth_uri(AuthUrl::new(provider.authorize_url.clone()).map_err(bad)?)
            .set_token_uri(TokenUrl::new(provider.token_url.clone()).map_err(bad)?)
            .set_redirect_uri(RedirectUrl::new($redirect.to_owned()).map_err(bad)?);
        if let Some(secret) = providers::client_secret(provider) {
            client = client.set_client_secret(ClientSecret::new(secret.to_owned()));
        }
        client
    }};
}

impl TokenClient {
    pub fn new(ca_file: Option<&str>) -> Result<Self> {
        let mut tls = (*net::tls_config(ca_file)?).clone();
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            // A token endpoint that redirects is not followed (RFC 6749 §3.2).
            .redirect(reqwest::redirect::Policy::none())
            .timeout(TIMEOUT)
            .connect_timeout(TIMEOUT)
            .user_agent(concat!("Brevdue/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|err| {
                Error::new(
                    ErrorKind::Tls,
                    format!("the HTTPS client cannot start: {err}"),
                )
            })?;
        Ok(Self { http })
    }

    async fn send(
        &self,
        request: oauth2::HttpRequest,
    ) -> std::result::Result<oauth2::HttpResponse, HttpError> {
        let (parts, body) = request.into_parts();
        let url = parts.uri.to_string();
        check_endpoint("endpoint", &url).map_err(|err| HttpError(err.message))?;
        let mut response = self
            .http
            .request(parts.method, &url)
            .headers(parts.headers)
            .body(body)
            .send()
            .await
            .map_err(|err| HttpError(one_line(&err)))?;
        let mut builder = oauth2::http::Response::builder().status(response.status());
        for (name, value) in response.headers() {
            builder = builder.header(name, value);
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|err| HttpError(one_line(&err)))?
        {
            body.extend_from_slice(&chunk);
            if body.len() > MAX_BODY {
                return Err(HttpError(format!("{url} sent more than {MAX_BODY} bytes")));
            }
        }
        builder.body(body).map_err(|err| HttpError(err.to_string()))
    }

    /// The page where the user signs in and allows Brevdue, with PKCE (S256).
    pub(crate) fn authorize(
        &self,
        provider: &OAuthProvider,
        redirect_uri: &str,
        login_hint: &str,
    ) -> Result<Authorization> {
        let client = oauth_client!(provider, redirect_uri);
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(CsrfToken::new_random)
            .add_scopes(provider.scopes.iter().cloned().map(Scope::new))
            .set_pkce_challenge(challenge);
        if !login_hint.is_empty() {
            request = request.add_extra_param("login_hint", login_hint);
        }
        if provider.id == "google" {
            // A refresh token each time the user allows access, not only the first.
            request = request
                .add_extra_param("access_type", "offline")
                .add_extra_param("prompt", "consent");
        }
        let (url, state) = request.url();
        Ok(Authorization {
            url: url.to_string(),
            state: state.secret().clone(),
            verifier,
        })
    }

    /// Exchanges the code from the redirect for tokens.
    pub(crate) async fn exchange(
        &self,
        provider: &OAuthProvider,
        redirect_uri: &str,
        code: &str,
        verifier: PkceCodeVerifier,
    ) -> Result<Tokens> {
        let client = oauth_client!(provider, redirect_uri);
        let issued_at = now();
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(verifier)
            .request_async(self)
            .await
            .map_err(|err| token_error(provider, "the sign-in", err))?;
        Ok(Tokens {
            refresh_token: response.refresh_token().map(|t| t.secret().clone()),
            access_token: response.access_token().secret().clone(),
            issued_at,
            expires_at: response
                .expires_in()
                .map(|d| issued_at + d.as_secs() as i64),
        })
    }

    /// A new access token for the refresh token; the refresh token is kept unless the
    /// provider sent a new one.
    pub(crate) async fn refresh(
        &self,
        provider: &OAuthProvider,
        tokens: &Tokens,
    ) -> Result<Tokens> {
        let Some(refresh) = &tokens.refresh_token else {
            return Err(sign_in_again(&provider.name, "no refresh token"));
        };
        // The redirect URI plays no part in a refresh.
        let client = oauth_client!(provider, "http://127.0.0.1/");
        let issued_at = now();
        let response = client
            .exchange_refresh_token(&RefreshToken::new(refresh.clone()))
            .request_async(self)
            .await
            .map_err(|err| token_error(provider, "the token refresh", err))?;
        Ok(Tokens {
            refresh_token: response
                .refresh_token()
                .map(|t| t.secret().clone())
                .or_else(|| tokens.refresh_token.clone()),
            access_token: response.access_token().secret().clone(),
            issued_at,
            expires_at: response
                .expires_in()
                .map(|d| issued_at + d.as_secs() as i64),
        })
    }

    /// Tells the provider the grant is no longer wanted (RFC 7009), where it has an
    /// endpoint for that. Best effort: the account goes whatever it answers.
    pub(crate) async fn revoke(&self, provider: &OAuthProvider, tokens: &Tokens) {
        let (Some(url), Some(token)) = (&provider.revoke_url, &tokens.refresh_token) else {
            return;
        };
        if check_endpoint("revocation endpoint", url).is_err() {
            return;
        }
        let form = [
            ("token", token.as_str()),
            ("token_type_hint", "refresh_token"),
            ("client_id", provider.client_id.as_str()),
        ];
        let body = oauth2::url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let sent = self
            .http
            .post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .timeout(Duration::from_secs(5))
            .send()
            .await;
        if let Err(err) = sent {
            tracing::info!(err = %one_line(&err), "revocation not confirmed");
        }
    }

    /// A custom provider from its issuer's discovery document (OpenID Connect Discovery,
    /// RFC 8414): for a company's own identity server. The fields as typed (trimmed here);
    /// no scopes asks for [`ISSUER_SCOPES`], no mechanism means XOAUTH2.
    pub async fn discover_issuer(
        &self,
        issuer: &str,
        client_id: &str,
        scopes: Vec<String>,
        mechanism: Option<OAuthMechanism>,
    ) -> Result<OAuthProvider> {
        let (issuer, client_id) = (issuer.trim(), client_id.trim());
        if client_id.is_empty() {
            return Err(Error::invalid(format!(
                "a sign-in through {issuer} needs the client id registered there for the app"
            )));
        }
        let scopes = if scopes.is_empty() {
            ISSUER_SCOPES.map(str::to_owned).to_vec()
        } else {
            scopes
        };
        let mechanism = mechanism.unwrap_or(OAuthMechanism::Xoauth2);
        let base = check_endpoint("issuer", issuer.trim_end_matches('/'))?;
        let url = format!(
            "{}/.well-known/openid-configuration",
            base.as_str().trim_end_matches('/')
        );
        let failed = |why: String| {
            Error::new(
                ErrorKind::ProtocolUnsupported,
                format!("{issuer} has no usable OAuth2 discovery document ({why})"),
            )
        };
        let response = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|err| Error::new(ErrorKind::Network, one_line(&err)))?;
        if !response.status().is_success() {
            return Err(failed(format!("HTTP {}", response.status())));
        }
        let body = response
            .bytes()
            .await
            .map_err(|err| Error::new(ErrorKind::Network, one_line(&err)))?;
        if body.len() > MAX_BODY {
            return Err(failed("too large".into()));
        }
        let doc: serde_json::Value =
            serde_json::from_slice(&body).map_err(|err| failed(err.to_string()))?;
        let field = |name: &str| doc[name].as_str().map(str::to_owned);
        let authorize_url = field("authorization_endpoint")
            .ok_or_else(|| failed("no authorization_endpoint".into()))?;
        let token_url =
            field("token_endpoint").ok_or_else(|| failed("no token_endpoint".into()))?;
        check_endpoint("sign-in page", &authorize_url)?;
        check_endpoint("token endpoint", &token_url)?;
        Ok(OAuthProvider {
            id: "custom".into(),
            name: base.host_str().unwrap_or(issuer).to_owned(),
            authorize_url,
            token_url,
            revoke_url: field("revocation_endpoint"),
            client_id: client_id.to_owned(),
            scopes,
            mechanism,
        })
    }
}

/// What a custom issuer is asked for unless told otherwise: an identity, the address,
/// and a refresh token (so the user signs in once).
pub const ISSUER_SCOPES: [&str; 3] = ["openid", "email", "offline_access"];

/// A custom provider from its issuer (see `TokenClient::discover_issuer`).
pub async fn issuer_provider(
    issuer: &str,
    client_id: &str,
    scopes: Vec<String>,
    mechanism: Option<OAuthMechanism>,
    ca_file: Option<&str>,
) -> Result<OAuthProvider> {
    TokenClient::new(ca_file)?
        .discover_issuer(issuer, client_id, scopes, mechanism)
        .await
}

fn one_line(err: &reqwest::Error) -> String {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text.replace(['\r', '\n'], " ")
}

fn token_error<RE: std::error::Error + 'static>(
    provider: &OAuthProvider,
    step: &str,
    err: RequestTokenError<RE, oauth2::basic::BasicErrorResponse>,
) -> Error {
    match err {
        RequestTokenError::ServerResponse(response) => match response.error() {
            BasicErrorResponseType::InvalidGrant
            | BasicErrorResponseType::UnauthorizedClient
            | BasicErrorResponseType::InvalidClient => {
                let why = response
                    .error_description()
                    .cloned()
                    .unwrap_or_else(|| response.error().to_string());
                sign_in_again(&provider.name, &why.replace(['\r', '\n'], " "))
            }
            other => Error::new(
                ErrorKind::Protocol,
                format!("{} refused {step}: {other}", provider.name),
            ),
        },
        RequestTokenError::Request(err) => Error::new(
            ErrorKind::Network,
            format!("{} cannot be reached for {step}: {err}", provider.name),
        ),
        RequestTokenError::Parse(err, _) => Error::new(
            ErrorKind::Protocol,
            format!(
                "{} answered {step} with something unreadable: {err}",
                provider.name
            ),
        ),
        RequestTokenError::Other(text) => Error::new(
            ErrorKind::Protocol,
            format!("{} answered {step}: {text}", provider.name),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_must_be_https_or_loopback() {
        assert!(check_endpoint("x", "https://login.example.test/a").is_ok());
        assert!(check_endpoint("x", "http://127.0.0.1:8080/default/token").is_ok());
        assert!(check_endpoint("x", "http://localhost:8080/t").is_ok());
        for bad in ["http://login.example.test/a", "ftp://x/", "not a url"] {
            let err = check_endpoint("x", bad).unwrap_err();
            assert_eq!(err.kind, ErrorKind::InvalidInput, "{bad}");
        }
    }

    #[test]
    fn the_authorization_url_carries_pkce_state_scopes_and_hint() {
        let provider = providers::builtin("google", Some("cid")).unwrap();
        let client = TokenClient::new(None).unwrap();
        let auth = client
            .authorize(&provider, "http://127.0.0.1:4711/", "anna@gmail.com")
            .unwrap();
        let url = Url::parse(&auth.url).unwrap();
        let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        assert_eq!(q["client_id"], "cid");
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["state"], auth.state);
        assert_eq!(q["scope"], "https://mail.google.com/");
        assert_eq!(q["login_hint"], "anna@gmail.com");
        assert_eq!(q["redirect_uri"], "http://127.0.0.1:4711/");
        assert!(auth.state.len() >= 16);
        let again = client
            .authorize(&provider, "http://127.0.0.1:1/", "")
            .unwrap();
        assert_ne!(again.state, auth.state);
        assert!(!again.url.contains("login_hint"));
    }
}
