//! Certificate checks on Linux (the platform's verifier: rustls-platform-verifier over the
//! system roots, plus an account's CA file): a good certificate from the account's CA is
//! taken, and each refusal has its own clear error. The server is the private Dovecot
//! behind a TLS front on 127.0.0.1 that presents certificates made here (rcgen).

mod common;

use std::sync::Arc;

use brevdue_core::{ErrorKind, Security};
use common::*;
use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair,
    KeyUsagePurpose,
};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::{self, ServerConfig};
use tokio_rustls::TlsAcceptor;

/// A TLS front for Dovecot's plain IMAP port that presents `chain`; returns its port.
async fn tls_front(chain: Vec<CertificateDer<'static>>, key: &KeyPair) -> u16 {
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let config =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let upstream = server().imap_port;
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return; // the client refused the certificate
                };
                let mut dovecot = TcpStream::connect(("127.0.0.1", upstream)).await.unwrap();
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut dovecot).await;
            });
        }
    });
    port
}

/// A CA of this test's own, written to a PEM file for the account's CA field.
fn test_ca(dir: &std::path::Path) -> (CertifiedIssuer<'static, KeyPair>, String) {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
    let path = dir.join("ca.pem");
    std::fs::write(&path, ca.pem()).unwrap();
    (ca, path.to_string_lossy().into_owned())
}

/// A server certificate for `names`, valid from `from` to `until` (years).
fn leaf(
    names: &[&str],
    years: (i32, i32),
    issuer: Option<&CertifiedIssuer<'static, KeyPair>>,
) -> (Vec<CertificateDer<'static>>, KeyPair) {
    let mut params =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    params.not_before = date_time_ymd(years.0, 1, 1);
    params.not_after = date_time_ymd(years.1, 1, 1);
    let key = KeyPair::generate().unwrap();
    let cert = match issuer {
        Some(ca) => params.signed_by(&key, ca).unwrap(),
        None => params.self_signed(&key).unwrap(),
    };
    (vec![cert.der().clone()], key)
}

/// (what, the server's certificate and key, the refusal expected, what its message says)
type Case = (
    &'static str,
    (Vec<CertificateDer<'static>>, KeyPair),
    Option<ErrorKind>,
    &'static str,
);

#[tokio::test]
async fn the_accounts_ca_is_trusted_and_each_bad_certificate_has_its_error() {
    let user = server().new_user("trust");
    let dir = tempfile::tempdir().unwrap();
    let (ca, ca_file) = test_ca(dir.path());
    let now = chrono::Datelike::year(&chrono::Utc::now());
    let cases: Vec<Case> = vec![
        (
            "from the account's CA",
            leaf(&["127.0.0.1"], (now - 1, now + 5), Some(&ca)),
            None,
            "",
        ),
        (
            "expired",
            leaf(&["127.0.0.1"], (now - 5, now - 1), Some(&ca)),
            Some(ErrorKind::Tls),
            "has expired",
        ),
        (
            "not valid yet",
            leaf(&["127.0.0.1"], (now + 5, now + 6), Some(&ca)),
            Some(ErrorKind::Tls),
            "not valid yet",
        ),
        (
            "self-signed",
            leaf(&["127.0.0.1"], (now - 1, now + 5), None),
            Some(ErrorKind::CertificateNotTrusted),
            "not signed by a trusted authority",
        ),
        (
            "for another host",
            leaf(&["mail.example.test"], (now - 1, now + 5), Some(&ca)),
            Some(ErrorKind::WrongHostName),
            "another host name",
        ),
    ];
    for (what, (chain, key), refused, says) in cases {
        let port = tls_front(chain, &key).await;
        let t = engine(&[]);
        let mut config = server().imap_config("main", &user, Security::Tls);
        config.server.host = "127.0.0.1".into();
        config.server.port = port;
        config.server.ca_file = Some(ca_file.clone());
        config.smtp = None;
        let added = t.engine.add_account(config, PASSWORD.into()).await;
        match refused {
            None => {
                added.unwrap_or_else(|err| panic!("{what}: refused: {err}"));
                t.engine.sync(None).await.expect("sync through the front");
            }
            Some(kind) => {
                let err = added.expect_err(what);
                println!("{what}: {:?}: {}", err.kind, err.message);
                assert_eq!(err.kind, kind, "{what}: {err}");
                assert!(err.message.contains(says), "{what}: {err}");
                assert!(t.engine.accounts().unwrap().is_empty(), "{what}: saved");
            }
        }
    }
}
