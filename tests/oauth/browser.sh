#!/usr/bin/env bash
# A stand-in for the system browser in tests (the OS boundary): given the sign-in page of
# the harness's OAuth2 server (mailserver.py serve --oauth), it signs in as
# $BREVDUE_FAKE_BROWSER_USER the way a person submits the login form, then follows the
# redirect back to the app, as a browser would. Used as $BROWSER by the CLI's tests.
set -euo pipefail
url=$1
user=${BREVDUE_FAKE_BROWSER_USER:?set BREVDUE_FAKE_BROWSER_USER to the user to sign in as}
redirect=$(curl -sS -o /dev/null -w '%{redirect_url}' --data-urlencode "username=$user" "$url")
[ -n "$redirect" ] || { echo "browser.sh: the sign-in page did not redirect" >&2; exit 1; }
# The loopback listener answers with a page; a browser shows it.
curl -sS -o /dev/null "$redirect"
