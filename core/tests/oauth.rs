//! OAuth2 accounts against a real OAuth2 server and Dovecot and the SMTP relay that take
//! its tokens (`oauth_server()`, see `OAuthServer`): sign-in through the browser (faked
//! at the OS boundary by `browser_sign_in`), sync and send with the token, refresh before
//! expiry and once after a refused token, a revoked grant becoming "sign in again", and
//! signing in again.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use brevdue_core::account_edit::AccountEdit;
use brevdue_core::credentials::{CredentialStore, MemoryCredentials};
use brevdue_core::oauth::{OAuthMechanism, OAuthProvider};
use brevdue_core::{
    Account, AccountConfig, Address, Draft, Engine, EngineOptions, ErrorKind, Protocol, Security,
    ServerConfig,
};
use common::*;
use serde_json::Value;

struct OAuthEngine {
    engine: Engine,
    credentials: Arc<MemoryCredentials>,
    dir: tempfile::TempDir,
}

fn oauth_engine() -> OAuthEngine {
    let dir = tempfile::tempdir().unwrap();
    let credentials = Arc::new(MemoryCredentials::default());
    let engine = Engine::open(dir.path(), credentials.clone(), EngineOptions::default()).unwrap();
    OAuthEngine {
        engine,
        credentials,
        dir,
    }
}

impl OAuthEngine {
    /// The stored tokens, as the credential store holds them.
    fn tokens(&self, account: &str) -> Value {
        let stored = self
            .credentials
            .get(account)
            .unwrap()
            .expect("tokens stored");
        serde_json::from_str(&stored).expect("the stored secret is the tokens' JSON")
    }

    fn set_tokens(&self, account: &str, tokens: &Value) {
        self.credentials.set(account, &tokens.to_string()).unwrap();
    }
}

async fn provider(engine: &Engine, issuer: &str, mechanism: OAuthMechanism) -> OAuthProvider {
    let oauth = oauth_server().oauth.as_ref().unwrap();
    engine
        .oauth_provider_from_issuer(
            issuer.to_owned(),
            oauth.client_id.clone(),
            vec!["openid".into(), "offline_access".into()],
            Some(mechanism),
        )
        .await
        .expect("the issuer's discovery document")
}

const APP_REDIRECT: &str = "app.brevdue.test:/oauth2redirect";

/// Adds `user`'s IMAP account through a sign-in with `provider`, the way a phone does
/// (the browser comes back to the app's redirect URI).
async fn add_signed_in(t: &OAuthEngine, user: &str, provider: OAuthProvider) -> Account {
    let config = oauth_server().imap_config("main", user, Security::Tls);
    let start = t
        .engine
        .begin_sign_in(config.email.clone(), provider, Some(APP_REDIRECT.into()))
        .await
        .unwrap();
    let back = browser_sign_in(&start.url, user).await;
    t.engine
        .add_oauth_account(config, start.state, Some(back))
        .await
        .expect("the sign-in adds the account")
}

fn to(address: &str) -> Vec<Address> {
    vec![Address {
        name: None,
        address: address.to_owned(),
    }]
}

fn subjects(engine: &Engine) -> Vec<String> {
    engine
        .messages(None, Some("INBOX"), 100, 0)
        .unwrap()
        .into_iter()
        .map(|m| m.subject)
        .collect()
}

#[tokio::test]
async fn a_signed_in_account_syncs_and_sends_and_keeps_no_secret_in_the_database() {
    let s = oauth_server();
    let oauth = s.oauth.as_ref().unwrap();
    let user = s.new_user("oa");
    let t = oauth_engine();
    let provider = provider(&t.engine, &oauth.issuer, OAuthMechanism::Xoauth2).await;
    assert_eq!(provider.id, "custom");
    assert!(
        provider.token_url.starts_with(&oauth.issuer),
        "{provider:?}"
    );
    let account = add_signed_in(&t, &user, provider.clone()).await;
    assert_eq!(account.oauth.as_ref(), Some(&provider));

    t.engine.sync(None).await.expect("IMAP takes the token");
    t.engine
        .send(Draft {
            account: "main".into(),
            to: to(&format!("{user}@example.test")),
            subject: "Signed in, not typed".into(),
            body: "Sent with an OAuth2 token.".into(),
            ..Draft::default()
        })
        .await
        .unwrap();
    let report = t.engine.send_outbox(None).await.unwrap();
    assert_eq!(report.sent, 1, "SMTP takes the token: {report:?}");
    t.engine.sync(None).await.unwrap();
    assert!(
        subjects(&t.engine).contains(&"Signed in, not typed".to_owned()),
        "{:?}",
        subjects(&t.engine)
    );

    // The tokens are in the credential store; the database has neither of them.
    let tokens = t.tokens("main");
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    assert!(access.len() > 100 && !refresh.is_empty());
    for entry in std::fs::read_dir(t.dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            for secret in [&access, &refresh] {
                assert!(
                    !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                    "{} holds a token",
                    path.display()
                );
            }
        }
    }

    // A password cannot be set on it; the advice says to sign in again.
    let err = t
        .engine
        .edit_account(
            "main".into(),
            AccountEdit {
                password: Some("guess".into()),
                ..AccountEdit::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.advice().id, "oauth_account_has_no_password", "{err}");
}

/// The manual fields as typed: the engine trims them and picks the scopes and mechanism.
#[tokio::test]
async fn a_custom_issuer_gets_the_engine_defaults() {
    let oauth = oauth_server().oauth.as_ref().unwrap();
    let t = oauth_engine();
    let provider = t
        .engine
        .oauth_provider_from_issuer(
            format!(" {} ", oauth.issuer),
            format!("{}\t", oauth.client_id),
            Vec::new(),
            None,
        )
        .await
        .expect("the issuer's discovery document");
    assert_eq!(provider.client_id, oauth.client_id);
    assert_eq!(provider.scopes, ["openid", "email", "offline_access"]);
    assert_eq!(provider.mechanism, OAuthMechanism::Xoauth2);
    let err = t
        .engine
        .oauth_provider_from_issuer(oauth.issuer.clone(), "  ".into(), Vec::new(), None)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidInput, "{err}");
}

#[tokio::test]
async fn the_desktop_sign_in_comes_back_to_the_loopback_listener() {
    let s = oauth_server();
    let oauth = s.oauth.as_ref().unwrap();
    let user = s.new_user("ob");
    let t = oauth_engine();
    let provider = provider(&t.engine, &oauth.issuer, OAuthMechanism::Xoauth2).await;
    let config = s.imap_config("main", &user, Security::Tls);
    let start = t
        .engine
        .begin_sign_in(config.email.clone(), provider, None)
        .await
        .unwrap();
    assert!(
        start.redirect_uri.starts_with("http://127.0.0.1:"),
        "{}",
        start.redirect_uri
    );
    let url = start.url.clone();
    let browser = tokio::spawn(async move {
        let back = browser_sign_in(&url, &user).await;
        // The browser follows the redirect to the engine's listener.
        let page = oauth_http().get(&back).send().await.unwrap();
        page.text().await.unwrap()
    });
    t.engine
        .add_oauth_account(config, start.state, None)
        .await
        .expect("the loopback sign-in adds the account");
    let page = browser.await.unwrap();
    assert!(page.contains("You are signed in"), "{page}");
    t.engine.sync(None).await.unwrap();
}

#[tokio::test]
async fn an_expiring_token_is_refreshed_before_it_lapses() {
    let s = oauth_server();
    let oauth = s.oauth.as_ref().unwrap();
    let user = s.new_user("oc");
    let t = oauth_engine();
    let provider = provider(&t.engine, &oauth.short_issuer, OAuthMechanism::Xoauth2).await;
    add_signed_in(&t, &user, provider).await;
    t.engine.sync(None).await.unwrap();
    let first = t.tokens("main");
    let lifetime = first["expires_at"].as_i64().unwrap() - first["issued_at"].as_i64().unwrap();
    assert!(lifetime <= 5, "the short issuer's tokens live 5 s: {first}");

    // Past its expiry the server refuses that token (Dovecot checks `exp` strictly); the
    // engine asks for a new one first.
    tokio::time::sleep(Duration::from_secs(lifetime as u64 + 1)).await;
    t.engine
        .sync(None)
        .await
        .expect("synced with a refreshed token");
    t.engine
        .send(Draft {
            account: "main".into(),
            to: to(&format!("{user}@example.test")),
            subject: "After the refresh".into(),
            body: "x".into(),
            ..Draft::default()
        })
        .await
        .unwrap();
    assert_eq!(t.engine.send_outbox(None).await.unwrap().sent, 1);
    let second = t.tokens("main");
    assert_ne!(first["access_token"], second["access_token"]);
    assert!(second["refresh_token"].is_string());
}

#[tokio::test]
async fn a_token_the_server_refuses_is_refreshed_once() {
    let s = oauth_server();
    let oauth = s.oauth.as_ref().unwrap();
    let user = s.new_user("od");
    let t = oauth_engine();
    let provider = provider(&t.engine, &oauth.issuer, OAuthMechanism::Oauthbearer).await;
    add_signed_in(&t, &user, provider).await;
    // A token that looks fresh to the engine but that the server does not take (as after
    // the user changed their password at the provider).
    let mut tokens = t.tokens("main");
    tokens["access_token"] = "not.a.token".into();
    t.set_tokens("main", &tokens);
    t.engine
        .sync(None)
        .await
        .expect("refreshed after the refusal, then synced");
    assert_ne!(t.tokens("main")["access_token"], "not.a.token");
}

#[tokio::test]
async fn a_revoked_sign_in_waits_for_the_user_and_signing_in_again_recovers() {
    let s = oauth_server();
    let oauth = s.oauth.as_ref().unwrap();
    let user = s.new_user("oe");
    let t = oauth_engine();
    let provider = provider(&t.engine, &oauth.short_issuer, OAuthMechanism::Xoauth2).await;
    add_signed_in(&t, &user, provider.clone()).await;
    t.engine.sync(None).await.unwrap();
    let tokens = t.tokens("main");
    revoke(
        &oauth.short_issuer,
        tokens["refresh_token"].as_str().unwrap(),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(6)).await;
    // The open connection stays signed in; the next login (here after a network change)
    // needs a token.
    t.engine.network_changed();

    let err = t.engine.sync(None).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::AuthFailed, "{err}");
    assert_eq!(err.advice().id, "oauth_sign_in_again", "{err}");
    assert_eq!(err.advice().detail, provider.name);
    assert!(t.tokens("main")["refresh_token"].is_null());
    // Not a retry loop: the next pass answers at once, asking no server.
    let started = Instant::now();
    let again = t.engine.sync(None).await.unwrap_err();
    assert_eq!(again.advice().id, "oauth_sign_in_again");
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(t.engine.send_outbox(None).await.unwrap().sent, 0);

    // Signing in again brings the account back.
    let start = t
        .engine
        .begin_sign_in(
            format!("{user}@example.test"),
            provider,
            Some(APP_REDIRECT.into()),
        )
        .await
        .unwrap();
    let back = browser_sign_in(&start.url, &user).await;
    t.engine
        .sign_in_again("main".into(), start.state, Some(back))
        .await
        .unwrap();
    t.engine
        .sync(None)
        .await
        .expect("synced after signing in again");
}

#[tokio::test]
async fn pop3_signs_in_with_a_token_too() {
    let s = oauth_server();
    let oauth = s.oauth.as_ref().unwrap();
    let user = s.new_user("of");
    let t = oauth_engine();
    let provider = provider(&t.engine, &oauth.issuer, OAuthMechanism::Oauthbearer).await;
    let imap = s.imap_config("main", &user, Security::Tls);
    let config = AccountConfig {
        protocol: Protocol::Pop3,
        server: ServerConfig {
            port: s.pop3s_port,
            ..imap.server.clone()
        },
        ..imap
    };
    let start = t
        .engine
        .begin_sign_in(config.email.clone(), provider, Some(APP_REDIRECT.into()))
        .await
        .unwrap();
    let back = browser_sign_in(&start.url, &user).await;
    t.engine
        .add_oauth_account(config, start.state, Some(back))
        .await
        .expect("POP3 takes the token");
    t.engine.sync(None).await.unwrap();
}

#[tokio::test]
async fn a_cancelled_or_foreign_sign_in_saves_nothing() {
    let s = oauth_server();
    let oauth = s.oauth.as_ref().unwrap();
    let user = s.new_user("og");
    let t = oauth_engine();
    let provider = provider(&t.engine, &oauth.issuer, OAuthMechanism::Xoauth2).await;
    let config = s.imap_config("main", &user, Security::Tls);

    let start = t
        .engine
        .begin_sign_in(
            config.email.clone(),
            provider.clone(),
            Some(APP_REDIRECT.into()),
        )
        .await
        .unwrap();
    let cancelled = format!("{APP_REDIRECT}?error=access_denied&state={}", start.state);
    let err = t
        .engine
        .add_oauth_account(config.clone(), start.state.clone(), Some(cancelled))
        .await
        .unwrap_err();
    assert_eq!(err.advice().id, "oauth_cancelled", "{err}");
    // A sign-in is used once.
    let back = browser_sign_in(&start.url, &user).await;
    let reused = t
        .engine
        .add_oauth_account(config.clone(), start.state, Some(back))
        .await
        .unwrap_err();
    assert_eq!(reused.kind, ErrorKind::InvalidInput, "{reused}");

    // Another user's sign-in: the server refuses the token, nothing is saved.
    let other = s.new_user("oh");
    let start = t
        .engine
        .begin_sign_in(config.email.clone(), provider, Some(APP_REDIRECT.into()))
        .await
        .unwrap();
    let back = browser_sign_in(&start.url, &other).await;
    let refused = t
        .engine
        .add_oauth_account(config, start.state, Some(back))
        .await
        .unwrap_err();
    assert_eq!(refused.kind, ErrorKind::AuthFailed, "{refused}");
    assert!(t.engine.accounts().unwrap().is_empty());
    assert!(t.credentials.get("main").unwrap().is_none());
}
