#!/usr/bin/env bash
# The iOS side's tests on Linux: BrevdueKit (generated Swift bindings + view models) against
# the real engine and a private Dovecot + SMTP server.
#
# Debian 12 has no Swift, so the tests run in a Debian 13 (trixie) chroot with the
# `swiftlang` package (Swift 6.0.3), cached in $BREVDUE_SWIFT_CHROOT
# (default /var/cache/brevdue/trixie-swift). The core, the CLI and the mail server run on
# the host; the repository is bind-mounted into the chroot at the same path, so the
# host-built libbrevdue_core.so and `brevdue` CLI are used as they are.
#
# As root on Debian 12:  bash ios/test.sh
# Last line: "ios: N passed, M failed"; exits non-zero on any failure.
set -euo pipefail

IOS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$IOS_DIR")
PKG="$IOS_DIR/BrevdueKit"
CACHE=$(dirname "${BREVDUE_SWIFT_CHROOT:-/var/cache/brevdue/trixie-swift}")
CHROOT=${BREVDUE_SWIFT_CHROOT:-/var/cache/brevdue/trixie-swift}
MIRROR=${BREVDUE_DEBIAN_MIRROR:-http://deb.debian.org/debian}
started=$(date +%s)

say() { echo "== $*"; }
finish_line() { echo "ios: $1 passed, $2 failed"; }
die() {
  echo "ios/test.sh: $*" >&2
  finish_line 0 1
  exit 1
}

[ "$(id -u)" = 0 ] || die "run as root (it creates a chroot and bind-mounts into it)"

# --- host packages: Dovecot, the SMTP relay, Rust (the repository's own installer) -------
say "host dependencies"
bash "$REPO/tests/install-deps.sh"
[ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
if ! command -v debootstrap >/dev/null 2>&1; then
  say "installing debootstrap"
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q debootstrap \
    || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q debootstrap; }
fi

# --- mounts: tracked, never doubled, always undone -------------------------------------
MOUNTED=()
SERVER_PID=""
PROVIDER_PID=""
OAUTH_PID=""
cleanup() {
  local i
  if [ -n "${OAUTH_FD:-}" ]; then exec {OAUTH_FD}>&-; fi # EOF on stdin stops it
  if [ -n "${PROVIDER_FD:-}" ]; then exec {PROVIDER_FD}>&-; fi # EOF on stdin stops it
  if [ -n "${SERVER_FD:-}" ]; then exec {SERVER_FD}>&-; fi # EOF on stdin stops the server
  for ((i = ${#MOUNTED[@]} - 1; i >= 0; i--)); do
    umount -R "${MOUNTED[$i]}" 2>/dev/null || umount -l "${MOUNTED[$i]}" 2>/dev/null || true
  done
  MOUNTED=()
  if [ -n "$PROVIDER_PID" ]; then
    for _ in $(seq 50); do kill -0 "$PROVIDER_PID" 2>/dev/null || break; sleep 0.2; done
    kill "$PROVIDER_PID" 2>/dev/null || true
  fi
  if [ -n "$SERVER_PID" ]; then
    for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.2; done
    kill "$SERVER_PID" 2>/dev/null || true
  fi
  if [ -n "$OAUTH_PID" ]; then
    for _ in $(seq 50); do kill -0 "$OAUTH_PID" 2>/dev/null || break; sleep 0.2; done
    kill "$OAUTH_PID" 2>/dev/null || true
  fi
  rm -rf "${GEN_DIR:-/nonexistent-brevdue}" "${SERVER_OUT:-/nonexistent-brevdue}" \
    "${PROVIDER_OUT:-/nonexistent-brevdue}" "${OAUTH_OUT:-/nonexistent-brevdue}"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# bind SRC DST [--rbind]: mounts SRC on DST unless DST already is a mount point.
bind() {
  local src=$1 dst=$2 how=${3:---bind}
  mkdir -p "$dst"
  if mountpoint -q "$dst"; then return 0; fi
  mount "$how" "$src" "$dst"
  mount --make-rslave "$dst"
  MOUNTED+=("$dst")
}

# --- the trixie chroot with Swift, made once and cached ---------------------------------
mkdir -p "$CACHE"
exec {LOCK_FD}>"$CACHE/.trixie-swift.lock"
flock "$LOCK_FD"
if [ ! -e "$CHROOT/.brevdue-swift-ready" ]; then
  say "creating the trixie chroot with swiftlang (once; cached in $CHROOT)"
  tmp="$CHROOT.tmp"
  if grep -qE " ($CHROOT|$tmp)/" /proc/mounts; then
    die "something is still mounted under $CHROOT or $tmp (see /proc/mounts); unmount it first"
  fi
  rm -rf --one-file-system "$tmp"
  debootstrap --variant=minbase trixie "$tmp" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 \
    || { tail -20 "$CACHE/debootstrap.log" >&2; die "debootstrap failed (log: $CACHE/debootstrap.log)"; }
  cp /etc/resolv.conf "$tmp/etc/resolv.conf"
  bind /proc "$tmp/proc" --rbind
  bind /sys "$tmp/sys" --rbind
  bind /dev "$tmp/dev" --rbind
  chroot "$tmp" /usr/bin/env DEBIAN_FRONTEND=noninteractive bash -c \
    'apt-get update -q && apt-get install -y -q swiftlang libc6-dev && apt-get clean' \
    >"$CACHE/swiftlang.log" 2>&1 \
    || { tail -20 "$CACHE/swiftlang.log" >&2; cleanup; die "apt-get install swiftlang failed"; }
  cleanup
  touch "$tmp/.brevdue-swift-ready"
  rm -rf --one-file-system "$CHROOT"
  mv "$tmp" "$CHROOT"
fi
flock -u "$LOCK_FD"

# --- the core, the CLI and the bindings --------------------------------------------------
say "cargo build -p brevdue-core -p brevdue-cli -p uniffi-bindgen"
(cd "$REPO" && cargo build -q -p brevdue-core -p brevdue-cli -p uniffi-bindgen) || die "cargo build failed"
LIB_DIR="$REPO/target/debug"
[ -f "$LIB_DIR/libbrevdue_core.so" ] || die "no $LIB_DIR/libbrevdue_core.so"

say "generating the Swift bindings"
GEN_DIR=$(mktemp -d)
(cd "$REPO" && "$LIB_DIR/uniffi-bindgen" generate "$LIB_DIR/libbrevdue_core.so" \
  --language swift --out-dir "$GEN_DIR") 2>&1 | grep -v "swift-format" || true
[ -f "$GEN_DIR/brevdue_core.swift" ] || die "uniffi-bindgen wrote no brevdue_core.swift"
install -m 0644 "$GEN_DIR/brevdue_coreFFI.h" "$PKG/Sources/brevdue_coreFFI/brevdue_coreFFI.h"
# uniffi's modulemap names Darwin; on Linux the C module needs only the header.
cat >"$PKG/Sources/brevdue_coreFFI/module.modulemap.new" <<'EOF'
module brevdue_coreFFI [system] {
    header "brevdue_coreFFI.h"
    export *
}
EOF
mv "$PKG/Sources/brevdue_coreFFI/module.modulemap.new" "$PKG/Sources/brevdue_coreFFI/module.modulemap"
# Only replace the Swift file when it changed, so SwiftPM's incremental build stays warm.
cmp -s "$GEN_DIR/brevdue_core.swift" "$PKG/Sources/BrevdueCore/brevdue_core.swift" \
  || install -m 0644 "$GEN_DIR/brevdue_core.swift" "$PKG/Sources/BrevdueCore/brevdue_core.swift"

# --- the private mail server on the host --------------------------------------------------
say "starting the private mail server"
USERS=""
for u in acct1 acct2 sync1 sync2 list1 list2 pop1 pop2 pop3x err1 ev1 ev2 dev1 dev2 chg1 chg2 mem1 comp1 comp2 comp3 \
  rep1 rep2 rep3 fwd1 fwd2 fwd3 new1 new2 err2 live1 live2 read1 read2 undo1 draft1 draft2 \
  set1 set2 set3 disc1 disc2; do
  USERS+="${USERS:+,}$u:secret"
done
SERVER_OUT=$(mktemp)
exec {SERVER_FD}> >(exec /usr/bin/python3 "$REPO/tests/mailserver.py" serve --users "$USERS" >"$SERVER_OUT")
SERVER_PID=$!
for _ in $(seq 300); do
  [ -s "$SERVER_OUT" ] && grep -q '}' "$SERVER_OUT" && break
  kill -0 "$SERVER_PID" 2>/dev/null || die "the mail server did not start"
  sleep 0.1
done
SERVER_JSON=$(head -n1 "$SERVER_OUT")
[ -n "$SERVER_JSON" ] || die "the mail server printed nothing"
STATE_DIR=$(/usr/bin/python3 -c 'import json,sys; print(json.loads(sys.argv[1])["state_dir"])' "$SERVER_JSON")

# --- a second mail server with a real OAuth2 server (mock-oauth2-server, Java) whose
# tokens its Dovecot and SMTP relay take: only OAuthSignInTests use it. Its JVM starts
# while the provider does; its JSON is awaited just before the tests.
say "starting the mail server with OAuth2 (mailserver.py serve --oauth)"
OAUTH_USERS=""
for u in oauth1 oauth2 oauth3 oauth4; do OAUTH_USERS+="${OAUTH_USERS:+,}$u:secret"; done
OAUTH_OUT=$(mktemp)
exec {OAUTH_FD}> >(exec /usr/bin/python3 "$REPO/tests/mailserver.py" serve --oauth --users "$OAUTH_USERS" >"$OAUTH_OUT")
OAUTH_PID=$!

# --- the private provider (DNS + HTTPS autoconfig) in front of it, for discovery -----------
say "starting the private provider (tests/provider.py)"
PROVIDER_OUT=$(mktemp)
exec {PROVIDER_FD}> >(exec /usr/bin/python3 "$REPO/tests/provider.py" serve --mail-server "$STATE_DIR" >"$PROVIDER_OUT")
PROVIDER_PID=$!
for _ in $(seq 300); do
  [ -s "$PROVIDER_OUT" ] && grep -q '}' "$PROVIDER_OUT" && break
  kill -0 "$PROVIDER_PID" 2>/dev/null || die "the provider did not start"
  sleep 0.1
done
PROVIDER_JSON=$(head -n1 "$PROVIDER_OUT")
[ -n "$PROVIDER_JSON" ] || die "the provider printed nothing"
provider() { /usr/bin/python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$PROVIDER_JSON" "$1"; }
# The core's discovery test hooks (DiscoveryEnv::from_env), read in the test process.
TEST_DNS=$(provider dns)
TEST_HTTPS_PORT=$(provider https_port)
TEST_ISPDB=$(provider ispdb_url)
TEST_GUESS_PORTS=$(provider guess_ports)

for _ in $(seq 1200); do # the first run fetches the server's jars with Maven
  [ -s "$OAUTH_OUT" ] && grep -q '}' "$OAUTH_OUT" && break
  kill -0 "$OAUTH_PID" 2>/dev/null || die "the mail server with OAuth2 did not start"
  sleep 0.1
done
OAUTH_JSON=$(head -n1 "$OAUTH_OUT")
[ -n "$OAUTH_JSON" ] || die "the mail server with OAuth2 printed nothing"
OAUTH_STATE_DIR=$(/usr/bin/python3 -c 'import json,sys; print(json.loads(sys.argv[1])["state_dir"])' "$OAUTH_JSON")

# --- mounts for the run --------------------------------------------------------------------
bind /proc "$CHROOT/proc" --rbind
bind /sys "$CHROOT/sys" --rbind
bind /dev "$CHROOT/dev" --rbind
bind "$REPO" "$CHROOT$REPO"
bind "$STATE_DIR" "$CHROOT$STATE_DIR" # the CA file lives here
bind "$OAUTH_STATE_DIR" "$CHROOT$OAUTH_STATE_DIR"

# --- swift test in the chroot ----------------------------------------------------------------
say "swift test (in the trixie chroot)"
LOG=$(mktemp)
set +e
chroot "$CHROOT" /usr/bin/env -i \
  HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
  TMPDIR=/tmp BREVDUE_LIB_DIR="$LIB_DIR" LD_LIBRARY_PATH="$LIB_DIR" \
  BREVDUE_MAILSERVER_JSON="$SERVER_JSON" BREVDUE_CLI="$LIB_DIR/brevdue" \
  BREVDUE_MAIL_PASSWORD=secret BREVDUE_OAUTH_MAILSERVER_JSON="$OAUTH_JSON" \
  BREVDUE_TEST_DNS="$TEST_DNS" BREVDUE_TEST_HTTPS_PORT="$TEST_HTTPS_PORT" \
  BREVDUE_TEST_ISPDB="$TEST_ISPDB" BREVDUE_TEST_GUESS_PORTS="$TEST_GUESS_PORTS" \
  bash -c "cd '$PKG' && swift build --build-tests -j 2 2>&1 && swift test --skip-build 2>&1" \
  | tee "$LOG"
status=${PIPESTATUS[0]}
set -e

passed=$(grep -cE "^Test Case '.*' passed" "$LOG" || true)
failed=$(grep -cE "^Test Case '.*' failed" "$LOG" || true)
rm -f "$LOG"
if [ "$passed" = 0 ] && [ "$failed" = 0 ]; then
  echo "no test ran" >&2
  failed=1
elif [ "$status" != 0 ] && [ "$failed" = 0 ]; then
  echo "swift build or test failed (status $status) before any test failed" >&2
  failed=1
fi
echo "ios: took $(($(date +%s) - started)) s"
finish_line "$passed" "$failed"
[ "$status" = 0 ] && [ "$failed" = 0 ]
