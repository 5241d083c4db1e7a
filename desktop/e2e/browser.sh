#!/usr/bin/env bash
# The end-to-end tests' system browser ($BROWSER for the app; the engine runs
# `$BROWSER URL`): tests/oauth/browser.sh, which signs in on the harness's OAuth2 server as
# $BREVDUE_FAKE_BROWSER_USER and follows the redirect back to the app's loopback listener.
# While the file $BREVDUE_E2E_BROWSER_HOLD exists the page is only "open": nobody signs
# in yet (a test then cancels in the window). Every page opened is appended to
# $BREVDUE_E2E_BROWSER_LOG.
set -euo pipefail
url=$1
if [ -n "${BREVDUE_E2E_BROWSER_LOG:-}" ]; then
    printf '%s\n' "$url" >>"$BREVDUE_E2E_BROWSER_LOG"
fi
if [ -n "${BREVDUE_E2E_BROWSER_HOLD:-}" ] && [ -e "$BREVDUE_E2E_BROWSER_HOLD" ]; then
    exit 0
fi
exec "$(dirname "$0")/../../tests/oauth/browser.sh" "$url"
