#!/usr/bin/env bash
# Installs what the tests, the demo and the benchmark need on Debian 12, skipping what is
# already there. Safe to run again.
set -euo pipefail

packages=(
  dovecot-imapd dovecot-pop3d dovecot-lmtpd   # the private test mail server
  python3-aiosmtpd                            # its SMTP side, delivering over LMTP
  openssl                                     # the test certificate
  dnsmasq-base                                # DNS of the private provider (tests/provider.py), no system service
  nftables                                    # a dead link for the tests (packets dropped)
  isync fetchmail                             # reference tools for the benchmark
  maven openjdk-17-jre-headless               # GreenMail, the second test server
  build-essential pkg-config curl ca-certificates
)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}" >&2
  [ "$(id -u)" = 0 ] || { echo "run as root (or install: ${missing[*]})" >&2; exit 1; }
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# Debian starts the system Dovecot on install; the tests run their own instances.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet dovecot 2>/dev/null; then
  systemctl stop dovecot || true
fi

if ! command -v cargo >/dev/null 2>&1; then
  [ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "installing Rust with rustup" >&2
  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal -c rustfmt,clippy
fi
