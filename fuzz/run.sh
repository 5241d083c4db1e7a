#!/usr/bin/env bash
# Fuzzes every parser target for SECONDS each (default 60): installs cargo-fuzz if it is
# missing, builds the targets, replays fuzz/regressions/, then runs each target from its
# seeds (fuzz/seeds/) with a memory limit and a per-input timeout. Prints one line per
# target and exits non-zero if any input crashed, hung or ran out of memory.
#
#   bash fuzz/run.sh [SECONDS]
#
# Works with the stable toolchain: cargo-fuzz's -Z flags are allowed by RUSTC_BOOTSTRAP=1,
# and AddressSanitizer is used when the toolchain ships its runtime (rustup's rust-std
# does). The corpus grown by earlier runs is kept in the target directory.
set -euo pipefail
seconds="${1:-60}"
cd "$(dirname "$0")"
[ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"

cargo_fuzz_version=0.13.2
targets=(imap_answers pop3_answers mime)
rss_limit_mb=512
timeout_s=10
max_len=65536

if [ "$(cargo fuzz --version 2>/dev/null)" != "cargo-fuzz $cargo_fuzz_version" ]; then
  echo "== installing cargo-fuzz $cargo_fuzz_version" >&2
  cargo install cargo-fuzz --version "$cargo_fuzz_version" --locked
fi
export RUSTC_BOOTSTRAP=1
host="$(rustc -vV | sed -n 's/^host: //p')"
sanitizer=none
if ls "$(rustc --print sysroot)/lib/rustlib/$host/lib/"librustc-*_rt.asan.a >/dev/null 2>&1; then
  sanitizer=address
fi
target_dir="${CARGO_TARGET_DIR:-$PWD/target}"
echo "== cargo fuzz build ($(rustc --version), sanitizer $sanitizer)" >&2
started=$SECONDS
# Built as shipped (release, no debug assertions: mail-parser 0.11.9 has a
# debug_assert!(false) that malformed multipart reaches, harmless in release), but
# with overflow checks on.
RUSTFLAGS="${RUSTFLAGS:-} -Coverflow-checks=on" \
  cargo fuzz build --release --sanitizer "$sanitizer" --target-dir "$target_dir"
echo "== built in $((SECONDS - started)) s" >&2
bin="$target_dir/$host/release"

flags=(-rss_limit_mb="$rss_limit_mb" -timeout="$timeout_s" -max_len="$max_len")
status=0
summary=()
for t in "${targets[@]}"; do
  artifacts="$PWD/artifacts/$t"
  corpus="$target_dir/corpus/$t"
  mkdir -p "$artifacts" "$corpus"
  log="$target_dir/fuzz-$t.log"
  # Inputs that once crashed a target (the findings of fuzz/README.md) must pass.
  shopt -s nullglob
  regressions=(regressions/"$t"/*)
  shopt -u nullglob
  failed_regressions=()
  for input in "${regressions[@]}"; do
    if ! "$bin/$t" "${flags[@]}" "$input" >"$log.regression" 2>&1; then
      failed_regressions+=("$input")
      grep -m1 -E "panicked at|ERROR: libFuzzer" -A1 "$log.regression" | sed 's/^/    /' >&2 || true
    fi
  done
  echo "== $t: fuzzing for $seconds s" >&2
  result=ok
  if ! "$bin/$t" "${flags[@]}" -max_total_time="$seconds" -print_final_stats=1 \
    -artifact_prefix="$artifacts/" "$corpus" "seeds/$t" >"$log" 2>&1; then
    artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
    cause=$(grep -m1 -oE "panicked at [^ ]+|ERROR: (libFuzzer|AddressSanitizer): [a-z -]+" "$log" || true)
    grep -m1 -A1 "panicked at" "$log" | tail -n 1 | sed 's/^/    /' >&2 || true
    result="FAILED (${cause:-see $log}; input ${artifact:-none written})"
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -n 1)
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -n 1 | cut -d' ' -f2)
  corp=$(grep -oE 'corp: [0-9]+' "$log" | tail -n 1 | cut -d' ' -f2)
  line="$t: ${runs:-?} runs, coverage ${cov:-?}, corpus ${corp:-?}, peak ${rss:-?} MB, $result"
  if [ ${#failed_regressions[@]} -gt 0 ]; then
    line+="; regressions failing: ${failed_regressions[*]}"
  fi
  [ "$result" = ok ] && [ ${#failed_regressions[@]} -eq 0 ] || status=1
  summary+=("$line")
done
echo "== fuzzing ($seconds s per target; logs in $target_dir/fuzz-*.log)"
printf '  %s\n' "${summary[@]}"
exit "$status"
