#!/usr/bin/env bash
# The desktop's test command (Debian 12, as root): installs what is missing, checks that
# src/bindings/ matches the core's records and the Rust shell (fmt, clippy, unit tests),
# builds the front end, the app and the brevdue CLI, runs the end-to-end tests in a real
# window (Xvfb + tauri-driver + WebKitWebDriver) and builds the .deb. Last line:
# `desktop: N passed, M failed`; non-zero exit on failure.
set -uo pipefail
cd "$(dirname "$0")"
DESKTOP=$(pwd)
ROOT=$(cd .. && pwd)
export CARGO_TARGET_DIR="$ROOT/target/desktop"
[ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
export PATH="$DESKTOP/node_modules/.bin:$PATH"

# Tests passed and failed: the unit tests and the end-to-end checks. A build or lint step
# that fails counts as one failure; one that succeeds is no test and adds nothing.
passed=0
failed=0
step() { # step NAME COMMAND...: runs one step; a failure counts
    local name=$1
    shift
    echo "== $name"
    if ! "$@"; then
        echo "!! FAILED: $name"
        failed=$((failed + 1))
    fi
}
unit_tests() { # cargo test, its counts added to the totals
    local log status
    log=$(mktemp)
    cargo test 2>&1 | tee "$log"
    status=${PIPESTATUS[0]}
    passed=$((passed + $(awk '/^test result:/ { n += $4 } END { print n + 0 }' "$log")))
    failed=$((failed + $(awk '/^test result:/ { n += $6 } END { print n + 0 }' "$log")))
    rm -f "$log"
    return "$status"
}
finish() {
    echo "desktop: $passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit $?
}

# ---- install what is missing ----
install() {
    local need=()
    local pkgs=(libwebkit2gtk-4.1-dev build-essential file librsvg2-dev libdbus-1-dev pkg-config
        webkit2gtk-driver xvfb imagemagick dovecot-imapd dovecot-pop3d dovecot-lmtpd dnsmasq-base
        python3-aiosmtpd openssl curl ca-certificates locales)
    for p in "${pkgs[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
    done
    if [ ${#need[@]} -gt 0 ]; then
        echo "installing: ${need[*]}"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null || return 1
    fi
    # A Norwegian locale for the e2e check of Bokmål advice (WebKit takes
    # navigator.language from the C locale, so it must exist).
    if ! locale -a 2>/dev/null | grep -qi '^nb_NO\.utf-\?8$'; then
        localedef -i nb_NO -f UTF-8 nb_NO.UTF-8 || return 1
    fi
    if ! command -v cargo >/dev/null; then
        bash "$ROOT/tests/install-deps.sh" || return 1
        export PATH="$HOME/.cargo/bin:$PATH"
    fi
    if ! command -v node >/dev/null || [ "$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)" -lt 18 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null || return 1
    fi
    if ! command -v tauri-driver >/dev/null; then
        cargo install tauri-driver --locked || return 1
    fi
    if [ ! -x node_modules/.bin/tauri ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
        npm ci --no-audit --no-fund || return 1
    fi
}
step "install dependencies" install || finish
[ "$failed" -eq 0 ] || finish

# ---- the Rust shell ----
# The TypeScript types of the engine's records (src/bindings/) are generated from the core
# by ts-rs (feature `ts`): written afresh into a scratch folder and compared byte for
# byte with the checked-in ones. On drift they are rewritten in place and the step fails.
bindings() {
    local fresh status
    fresh=$(mktemp -d)
    (cd "$ROOT" && env -u CARGO_TARGET_DIR TS_RS_EXPORT_DIR="$fresh" \
        cargo test -q --workspace --features brevdue-core/ts --lib export_bindings) || { rm -rf "$fresh"; return 1; }
    if diff -ru "$DESKTOP/src/bindings" "$fresh"; then
        status=0
    else
        rm -rf "$DESKTOP/src/bindings"
        cp -r "$fresh" "$DESKTOP/src/bindings"
        echo "desktop/src/bindings is out of date with the core's records (diff above):" \
            "regenerated it; review and commit desktop/src/bindings"
        status=1
    fi
    rm -rf "$fresh"
    return "$status"
}
step "TypeScript bindings of the core's records (ts-rs)" bindings
frontend() { npm run build; }
step "front end (tsc + vite)" frontend
cd src-tauri
step "cargo fmt --check" cargo fmt --check
step "cargo clippy -D warnings" cargo clippy --all-targets -- -D warnings
step "cargo test (desktop unit tests)" unit_tests
step "cargo build (debug app for e2e)" cargo build
cd "$ROOT"
# The same build as android/test.sh and ios/test.sh (the same features, so nothing twice).
step "brevdue CLI (cargo build of the workspace)" env -u CARGO_TARGET_DIR \
    cargo build -q -p brevdue-core -p brevdue-cli -p uniffi-bindgen
cd "$DESKTOP"

# ---- end to end, in a real window ----
echo "== end-to-end tests (each check counts)"
e2e_log=$(mktemp)
/usr/bin/python3 e2e/run.py --app "$CARGO_TARGET_DIR/debug/brevdue-desktop" \
    --cli "$ROOT/target/debug/brevdue" --screenshots "$DESKTOP/screenshots" 2>&1 | tee "$e2e_log"
e2e_status=${PIPESTATUS[0]}
e2e_passed=$(awk '/^e2e: [0-9]+ passed/ {print $2}' "$e2e_log")
e2e_failed=$(awk '/^e2e: [0-9]+ passed/ {print $4}' "$e2e_log")
rm -f "$e2e_log"
passed=$((passed + ${e2e_passed:-0}))
failed=$((failed + ${e2e_failed:-0}))
if [ "$e2e_status" -ne 0 ] && [ "${e2e_failed:-0}" -eq 0 ]; then failed=$((failed + 1)); fi

# ---- the .deb ----
deb() {
    rm -rf "$CARGO_TARGET_DIR/release/bundle/deb"
    npx tauri build --bundles deb || return 1
    local pkg
    pkg=$(ls "$CARGO_TARGET_DIR"/release/bundle/deb/*.deb 2>/dev/null | head -1)
    [ -n "$pkg" ] || { echo "no .deb was built"; return 1; }
    echo "built $pkg"
    dpkg-deb --info "$pkg" | grep -E "Package|Version|Depends"
    dpkg-deb --contents "$pkg" | grep -q "usr/bin/brevdue-desktop"
}
step "tauri build --bundles deb" deb

finish
