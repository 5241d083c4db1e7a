#!/usr/bin/python3
"""Private mail server for Brevdue's integration tests.

Runs a throw-away Dovecot 2.3 (IMAP, POP3, LMTP) plus an aiosmtpd SMTP relay
that delivers through Dovecot's LMTP socket, all on 127.0.0.1 with free ports.
Needs Debian's dovecot-imapd, dovecot-pop3d, dovecot-lmtpd, python3-aiosmtpd
and openssl; run it with /usr/bin/python3 (aiosmtpd is only importable there).

    mailserver.py serve [--state-dir DIR] [--users alice:secret,bob:secret]
                        [--demo-mailbox USER[,USER]] [--ignore-stdin]
                        [--implementation dovecot|greenmail]
                        [--namespace default|inbox-dot] [--metadata] [--oauth]
        Starts everything and prints ONE line of JSON on stdout:
          host, imap_port, imaps_port, pop3_port, pop3s_port, smtp_port,
          smtps_port, ca_file, state_dir, passwd_file, maildir_root,
          lmtp_socket, log_file, users ({name: password}),
          implementation, namespace ({prefix, separator}: the personal
          namespace), features (the harness's policies, see FEATURES),
          oauth (null, or with --oauth {issuer, short_issuer, client_id})
        The same data is written to DIR/server.json. The server runs until
        stdin reaches EOF (unless --ignore-stdin) or it gets SIGTERM/SIGINT,
        then stops Dovecot and removes the state dir if it created it.
    mailserver.py add-user --state-dir DIR NAME PASSWORD [--without FOLDER]...
        Adds a mail user; Dovecot sees it immediately. --without Sent: the user
        gets no Sent folder (a server that makes none).
    --demo-mailbox fills those users' mailboxes with tests/demo_mail.py's realistic
    mail (with its flags) before the JSON line is printed.
    mailserver.py stop --state-dir DIR
        Stops the server started with that state dir and waits for it to exit.

Users' addresses are <name>@example.test. ca_file is a self-signed end-entity
certificate for localhost/127.0.0.1; trust it as the only extra root.
IMAP/POP3 offer STARTTLS/STLS on the plain ports and implicit TLS on imaps/pop3s.
SMTP offers STARTTLS and AUTH PLAIN/LOGIN (also without TLS); MAIL FROM needs
AUTH (530), recipients other than <user>@example.test get 550, and accepted
mail goes to each recipient's INBOX over LMTP. smtps_port is SMTP over TLS.

Set-ups (the default is exactly the one described above):
  --namespace inbox-dot  Courier/Cyrus style: the personal namespace is
      `INBOX.` with `.` as separator (INBOX.Sent, INBOX.Work.2026); a name
      outside it (`CREATE Receipts`) or with `/` is refused. Maildirs in
      LAYOUT=fs, so a folder deleted while it has children stays as a
      \\Noselect parent (Maildir++ lists it without that flag).
  --metadata  IMAP METADATA (RFC 5464), stored per user in the home directory.
  --oauth  (Dovecot only) also a real OAuth2 server, navikt's mock-oauth2-server
      6.0.2 (Java, from Maven Central through tests/oauth/pom.xml, its jars cached in
      ~/.cache/brevdue/mock-oauth2-server-6.0.2/lib), on plain HTTP at 127.0.0.1.
      Two issuers: `issuer` (http://127.0.0.1:PORT/default, access tokens live an
      hour) and `short_issuer` (.../short, 5 s); each has /authorize (a login form:
      POST it with username=U and the redirect carries the code; U becomes the
      tokens' sub), /token (authorization code with or without PKCE, refresh),
      /revoke (refresh tokens), /introspect, /jwks. Tokens are RS256 JWTs with
      azp = client_id (`brevdue`; the mock takes any client id and secret).
      Dovecot then also offers AUTHENTICATE XOAUTH2 and OAUTHBEARER (IMAP) and
      AUTH XOAUTH2 / OAUTHBEARER (POP3) for such tokens, validated locally (the
      issuers' keys, iss, exp strictly; sub must be the user), besides passwords.
      The SMTP relay adds AUTH XOAUTH2 as Gmail has it (initial response
      base64("user=U\x01auth=Bearer T\x01\x01")), checked through the issuer's
      introspection plus exp strictly and sub == U; a refusal is
      `535 5.7.8 Username and Password not accepted`, with no 334 challenge.
      Startup takes about 2 s more (the JVM).
  --implementation greenmail  GreenMail 2.1.8 (Java, from Maven
      Central through tests/greenmail/pom.xml, cached in ~/.m2) instead of
      Dovecot and the relay: IMAP, POP3 and SMTP with and without implicit TLS
      (the harness's certificate through a PKCS#12 keystore), no STARTTLS/STLS,
      no NAMESPACE, separator `.`, no SPECIAL-USE (so each user gets Drafts,
      Sent, Trash, Junk and Archive created over IMAP), an in-memory store
      (no maildir, passwd file or LMTP socket: those keys are null), users
      made through its REST API. Its SMTP accepts mail without AUTH and for
      any recipient (it creates unknown ones). 127.0.0.2 reaches it through
      a relay of the harness.

Dovecot's auth penalty (2-15 s delay for logins after a failed one) and the
failure delay are switched off, so tests can try wrong passwords cheaply (a
failed login is still answered after up to 0.5 s).
As root, mailboxes belong to nobody; otherwise everything runs as the caller.
"""
import argparse
import asyncio
import base64
import binascii
import contextlib
import ctypes
import fcntl
import grp
import json
import logging
import os
import pwd
import re
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

HOST = "127.0.0.1"
# Dovecot also listens here: a name the certificate does not cover, for wrong-host tests.
ALT_HOST = "127.0.0.2"
DOMAIN = "example.test"
DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
PORTS = ("imap", "imaps", "pop3", "pop3s", "smtp", "smtps")
# The personal namespace of each --namespace: (prefix, separator).
NAMESPACES = {"default": ("", "/"), "inbox-dot": ("INBOX.", ".")}
SPECIAL_USE = ("Drafts", "Sent", "Trash", "Junk", "Archive")
# Policies of the harness that no CAPABILITY tells, by implementation:
#   smtp-auth-required: MAIL FROM before AUTH gets 530
#   smtp-rejects-unknown-recipients: RCPT TO other than <user>@example.test gets 550
#   keeps-8bit-headers: raw UTF-8 header bytes come back unchanged in FETCH
#       BODY[HEADER.FIELDS ...] (GreenMail turns them into ISO-8859-1 with '?' and,
#       for characters beyond the BMP, announces a literal one byte too long)
#   idle-reports-flag-changes: a client in IDLE hears at once of flags another session
#       set (GreenMail pushes EXISTS and EXPUNGE only; flag changes wait for the client's
#       next command, e.g. the next IDLE, where they come before the continuation)
FEATURES = {
    "dovecot": ["smtp-auth-required", "smtp-rejects-unknown-recipients", "keeps-8bit-headers",
                "idle-reports-flag-changes"],
    "greenmail": [],
}
GREENMAIL_VERSION = "2.1.8"
GREENMAIL_NAMESPACE = ("", ".")
GREENMAIL_POM = os.path.join(os.path.dirname(os.path.abspath(__file__)), "greenmail", "pom.xml")
KEYSTORE_PASSWORD = "changeit"
MOCK_OAUTH2_VERSION = "6.0.2"
MOCK_OAUTH2_POM = os.path.join(os.path.dirname(os.path.abspath(__file__)), "oauth", "pom.xml")
MOCK_OAUTH2_MAIN = "no.nav.security.mock.oauth2.StandaloneMockOAuth2ServerKt"
# The mock's issuers (the first segment of their URLs) and their access tokens' lifetime (s).
OAUTH_ISSUERS = {"default": 3600, "short": 5}
OAUTH_CLIENT_ID = "brevdue"
OAUTH_CLIENT_SECRET = "x"  # the mock's introspection wants client authentication, any secret


def log(msg):
    print(f"mailserver: {msg}", file=sys.stderr, flush=True)


def free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind((HOST, 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def mail_ids():
    """uid/gid owning mailboxes: nobody when root, else ourselves."""
    if os.geteuid() == 0:
        pw = pwd.getpwnam("nobody")
        return pw.pw_uid, pw.pw_gid
    return os.getuid(), os.getgid()


# The private provider's domains (tests/provider.py): the certificate covers each and its
# subdomains, so discovery's HTTPS and guessed servers verify. badcert.test is left out.
PROVIDER_DOMAINS = ("autoconf.test", "wellknown.test", "ispdb.test", "listed.test",
                    "mailhost.test", "mxhosted.test", "srvonly.test", "guessable.test",
                    "malformed.test", "huge.test", "redirect.test", "elsewhere.test",
                    "plaintext.test", "unreachable.test", "nothing.test")
PROVIDER_NAMES = ",".join(f"DNS:{d},DNS:*.{d}" for d in PROVIDER_DOMAINS)


def make_cert(state):
    cnf, cert, key = (os.path.join(state, f) for f in ("cert.cnf", "cert.pem", "key.pem"))
    with open(cnf, "w") as f:
        f.write("[req]\ndistinguished_name = dn\nx509_extensions = ext\nprompt = no\n"
                "[dn]\nCN = localhost\n"
                "[ext]\nbasicConstraints = critical,CA:FALSE\n"
                "extendedKeyUsage = serverAuth\n"
                f"subjectAltName = DNS:localhost,IP:127.0.0.1,{PROVIDER_NAMES}\n"
                "subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid:always\n")
    subprocess.run(["openssl", "req", "-x509", "-config", cnf, "-newkey", "ec",
                    "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "30",
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    return cert, key


def read_users(passwd_file):
    users = {}
    with open(passwd_file) as f:
        for line in f:
            name, _, rest = line.partition(":")
            if rest.startswith("{PLAIN}"):
                users[name] = rest[len("{PLAIN}"):].split(":", 1)[0]
    return users


def add_user_line(state, uid, gid, name, password, without=()):
    """Append NAME to <state>/passwd and write <state>/users/NAME.

    `without`: special folders (of SPECIAL_USE) this user does not get, as on a server
    that makes none (a userdb override of the mailbox's `auto`).

    Dovecot re-reads a changed passwd-file at most once per second, so a user
    appended to `passwd` may be unknown for up to 1 s. The per-user file is
    opened on the first lookup of that name, which makes new users usable at once.
    """
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name) or re.search(r"[:\n]", password):
        raise SystemExit(f"mailserver: invalid user name or password: {name!r}")
    home = os.path.join(state, "home", name)
    extra = " ".join(f"userdb_namespace/inbox/mailbox/{m}/auto=no" for m in without)
    line = f"{name}:{{PLAIN}}{password}:{uid}:{gid}::{home}::{extra}\n"
    passwd = os.path.join(state, "passwd")
    with open(passwd, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        if name in read_users(passwd):
            raise SystemExit(f"mailserver: user {name!r} already exists")
        os.makedirs(home, mode=0o700, exist_ok=True)
        os.chown(home, uid, gid)
        with open(os.path.join(state, "users", name), "w") as u:
            os.fchmod(u.fileno(), 0o644)  # the auth process runs as the dovecot user
            u.write(line)
        f.write(line)


def mailbox_name(name, namespace):
    """The server's name of the folder users see as `name` (`/` between levels), in a
    namespace (prefix, separator)."""
    prefix, separator = namespace
    return name if name.upper() == "INBOX" else prefix + name.replace("/", separator)


def dovecot_conf(state, ports, cert, key, uid, gid, namespace="default", metadata=False,
                 oauth=None):
    """`oauth`: None, or the path of the oauth2 passdb's settings (oauth2_conf())."""
    mailboxes = "".join(f"  mailbox {m} {{\n    special_use = \\{m}\n    auto = subscribe\n  }}\n"
                        for m in SPECIAL_USE)
    prefix, separator = NAMESPACES[namespace]
    # Mailbox sections are named without the prefix.
    ns = f"  inbox = yes\n  separator = {separator}\n"
    if prefix:
        ns = (f"  inbox = yes\n  prefix = {prefix}\n  separator = {separator}\n"
              "  list = yes\n  subscriptions = yes\n")
    # Maildir++ (the default layout) lists a parent deleted while it has children as
    # `\HasChildren` although it no longer exists; LAYOUT=fs keeps its directory and lists
    # it as `\Noselect \HasChildren`, as Cyrus-style servers do.
    layout = ":LAYOUT=fs" if prefix else ""
    attributes = "mail_attribute_dict = file:%h/dovecot-attributes\n" if metadata else ""
    imap_metadata = "  imap_metadata = yes\n" if metadata else ""
    # users/<name> first: see add_user_line()
    mechanisms = "plain login" + (" xoauth2 oauthbearer" if oauth else "")
    # With OAuth2 the passwd-file passdbs take passwords only, and the bearer tokens go
    # to the oauth2 passdb alone; the userdbs serve both.
    password_only = "  mechanisms = plain login\n" if oauth else ""
    dbs = "".join(f"{db} {{\n  driver = passwd-file\n  args = {scheme}username_format=%n {path}\n"
                  f"{only}}}\n"
                  for db, scheme, only in (("passdb", "scheme=PLAIN ", password_only),
                                           ("userdb", "", ""))
                  for path in (os.path.join(state, "users", "%n"), os.path.join(state, "passwd")))
    if oauth:
        dbs = (f"passdb {{\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n"
               f"  args = {oauth}\n}}\n") + dbs
    extra, chroot = "", ""
    if os.geteuid() != 0:  # unprivileged: run every service as ourselves, without chroot
        me, group = pwd.getpwuid(os.getuid()).pw_name, grp.getgrgid(os.getgid()).gr_name
        extra = (f"default_login_user = {me}\ndefault_internal_user = {me}\n"
                 f"default_internal_group = {group}\nservice anvil {{\n  chroot =\n}}\n")
        chroot = "  chroot =\n"

    def login_service(proto, plain, implicit):
        return (f"service {proto}-login {{\n{chroot}"
                f"  inet_listener {plain} {{\n    port = {ports[plain]}\n  }}\n"
                f"  inet_listener {implicit} {{\n    port = {ports[implicit]}\n    ssl = yes\n  }}\n}}\n")

    return f"""# Generated by tests/mailserver.py
base_dir = {state}/run
state_dir = {state}/lib
log_path = {state}/dovecot.log
protocols = imap pop3 lmtp
listen = {HOST}, {ALT_HOST}
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
ssl_dh = </usr/share/dovecot/dh.pem
disable_plaintext_auth = no
auth_mechanisms = {mechanisms}
auth_failure_delay = 0
auth_verbose = yes
first_valid_uid = {uid}
first_valid_gid = {gid}
mail_location = maildir:~/Maildir{layout}
mail_fsync = never
mail_max_userip_connections = 100
pop3_uidl_format = %08Xu%08Xv
{attributes}{extra}{dbs}namespace inbox {{
{ns}{mailboxes}}}
protocol imap {{
  mail_plugins = $mail_plugins imap_zlib
{imap_metadata}}}
{login_service("imap", "imap", "imaps")}{login_service("pop3", "pop3", "pop3s")}service lmtp {{
  unix_listener lmtp {{
    mode = 0666
  }}
}}
"""


class Relay:
    """aiosmtpd handler: AUTH against the passwd file, deliver over LMTP."""

    def __init__(self, passwd_file, lmtp_socket):
        self.passwd_file, self.lmtp_socket = passwd_file, lmtp_socket

    def authenticator(self, server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult, LoginPassword
        ok = (isinstance(auth_data, LoginPassword) and
              read_users(self.passwd_file).get(auth_data.login.decode(errors="replace"))
              == auth_data.password.decode(errors="replace"))
        # handled=False: let aiosmtpd send the 535 reply on failure
        return AuthResult(success=ok, handled=False, auth_data=auth_data)

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local, _, domain = address.rpartition("@")
        if domain.lower() != DOMAIN or local not in read_users(self.passwd_file):
            return f"550 5.1.1 <{address}>: user unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(None, self.deliver, envelope)
        except (smtplib.SMTPException, OSError) as e:
            log(f"LMTP delivery failed: {e!r}")
            return f"451 4.3.0 local delivery failed: {e}"
        return "250 OK delivered"

    def deliver(self, envelope):
        body = [o for o in envelope.mail_options if o.upper().startswith("BODY=")]
        with smtplib.LMTP(self.lmtp_socket) as lmtp:
            for rcpt in envelope.rcpt_tos:  # one at a time: smtplib can't read per-rcpt replies
                lmtp.sendmail(envelope.mail_from, [rcpt], envelope.original_content, body)


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class OAuthRelay(Relay):
    """The relay with Gmail's AUTH XOAUTH2 besides PLAIN and LOGIN.

    The client sends base64("user=U\\x01auth=Bearer T\\x01\\x01"), as an initial response
    or after an empty 334. T must be an access token of one of the mock's issuers (its
    `iss`) that the issuer's introspection calls active, whose `exp` has not passed (the
    mock's introspection is 60 s lenient) and whose `sub` is U. Anything else gets 535,
    without Gmail's 334 error challenge.
    """
    REFUSED = "535 5.7.8 Username and Password not accepted"

    def __init__(self, passwd_file, lmtp_socket, issuers):
        super().__init__(passwd_file, lmtp_socket)
        self.issuers = issuers

    async def auth_XOAUTH2(self, server, args):
        from aiosmtpd.smtp import MISSING, AuthResult, LoginPassword
        if len(args) == 1:
            blob = await server.challenge_auth("", encode_to_b64=False)
            if blob is MISSING:  # challenge_auth has answered (501)
                return AuthResult(success=False, handled=True)
        else:
            try:
                blob = base64.b64decode(args[1], validate=True)
            except binascii.Error:
                await server.push("501 5.5.2 Can't decode base64")
                return AuthResult(success=False, handled=True)
        fields = dict(f.partition(b"=")[::2] for f in blob.split(b"\x01") if f)
        user = fields.get(b"user", b"").decode(errors="replace")
        scheme, _, token = fields.get(b"auth", b"").decode(errors="replace").partition(" ")
        ok = False
        if user and scheme.lower() == "bearer":  # the introspection blocks: not in the loop
            ok = await asyncio.get_running_loop().run_in_executor(
                None, self.token_valid, user, token)
        return AuthResult(success=ok, handled=False, message=None if ok else self.REFUSED,
                          auth_data=LoginPassword(user.encode(), b""))

    def token_valid(self, user, token):
        try:
            claims = json.loads(b64url_decode(token.split(".")[1]))
        except (IndexError, ValueError):
            return False
        if not isinstance(claims, dict) or claims.get("iss") not in self.issuers:
            return False
        basic = base64.b64encode(f"{OAUTH_CLIENT_ID}:{OAUTH_CLIENT_SECRET}".encode()).decode()
        request = urllib.request.Request(
            f"{claims['iss']}/introspect", data=urllib.parse.urlencode({"token": token}).encode(),
            headers={"Authorization": f"Basic {basic}"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                answer = json.load(response)
        except (OSError, ValueError) as e:
            log(f"introspection failed: {e!r}")
            return False
        exp = answer.get("exp")
        return (answer.get("active") is True and answer.get("sub") == user
                and claims.get("sub") == user and isinstance(exp, (int, float))
                and time.time() < exp)


def oauth_smtp_controller():
    """An aiosmtpd Controller whose SMTP takes an AUTH line as long as RFC 4954 allows (a
    bearer token does not fit aiosmtpd's 512), mail lines still limited to RFC 5321's."""
    import collections
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import SMTP

    class OAuthSMTP(SMTP):
        line_length_limit = 12288  # the size of the reader's buffer, fixed at construction

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.line_length_limit = SMTP.line_length_limit  # what DATA's lines are held to
            self.command_size_limits = collections.defaultdict(
                lambda: SMTP.command_size_limit, AUTH=12288)

    class OAuthController(Controller):
        def factory(self):
            return OAuthSMTP(self.handler, **self.SMTP_kwargs)

    return OAuthController


def wait_for_dovecot(run_dir, port, proc, timeout=10.0):
    """Wait for the IMAP greeting, first disabling Dovecot's auth penalty.

    After a failed login Dovecot 2.3 delays the next logins from the same IP
    by 2-15 s (login_trusted_networks no longer exempts anyone). The auth
    process skips penalties if anvil-auth-penalty is missing when it starts,
    so remove that socket before the first login starts the auth process.
    """
    deadline = time.monotonic() + timeout
    penalty_socket = os.path.join(run_dir, "anvil-auth-penalty")
    while not os.path.exists(penalty_socket):
        if time.monotonic() > deadline or proc.poll() is not None:
            return False
        time.sleep(0.02)
    os.unlink(penalty_socket)
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with socket.create_connection((HOST, port), timeout=1) as s:
                if s.recv(100).startswith(b"* OK"):
                    return True
        except OSError:
            time.sleep(0.05)
    return False


def stop_dovecot(proc):
    """Stop Dovecot's master (our child, thanks to -F) and its whole process group.

    SIGTERM goes to the master, SIGKILL after 5 s. The master does not wait for
    all of its children (log, stats, imap sessions can linger for seconds), so
    then the rest of the group gets SIGTERM and, after 1 s, SIGKILL. We are a
    child subreaper, so those orphans become our children and we reap them.
    """
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    start = time.monotonic()
    while time.monotonic() - start < 5:
        try:
            os.killpg(proc.pid, signal.SIGTERM if time.monotonic() - start < 1 else signal.SIGKILL)
        except ProcessLookupError:
            return
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-proc.pid, os.WNOHANG)[0]:
                pass
        time.sleep(0.02)


LIBC = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG, PR_SET_CHILD_SUBREAPER = 1, 36


def die_with_parent():
    """preexec_fn: SIGTERM Dovecot's master if this process dies, even by SIGKILL."""
    LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def pid_alive(pidfile):
    try:
        with open(pidfile) as f:
            os.kill(int(f.read()), 0)
        return True
    except (OSError, ValueError):
        return False


def start_dovecot(args, state, cert, key, users, mock=None):
    """Dovecot and the SMTP relay; returns (dovecot's process, relay controllers, info).

    `mock`: a MockOAuth2 (started, perhaps not yet answering) whose tokens Dovecot and the
    relay then accept too."""
    from aiosmtpd.controller import Controller
    # aiosmtpd itself logs a deprecation warning about Session.login_data on every AUTH
    logging.getLogger("mail.log").addFilter(lambda r: "login_data" not in r.getMessage())
    run_dir = os.path.join(state, "run")
    users_dir, home_root = os.path.join(state, "users"), os.path.join(state, "home")
    uid, gid = mail_ids()
    passwd = os.path.join(state, "passwd")
    os.makedirs(home_root, exist_ok=True)
    os.chown(home_root, uid, gid)  # Dovecot creates missing homes as the user
    os.chmod(home_root, 0o755)
    open(passwd, "w").close()
    os.chmod(passwd, 0o644)  # the auth process runs as the dovecot user
    shutil.rmtree(users_dir, ignore_errors=True)
    os.makedirs(users_dir)
    os.chmod(users_dir, 0o755)
    for name, password in users.items():
        add_user_line(state, uid, gid, name, password)
    ports = dict(zip(PORTS, free_ports(len(PORTS))))
    oauth, key_dir = oauth2_conf(state, mock) if mock else (None, None)
    conf = os.path.join(state, "dovecot.conf")
    with open(conf, "w") as f:
        f.write(dovecot_conf(state, ports, cert, key, uid, gid, args.namespace, args.metadata,
                             oauth))
    log_file = os.path.join(state, "dovecot.log")
    with open(os.path.join(state, "dovecot.stderr"), "wb") as err:
        proc = subprocess.Popen([DOVECOT, "-F", "-c", conf], stdin=subprocess.DEVNULL,
                                stdout=err, stderr=err, start_new_session=True,
                                preexec_fn=die_with_parent)
    if not wait_for_dovecot(run_dir, ports["imap"], proc):
        for name in ("dovecot.stderr", "dovecot.log"):
            with contextlib.suppress(FileNotFoundError), \
                    open(os.path.join(state, name), errors="replace") as f:
                sys.stderr.write(f.read())
        stop_dovecot(proc)
        raise SystemExit("mailserver: dovecot did not start")
    if mock:
        try:  # Dovecot reads the keys when it validates a token, so they can come now
            write_oauth_keys(key_dir, mock.wait_for_keys())
        except BaseException:
            stop_dovecot(proc)
            raise

    lmtp_socket = os.path.join(run_dir, "lmtp")
    if mock:
        relay = OAuthRelay(passwd, lmtp_socket, [mock.issuer(name) for name in OAUTH_ISSUERS])
    else:
        relay = Relay(passwd, lmtp_socket)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    common = dict(hostname=HOST, server_hostname="localhost", enable_SMTPUTF8=False,
                  authenticator=relay.authenticator, auth_require_tls=False)
    if mock:
        Controller = oauth_smtp_controller()
    controllers = [Controller(relay, port=ports["smtp"], tls_context=tls, **common),
                   Controller(relay, port=ports["smtps"], ssl_context=tls, **common)]
    for c in controllers:
        c.start()
    info = {"host": HOST, **{f"{p}_port": ports[p] for p in PORTS}, "ca_file": cert,
            "state_dir": state, "passwd_file": passwd, "maildir_root": home_root,
            "lmtp_socket": lmtp_socket, "log_file": log_file, "users": users}
    private = {"mail_uid": uid, "mail_gid": gid}
    return proc, controllers, info, private


def greenmail_jar():
    """GreenMail's standalone jar, fetched by Maven the first time (then cached in ~/.m2)."""
    target = os.path.join(os.path.dirname(GREENMAIL_POM), "target")
    jar = os.path.join(target, f"greenmail-standalone-{GREENMAIL_VERSION}.jar")
    os.makedirs(target, exist_ok=True)
    with open(os.path.join(target, ".fetch.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two harnesses starting at once fetch it once
        if not os.path.exists(jar):
            mvn = shutil.which("mvn")
            if mvn is None:
                raise SystemExit("mailserver: GreenMail needs Maven (bash tests/install-deps.sh)")
            log(f"fetching GreenMail {GREENMAIL_VERSION} with Maven")
            subprocess.run([mvn, "-q", "-B", "-f", GREENMAIL_POM, "dependency:copy"],
                           check=True, stdout=sys.stderr)
    return jar


def greenmail_api(port, path, body=None, method=None):
    request = urllib.request.Request(
        f"http://{HOST}:{port}{path}", method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def greenmail_add_user(api_port, imap_port, name, password, without=()):
    """Creates the user through GreenMail's REST API, then its special folders over IMAP
    (GreenMail has INBOX only and no SPECIAL-USE; a provider would create these)."""
    import imaplib
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        raise SystemExit(f"mailserver: invalid user name: {name!r}")
    if any(u["login"] == name for u in greenmail_api(api_port, "/api/user")):
        raise SystemExit(f"mailserver: user {name!r} already exists")
    greenmail_api(api_port, "/api/user",
                  {"email": f"{name}@{DOMAIN}", "login": name, "password": password})
    with imaplib.IMAP4(HOST, imap_port) as imap:
        imap.login(name, password)
        for folder in (f for f in SPECIAL_USE if f not in without):
            status, answer = imap.create(folder)
            if status != "OK":
                raise SystemExit(f"mailserver: GreenMail refused CREATE {folder}: {answer}")


def start_greenmail(state, cert, key, users):
    """GreenMail on free ports; returns (its JVM's process, info)."""
    java = shutil.which("java")
    if java is None:
        raise SystemExit("mailserver: GreenMail needs Java (bash tests/install-deps.sh)")
    jar = greenmail_jar()
    keystore = os.path.join(state, "greenmail.p12")
    subprocess.run(["openssl", "pkcs12", "-export", "-in", cert, "-inkey", key, "-name", "greenmail",
                    "-out", keystore, "-passout", f"pass:{KEYSTORE_PASSWORD}"],
                   check=True, capture_output=True)
    names = PORTS + ("api",)
    ports = dict(zip(names, free_ports(len(names))))
    props = [f"-Dgreenmail.{p}.port={ports[p]}" for p in PORTS] + [
        f"-Dgreenmail.hostname={HOST}", f"-Dgreenmail.api.hostname={HOST}",
        f"-Dgreenmail.api.port={ports['api']}",
        f"-Dgreenmail.tls.keystore.file={keystore}",
        f"-Dgreenmail.tls.keystore.password={KEYSTORE_PASSWORD}",
        "-Dgreenmail.startup.timeout=30000"]
    log_file = os.path.join(state, "greenmail.log")
    with open(log_file, "wb") as out:
        # A small heap and the quick JIT: it starts in a few seconds on two cores.
        proc = subprocess.Popen([java, "-Xmx512m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                                 *props, "-jar", jar], stdin=subprocess.DEVNULL, stdout=out,
                                stderr=out, start_new_session=True, preexec_fn=die_with_parent)
    deadline = time.monotonic() + 60
    while True:
        try:
            greenmail_api(ports["api"], "/api/service/readiness")
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                with open(log_file, errors="replace") as f:
                    sys.stderr.write(f.read())
                stop_java(proc)
                raise SystemExit("mailserver: GreenMail did not start")
            time.sleep(0.2)
    for name, password in users.items():
        greenmail_add_user(ports["api"], ports["imap"], name, password)
    info = {"host": HOST, **{f"{p}_port": ports[p] for p in PORTS}, "ca_file": cert,
            "state_dir": state, "passwd_file": None, "maildir_root": None,
            "lmtp_socket": None, "log_file": log_file, "users": users}
    return proc, info, {"api_port": ports["api"]}


def stop_java(proc):
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def mock_oauth2_lib():
    """The mock OAuth2 server's jars: fetched by Maven the first time into
    ~/.cache/brevdue/mock-oauth2-server-VERSION/lib (through a temporary directory, renamed
    when complete), then reused."""
    cache = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"),
                         "brevdue", f"mock-oauth2-server-{MOCK_OAUTH2_VERSION}")
    lib = os.path.join(cache, "lib")
    os.makedirs(cache, exist_ok=True)
    with open(os.path.join(cache, ".fetch.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two harnesses starting at once fetch it once
        if not os.path.isdir(lib):
            mvn = shutil.which("mvn")
            if mvn is None:
                raise SystemExit("mailserver: --oauth needs Maven (bash tests/install-deps.sh)")
            log(f"fetching mock-oauth2-server {MOCK_OAUTH2_VERSION} with Maven")
            tmp = tempfile.mkdtemp(prefix=".lib-", dir=cache)
            try:
                subprocess.run([mvn, "-q", "-B", "-f", MOCK_OAUTH2_POM,
                                "dependency:copy-dependencies", f"-DoutputDirectory={tmp}"],
                               check=True, stdout=sys.stderr)
                if not os.path.exists(os.path.join(
                        tmp, f"mock-oauth2-server-{MOCK_OAUTH2_VERSION}.jar")):
                    raise SystemExit("mailserver: Maven did not fetch mock-oauth2-server")
                os.chmod(tmp, 0o755)
                os.rename(tmp, lib)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
    return lib


class MockOAuth2:
    """navikt's mock-oauth2-server (Java) on a free port: issuers `default` (tokens for an
    hour) and `short` (5 s), a login form at /ISSUER/authorize whose username becomes the
    tokens' `sub`, and `azp` = the client id in every token."""

    def __init__(self, state):
        java = shutil.which("java")
        if java is None:
            raise SystemExit("mailserver: --oauth needs Java (bash tests/install-deps.sh)")
        lib = mock_oauth2_lib()
        self.port = free_ports(1)[0]
        self.log_file = os.path.join(state, "oauth.log")
        # A configured issuer's tokens carry only the claims its mappings give (the mock's
        # defaults add azp themselves), so each issuer maps azp back in.
        azp = [{"requestParam": "client_id", "match": "*", "claims": {"azp": "${client_id}"}}]
        config = {"interactiveLogin": True,
                  "tokenCallbacks": [{"issuerId": name, "tokenExpiry": expiry,
                                      "requestMappings": azp}
                                     for name, expiry in OAUTH_ISSUERS.items()]}
        env = {**os.environ, "SERVER_HOSTNAME": HOST, "SERVER_PORT": str(self.port),
               "JSON_CONFIG": json.dumps(config)}
        with open(self.log_file, "wb") as out:
            self.proc = subprocess.Popen(
                [java, "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                 "-cp", os.path.join(lib, "*"), MOCK_OAUTH2_MAIN],
                stdin=subprocess.DEVNULL, stdout=out, stderr=out, env=env,
                start_new_session=True, preexec_fn=die_with_parent)
        self.started = time.monotonic()

    def issuer(self, name):
        return f"http://{HOST}:{self.port}/{name}"

    def info(self):
        return {"issuer": self.issuer("default"), "short_issuer": self.issuer("short"),
                "client_id": OAUTH_CLIENT_ID}

    def wait_for_keys(self, timeout=60.0):
        """Waits until the server answers; returns each issuer's JWKS (its signing keys are
        made on first use and kept while it runs)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                keys = {}
                for name in OAUTH_ISSUERS:
                    with urllib.request.urlopen(f"{self.issuer(name)}/jwks", timeout=5) as r:
                        keys[name] = json.load(r)["keys"]
                log(f"mock-oauth2-server answered after {time.monotonic() - self.started:.1f} s")
                return keys
            except (OSError, ValueError, KeyError):
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    with open(self.log_file, errors="replace") as f:
                        sys.stderr.write(f.read())
                    raise SystemExit("mailserver: mock-oauth2-server did not start")
                time.sleep(0.1)

    def stop(self):
        stop_java(self.proc)


def rsa_public_key_pem(jwk):
    """An RSA JWK's public key as a PEM SubjectPublicKeyInfo (DER written by hand: the
    Debian packages the tests install offer no JWK conversion)."""
    def tlv(tag, body):
        n = len(body)
        if n < 0x80:
            return bytes([tag, n]) + body
        size = (n.bit_length() + 7) // 8
        return bytes([tag, 0x80 | size]) + n.to_bytes(size, "big") + body

    def integer(b64):
        value = int.from_bytes(b64url_decode(b64), "big")
        return tlv(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))  # sign bit 0

    rsa_encryption = tlv(0x30, tlv(0x06, bytes.fromhex("2a864886f70d010101")) + b"\x05\x00")
    rsa_key = tlv(0x30, integer(jwk["n"]) + integer(jwk["e"]))
    der = tlv(0x30, rsa_encryption + tlv(0x03, b"\x00" + rsa_key))  # BIT STRING, no unused bits
    body = base64.encodebytes(der).decode().replace("\n", "")
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return "-----BEGIN PUBLIC KEY-----\n" + "\n".join(lines) + "\n-----END PUBLIC KEY-----\n"


def write_oauth_keys(key_dir, keys):
    """Dovecot's key dict for local JWT validation: KEY_DIR/<azp>/<alg>/<kid> holds the PEM
    key. Dovecot looks under the token's azp (`default` when it has none); the mock's azp is
    the client id, so every key goes under both."""
    seen = set()
    for issuer_keys in keys.values():
        for jwk in issuer_keys:
            if jwk.get("kty") != "RSA":
                continue
            alg, kid = jwk.get("alg", "RS256"), jwk["kid"]
            if (alg, kid) in seen or not re.fullmatch(r"[A-Za-z0-9._-]+", kid):
                raise SystemExit(f"mailserver: unusable key id {kid!r} from the mock")
            seen.add((alg, kid))
            for azp in ("default", OAUTH_CLIENT_ID):
                directory = os.path.join(key_dir, azp, alg)
                os.makedirs(directory, exist_ok=True)
                with open(os.path.join(directory, kid), "w") as f:
                    f.write(rsa_public_key_pem(jwk))
    for root, dirs, files in os.walk(key_dir):  # the auth process runs as the dovecot user
        os.chmod(root, 0o755)
        for name in files:
            os.chmod(os.path.join(root, name), 0o644)


def oauth2_conf(state, mock):
    """The oauth2 passdb's settings: local validation of the JWTs (signature, iss, and exp
    strictly, unlike the mock's introspection), the user being the token's sub."""
    key_dir = os.path.join(state, "oauth-keys")
    os.makedirs(key_dir, exist_ok=True)
    path = os.path.join(state, "dovecot-oauth2.conf.ext")
    with open(path, "w") as f:
        f.write("introspection_mode = local\n"
                f"local_validation_key_dict = fs:posix:prefix={key_dir}/\n"
                "username_attribute = sub\n"
                f"issuers = {' '.join(mock.issuer(name) for name in OAUTH_ISSUERS)}\n")
    os.chmod(path, 0o644)
    return path, key_dir


class AltHostRelay(threading.Thread):
    """Forwards ALT_HOST:port to HOST:port, for servers that bind one address only."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = port
        self.listener = socket.create_server((ALT_HOST, port))

    def run(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:  # closed
                return
            try:
                upstream = socket.create_connection((HOST, self.port), timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self.pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def pipe(src, dst):
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def close(self):
        self.listener.close()


def serve(args):
    if args.implementation == "greenmail" and (args.namespace != "default" or args.metadata
                                               or args.oauth):
        raise SystemExit("mailserver: --namespace, --metadata and --oauth are Dovecot's options")
    users = dict(u.split(":", 1) for u in args.users.split(",") if u)
    own_dir = args.state_dir is None
    state = os.path.abspath(args.state_dir or tempfile.mkdtemp(prefix="brevdue-mail-"))
    pidfile = os.path.join(state, "serve.pid")
    if pid_alive(pidfile):
        raise SystemExit(f"mailserver: a server is already running in {state}")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: stop.set())
    LIBC.prctl(PR_SET_CHILD_SUBREAPER, 1)  # Dovecot's orphans come back to us
    greenmail = args.implementation == "greenmail"
    proc, controllers, relays, mock, rc = None, [], [], None, 0
    try:
        os.makedirs(state, exist_ok=True)
        os.chmod(state, 0o755)  # mail users (nobody) must traverse it
        with open(pidfile, "w") as f:
            f.write(f"{os.getpid()}\n")
        cert, key = make_cert(state)
        if greenmail:
            namespace = GREENMAIL_NAMESPACE
            proc, info, private = start_greenmail(state, cert, key, users)
            relays = [AltHostRelay(info[f"{p}_port"]) for p in PORTS]
            for r in relays:
                r.start()
        else:
            namespace = NAMESPACES[args.namespace]
            if args.oauth:  # the JVM starts while Dovecot does
                mock = MockOAuth2(state)
            proc, controllers, info, private = start_dovecot(args, state, cert, key, users, mock)

        for user in filter(None, args.demo_mailbox.split(",")):
            fill_demo_mailbox(info["imaps_port"], cert, user, users[user], namespace)

        info.update(implementation=args.implementation,
                    namespace={"prefix": namespace[0], "separator": namespace[1]},
                    features=FEATURES[args.implementation],
                    oauth=mock.info() if mock else None)
        with open(os.path.join(state, "server.json"), "w") as f:
            json.dump({**info, **private}, f, indent=1)
        print(json.dumps(info, separators=(",", ":")), flush=True)

        if not args.ignore_stdin:
            def watch_stdin():
                while os.read(0, 65536):
                    pass
                stop.set()
            threading.Thread(target=watch_stdin, daemon=True).start()
        while not stop.wait(0.5):
            if proc.poll() is not None:
                log(f"{args.implementation} exited unexpectedly (status {proc.returncode}); "
                    f"see {info['log_file']}")
                rc = 1
                break
            if mock and mock.proc.poll() is not None:
                log(f"mock-oauth2-server exited unexpectedly (status {mock.proc.returncode}); "
                    f"see {mock.log_file}")
                rc = 1
                break
    except BrokenPipeError:  # whoever started us is gone
        rc = 1
    finally:
        if mock is not None:
            mock.proc.terminate()  # the JVM stops while Dovecot does
        for c in controllers:
            c.stop(no_assert=True)
        for r in relays:
            r.close()
        if proc is not None:
            (stop_java if greenmail else stop_dovecot)(proc)
        if mock is not None:
            mock.stop()
        if own_dir:
            shutil.rmtree(state, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(pidfile)  # tells `stop` that we are done
    return rc


def fill_demo_mailbox(port, cert, user, password, namespace):
    import imaplib
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import demo_mail
    ctx = ssl.create_default_context(cafile=cert)
    with imaplib.IMAP4_SSL(HOST, port, ssl_context=ctx) as imap:
        imap.login(user, password)
        for folder, flags, raw in demo_mail.mailbox(f"{user}@{DOMAIN}"):
            imap.append(mailbox_name(folder, namespace), f"({flags})" if flags else None, None, raw)


def add_user(args):
    with open(os.path.join(args.state_dir, "server.json")) as f:
        info = json.load(f)
    if info.get("implementation") == "greenmail":
        greenmail_add_user(info["api_port"], info["imap_port"], args.name, args.password,
                           args.without)
    else:
        add_user_line(info["state_dir"], info["mail_uid"], info["mail_gid"],
                      args.name, args.password, args.without)
    return 0


def stop_server(args):
    pidfile = os.path.join(args.state_dir, "serve.pid")
    try:
        with open(pidfile) as f:
            pid = int(f.read())
        os.kill(pid, signal.SIGTERM)
    except (OSError, ValueError) as e:
        log(f"no running server for {args.state_dir}: {e}")
        return 1
    deadline = time.monotonic() + 20
    while os.path.exists(pidfile) and time.monotonic() < deadline:
        time.sleep(0.1)
    return 0 if not os.path.exists(pidfile) else 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("serve", help="run the servers, print JSON info")
    p.add_argument("--state-dir")
    p.add_argument("--users", default="alice:secret,bob:secret")
    p.add_argument("--demo-mailbox", default="",
                   help="comma-separated users whose mailboxes get the demo mail")
    p.add_argument("--ignore-stdin", action="store_true",
                   help="run until SIGTERM/SIGINT instead of until stdin EOF")
    p.add_argument("--implementation", choices=("dovecot", "greenmail"), default="dovecot")
    p.add_argument("--namespace", choices=tuple(NAMESPACES), default="default",
                   help="Dovecot's personal namespace: '' and '/', or 'INBOX.' and '.'")
    p.add_argument("--metadata", action="store_true", help="Dovecot with IMAP METADATA")
    p.add_argument("--oauth", action="store_true",
                   help="also a mock OAuth2 server whose tokens Dovecot and the relay accept")
    p.set_defaults(func=serve)
    p = sub.add_parser("add-user", help="add a mail user to a running server")
    p.add_argument("--state-dir", required=True)
    p.add_argument("name")
    p.add_argument("password")
    p.add_argument("--without", action="append", default=[], choices=SPECIAL_USE,
                   help="a special folder this user does not get (repeatable)")
    p.set_defaults(func=add_user)
    p = sub.add_parser("stop", help="stop the server using --state-dir")
    p.add_argument("--state-dir", required=True)
    p.set_defaults(func=stop_server)
    args = parser.parse_args()
    sys.exit(args.func(args))


if __name__ == "__main__":
    main()
