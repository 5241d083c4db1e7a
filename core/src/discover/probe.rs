//! Checks a guessed server without logging in: connect, then the TLS handshake (implicit
//! TLS) or the greeting, the STARTTLS offer and the upgrade, and the protocol's greeting.
//! No password or user name is ever sent.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::model::Security;
use crate::net;

use super::dns::Dns;
use super::plan::{Role, Server};

const MAX_LINE: usize = 4096;
const MAX_LINES: usize = 100;

/// `Ok` when `server` is there and speaks its protocol over TLS; else why not.
pub async fn check(
    server: &Server,
    dns: &Dns,
    ca_file: Option<&str>,
    timeout: Duration,
) -> Result<(), String> {
    let target = format!("{}:{}", server.host, server.port);
    let ips = dns.ips(&server.host).await.map_err(|why| why.to_string())?;
    let work = async {
        let addr = SocketAddr::new(ips[0], server.port);
        let tcp = TcpStream::connect(addr)
            .await
            .map_err(|err| net::io_error(&target, err).message)?;
        match server.security {
            Security::Tls => {
                let tls = net::start_tls(tcp, &server.host, server.port, ca_file, timeout)
                    .await
                    .map_err(|err| err.message)?;
                greeting(&mut BufReader::new(tls), server.role).await
            }
            Security::StartTls => {
                let mut plain = BufReader::new(tcp);
                greeting(&mut plain, server.role).await?;
                upgrade(&mut plain, server.role).await?;
                let tls = net::start_tls(
                    plain.into_inner(),
                    &server.host,
                    server.port,
                    ca_file,
                    timeout,
                )
                .await
                .map_err(|err| err.message)?;
                // Ask again over TLS: the server must still answer.
                let mut tls = BufReader::new(tls);
                let (command, ok) = match server.role {
                    Role::Imap => ("z NOOP\r\n", "z OK"),
                    Role::Pop3 => ("CAPA\r\n", "+OK"),
                    Role::Smtp => ("NOOP\r\n", "250"),
                };
                send(&mut tls, command).await?;
                let mut line = read_line(&mut tls).await?;
                for _ in 0..MAX_LINES {
                    if !line.starts_with("* ") {
                        break;
                    }
                    line = read_line(&mut tls).await?;
                }
                if line.starts_with(ok) {
                    Ok(())
                } else {
                    Err(format!(
                        "unexpected answer after STARTTLS: {}",
                        short(&line)
                    ))
                }
            }
            Security::Plain => Err("plaintext servers are never guessed".to_owned()),
        }
    };
    tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| format!("no answer within {:.0} s", timeout.as_secs_f64()))?
}

async fn greeting<S: AsyncRead + Unpin>(
    stream: &mut BufReader<S>,
    role: Role,
) -> Result<(), String> {
    let line = read_line(stream).await?;
    let ok = match role {
        Role::Imap => line.starts_with("* OK") || line.starts_with("* PREAUTH"),
        Role::Pop3 => line.starts_with("+OK"),
        Role::Smtp => {
            // A multi-line 220 greeting.
            let mut line = line.clone();
            while line.starts_with("220-") {
                line = read_line(stream).await?;
            }
            line.starts_with("220")
        }
    };
    if ok {
        Ok(())
    } else {
        Err(format!("not a {} greeting: {}", name(role), short(&line)))
    }
}

/// Asks for the server's capabilities, checks that STARTTLS is offered, and starts it.
async fn upgrade(stream: &mut BufReader<TcpStream>, role: Role) -> Result<(), String> {
    let (ask, offer, start, started) = match role {
        Role::Imap => ("a CAPABILITY\r\n", "STARTTLS", "b STARTTLS\r\n", "b OK"),
        Role::Pop3 => ("CAPA\r\n", "STLS", "STLS\r\n", "+OK"),
        Role::Smtp => (
            "EHLO brevdue.invalid\r\n",
            "STARTTLS",
            "STARTTLS\r\n",
            "220",
        ),
    };
    send(stream, ask).await?;
    let mut offered = false;
    for _ in 0..MAX_LINES {
        let line = read_line(stream).await?;
        let upper = line.to_ascii_uppercase();
        offered |= upper
            .split(|c: char| c.is_whitespace() || c == '-')
            .any(|w| w == offer)
            && !(role == Role::Imap && upper.starts_with("A "));
        let done = match role {
            Role::Imap => upper.starts_with("A "),
            Role::Pop3 => line == "." || upper.starts_with("-ERR"),
            Role::Smtp => !upper.starts_with("250-"),
        };
        if done {
            if !offered {
                return Err(format!("{} offers no {offer}", name(role)));
            }
            send(stream, start).await?;
            let line = read_line(stream).await?;
            return if line.starts_with(started) {
                Ok(())
            } else {
                Err(format!("{offer} refused: {}", short(&line)))
            };
        }
    }
    Err("too long an answer".to_owned())
}

async fn send<S: AsyncRead + tokio::io::AsyncWrite + Unpin>(
    stream: &mut BufReader<S>,
    line: &str,
) -> Result<(), String> {
    let inner = stream.get_mut();
    inner
        .write_all(line.as_bytes())
        .await
        .map_err(|err| format!("write failed: {err}"))?;
    inner
        .flush()
        .await
        .map_err(|err| format!("write failed: {err}"))
}

async fn read_line<S: AsyncRead + Unpin>(stream: &mut BufReader<S>) -> Result<String, String> {
    let mut line = Vec::new();
    let mut limited = (&mut *stream).take(MAX_LINE as u64);
    let n = limited
        .read_until(b'\n', &mut line)
        .await
        .map_err(|err| format!("read failed: {err}"))?;
    if n == 0 {
        return Err("the server closed the connection".to_owned());
    }
    if !line.ends_with(b"\n") {
        return Err("too long a line".to_owned());
    }
    Ok(String::from_utf8_lossy(&line).trim_end().to_owned())
}

fn short(line: &str) -> String {
    super::autoconfig::one_line(line)
}

fn name(role: Role) -> &'static str {
    match role {
        Role::Imap => "IMAP",
        Role::Pop3 => "POP3",
        Role::Smtp => "SMTP",
    }
}
