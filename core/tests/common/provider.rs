//! The private "provider" in front of the mail server (tests/provider.py: dnsmasq and an
//! HTTPS autoconfig server on 127.0.0.1), started once per test binary, and the discovery
//! settings that point at it. Include it next to `common` (`#[path]`).
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

use brevdue_core::discover::{DiscoveryEnv, GuessPorts};
use serde_json::Value;

use crate::common::{repo_root, server};

pub struct Provider {
    pub dns: SocketAddr,
    pub https_port: u16,
    pub ispdb_url: String,
    /// For BREVDUE_TEST_GUESS_PORTS.
    pub guess_ports: String,
    pub requests_log: String,
    _child: Child,
}

pub fn provider() -> &'static Provider {
    static PROVIDER: OnceLock<Provider> = OnceLock::new();
    PROVIDER.get_or_init(|| {
        let mail = server();
        let mut child = Command::new("/usr/bin/python3")
            .arg(repo_root().join("tests/provider.py"))
            .args(["serve", "--mail-server", &mail.state_dir])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start tests/provider.py");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("read provider info");
        let info: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("the provider did not start ({e}): {line:?}"));
        let text = |k: &str| info[k].as_str().unwrap().to_owned();
        Provider {
            dns: text("dns").parse().unwrap(),
            https_port: info["https_port"].as_u64().unwrap() as u16,
            ispdb_url: text("ispdb_url"),
            guess_ports: text("guess_ports"),
            requests_log: text("requests_log"),
            _child: child,
        }
    })
}

impl Provider {
    /// Discovery pointed at the provider, trusting the harness's certificate.
    pub fn env(&self) -> DiscoveryEnv {
        DiscoveryEnv {
            dns_server: Some(self.dns),
            https_port: Some(self.https_port),
            ispdb_url: self.ispdb_url.clone(),
            guess_ports: GuessPorts::parse(&self.guess_ports).unwrap(),
            ..DiscoveryEnv::production(Some(server().ca_file.clone()))
        }
    }

    /// The same as environment variables, for the CLI.
    pub fn env_vars(&self) -> Vec<(&'static str, String)> {
        vec![
            ("BREVDUE_TEST_DNS", self.dns.to_string()),
            ("BREVDUE_TEST_HTTPS_PORT", self.https_port.to_string()),
            ("BREVDUE_TEST_ISPDB", self.ispdb_url.clone()),
            ("BREVDUE_TEST_GUESS_PORTS", self.guess_ports.clone()),
        ]
    }

    /// Every request the HTTPS server got: "host path?query" lines.
    pub fn requests(&self) -> Vec<String> {
        std::fs::read_to_string(&self.requests_log)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}
