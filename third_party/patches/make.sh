#!/usr/bin/env bash
# Writes async-imap.patch and imap-proto.patch: `diff -ruN` of the published crates
# (async-imap 0.12.0, imap-proto 0.17.0 from crates.io) against the copies in third_party/.
# The packaging files the copies leave out (.cargo_vcs_info.json, Cargo.toml.orig,
# Cargo.lock, .cargo-ok) are left out of the diff too. Apply a patch with
# `patch -p1` inside the published crate's directory.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
third_party="$(dirname "$here")"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# A throw-away project makes cargo download the published .crate files.
mkdir -p "$work/fetch/src"
cat > "$work/fetch/Cargo.toml" <<'TOML'
[package]
name = "fetch-published"
version = "0.0.0"
edition = "2021"
[workspace]
[dependencies]
async-imap = { version = "=0.12.0", default-features = false, features = ["runtime-tokio"] }
imap-proto = "=0.17.0"
TOML
touch "$work/fetch/src/lib.rs"
cargo fetch --quiet --manifest-path "$work/fetch/Cargo.toml"

for crate in async-imap-0.12.0 imap-proto-0.17.0; do
  name="${crate%-*}"
  archive="$(ls "${CARGO_HOME:-$HOME/.cargo}"/registry/cache/*/"$crate.crate" | head -n 1)"
  mkdir -p "$work/$name"
  tar -xzf "$archive" -C "$work/$name"
  mv "$work/$name/$crate" "$work/$name/a"
  cp -a "$third_party/$name" "$work/$name/b"
  (
    cd "$work/$name"
    status=0
    diff -ruN -x .cargo_vcs_info.json -x Cargo.toml.orig -x Cargo.lock -x .cargo-ok a b \
      > "$work/$name.diff" || status=$?
    [ "$status" -le 1 ] # 1: the trees differ
    # Without the file times, so the patch changes only when the code does.
    sed -E 's/^((---|\+\+\+) [^\t]+)\t.*/\1/' "$work/$name.diff" > "$here/$name.patch"
    # The patch turns the published crate into the copy.
    (cd a && patch --quiet -p1 < "$here/$name.patch")
    diff -r -x .cargo_vcs_info.json -x Cargo.toml.orig -x Cargo.lock -x .cargo-ok a b
  )
  echo "$here/$name.patch: $(grep -c '^+++ ' "$here/$name.patch") files"
done
