#!/usr/bin/env bash
# Builds the Rust core for iOS as an XCFramework and generates the Swift bindings, for the
# app in ios/App. Runs on macOS with Xcode (command-line tools selected) and rustup.
#
#   bash ios/build-xcframework.sh            # release (default)
#   PROFILE=debug bash ios/build-xcframework.sh
#
# Writes (all build products, gitignored):
#   ios/BrevdueKit/Frameworks/brevdue_coreFFI.xcframework   static library + header + modulemap
#                                                            (device arm64; simulator arm64+x86_64)
#   ios/BrevdueKit/Sources/BrevdueCore/brevdue_core.swift    the uniffi Swift bindings
set -euo pipefail

IOS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$IOS_DIR")
PKG="$IOS_DIR/BrevdueKit"
PROFILE=${PROFILE:-release}
BUILD="$IOS_DIR/build"
OUT="$PKG/Frameworks/brevdue_coreFFI.xcframework"
export IPHONEOS_DEPLOYMENT_TARGET=${IPHONEOS_DEPLOYMENT_TARGET:-17.0}

[ "$(uname -s)" = Darwin ] || { echo "build-xcframework.sh needs macOS with Xcode" >&2; exit 1; }
command -v xcodebuild >/dev/null || { echo "install Xcode and run xcode-select" >&2; exit 1; }
command -v rustup >/dev/null || { echo "install Rust with rustup (https://rustup.rs)" >&2; exit 1; }

cd "$REPO"
targets=(aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios)
rustup target add "${targets[@]}"

cargo_flags=(-p brevdue-core --lib)
[ "$PROFILE" = release ] && cargo_flags+=(--release)
for target in "${targets[@]}"; do
  echo "== cargo build $PROFILE for $target"
  cargo build "${cargo_flags[@]}" --target "$target"
done
lib() { echo "$REPO/target/$1/$PROFILE/libbrevdue_core.a"; }

# The bindings come from the uniffi metadata in an unstripped library, so generate them
# first (from a host build: the metadata is the same on every target), strip afterwards.
echo "== generating the Swift bindings"
cargo build -p brevdue-core -p uniffi-bindgen
rm -rf "$BUILD" && mkdir -p "$BUILD/gen" "$BUILD/headers" "$BUILD/device" "$BUILD/simulator"
"$REPO/target/debug/uniffi-bindgen" generate "$REPO/target/debug/libbrevdue_core.dylib" \
  --language swift --out-dir "$BUILD/gen"
cp "$BUILD/gen/brevdue_coreFFI.h" "$BUILD/headers/"
cp "$BUILD/gen/brevdue_coreFFI.modulemap" "$BUILD/headers/module.modulemap"
cp "$BUILD/gen/brevdue_core.swift" "$PKG/Sources/BrevdueCore/brevdue_core.swift"

echo "== device and simulator libraries"
cp "$(lib aarch64-apple-ios)" "$BUILD/device/libbrevdue_core.a"
lipo -create "$(lib aarch64-apple-ios-sim)" "$(lib x86_64-apple-ios)" \
  -output "$BUILD/simulator/libbrevdue_core.a"
if [ "$PROFILE" = release ]; then
  strip -S -x "$BUILD/device/libbrevdue_core.a" "$BUILD/simulator/libbrevdue_core.a" 2>/dev/null || true
fi

echo "== xcodebuild -create-xcframework"
rm -rf "$OUT"
mkdir -p "$(dirname "$OUT")"
xcodebuild -create-xcframework \
  -library "$BUILD/device/libbrevdue_core.a" -headers "$BUILD/headers" \
  -library "$BUILD/simulator/libbrevdue_core.a" -headers "$BUILD/headers" \
  -output "$OUT"
echo "wrote $OUT"
