//! The harness's OAuth2 set-up (`tests/mailserver.py serve --oauth`, see `OAuthServer`)
//! proves itself before the engine relies on it: a user signs in on the mock OAuth2
//! server's page, the code is exchanged for tokens, and Dovecot takes the access token
//! over AUTHENTICATE XOAUTH2. `oauth_server()` is always the default Dovecot set-up, so
//! this binary runs the same whatever `BREVDUE_TEST_SERVER` says.

mod common;

use std::time::{Duration, Instant};

use base64::Engine as _;
use common::*;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const REDIRECT_URI: &str = "http://127.0.0.1:9/callback";

/// `AUTHENTICATE XOAUTH2` over plain IMAP; the tagged answer. A refusal's continuation
/// (a JSON error) is answered with an empty line, as the mechanism wants.
async fn imap_xoauth2(user: &str, access_token: &str) -> String {
    let s = oauth_server();
    let stream = TcpStream::connect((s.host.as_str(), s.imap_port))
        .await
        .unwrap();
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    let mut next = async || {
        tokio::time::timeout(Duration::from_secs(10), lines.next_line())
            .await
            .expect("the IMAP server did not answer in 10 s")
            .unwrap()
            .expect("the IMAP server closed the connection")
    };
    assert!(next().await.starts_with("* OK"));
    let sasl = base64::engine::general_purpose::STANDARD
        .encode(format!("user={user}\x01auth=Bearer {access_token}\x01\x01"));
    write
        .write_all(format!("a AUTHENTICATE XOAUTH2 {sasl}\r\n").as_bytes())
        .await
        .unwrap();
    loop {
        let line = next().await;
        if line.starts_with('+') {
            write.write_all(b"\r\n").await.unwrap();
        } else if line.starts_with("a ") {
            let _ = write.write_all(b"z LOGOUT\r\n").await;
            return line;
        }
    }
}

#[tokio::test]
async fn a_browser_sign_in_gives_tokens_dovecot_takes() {
    let started = Instant::now();
    let s = oauth_server();
    let oauth = s.oauth.as_ref().expect("oauth_server() has OAuth2");
    let user = s.new_user("oauth");
    println!(
        "server with OAuth2 up in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let authorize = format!(
        "{}/authorize?{}",
        oauth.issuer,
        form_body(&[
            ("response_type", "code"),
            ("client_id", &oauth.client_id),
            ("redirect_uri", REDIRECT_URI),
            ("scope", "openid email offline_access"),
            ("state", "st4te"),
        ])
    );
    let location = browser_sign_in(&authorize, &user).await;
    let redirect = reqwest::Url::parse(&location).unwrap();
    assert!(location.starts_with(REDIRECT_URI), "{location}");
    let param = |name: &str| {
        redirect
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .unwrap_or_else(|| panic!("no {name} in {location}"))
    };
    assert_eq!(param("state"), "st4te");
    let code = param("code");

    let token_url = format!("{}/token", oauth.issuer);
    let (status, body) = post_form(
        &token_url,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT_URI),
            ("client_id", &oauth.client_id),
        ],
    )
    .await;
    assert!(status.is_success(), "code exchange: {status} {body}");
    let tokens: Value = serde_json::from_str(&body).unwrap();
    let access_token = tokens["access_token"].as_str().expect("an access token");
    let refresh_token = tokens["refresh_token"].as_str().expect("a refresh token");
    let expires_in = tokens["expires_in"].as_u64().unwrap();
    assert!((3500..=3600).contains(&expires_in), "{expires_in}");

    let answer = imap_xoauth2(&user, access_token).await;
    assert!(answer.starts_with("a OK"), "XOAUTH2 as {user}: {answer}");

    // The refresh token works until revoked.
    let refresh = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
        ("client_id", oauth.client_id.as_str()),
    ];
    let (status, body) = post_form(&token_url, &refresh).await;
    assert!(status.is_success(), "refresh: {status} {body}");
    revoke(&oauth.issuer, refresh_token).await;
    let (status, body) = post_form(&token_url, &refresh).await;
    assert!(
        status.is_client_error(),
        "refresh after revoke: {status} {body}"
    );

    // Last: a failed login delays the next ones from this address.
    let answer = imap_xoauth2("someone-else", access_token).await;
    assert!(
        answer.starts_with("a NO"),
        "another user's token was taken: {answer}"
    );
    println!("done in {:.1} s", started.elapsed().as_secs_f64());
}
