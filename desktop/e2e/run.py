#!/usr/bin/python3
"""End-to-end tests of the Brevdue desktop app in a real window.

Xvfb + tauri-driver + WebKitWebDriver drive the debug binary against the private Dovecot
and SMTP server (tests/mailserver.py). The `brevdue` CLI plays the phone. Screenshots
(ImageMagick `import -window root`) go to desktop/screenshots/.

    e2e/run.py --app PATH --cli PATH [--screenshots DIR]

Prints one line per check and, last, `e2e: N passed, M failed`.
Only the Python standard library is used (WebDriver is plain HTTP + JSON).
"""
import argparse
import email.header
import email.message
import email.utils
import http.client
import http.server
import imaplib
import json
import os
import shutil
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"

RESULTS = []
# The engine's advice words, as the app ships them (written from core/src/advice.rs).
with open(os.path.join(HERE, "..", "src", "advice.json"), encoding="utf-8") as _f:
    ADVICE = json.load(_f)
# The window's own words (desktop/src/strings.json).
with open(os.path.join(HERE, "..", "src", "strings.json"), encoding="utf-8") as _f:
    STRINGS = json.load(_f)


def log(msg):
    print(msg, flush=True)


# ---------------------------------------------------------------- helpers

def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}")


class Leak(http.server.BaseHTTPRequestHandler):
    """The loopback server a hostile mail's remote URLs point at: it counts requests."""
    hits = []

    def do_GET(self):
        Leak.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/gif")
        self.end_headers()
        self.wfile.write(b"GIF89a\x01\x00\x01\x00\x00\x00\x00;")

    do_POST = do_GET

    def log_message(self, *args):
        pass


class WebDriver:
    def __init__(self, port):
        self.base = f"http://127.0.0.1:{port}"
        self.sid = None

    def req(self, method, path, body=None, timeout=60):
        data = None if body is None else json.dumps(body).encode()
        r = urllib.request.Request(self.base + path, data=data, method=method,
                                   headers={"Content-Type": "application/json"})
        for attempt in range(4):
            try:
                with urllib.request.urlopen(r, timeout=timeout) as resp:
                    return json.loads(resp.read() or b"{}").get("value")
            except urllib.error.HTTPError as err:
                raise RuntimeError(f"{method} {path}: {err.code} {err.read()[:400]!r}")
            except (http.client.RemoteDisconnected, ConnectionResetError) as err:
                # tauri-driver drops the request when its pooled connection to
                # WebKitWebDriver was closed under it ("client error (SendRequest)"); the
                # request never reached the browser, so sending it again is safe.
                if attempt == 3:
                    raise
                log(f"     tauri-driver dropped {method} {path.split('/')[-1]} ({err}); again")
                time.sleep(0.5)

    def start(self, app):
        caps = {"capabilities": {"alwaysMatch": {"browserName": "wry", "tauri:options": {"application": app}}}}
        value = self.req("POST", "/session", caps, timeout=120)
        self.sid = value["sessionId"]

    def quit(self):
        if self.sid:
            try:
                self.req("DELETE", f"/session/{self.sid}", timeout=20)
            except Exception:
                pass
            self.sid = None

    def s(self, path):
        return f"/session/{self.sid}{path}"

    def js(self, script, *args):
        return self.req("POST", self.s("/execute/sync"), {"script": script, "args": list(args)})

    def find(self, css):
        v = self.req("POST", self.s("/element"), {"using": "css selector", "value": css})
        return v[ELEMENT]

    def into_view(self, el):
        self.js("arguments[0].scrollIntoView({block: 'center'})", {ELEMENT: el})

    def retry_stale(self, fn):
        # The sidebar and the list re-render on engine events: find the element again.
        for attempt in range(4):
            try:
                return fn()
            except RuntimeError as err:
                if "stale element" not in str(err) or attempt == 3:
                    raise
                time.sleep(0.3)

    def click(self, css):
        def go():
            el = self.find(css)
            self.into_view(el)
            self.req("POST", self.s(f"/element/{el}/click"), {})
        self.retry_stale(go)

    def type(self, css, text):
        def go():
            el = self.find(css)
            self.into_view(el)
            self.req("POST", self.s(f"/element/{el}/clear"), {})
            self.req("POST", self.s(f"/element/{el}/value"), {"text": text})
        self.retry_stale(go)

    def keys(self, text):
        actions = []
        for ch in text:
            actions += [{"type": "keyDown", "value": ch}, {"type": "keyUp", "value": ch}]
        self.req("POST", self.s("/actions"), {"actions": [{"type": "key", "id": "kb", "actions": actions}]})

    def center(self, css):
        r = self.js("""const e = document.querySelector(arguments[0]); if (!e) return null;
            e.scrollIntoView({block: 'nearest'}); const r = e.getBoundingClientRect();
            return [Math.round(r.left + r.width / 2), Math.round(r.top + r.height / 2)];""", css)
        if not r:
            raise AssertionError(f"no element {css}")
        return r

    def drag(self, src_css, dst_css):
        """Press on one element, move in steps to another, release (viewport coordinates:
        the list re-renders its rows at any time, so element references go stale)."""
        (sx, sy), (dx, dy) = self.center(src_css), self.center(dst_css)
        move = lambda x, y, ms: {"type": "pointerMove", "origin": "viewport", "x": x, "y": y, "duration": ms}  # noqa: E731
        self.req("POST", self.s("/actions"), {"actions": [{
            "type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"},
            "actions": [move(sx, sy, 0), {"type": "pointerDown", "button": 0}, move(sx + 20, sy + 5, 100),
                        move((sx + dx) // 2, (sy + dy) // 2, 150), move(dx + 3, dy, 150), move(dx, dy, 50),
                        {"type": "pointerUp", "button": 0}]}]})
        self.req("DELETE", self.s("/actions"))

    def wait(self, script, *args, timeout=20, what="condition"):
        end = time.time() + timeout
        last = None
        while time.time() < end:
            try:
                last = self.js(script, *args)
                if last:
                    return last
            except RuntimeError as err:
                last = err
            time.sleep(0.25)
        raise AssertionError(f"timed out waiting for {what} (last: {last})")


def check(name):
    def deco(fn):
        def run(*args):
            start = time.time()
            try:
                fn(*args)
                RESULTS.append((name, True))
                log(f"ok   {name} ({time.time() - start:.1f}s)")
            except Exception as err:  # noqa: BLE001
                RESULTS.append((name, False))
                log(f"FAIL {name}: {err}")
                traceback.print_exc(file=sys.stdout)
        return run
    return deco


# JS snippets
ROWS = "return [...document.querySelectorAll('#list .row[data-id]')].map(r => ({id: +r.dataset.id, subject: r.dataset.subject, unread: r.classList.contains('unread'), answered: !!r.querySelector('.mark-answered'), flagged: !!r.querySelector('.mark-flagged')}));"
ROW_WITH = "return [...document.querySelectorAll('#list .row[data-id]')].find(r => r.dataset.subject === arguments[0]) ? true : false;"
NO_ROW_WITH = "return [...document.querySelectorAll('#list .row[data-id]')].find(r => r.dataset.subject === arguments[0]) ? false : true;"
ROW_SEL = "#list .row[data-subject=\"{}\"]"


class Env:
    pass


def screenshot(env, name):
    path = os.path.join(env.shots, name)
    time.sleep(0.4)  # let WebKit paint
    subprocess.run(["import", "-display", env.display, "-window", "root", path], check=True, timeout=30)
    log(f"     screenshot {path}")


def imap_login(env, user):
    ctx = ssl.create_default_context(cafile=env.server["ca_file"])
    m = imaplib.IMAP4_SSL(env.server["host"], env.server["imaps_port"], ssl_context=ctx)
    m.login(user, "secret")
    return m


def imap_subjects(env, user, folder):
    m = imap_login(env, user)
    try:
        typ, _ = m.select(f'"{folder}"', readonly=True)
        if typ != "OK":
            return []
        _, data = m.search(None, "ALL")
        out = []
        for num in data[0].split():
            _, msg = m.fetch(num, "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
            raw = msg[0][1].decode(errors="replace").split(":", 1)[1].strip()
            out.append(str(email.header.make_header(email.header.decode_header(" ".join(raw.split())))))
        return out
    finally:
        m.logout()


def imap_folders(env, user):
    m = imap_login(env, user)
    try:
        _, data = m.list()
        return [line.decode().rsplit(" ", 1)[1].strip('"') for line in data]
    finally:
        m.logout()


def append(env, user, msg):
    m = imap_login(env, user)
    try:
        m.append("INBOX", "", imaplib.Time2Internaldate(time.time()), msg.as_bytes())
    finally:
        m.logout()


def smtp_send(env, sender, to, subject, body):
    msg = email.message.EmailMessage()
    msg["From"] = f"{sender.title()} <{sender}@example.test>"
    msg["To"] = f"{to}@example.test"
    msg["Subject"] = subject
    msg["Date"] = email.utils.formatdate(localtime=True)
    msg["Message-ID"] = email.utils.make_msgid(domain="example.test")
    msg.set_content(body)
    ctx = ssl.create_default_context(cafile=env.server["ca_file"])
    with smtplib.SMTP_SSL(env.server["host"], env.server["smtps_port"], context=ctx, timeout=20) as s:
        s.login(sender, "secret")
        s.send_message(msg)


def hostile_mail(leak):
    u = f"http://127.0.0.1:{leak}"
    html = f"""<html><head>
<style>body {{ background: url({u}/css-background) }} @import url({u}/css-import);</style>
<link rel="stylesheet" href="{u}/link.css">
<meta http-equiv="refresh" content="0;url={u}/meta-refresh">
<script>document.title = 'PWNED'; window.parent.__pwned = 1; fetch('{u}/script-fetch');</script>
<script src="{u}/external.js"></script>
</head><body onload="window.parent.__pwned = 2; document.title='PWNED'">
<h2 id="hostile-heading">Quarterly numbers</h2>
<p style="background-image: url({u}/inline-style)">Please review the attached numbers.</p>
<img src="{u}/tracking-pixel.gif" width="1" height="1">
<img src="x" onerror="window.parent.__pwned = 3; new Image().src='{u}/onerror'">
<a id="js-link" href="javascript:window.parent.__pwned=4">Click for the report</a>
<form action="{u}/form" method="post"><input name="password" type="password"><button>Log in</button></form>
<iframe src="{u}/iframe"></iframe>
<object data="{u}/object"></object><embed src="{u}/embed">
<svg><image href="{u}/svg-image"></image><script>window.parent.__pwned = 5</script></svg>
<video poster="{u}/video-poster"></video>
</body></html>"""
    msg = email.message.EmailMessage()
    msg["From"] = "Totally Legit <ceo@evil.example>"
    msg["To"] = "alice@example.test"
    msg["Subject"] = "Hostile HTML test"
    msg["Date"] = email.utils.formatdate(localtime=True)
    msg["Message-ID"] = "<hostile@evil.example>"
    msg.set_content("The plain-text part of the hostile message.")
    msg.add_alternative(html, subtype="html")
    return msg


def reply_to_mail():
    """A mail whose replies go to its Reply-To (bob), not to its sender (carol, who has no
    mailbox here), with a Cc for reply-all and a subject that already has "Re:"."""
    msg = email.message.EmailMessage()
    msg["From"] = "Carol Sender <carol@example.test>"
    msg["Reply-To"] = "Bob at home <bob@example.test>"
    msg["To"] = "Alice Example <alice@example.test>"
    msg["Cc"] = "Dave <dave@example.test>"
    msg["Subject"] = "Re: Offsite plans"
    msg["Date"] = email.utils.formatdate(localtime=True)
    msg["Message-ID"] = "<offsite-2@example.test>"
    msg.set_content("Please answer to my home address.\nThe offsite is on the 14th.")
    return msg


# An attachment whose name tries to leave the folder it is saved in.
ATTACHMENT = bytes(range(256)) * 40


def attachment_mail():
    msg = email.message.EmailMessage()
    msg["From"] = "Bob <bob@example.test>"
    msg["To"] = "alice@example.test"
    msg["Subject"] = "Invoice attached"
    # An hour old: below the mail of this run and above the demo mail, so that t_keys'
    # "j" from "Lunch tomorrow?" never opens (and marks read) t_cross_device's message.
    msg["Date"] = email.utils.formatdate(time.time() - 3600, localtime=True)
    msg["Message-ID"] = "<invoice@example.test>"
    msg.set_content("The invoice is attached.")
    msg.add_attachment(ATTACHMENT, maintype="application", subtype="octet-stream", filename="../../invoice.bin")
    return msg


def lang_of(wd):
    """The language the app shows advice in: Bokmål for nb/no/nn, English otherwise."""
    tag = wd.js("return navigator.language") or "en"
    return "nb" if tag.replace("_", "-").split("-")[0].lower() in ("nb", "no", "nn") else "en"


def words(wd, advice_id, detail=""):
    """An advice id's words in the window's language (what the UI must show)."""
    return ADVICE[lang_of(wd)][advice_id].replace("{detail}", detail)


# ---------------------------------------------------------------- the tests

@check("without a keychain the setup screen says so clearly")
def t_no_keychain(env, wd):
    wd.wait("return document.querySelector('#setup') !== null", what="the setup screen")
    text = wd.wait("const w = document.querySelector('#keychain-warning'); return w && w.textContent", what="the keychain warning")
    assert "No keychain is running" in text, text
    screenshot(env, "01-setup-no-keychain.png")


@check("advice is shown in Norwegian Bokmål when the system language is Norwegian")
def t_bokmal(env, wd):
    wd.wait("return document.querySelector('#advice') !== null", what="the setup screen")
    tag = wd.js("return navigator.language")
    assert lang_of(wd) == "nb", f"navigator.language is {tag!r}"
    assert wd.js("return document.querySelector('#advice').textContent") == ADVICE["nb"]["pop_or_imap"]
    assert wd.js("return document.querySelector('#pop3-explained').textContent") == ADVICE["nb"]["pop3_explained"]
    # The window's own words in Bokmål too, and a discovery error's advice, which opens
    # the fields by hand.
    assert wd.js("return document.querySelector('#setup-continue').textContent") == "Fortsett"
    wd.type("#setup-address", "ikke-en-adresse")
    wd.click("#setup-continue")
    text = wd.wait("return !document.querySelector('#setup-manual').classList.contains('hidden') && document.querySelector('#setup-error').textContent",
                   what="the discovery error")
    assert text == ADVICE["nb"]["address_invalid"].replace("{detail}", "ikke-en-adresse"), text
    # An engine error in Bokmål: a form without an address.
    wd.js("document.querySelector('#setup-email').value = ''")
    wd.click("#setup-submit")
    text = wd.wait("return document.querySelector('#setup-error').textContent", what="the setup error")
    assert text == ADVICE["nb"]["account_needs_email"], text


def open_manual(wd):
    """From the first screen (address and password) to the fields by hand."""
    if wd.js("return document.querySelector('#setup-manual').classList.contains('hidden')"):
        wd.click("#setup-manual-btn")
    wd.wait("return !document.querySelector('#setup-manual').classList.contains('hidden')", what="the fields by hand")


def invoke(wd, cmd, args=None):
    """A Tauri command called as the window calls it: {"ok": value} or {"err": error}."""
    return wd.req("POST", wd.s("/execute/async"), {
        "script": "const done = arguments[arguments.length - 1];"
                  "window.__TAURI_INTERNALS__.invoke(arguments[0], arguments[1]).then(v => done({ok: v}), e => done({err: e}));",
        "args": [cmd, args or {}]})


def engine_account(wd, name):
    """The account as the engine has it now (not as the window last read it)."""
    got = invoke(wd, "accounts")
    assert "ok" in got, got
    return next((a for a in got["ok"] if a["name"] == name), None)


def fill_setup(wd, srv, *, email, name, port, user, display=None, password="secret",
               smtp_port=None, smtp_security=None):
    """Fills the account form for the private server: password "secret", SMTP over TLS
    (or `smtp_port` with `smtp_security`), the harness's CA. Security is left automatic."""
    open_manual(wd)
    wd.type("#setup-email", email)
    wd.type("#setup-name", name)
    if display:
        wd.type("#setup-display", display)
    wd.type("#setup-host", srv["host"])
    wd.type("#setup-port", str(port))
    wd.type("#setup-user", user)
    if password:
        wd.type("#setup-password", password)
    wd.type("#setup-smtp-port", str(smtp_port or srv["smtps_port"]))
    if smtp_security:
        wd.js("const s = document.querySelector('#setup-smtp-security'); s.value = arguments[0]; s.dispatchEvent(new Event('change'));",
              smtp_security)
    wd.type("#setup-ca", srv["ca_file"])


@check("first run: add an IMAP account over TLS sending over STARTTLS (the POP3-or-IMAP advice, IMAP picked)")
def t_add_account(env, wd):
    srv = env.server
    wd.wait("return document.querySelector('#setup') !== null", what="the setup screen")
    advice = wd.js("return document.querySelector('#advice').textContent")
    assert advice == words(wd, "pop_or_imap"), advice
    assert wd.js("return document.querySelector('#imap-explained').textContent") == words(wd, "imap_explained")
    assert wd.js("return document.querySelector('#protocol-imap').checked") is True
    assert wd.js("return document.querySelector('#test-passwords') !== null"), "test-mode banner missing"
    # The first screen asks for the address and the password only.
    assert wd.js("return !document.querySelector('#setup-start').classList.contains('hidden')")
    screenshot(env, "02-setup-start.png")
    # The common pair: incoming over TLS, outgoing over STARTTLS (the engine must not
    # reuse the incoming security for SMTP). t_reply then sends over it.
    fill_setup(wd, srv, email="alice@example.test", name="alice", display="Alice Example",
               port=srv["imaps_port"], user="alice", smtp_port=srv["smtp_port"], smtp_security="starttls")
    wd.js("const s = document.querySelector('#setup-security'); s.value = 'tls'; s.dispatchEvent(new Event('change'));")
    screenshot(env, "02-setup-manual.png")
    wd.click("#setup-submit")
    wd.wait("return document.querySelector('#setup') === null", timeout=30, what="the account to be added")
    acc = wd.wait("return window.__brevdue.accounts.find(a => a.name === 'alice')", what="the account")
    assert (acc["server"]["security"], acc["smtp"]["security"], acc["smtp"]["port"]) == ("tls", "starttls", srv["smtp_port"]), acc


@check("the unified inbox shows the mailbox with unread / flagged marks")
def t_inbox(env, wd):
    wd.wait(ROW_WITH, "Lunch tomorrow?", timeout=40, what="the inbox rows")
    wd.wait(ROW_WITH, "Dinner on Friday?", timeout=20, what="the demo mail")
    rows = wd.js(ROWS)
    assert any(r["unread"] for r in rows), rows
    assert any(r["flagged"] for r in rows), rows
    wd.wait("return document.querySelector('.folder[data-folder=\"Archive\"]') !== null", what="the account's folders")
    wd.wait("return document.querySelector('#sync-progress').classList.contains('hidden')", timeout=30, what="the sync to finish")
    screenshot(env, "03-inbox.png")


@check("open a message: the reader shows it and it becomes read")
def t_open(env, wd):
    wd.click(ROW_SEL.format("Lunch tomorrow?"))
    wd.wait("return document.querySelector('#reader-subject')?.textContent === 'Lunch tomorrow?'", what="the reader")
    wd.wait("const b = document.querySelector('#body-text') || document.querySelector('#body-frame'); return b && b.textContent !== null", what="the body")
    body = wd.js("return document.querySelector('#body-text')?.textContent || ''")
    assert "the new place" in body, body
    wd.wait("const r = document.querySelector('#list .row.selected'); return r && !r.classList.contains('unread')", what="read mark")
    screenshot(env, "04-reader.png")


@check("reply: the composer sends, bob receives it, the original is marked answered")
def t_reply(env, wd):
    wd.click("#reply-btn")
    wd.wait("return document.querySelector('#composer') !== null", what="the composer")
    wd.wait("return document.querySelector('#compose-to').value !== ''", what="the pre-filled recipient")
    to = wd.js("return document.querySelector('#compose-to').value")
    assert "bob@example.test" in to, to
    assert wd.js("return document.querySelector('#compose-subject').value") == "Re: Lunch tomorrow?"
    quoted = wd.js("return document.querySelector('#compose-quoted')?.textContent || ''")
    assert "the new place" in quoted, quoted
    wd.type("#compose-body", "Yes, 12:30 at the new place works for me.")
    screenshot(env, "05-composer.png")
    wd.click("#compose-send")
    wd.wait("return document.querySelector('#composer') === null", what="the composer to close")
    end = time.time() + 30
    while time.time() < end:
        if "Re: Lunch tomorrow?" in imap_subjects(env, "bob", "INBOX"):
            break
        time.sleep(0.5)
    else:
        raise AssertionError("bob never received the reply")
    wd.wait("const r = [...document.querySelectorAll('#list .row')].find(r => r.dataset.subject === 'Lunch tomorrow?'); return r && r.querySelector('.mark-answered') !== null",
            timeout=20, what="the answered mark")


def imap_headers(env, user, folder, subject):
    """The To and Cc headers of the message with `subject` in user's folder, or None."""
    m = imap_login(env, user)
    try:
        m.select(f'"{folder}"', readonly=True)
        _, data = m.search(None, "ALL")
        for num in data[0].split():
            _, msg = m.fetch(num, "(BODY.PEEK[HEADER.FIELDS (TO CC SUBJECT)])")
            parsed = email.message_from_bytes(msg[0][1])
            if parsed["Subject"] == subject:
                return {"to": parsed.get("To", ""), "cc": parsed.get("Cc", "")}
        return None
    finally:
        m.logout()


@check("a reply's pre-filled recipients honour Reply-To; reply all adds the Cc, never the user")
def t_reply_to(env, wd):
    wd.click('#unified-inbox')
    wd.wait(ROW_WITH, "Re: Offsite plans", timeout=20, what="the Reply-To mail")
    wd.click(ROW_SEL.format("Re: Offsite plans"))
    wd.wait("return document.querySelector('#reader-subject')?.textContent === 'Re: Offsite plans'", what="the reader")
    # Reply all: Reply-To in To, the Cc kept, alice (the user) left out.
    wd.click("#reply-all-btn")
    wd.wait("return document.querySelector('#compose-to')?.value", what="the reply-all recipients")
    to, cc = wd.js("return [document.querySelector('#compose-to').value, document.querySelector('#compose-cc').value]")
    assert "bob@example.test" in to and "carol@" not in to, to
    assert "dave@example.test" in cc and "alice@" not in to + cc, (to, cc)
    wd.click("#compose-cancel")
    # Reply: exactly the Reply-To address, the subject without a second "Re:".
    wd.click("#reply-btn")
    wd.wait("return document.querySelector('#compose-to')?.value", what="the reply recipients")
    to, cc, subject = wd.js("return ['#compose-to', '#compose-cc', '#compose-subject'].map(s => document.querySelector(s).value)")
    assert to == "Bob at home <bob@example.test>", to
    assert cc == "", cc
    assert subject == "Re: Offsite plans", subject
    wd.type("#compose-body", "I'll be there.")
    wd.click("#compose-send")
    wd.wait("return document.querySelector('#composer') === null", what="the composer to close")
    end = time.time() + 30
    headers = None
    while time.time() < end and headers is None:
        headers = imap_headers(env, "bob", "INBOX", "Re: Offsite plans")
        time.sleep(0.5)
    assert headers, "bob never received the reply"
    assert "bob@example.test" in headers["to"] and "carol" not in headers["to"] + headers["cc"], headers


@check("the composer names each recipient that is not an address")
def t_bad_addresses(env, wd):
    wd.click("#compose-btn")
    wd.wait("return document.querySelector('#composer') !== null", what="the composer")
    wd.type("#compose-to", "bob@example.test; nobody-here, also wrong")
    wd.type("#compose-subject", "Never sent")
    wd.click("#compose-send")
    text = wd.wait("return document.querySelector('#compose-error').textContent", what="the address advice")
    expected = words(wd, "address_invalid", "nobody-here") + " " + words(wd, "address_invalid", "also wrong")
    assert text == expected, text
    wd.click("#compose-cancel")
    wd.wait("return document.querySelector('#composer') === null", what="the composer to close")


@check("sync now: one engine pass, its per-account report shown")
def t_sync_now(env, wd):
    wd.js("window.__brevdue.lastSync = null")
    wd.click("#sync-btn")
    report = wd.wait("return window.__brevdue.lastSync", timeout=60, what="the sync-now report")
    alice = next(a for a in report["accounts"] if a["account"] == "alice")
    assert alice["problem"] is None and alice["pulled"] is not None, alice
    assert alice["stillInOutbox"] == 0, alice
    text = wd.js("return document.querySelector('#status-text').textContent")
    assert text.startswith("Up to date"), text


@check("keyboard shortcuts: j/k move, c opens the composer, Escape closes it")
def t_keys(env, wd):
    wd.js("document.activeElement && document.activeElement.blur && document.activeElement.blur(); document.querySelector('#list').focus();")
    before = wd.js("return window.__brevdue.selectedIndex")
    wd.keys("j")
    wd.wait("return window.__brevdue.selectedIndex === arguments[0] + 1", before, what="j to select the next message")
    wd.keys("k")
    wd.wait("return window.__brevdue.selectedIndex === arguments[0]", before, what="k to go back")
    wd.keys("c")
    wd.wait("return document.querySelector('#composer') !== null", what="c to open the composer")
    wd.keys("\ue00c")  # Escape
    wd.wait("return document.querySelector('#composer') === null", what="Escape to close it")


@check("create a folder (it reaches the server)")
def t_create_folder(env, wd):
    wd.click("#new-folder-alice")
    wd.wait("return document.querySelector('#dialog-input') !== null", what="the folder dialog")
    wd.type("#dialog-input", "Receipts")
    wd.click("#dialog-ok")
    wd.wait("return document.querySelector('.folder[data-folder=\"Receipts\"]') !== null", what="the new folder")
    end = time.time() + 20
    while time.time() < end and "Receipts" not in imap_folders(env, "alice"):
        time.sleep(0.5)
    assert "Receipts" in imap_folders(env, "alice"), imap_folders(env, "alice")


@check("drag a message onto the folder (it moves on the server)")
def t_drag(env, wd):
    subject = wd.js("return [...document.querySelectorAll('#list .row')].map(r => r.dataset.subject).find(s => s && s.startsWith('Ihre Rechnung') || s && s.includes('Rechnung'))")
    assert subject, wd.js(ROWS)
    wd.drag(ROW_SEL.format(subject), '.folder[data-account="alice"][data-folder="Receipts"]')
    wd.wait(NO_ROW_WITH, subject, what="the message to leave the inbox")
    end = time.time() + 20
    while time.time() < end and subject not in imap_subjects(env, "alice", "Receipts"):
        time.sleep(0.5)
    assert subject in imap_subjects(env, "alice", "Receipts"), "not in Receipts on the server"
    wd.click('.folder[data-account="alice"][data-folder="Receipts"]')
    wd.wait(ROW_WITH, subject, what="the message in Receipts")
    screenshot(env, "06-folder-after-drag.png")


@check("rename and delete a folder")
def t_rename_delete(env, wd):
    wd.click("#new-folder-alice")
    wd.wait("return document.querySelector('#dialog-input') !== null", what="the folder dialog")
    wd.type("#dialog-input", "Temp")
    wd.click("#dialog-ok")
    wd.wait("return document.querySelector('.folder[data-folder=\"Temp\"]') !== null", what="Temp")
    wd.click('.folder[data-account="alice"][data-folder="Temp"]')
    wd.click("#rename-folder")
    wd.type("#dialog-input", "Projects")
    wd.click("#dialog-ok")
    wd.wait("return document.querySelector('.folder[data-folder=\"Projects\"]') !== null && !document.querySelector('.folder[data-folder=\"Temp\"]')", what="the rename")
    wd.click('.folder[data-account="alice"][data-folder="Projects"]')
    wd.click("#delete-folder")
    wd.click("#dialog-ok")
    wd.wait("return document.querySelector('.folder[data-folder=\"Projects\"]') === null", what="the delete")
    end = time.time() + 20
    while time.time() < end:
        names = imap_folders(env, "alice")
        if "Temp" not in names and "Projects" not in names:
            return
        time.sleep(0.5)
    raise AssertionError(f"server folders: {imap_folders(env, 'alice')}")


@check("local search finds mail in any folder")
def t_search(env, wd):
    wd.type("#search", "boarding")
    wd.keys("\ue007")  # Enter
    wd.wait(ROW_WITH, "Your boarding pass", what="the search hit")
    screenshot(env, "07-search.png")
    wd.js("const s = document.querySelector('#search'); s.value=''; s.dispatchEvent(new Event('input'));")
    wd.wait("return window.__brevdue.source.kind === 'folder'", what="back to the inbox")


@check("a hostile HTML mail renders harmlessly: nothing runs, nothing is fetched")
def t_hostile(env, wd):
    wd.click('#unified-inbox')
    wd.wait(ROW_WITH, "Hostile HTML test", timeout=30, what="the hostile mail")
    title = wd.js("return document.title")
    wd.click(ROW_SEL.format("Hostile HTML test"))
    wd.wait("return (document.querySelector('#body-frame')?.contentDocument?.body?.textContent || '').includes('Please review')", what="the rendered mail")
    time.sleep(3)  # give anything that would fetch or run the time to do it
    assert Leak.hits == [], f"fetched: {Leak.hits}"
    assert wd.js("return document.title") == title, "the mail changed the title"
    assert wd.js("return window.__pwned === undefined"), "a script or handler ran"
    inner = wd.js("""const d = document.querySelector('#body-frame').contentDocument;
      return {scripts: d.querySelectorAll('script').length, forms: d.querySelectorAll('form,input').length,
              frames: d.querySelectorAll('iframe,object,embed').length, styles: d.querySelectorAll('style').length,
              handlers: [...d.querySelectorAll('*')].filter(e => [...e.attributes].some(a => a.name.startsWith('on'))).length,
              js: [...d.querySelectorAll('a')].filter(a => (a.getAttribute('href')||'').startsWith('javascript')).length,
              text: d.body.textContent, sandbox: document.querySelector('#body-frame').getAttribute('sandbox')}""")
    assert inner["scripts"] == 0 and inner["forms"] == 0 and inner["frames"] == 0, inner
    assert inner["handlers"] == 0 and inner["js"] == 0, inner
    assert inner["styles"] == 1, inner  # only the reader's own
    assert "allow-scripts" not in inner["sandbox"], inner
    assert "Please review" in inner["text"], inner
    # Clicking the former javascript: link does nothing either.
    wd.js("const a = [...document.querySelector('#body-frame').contentDocument.querySelectorAll('a')].find(a => a.textContent.includes('Click for the report')); if (a) a.click();")
    time.sleep(0.5)
    assert wd.js("return window.__pwned === undefined")
    banner = wd.js("return document.querySelector('#remote-banner')?.textContent || ''")
    assert "blocked" in banner, banner
    screenshot(env, "08-hostile-mail.png")
    # Allowing remote images loads exactly the image, nothing else.
    wd.click("#allow-remote")
    end = time.time() + 10
    while time.time() < end and not Leak.hits:
        time.sleep(0.2)
    time.sleep(1)
    assert Leak.hits and all("tracking-pixel" in h for h in Leak.hits), Leak.hits
    assert wd.js("return window.__pwned === undefined")


@check("remote images allowed for a message stay allowed: the engine keeps the choice")
def t_remote_kept(env, wd):
    wd.click(ROW_SEL.format("Lunch tomorrow?"))
    wd.wait("return document.querySelector('#reader-subject')?.textContent === 'Lunch tomorrow?'", what="another message")
    wd.click(ROW_SEL.format("Hostile HTML test"))
    wd.wait("return (document.querySelector('#body-frame')?.contentDocument?.body?.textContent || '').includes('Please review')", what="the mail again")
    assert wd.js("return document.querySelector('#remote-banner') === null"), "asked again"
    assert wd.js("return document.querySelector('#body-frame').srcdoc.includes('img-src data: cid: http:')"), "remote images not shown"
    assert wd.js("return window.__pwned === undefined")


@check("an attachment is saved by the engine, under a name that stays in the chosen folder")
def t_attachment(env, wd):
    wd.click('#unified-inbox')
    wd.wait(ROW_WITH, "Invoice attached", timeout=30, what="the mail with an attachment")
    wd.click(ROW_SEL.format("Invoice attached"))
    wd.wait("return document.querySelector('#attachments .save-attachment') !== null", what="the attachment")
    wd.click("#attachments .save-attachment")
    path = os.path.join(env.save_dir, "invoice.bin")
    end = time.time() + 20
    while time.time() < end and not os.path.exists(path):
        time.sleep(0.2)
    time.sleep(0.3)
    with open(path, "rb") as f:
        assert f.read() == ATTACHMENT, "the saved bytes differ"
    assert os.listdir(env.save_dir) == ["invoice.bin"], os.listdir(env.save_dir)
    assert not os.path.exists(os.path.join(env.save_dir, "..", "..", "invoice.bin"))


@check("a long folder pages from the live list: 100 rows first, the next ones on scrolling")
def t_paging(env, wd):
    m = imap_login(env, "alice")
    try:
        m.create("Bulk")
        for i in range(130):
            msg = email.message.EmailMessage()
            msg["From"] = "Bob <bob@example.test>"
            msg["To"] = "alice@example.test"
            msg["Subject"] = f"Bulk {i:03}"
            msg["Date"] = email.utils.formatdate(time.time() - i * 60, localtime=True)
            msg.set_content(f"Message {i}.")
            m.append("Bulk", "(\\Seen)", imaplib.Time2Internaldate(time.time()), msg.as_bytes())
    finally:
        m.logout()
    wd.click("#sync-btn")
    wd.wait("return document.querySelector('.folder[data-account=\"alice\"][data-folder=\"Bulk\"]') !== null",
            timeout=40, what="the new folder")
    wd.click('.folder[data-account="alice"][data-folder="Bulk"]')
    wd.wait("return window.__brevdue.rows.length === 100", timeout=20, what="the first page")
    wd.js("const l = document.querySelector('#list'); l.scrollTop = l.scrollHeight;")
    wd.wait("return window.__brevdue.rows.length === 130", timeout=20, what="the next page")
    subjects = [r["subject"] for r in wd.js("return window.__brevdue.rows")]
    assert subjects == [f"Bulk {i:03}" for i in range(130)], subjects[:5]
    wd.click('#unified-inbox')


@check("cross-device: the phone (CLI) marks one message read and files another; the window shows both without a click")
def t_cross_device(env, wd):
    wd.click('#unified-inbox')
    wd.wait(ROW_WITH, "Quarterly report draft", what="the inbox")
    rows = {r["subject"]: r for r in wd.js(ROWS)}
    assert rows["Quarterly report draft"]["unread"], rows["Quarterly report draft"]
    assert "This week in Rust: async traits" in rows
    phone = tempfile.mkdtemp(prefix="brevdue-phone-")
    srv = env.server
    cli = lambda *a: subprocess.run([env.cli, "--data-dir", phone, *a], check=True, capture_output=True, text=True,  # noqa: E731
                                    env={**os.environ, "PHONE_PW": "secret"}, timeout=60).stdout
    cli("account", "add", "phone", "--email", "alice@example.test", "--host", srv["host"], "--port", str(srv["imaps_port"]),
        "--security", "tls", "--user", "alice", "--password-env", "PHONE_PW", "--ca-file", srv["ca_file"])
    cli("sync")
    listed = json.loads(cli("list", "--folder", "INBOX", "--json", "--limit", "200"))
    listed = listed if isinstance(listed, list) else listed.get("messages", listed)
    ids = {m["subject"]: m["id"] for m in listed}
    start = time.time()
    cli("mark", str(ids["Quarterly report draft"]), "--read")
    cli("move", str(ids["This week in Rust: async traits"]), "--to", "Archive")
    wd.wait("const r = [...document.querySelectorAll('#list .row')].find(r => r.dataset.subject === 'Quarterly report draft'); return r && !r.classList.contains('unread')",
            timeout=15, what="the read mark from the phone")
    wd.wait(NO_ROW_WITH, "This week in Rust: async traits", timeout=15, what="the filed message to leave the inbox")
    log(f"     the window showed both {time.time() - start:.1f}s after the phone's changes")
    screenshot(env, "09-cross-device.png")
    shutil.rmtree(phone, ignore_errors=True)


@check("new mail arrives by IDLE and raises a notification")
def t_notification(env, wd):
    smtp_send(env, "bob", "alice", "Fresh news from Bob", "This arrived while the window was open.")
    wd.wait(ROW_WITH, "Fresh news from Bob", timeout=20, what="the new mail in the list")
    note = wd.wait("return window.__brevdue.notifications.find(n => n.body.includes('Fresh news from Bob'))", timeout=10, what="the notification")
    assert "Bob" in note["title"], note
    # Only the engine's NewMail raises one: none for the first sync's mail.
    notes = wd.js("return window.__brevdue.notifications")
    assert not any("Lunch tomorrow?" in n["body"] or "Offsite" in n["body"] for n in notes), notes
    screenshot(env, "10-new-mail-notification.png")


@check("the changes panel lists pending and failed changes")
def t_changes(env, wd):
    wd.click("#changes-btn")
    wd.wait("return document.querySelector('#changes-panel h3') !== null", what="the panel")
    wd.wait("return document.querySelector('#no-changes') !== null", timeout=20, what="every change to reach the server")
    screenshot(env, "11-changes-panel.png")
    wd.click("#changes-btn")


@check("a POP3 account says plainly that it does not sync between devices")
def t_pop3(env, wd):
    srv = env.server
    wd.click("#add-account-btn")
    wd.wait("return document.querySelector('#setup') !== null", what="the setup screen")
    open_manual(wd)
    wd.click("#devices-one")
    wd.click("#protocol-pop3")
    advice = wd.js("return document.querySelector('#advice').textContent")
    assert advice == words(wd, "pop_or_imap"), advice
    fill_setup(wd, srv, email="bob@example.test", name="bob-pop", port=srv["pop3s_port"], user="bob")
    wd.click("#setup-submit")
    try:
        wd.wait("return document.querySelector('#setup') === null", timeout=40, what="the POP3 account")
    except AssertionError as err:
        raise AssertionError(f"{err}; the setup says: {wd.js('return document.querySelector(`#setup-error`)?.textContent')}")
    text = wd.wait("return document.querySelector('#pop3-notice-bob-pop')?.textContent", what="the POP3 notice")
    assert words(wd, "pop3_explained") in text, text
    assert wd.js("return document.querySelector('#pop3-notice-bob-pop .switch-imap') !== null")
    wd.wait(ROW_WITH, "Re: Lunch tomorrow?", timeout=30, what="bob's mail in the unified inbox")
    screenshot(env, "12-pop3-account.png")


@check("a wrong password shows the advice about the login, not a network message")
def t_wrong_password(env, wd):
    srv = env.server
    wd.click("#add-account-btn")
    wd.wait("return document.querySelector('#setup') !== null", what="the setup screen")
    fill_setup(wd, srv, email="bob@example.test", name="bob-wrong", port=srv["imaps_port"], user="bob",
               password="not-the-password")
    wd.click("#setup-submit")
    text = wd.wait("return document.querySelector('#setup-error').textContent", timeout=40, what="the setup error")
    assert text == words(wd, "auth_failed"), text
    assert words(wd, "network") not in text and words(wd, "connection_refused") not in text, text
    screenshot(env, "13-wrong-password.png")
    wd.click("#setup-cancel")
    assert not any(a["name"] == "bob-wrong" for a in wd.js("return window.__brevdue.accounts"))



def open_settings(wd, name):
    # A dialog a failed check left open would hide the sidebar.
    wd.js("document.querySelectorAll('#account-settings, #dialog').forEach(e => e.remove())")
    wd.click(f'.account-settings[data-account="{name}"]')
    return wd.wait(f"return document.querySelector('#account-settings[data-account=\"{name}\"]') !== null",
                   what=f"the settings of {name}")


def set_select(wd, css, value):
    wd.js("const s = document.querySelector(arguments[0]); s.value = arguments[1]; s.dispatchEvent(new Event('change'));",
          css, value)


def compose_and_send(wd, account, to, subject, body):
    wd.click("#compose-btn")
    wd.wait("return document.querySelector('#composer') !== null", what="the composer")
    set_select(wd, "#compose-account", account)
    wd.type("#compose-to", to)
    wd.type("#compose-subject", subject)
    wd.type("#compose-body", body)
    wd.click("#compose-send")
    wd.wait("return document.querySelector('#composer') === null", what="the composer to close")


def wait_imap(env, user, folder, subject, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        if subject in imap_subjects(env, user, folder):
            return
        time.sleep(0.5)
    raise AssertionError(f"{subject!r} never reached {user}'s {folder}")


@check("account settings: every button has a label, and dark mode restyles the window")
def t_settings_labels(env, wd):
    open_settings(wd, "alice")
    unlabelled = wd.js("""return [...document.querySelectorAll('button')]
        .filter(b => !(b.textContent.trim() || b.getAttribute('aria-label') || b.title)).map(b => b.outerHTML)""")
    assert unlabelled == [], unlabelled
    icons = wd.js("""return [...document.querySelectorAll('.account-settings, .new-folder')]
        .filter(b => !b.getAttribute('aria-label')).map(b => b.outerHTML)""")
    assert icons == [], icons
    # The style sheet follows the system's dark mode.
    dark = wd.js("""return [...document.styleSheets].some(s => [...s.cssRules].some(r =>
        r.media && r.media.mediaText.includes('prefers-color-scheme: dark')))""")
    assert dark, "no dark-mode rules"
    screenshot(env, "14-account-settings.png")
    wd.click("#acct-close")


@check("settings: choosing the Sent folder makes it the one the engine files sent copies in")
def t_sent_folder(env, wd):
    m = imap_login(env, "alice")
    try:
        m.create('"Outgoing copies"')
    finally:
        m.logout()
    wd.click("#sync-btn")
    wd.wait("return document.querySelector('.folder[data-account=\"alice\"][data-folder=\"Outgoing copies\"]') !== null",
            timeout=40, what="the new folder")
    open_settings(wd, "alice")
    assert wd.js("return document.querySelector('#acct-sent').value") != "Outgoing copies"
    set_select(wd, "#acct-sent", "Outgoing copies")
    wd.click("#acct-save")
    wd.wait("return document.querySelector('#account-settings') === null", timeout=30, what="the settings to close")
    wd.wait("return document.querySelector('.folder[data-account=\"alice\"][data-folder=\"Outgoing copies\"]')?.dataset.role === 'sent'",
            timeout=20, what="Outgoing copies to be the Sent folder")
    compose_and_send(wd, "alice", "bob@example.test", "Filed in Outgoing copies", "Where does the copy go?")
    wait_imap(env, "alice", "Outgoing copies", "Filed in Outgoing copies")


@check("settings: display name and SMTP (587 STARTTLS to 465 TLS) are changed, saved and used")
def t_settings_edit(env, wd):
    srv = env.server
    before = engine_account(wd, "alice")
    assert (before["smtp"]["port"], before["smtp"]["security"]) == (srv["smtp_port"], "starttls"), before["smtp"]
    open_settings(wd, "alice")
    assert wd.js("return document.querySelector('#acct-display').value") == "Alice Example"
    assert wd.js("return document.querySelector('#acct-smtp-port').value") == str(srv["smtp_port"])
    wd.type("#acct-display", "Alice Q. Example")
    wd.type("#acct-smtp-port", str(srv["smtps_port"]))
    set_select(wd, "#acct-smtp-security", "tls")
    wd.click("#acct-save")
    try:
        wd.wait("return document.querySelector('#account-settings') === null", timeout=40, what="the settings to be saved")
    except AssertionError as err:
        raise AssertionError(f"{err}; the settings say: {wd.js('return document.querySelector(`#acct-error`)?.textContent')}")
    acc = engine_account(wd, "alice")
    assert acc["identities"][0]["name"] == "Alice Q. Example", acc["identities"]
    assert (acc["smtp"]["port"], acc["smtp"]["security"]) == (srv["smtps_port"], "tls"), acc["smtp"]
    assert acc["server"] == before["server"], (acc["server"], before["server"])
    wd.wait("return window.__brevdue.accounts.find(a => a.name === 'alice').smtp.port === arguments[0]", srv["smtps_port"],
            what="the window to read the account again")
    # Sent over the new SMTP settings, from the new name.
    compose_and_send(wd, "alice", "bob@example.test", "Sent after the settings changed", "Over 465 now.")
    wait_imap(env, "bob", "INBOX", "Sent after the settings changed")
    m = imap_login(env, "bob")
    try:
        m.select("INBOX", readonly=True)
        _, data = m.search(None, 'SUBJECT "Sent after the settings changed"')
        _, msg = m.fetch(data[0].split()[-1], "(BODY.PEEK[HEADER.FIELDS (FROM)])")
        sender = msg[0][1].decode()
    finally:
        m.logout()
    assert "Alice Q. Example" in sender, sender


@check("setup from the address and password alone: discovery through the private provider, confirmed, added")
def t_discovery_setup(env, wd):
    assert env.provider, "tests/provider.py did not start"
    srv = env.server
    wd.js("document.querySelectorAll('#account-settings, #dialog').forEach(e => e.remove())")
    wd.click("#add-account-btn")
    wd.wait("return document.querySelector('#setup') !== null", what="the setup screen")
    # Nothing found: the advice, and the fields by hand.
    wd.type("#setup-address", "kari@nothing.test")
    wd.type("#setup-start-password", "secret")
    wd.click("#setup-continue")
    text = wd.wait("return !document.querySelector('#setup-manual').classList.contains('hidden') && document.querySelector('#setup-error').textContent",
                   timeout=60, what="the discovery error")
    assert text == words(wd, "discovery_found_nothing", "nothing.test"), text
    assert wd.js("return document.querySelector('#setup-email').value") == "kari@nothing.test"
    wd.click("#setup-back")
    # Found: what, where from, and the POP-or-IMAP advice; nothing is added before "Add account".
    wd.type("#setup-address", "bob@autoconf.test")
    wd.type("#setup-start-password", "secret")
    wd.click("#setup-continue")
    wd.wait("return !document.querySelector('#setup-found').classList.contains('hidden')", timeout=60, what="the settings found")
    assert wd.js("return document.querySelector('#found-source').dataset.source") == "provider_autoconfig"
    incoming = wd.js("return document.querySelector('#found-incoming').textContent")
    assert incoming.startswith("IMAP") and f"localhost:{srv['imaps_port']}" in incoming and "TLS" in incoming, incoming
    smtp = wd.js("return document.querySelector('#found-smtp').textContent")
    assert f"localhost:{srv['smtps_port']}" in smtp and "TLS" in smtp, smtp
    assert wd.js("return document.querySelector('#found-user').textContent") == "bob"
    assert wd.js("return document.querySelector('#found-advice').textContent") == words(wd, "pop_or_imap")
    assert wd.js("return document.querySelector('#found-imap').checked") is True
    assert engine_account(wd, "bob@autoconf.test") is None, "added before it was confirmed"
    screenshot(env, "15-discovery-found.png")
    wd.click("#found-confirm")
    try:
        wd.wait("return document.querySelector('#setup') === null", timeout=40, what="the account to be added")
    except AssertionError as err:
        raise AssertionError(f"{err}; the setup says: {wd.js('return document.querySelector(`#found-error`)?.textContent')}")
    acc = engine_account(wd, "bob@autoconf.test")
    assert acc and acc["protocol"] == "imap", acc
    assert (acc["server"]["host"], acc["server"]["port"], acc["server"]["security"]) == ("localhost", srv["imaps_port"], "tls"), acc["server"]
    assert (acc["smtp"]["host"], acc["smtp"]["port"], acc["smtp"]["security"]) == ("localhost", srv["smtps_port"], "tls"), acc["smtp"]
    wd.wait("return document.querySelector('.folder[data-account=\"bob@autoconf.test\"][data-role=\"inbox\"]') !== null",
            timeout=40, what="the new account's inbox")


@check("remove an account: after the confirmation it is gone, with its folders")
def t_remove(env, wd):
    name = "bob@autoconf.test"
    assert engine_account(wd, name), "no account to remove"
    open_settings(wd, name)
    wd.click("#acct-remove")
    wd.wait("return document.querySelector('#dialog') !== null", what="the confirmation")
    wd.click("#dialog-ok")
    wd.wait("return document.querySelector('#account-settings') === null", timeout=30, what="the settings to close")
    assert engine_account(wd, name) is None
    wd.wait(f"return !window.__brevdue.accounts.some(a => a.name === '{name}') && document.querySelector('.account-head[data-account=\"{name}\"]') === null",
            what="the account to leave the sidebar")
    wd.wait(f"return document.querySelector('.folder[data-account=\"{name}\"]') === null", what="its folders to go")
    assert engine_account(wd, "alice") and engine_account(wd, "bob-pop"), "another account went too"


@check("settings: a wrong new password is refused, the form stays filled and nothing changes")
def t_edit_wrong_password(env, wd):
    before = engine_account(wd, "alice")
    open_settings(wd, "alice")
    wd.type("#acct-display", "Not saved")
    wd.type("#acct-password", "not-the-password")
    wd.click("#acct-save")
    text = wd.wait("return document.querySelector('#acct-error')?.textContent", timeout=40, what="the refusal")
    assert text == words(wd, "auth_failed"), text
    assert wd.js("return document.querySelector('#account-settings') !== null"), "the form closed"
    assert wd.js("return document.querySelector('#acct-display').value") == "Not saved"
    assert wd.js("return document.querySelector('#acct-password').value") == "not-the-password"
    screenshot(env, "16-settings-refused.png")
    wd.click("#acct-close")
    assert engine_account(wd, "alice") == before, "the refused edit changed the account"
    # The old password still works.
    report = invoke(wd, "sync_now", {"account": "alice"})
    assert "ok" in report, report
    assert not any(a.get("problem") for a in report["ok"]["accounts"]), report


# ---------------------------------------------------------------- OAuth2 (their own server and app)

def oauth_env(env):
    """The OAuth2 mail server as an Env the IMAP helpers take."""
    o = Env()
    o.server = env.oauth_server
    return o


def browser_pages(env):
    try:
        with open(env.browser_log) as f:
            return [line.strip() for line in f if line.strip()]
    except FileNotFoundError:
        return []


def fill_oauth_setup(wd, env, user):
    """The fields by hand for `user` on the OAuth2 mail server, no password, and the
    harness's issuer with its client id."""
    srv = env.oauth_server
    fill_setup(wd, srv, email=f"{user}@example.test", name=user, port=srv["imaps_port"], user=user,
               password="", smtp_port=srv["smtps_port"])
    wd.type("#setup-oauth-issuer", srv["oauth"]["issuer"])
    wd.type("#setup-oauth-client", srv["oauth"]["client_id"])


@check("OAuth2 setup: the issuer fields, the browser's sign-in, the account syncs and sends with the token")
def t_oauth_setup(env, wd):
    oenv, issuer = oauth_env(env), env.oauth_server["oauth"]["issuer"]
    msg = email.message.EmailMessage()
    msg["From"] = "Dan <dan@example.test>"
    msg["To"] = "carol@example.test"
    msg["Subject"] = "Waiting for your token"
    msg["Date"] = email.utils.formatdate(localtime=True)
    msg.set_content("Read over XOAUTH2.")
    append(oenv, "carol", msg)
    wd.wait("return document.querySelector('#setup') !== null", what="the setup screen")
    # Half of the pair is not enough.
    open_manual(wd)
    wd.type("#setup-oauth-issuer", issuer)
    wd.click("#setup-submit")
    text = wd.wait("return document.querySelector('#setup-error').textContent", what="the half-filled issuer's error")
    assert text == STRINGS["en"]["setup_oauth_both"], text
    fill_oauth_setup(wd, env, "carol")
    screenshot(env, "17-oauth-manual.png")
    wd.click("#setup-submit")
    try:
        wd.wait("return document.querySelector('#setup') === null", timeout=40, what="the account to be added")
    except AssertionError as err:
        raise AssertionError(f"{err}; the setup says: {wd.js('return document.querySelector(`#setup-error`)?.textContent')}")
    pages = browser_pages(env)
    assert len(pages) == 1 and pages[0].startswith(issuer + "/authorize?"), pages
    assert "code_challenge=" in pages[0] and "redirect_uri=http%3A%2F%2F127.0.0.1%3A" in pages[0], pages[0]
    acc = engine_account(wd, "carol")
    assert acc and acc["oauth"] and acc["oauth"]["tokenUrl"].startswith(issuer), acc
    assert acc["oauth"]["mechanism"] == "xoauth2" and acc["oauth"]["clientId"] == "brevdue", acc["oauth"]
    # The first sync (IMAP takes the token), then a message out (SMTP takes it too).
    wd.wait(ROW_WITH, "Waiting for your token", timeout=40, what="carol's mail")
    compose_and_send(wd, "carol", "dan@example.test", "Sent with a token", "Over XOAUTH2.")
    wait_imap(oenv, "dan", "INBOX", "Sent with a token")


@check("OAuth2 account settings: \"Signs in with\" instead of a password, and \"Sign in again\" works")
def t_oauth_sign_in_again(env, wd):
    acc = engine_account(wd, "carol")
    assert acc and acc["oauth"], "no OAuth2 account"
    open_settings(wd, "carol")
    assert wd.js("return document.querySelector('#acct-password') === null"), "a password field for an OAuth2 account"
    name = wd.js("return document.querySelector('#acct-oauth-name').textContent")
    assert name == STRINGS["en"]["settings_oauth"].replace("{name}", acc["oauth"]["name"]), name
    label = wd.js("return document.querySelector('#acct-oauth .sign-in-again').textContent")
    assert label == STRINGS["en"]["oauth_sign_in_again"], label
    screenshot(env, "18-oauth-settings.png")
    before = len(browser_pages(env))
    wd.click("#acct-oauth .sign-in-again")
    expected = STRINGS["en"]["oauth_signed_in_again"].replace("{name}", "carol")
    try:
        wd.wait("return document.querySelector('#acct-oauth-note').textContent === arguments[0]", expected,
                timeout=40, what="the new sign-in")
    except AssertionError as err:
        raise AssertionError(f"{err}; the settings say: {wd.js('return document.querySelector(`#acct-error`)?.textContent')}")
    assert len(browser_pages(env)) == before + 1, browser_pages(env)
    wd.click("#acct-close")
    after = engine_account(wd, "carol")
    assert after["oauth"] == acc["oauth"] and after["server"] == acc["server"], (after, acc)
    # The new tokens work: a sync without problems, and a message out.
    report = invoke(wd, "sync_now", {"account": "carol"})
    assert "ok" in report and not any(a.get("problem") for a in report["ok"]["accounts"]), report
    compose_and_send(wd, "carol", "dan@example.test", "Sent after signing in again", "Fresh tokens.")
    wait_imap(oauth_env(env), "dan", "INBOX", "Sent after signing in again")


@check("OAuth2 sign-in cancelled while the browser is open: nothing is saved, the oauth_cancelled advice is shown")
def t_oauth_cancel(env, wd):
    open(env.browser_hold, "w").close()
    try:
        wd.js("document.querySelectorAll('#account-settings, #dialog, #setup').forEach(e => e.remove())")
        wd.click("#add-account-btn")
        wd.wait("return document.querySelector('#setup') !== null", what="the setup screen")
        fill_oauth_setup(wd, env, "dan")
        before = len(browser_pages(env))
        wd.click("#setup-submit")
        text = wd.wait("return document.querySelector('#oauth-waiting')?.textContent", timeout=20, what="the waiting for the browser")
        assert STRINGS["en"]["oauth_waiting"].split("{name}")[0] in text, text
        screenshot(env, "19-oauth-waiting.png")
        end = time.time() + 10
        while len(browser_pages(env)) == before and time.time() < end:
            time.sleep(0.2)
        assert len(browser_pages(env)) == before + 1, "no page was opened in the browser"
        wd.click("#oauth-cancel")
        text = wd.wait("return document.querySelector('#oauth-waiting') === null && document.querySelector('#setup-error').textContent",
                       timeout=20, what="the cancelled sign-in's advice")
        assert text == words(wd, "oauth_cancelled"), text
        assert engine_account(wd, "dan") is None, "a cancelled sign-in saved an account"
        assert wd.js("return document.querySelector('#setup-oauth-issuer').value") == env.oauth_server["oauth"]["issuer"], "the form was emptied"
        wd.click("#setup-cancel")
    finally:
        os.remove(env.browser_hold)


# ---------------------------------------------------------------- the run

def start_driver(env, extra_env):
    port = free_port()
    native = free_port()
    proc = subprocess.Popen(["tauri-driver", "--port", str(port), "--native-port", str(native)],
                            env={**os.environ, **extra_env, "DISPLAY": env.display, "WEBKIT_DISABLE_DMABUF_RENDERER": "1"},
                            stdout=env.driver_log, stderr=subprocess.STDOUT, start_new_session=True)
    wait_port(port)
    return proc, WebDriver(port)


def stop(proc, group=False):
    """Stops a process we started; with `group`, also its children (tauri-driver's
    WebKitWebDriver and the app), which live in its own process group."""
    if not proc:
        return
    try:
        if group:
            os.killpg(proc.pid, 15)
        elif proc.poll() is None:
            proc.terminate()
        proc.wait(10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, 9) if group else proc.kill()
        except ProcessLookupError:
            pass
    time.sleep(1 if group else 0)


def open_app(env, extra_env):
    """tauri-driver plus a session with the app started; tried again if WebKitWebDriver
    does not come up (it sometimes fails right after a previous session ended)."""
    for attempt in range(3):
        driver, wd = start_driver(env, extra_env)
        try:
            wd.start(env.app)
            wd.wait("return document.body.dataset.ready === '1'", timeout=60, what="the app to start")
            return driver, wd
        except Exception as err:  # noqa: BLE001
            log(f"     the app did not start (attempt {attempt + 1}): {err}")
            wd.quit()
            stop(driver, group=True)
            time.sleep(2)
    raise RuntimeError("the app never started under tauri-driver")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--app", required=True)
    ap.add_argument("--cli", required=True)
    ap.add_argument("--screenshots", default=os.path.join(HERE, "..", "screenshots"))
    args = ap.parse_args()
    env = Env()
    env.app, env.cli = os.path.abspath(args.app), os.path.abspath(args.cli)
    env.shots = os.path.abspath(args.screenshots)
    os.makedirs(env.shots, exist_ok=True)
    for old in os.listdir(env.shots):
        if old.endswith(".png"):
            os.remove(os.path.join(env.shots, old))
    work = tempfile.mkdtemp(prefix="brevdue-e2e-")
    env.driver_log = open(os.path.join(work, "tauri-driver.log"), "w")
    procs = []
    xvfb_proc = [None]
    try:
        # The private mail server.
        server = subprocess.Popen(["/usr/bin/python3", os.path.join(ROOT, "tests", "mailserver.py"), "serve",
                                   "--users", "alice:secret,bob:secret", "--demo-mailbox", "alice"],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        procs.append(server)
        # The OAuth2 tests' own mail server with the OAuth2 server (its JVM takes ~5 s to
        # start: begun now, read when those tests come).
        oauth_server = subprocess.Popen(["/usr/bin/python3", os.path.join(ROOT, "tests", "mailserver.py"), "serve",
                                         "--oauth", "--users", "carol:secret,dan:secret"],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        procs.append(oauth_server)
        env.server = json.loads(server.stdout.readline())
        # The private provider in front of it (autoconfig over HTTPS, DNS): discovery's
        # test hooks point the engine at it.
        env.provider = None
        try:
            provider = subprocess.Popen(["/usr/bin/python3", os.path.join(ROOT, "tests", "provider.py"), "serve",
                                         "--mail-server", env.server["state_dir"]],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            procs.append(provider)
            env.provider = json.loads(provider.stdout.readline())
        except Exception:  # noqa: BLE001
            traceback.print_exc(file=sys.stdout)
        discovery_env = {} if not env.provider else {
            "BREVDUE_TEST_DNS": env.provider["dns"], "BREVDUE_TEST_HTTPS_PORT": str(env.provider["https_port"]),
            "BREVDUE_TEST_ISPDB": env.provider["ispdb_url"], "BREVDUE_TEST_GUESS_PORTS": env.provider["guess_ports"],
            "BREVDUE_TEST_CA_FILE": env.server["ca_file"]}
        # The loopback server hostile mail points at.
        leak_port = free_port()
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", leak_port), Leak)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        smtp_send(env, "bob", "alice", "Lunch tomorrow?", "Shall we try the new place at 12:30?")
        append(env, "alice", hostile_mail(leak_port))
        append(env, "alice", reply_to_mail())
        append(env, "alice", attachment_mail())
        # A real X display.
        env.display = ":%d" % (90 + os.getpid() % 9)
        xvfb = subprocess.Popen(["Xvfb", env.display, "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(xvfb)
        xvfb_proc[0] = xvfb
        time.sleep(1)

        # 1. No keychain (no session bus at all): the UI says so.
        data1 = os.path.join(work, "data-nokeychain")
        for attempt in range(2):
            # Norwegian system language: the advice comes in Bokmål.
            driver, wd = open_app(env, {"BREVDUE_DATA_DIR": data1, "DBUS_SESSION_BUS_ADDRESS": "unix:path=/nonexistent",
                                        "LANGUAGE": "nb_NO", "LANG": "nb_NO.UTF-8", "LC_ALL": "nb_NO.UTF-8"})
            again = False
            try:
                t_no_keychain(env, wd)
                again = not RESULTS[-1][1] and attempt == 0
                if again:
                    RESULTS.pop()
                else:
                    t_bokmal(env, wd)
            finally:
                wd.quit()
                stop(driver, group=True)
            if not again:
                break
            log("     WebKitWebDriver went away: once more")

        # 2. Everything else, with passwords in memory (test-only opt-in).
        data2 = os.path.join(work, "data")
        env.save_dir = os.path.join(work, "saved", "here")
        os.makedirs(env.save_dir)
        driver, wd = open_app(env, {"BREVDUE_DATA_DIR": data2, "BREVDUE_INSECURE_TEST_PASSWORDS": "1",
                                    "BREVDUE_TEST_SAVE_DIR": env.save_dir,
                                    "DBUS_SESSION_BUS_ADDRESS": "unix:path=/nonexistent", **discovery_env})
        procs.append(driver)
        # A failing login comes last: Dovecot slows later logins from the same address.
        for test in (t_add_account, t_inbox, t_open, t_reply, t_keys, t_reply_to, t_bad_addresses, t_sync_now,
                     t_create_folder, t_drag, t_rename_delete, t_search, t_hostile, t_remote_kept, t_attachment, t_paging, t_cross_device, t_notification,
                     t_changes, t_pop3, t_settings_labels, t_sent_folder, t_settings_edit, t_discovery_setup, t_remove,
                     t_edit_wrong_password, t_wrong_password):
            test(env, wd)
        wd.quit()
        stop(driver, group=True)
        procs.remove(driver)

        # 3. OAuth2: the harness's OAuth2 server, and the browser the tests' stand-in.
        env.oauth_server = json.loads(oauth_server.stdout.readline())
        assert env.oauth_server.get("oauth"), "mailserver.py serve --oauth gave no OAuth2 server"
        env.browser_log = os.path.join(work, "browser.log")
        env.browser_hold = os.path.join(work, "browser-hold")
        driver, wd = open_app(env, {"BREVDUE_DATA_DIR": os.path.join(work, "data-oauth"),
                                    "BREVDUE_INSECURE_TEST_PASSWORDS": "1",
                                    "DBUS_SESSION_BUS_ADDRESS": "unix:path=/nonexistent",
                                    "BROWSER": os.path.join(HERE, "browser.sh"), "BREVDUE_FAKE_BROWSER_USER": "carol",
                                    "BREVDUE_E2E_BROWSER_LOG": env.browser_log,
                                    "BREVDUE_E2E_BROWSER_HOLD": env.browser_hold})
        procs.append(driver)
        for test in (t_oauth_setup, t_oauth_sign_in_again, t_oauth_cancel):
            test(env, wd)
        wd.quit()
    except Exception:  # noqa: BLE001
        traceback.print_exc(file=sys.stdout)
        RESULTS.append(("the harness", False))
    finally:
        for p in reversed(procs):
            if p.stdin is not None:
                # The mail server and the provider end when their stdin does.
                try:
                    p.stdin.close()
                    p.wait(20)
                except Exception:  # noqa: BLE001
                    p.kill()
            else:
                stop(p, group=p is not xvfb_proc[0])
        env.driver_log.close()
    passed = sum(1 for _, ok in RESULTS if ok)
    failed = len(RESULTS) - passed
    if failed:
        with open(os.path.join(work, "tauri-driver.log"), errors="replace") as f:
            lines = f.readlines()
        log("---- last lines of tauri-driver and the app's output ----")
        log("".join(lines[-40:]).rstrip())
    shutil.rmtree(work, ignore_errors=True)
    log(f"screenshots in {env.shots}: {', '.join(sorted(os.listdir(env.shots)))}")
    print(f"e2e: {passed} passed, {failed} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
