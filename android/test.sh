#!/usr/bin/env bash
# The Android side's tests, run on the JVM: builds the core library, the CLI and the
# bindings generator, generates the Kotlin bindings (inside Maven's generate-sources),
# and runs brevdue-kit's JUnit 5 tests against a private Dovecot + SMTP server.
# Works from a clean clone on Debian 12 as root; installs what is missing.
# Last line: "android: N passed, M failed"; exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
start=$SECONDS

need=()
command -v mvn >/dev/null 2>&1 || need+=(maven)
if ! command -v javac >/dev/null 2>&1 || ! javac -version 2>&1 | grep -q ' 17\.'; then
  need+=(openjdk-17-jdk-headless)
fi
if [ ${#need[@]} -gt 0 ]; then
  echo "== installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null 2>&1 || {
    apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  }
fi
# The private mail server (Dovecot, aiosmtpd, OpenSSL) and Rust: the project's installer,
# which skips what is there.
bash tests/install-deps.sh >/dev/null
[ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
if [ -d /usr/lib/jvm/java-17-openjdk-amd64 ] && [ -z "${JAVA_HOME:-}" ]; then
  export JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64
fi

echo "== cargo build (core library, CLI, uniffi-bindgen)"
cargo build -q -p brevdue-core -p brevdue-cli -p uniffi-bindgen

echo "== mvn test (bindings generated into android/brevdue-kit/target/generated-sources/uniffi)"
kit=android/brevdue-kit
rm -rf "$kit/target/surefire-reports"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
# Offline when the local repository (~/.m2) already has everything; online otherwise.
if [ -d "$HOME/.m2/repository/org/jetbrains/kotlin/kotlin-maven-plugin" ]; then
  mvn -q -B -o -Dstyle.color=never -f "$kit/pom.xml" -Dbrevdue.root="$root" test >"$log" 2>&1
  status=$?
  if [ $status -ne 0 ] && grep -q "offline mode\|has not been downloaded" "$log"; then
    mvn -q -B -Dstyle.color=never -f "$kit/pom.xml" -Dbrevdue.root="$root" test >"$log" 2>&1
    status=$?
  fi
else
  mvn -q -B -Dstyle.color=never -f "$kit/pom.xml" -Dbrevdue.root="$root" test >"$log" 2>&1
  status=$?
fi
set -e
# Maven's own output, less its download chatter and JDK warnings.
sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -v '^WARNING: \|^\[INFO\] Download\|^\s*$' || true

passed=0 failed=0
shopt -s nullglob
reports=("$kit"/target/surefire-reports/TEST-*.xml)
for report in "${reports[@]}"; do
  line=$(grep -m1 '<testsuite ' "$report")
  get() { sed -n "s/.* $1=\"\([0-9]*\)\".*/\1/p" <<<"$line"; }
  t=$(get tests) f=$(get failures) e=$(get errors) s=$(get skipped)
  passed=$((passed + t - f - e - s))
  failed=$((failed + f + e))
done
# A test JUnit refuses to run (e.g. one returning a value) must not pass unnoticed.
if grep -q "will not be executed" "$log"; then
  failed=$((failed + 1))
fi
if [ ${#reports[@]} -eq 0 ] || { [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; }; then
  failed=$((failed + 1)) # the build itself failed
fi
echo "android: took $((SECONDS - start)) s"
echo "android: $passed passed, $failed failed"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
