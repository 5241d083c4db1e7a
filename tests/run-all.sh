#!/usr/bin/env bash
# The README's test command: installs what is missing, checks formatting and lints, runs
# every Rust test suite (the IMAP-facing ones also against two other server set-ups),
# then the front ends' suites (Kotlin on the JVM, Swift in a Debian
# trixie chroot, the Tauri desktop app end to end under Xvfb). Ends with one line over all
# of them and exits non-zero if anything failed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/install-deps.sh
[ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
# Every build here is made once: incremental caches would only fill the disk.
export CARGO_INCREMENTAL=0
disk() { echo "== disk: $(df -h --output=avail . | tail -1 | tr -d ' ') free, target/ $(du -sh target 2>/dev/null | cut -f1)"; }
disk

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
echo "== cargo test (unit, integration against a private Dovecot, CLI)"
log=$(mktemp)
suites=$(mktemp)
skips=$(mktemp)
variants=$(mktemp -d)
trap 'rm -rf "$log" "$suites" "$skips" "$variants"' EXIT
set +e
BREVDUE_TEST_SKIPS="$skips" cargo test --workspace --no-fail-fast -- --test-threads 4 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
# The patched async-imap and imap-proto (third_party/README.md), a workspace of their own.
cargo test --manifest-path third_party/Cargo.toml --workspace --no-default-features --features async-imap/runtime-tokio,async-imap/compress --target-dir target 2>&1 | tee -a "$log"; [ "${PIPESTATUS[0]}" -ne 0 ] && status=1
bash fuzz/run.sh "${BREVDUE_FUZZ_SECONDS:-60}" || status=1 # fuzz/README.md: each parser target for 60 s
# The IMAP-facing suites again, against Dovecot with a Courier/Cyrus-style namespace
# (INBOX. and .) and against GreenMail (a second implementation, from Maven Central).
# --workspace keeps the features of the build above, so nothing is rebuilt. Test parts a
# set-up cannot run are skipped with a "SKIPPED" line, gathered here.
variant_suites=(--test imap_sync --test changes --test send --test imap_account --test pop3)
for setup in dovecot-inbox-dot greenmail; do
  echo "== cargo test against $setup (BREVDUE_TEST_SERVER=$setup)"
  started=$SECONDS
  BREVDUE_TEST_SERVER=$setup BREVDUE_TEST_SKIPS="$skips" \
    cargo test --workspace --no-fail-fast "${variant_suites[@]}" -- --test-threads 4 2>&1 |
    tee "$variants/$setup.log"
  setup_status=${PIPESTATUS[0]}
  [ "$setup_status" -ne 0 ] && status=$setup_status
  echo "== $setup took $((SECONDS - started)) s"
done
disk
for suite in android ios desktop; do
  [ -f "$suite/test.sh" ] || continue
  echo "== $suite (bash $suite/test.sh)"
  bash "$suite/test.sh" 2>&1 | tee -a "$suites"
  suite_status=${PIPESTATUS[0]}
  [ "$suite_status" -ne 0 ] && status=$suite_status
  disk
done
set -e

# One closing line over every suite: cargo's "test result:" lines and each front end's
# last line ("android: N passed, M failed").
count_rust() {
  awk -v name="$1" '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
       END { printf "%s: %d passed, %d failed\n", name, p, f }' "$2"
}
if [ -s "$skips" ]; then
  echo "== skipped test parts (what each server set-up lacks):"
  sed 's/^/  /' "$skips"
fi
{
  count_rust rust "$log"
  for setup in dovecot-inbox-dot greenmail; do
    [ -f "$variants/$setup.log" ] && count_rust "rust-$setup" "$variants/$setup.log"
  done
  grep -E '^(android|ios|desktop): [0-9]+ passed, [0-9]+ failed$' "$suites" || true
} | awk '{ print "  " $0; p += $2; f += $4 } END { printf "%d passed, %d failed\n", p, f }'
exit "$status"
