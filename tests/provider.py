#!/usr/bin/python3
"""A private mail "provider" on 127.0.0.1 for the discovery tests: a DNS server
(dnsmasq, Debian's dnsmasq-base) and an HTTPS server (the mail harness's certificate)
that answer for a set of test domains, in front of the harness's Dovecot.

    provider.py serve --mail-server DIR
        DIR is the state dir of a running `mailserver.py serve` (its server.json gives
        the ports and the certificate). Prints ONE line of JSON on stdout:
          dns ("127.0.0.1:PORT"), https_port, ispdb_url, guess_ports (for
          BREVDUE_TEST_GUESS_PORTS), requests_log, domains
        and runs until stdin reaches EOF (or SIGTERM/SIGINT).

Every config that should lead to a working account names Dovecot as `localhost` with
its real ports, so a later sync works through the system resolver. The domains:

  autoconf.test    provider autoconfig (autoconfig.autoconf.test): POP3 listed before
                   IMAP, SMTP 587 STARTTLS before 465 TLS (so the choice is tested)
  wellknown.test   only https://wellknown.test/.well-known/...: IMAP 993 TLS + 587 STARTTLS
  listed.test      only an ISPDB entry (ispdb.test/v1.1/listed.test): IMAP STARTTLS
  mxhosted.test    only MX mx1.mailhost.test; the ISPDB has mailhost.test
  srvonly.test     only SRV records (_imaps, _submission, _submissions; _pop3s is ".")
  guessable.test   only A records for imap., pop., smtp. (checked on guess_ports)
  malformed.test   autoconfig answers broken XML; the ISPDB entry is good
  huge.test        autoconfig answers 1 MiB (no Content-Length); .well-known is good
  redirect.test    autoconfig redirects to elsewhere.test (refused); .well-known
                   redirects within the host (followed)
  plaintext.test   autoconfig offers only unencrypted IMAP and SMTP
  unreachable.test imap. and smtp. are 127.0.0.3, where nothing listens
  badcert.test     imap. and smtp. are 127.0.0.1, but the certificate is not theirs
  nothing.test     no records at all
"""
import argparse
import http.server
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mailserver  # noqa: E402  (the harness's helpers and certificate names)

HOST = "127.0.0.1"
DNSMASQ = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"


def log(msg):
    print(f"provider: {msg}", file=sys.stderr, flush=True)


def server_xml(kind, tag, host, port, socket_type, username="%EMAILLOCALPART%"):
    return (f'    <{tag} type="{kind}">\n'
            f"      <hostname>{host}</hostname>\n      <port>{port}</port>\n"
            f"      <socketType>{socket_type}</socketType>\n"
            f"      <username>{username}</username>\n"
            f"      <authentication>password-cleartext</authentication>\n    </{tag}>\n")


def config_xml(domain, servers):
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<clientConfig version="1.1">\n'
            f'  <emailProvider id="{domain}">\n    <domain>{domain}</domain>\n'
            f"    <displayName>{domain}</displayName>\n{''.join(servers)}"
            "  </emailProvider>\n</clientConfig>\n")


def routes(mail, https_port):
    """(host, path) -> (status, headers, body): what the HTTPS server answers."""
    imap = lambda sec, port, user="%EMAILLOCALPART%": server_xml(  # noqa: E731
        "imap", "incomingServer", "localhost", port, sec, user)
    pop3 = lambda sec, port: server_xml("pop3", "incomingServer", "localhost", port, sec)  # noqa: E731
    smtp = lambda sec, port, user="%EMAILLOCALPART%": server_xml(  # noqa: E731
        "smtp", "outgoingServer", "localhost", port, sec, user)
    auto, wk = "/mail/config-v1.1.xml", "/.well-known/autoconfig/mail/config-v1.1.xml"
    ok = lambda body: (200, {"Content-Type": "text/xml"}, body.encode())  # noqa: E731
    good = lambda d: ok(config_xml(d, [imap("SSL", mail["imaps_port"]),  # noqa: E731
                                       smtp("SSL", mail["smtps_port"])]))
    return {
        ("autoconfig.autoconf.test", auto): ok(config_xml("autoconf.test", [
            pop3("SSL", mail["pop3s_port"]), imap("STARTTLS", mail["imap_port"]),
            imap("SSL", mail["imaps_port"]), smtp("STARTTLS", mail["smtp_port"]),
            smtp("SSL", mail["smtps_port"])])),
        ("wellknown.test", wk): ok(config_xml("wellknown.test", [
            imap("SSL", mail["imaps_port"]), smtp("STARTTLS", mail["smtp_port"])])),
        ("ispdb.test", "/v1.1/listed.test"): ok(config_xml("listed.test", [
            imap("STARTTLS", mail["imap_port"]), smtp("SSL", mail["smtps_port"])])),
        ("ispdb.test", "/v1.1/mailhost.test"): ok(config_xml("mailhost.test", [
            imap("SSL", mail["imaps_port"], "%EMAILADDRESS%"),
            smtp("SSL", mail["smtps_port"], "%EMAILADDRESS%")])),
        ("autoconfig.malformed.test", auto): ok(
            '<?xml version="1.0"?>\n<clientConfig version="1.1"><emailProvider>'
            '<incomingServer type="imap"><hostname>localhost</hostname>'),
        ("ispdb.test", "/v1.1/malformed.test"): good("malformed.test"),
        ("autoconfig.huge.test", auto): (200, {"Content-Type": "text/xml"},
                                         b"<clientConfig>" + b" " * (1024 * 1024)),
        ("huge.test", wk): good("huge.test"),
        ("autoconfig.redirect.test", auto): (
            302, {"Location": f"https://elsewhere.test:{https_port}/mail/config-v1.1.xml"}, b""),
        ("elsewhere.test", auto): ok(config_xml("elsewhere.test", [
            server_xml("imap", "incomingServer", "imap.elsewhere.test", 993, "SSL"),
            server_xml("smtp", "outgoingServer", "smtp.elsewhere.test", 465, "SSL")])),
        ("redirect.test", wk): (301, {"Location": "/autoconfig/moved.xml"}, b""),
        ("redirect.test", "/autoconfig/moved.xml"): good("redirect.test"),
        ("autoconfig.plaintext.test", auto): ok(config_xml("plaintext.test", [
            imap("plain", mail["imap_port"]), smtp("plain", mail["smtp_port"])])),
    }


def dns_records(mail):
    """dnsmasq's options for the test domains' records."""
    a = lambda name, ip=HOST: f"--host-record={name},{ip}"  # noqa: E731
    srv = lambda service, target="", port=None, prio=0: (  # noqa: E731
        f"--srv-host={service}.srvonly.test" + (f",{target},{port},{prio},1" if target else ""))
    return [
        a("autoconfig.autoconf.test"), a("wellknown.test"), a("ispdb.test"),
        "--mx-host=mxhosted.test,mx1.mailhost.test,10", a("mx1.mailhost.test"),
        srv("_imaps._tcp", "imap.srvonly.test", mail["imaps_port"]),
        srv("_submission._tcp", "smtp.srvonly.test", mail["smtp_port"]),
        srv("_submissions._tcp", "smtp.srvonly.test", mail["smtps_port"], 10),
        srv("_pop3s._tcp"),
        a("imap.srvonly.test"), a("smtp.srvonly.test"),
        a("imap.guessable.test"), a("pop.guessable.test"), a("smtp.guessable.test"),
        a("autoconfig.malformed.test"), a("autoconfig.huge.test"), a("huge.test"),
        a("autoconfig.redirect.test"), a("redirect.test"), a("elsewhere.test"),
        a("autoconfig.plaintext.test"),
        a("imap.unreachable.test", "127.0.0.3"), a("smtp.unreachable.test", "127.0.0.3"),
        a("imap.badcert.test"), a("smtp.badcert.test"),
    ]


def start_dnsmasq(state, mail):
    port = mailserver.free_ports(1)[0]
    log_file = os.path.join(state, "dnsmasq.log")
    user = "root" if os.geteuid() == 0 else None
    args = [DNSMASQ, "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv",
            "--no-hosts", f"--port={port}", f"--listen-address={HOST}", "--bind-interfaces",
            "--local=/test/", "--pid-file=", "--log-queries", f"--log-facility={log_file}",
            *([f"--user={user}"] if user else []), *dns_records(mail)]
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=open(os.path.join(state, "dnsmasq.stderr"), "wb"),
                            start_new_session=True, preexec_fn=mailserver.die_with_parent)
    # Ready once it answers on TCP (it binds UDP and TCP together).
    import socket
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection((HOST, port), timeout=1).close()
            return proc, port
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                with open(os.path.join(state, "dnsmasq.stderr"), errors="replace") as f:
                    sys.stderr.write(f.read())
                raise SystemExit("provider: dnsmasq did not start")
            time.sleep(0.05)


def start_https(state, mail):
    port = mailserver.free_ports(1)[0]
    table = routes(mail, port)
    requests_log = os.path.join(state, "requests.log")
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        # HTTP/1.0: one request per connection.
        def do_GET(self):
            host = (self.headers.get("Host") or "").rsplit(":", 1)[0].lower()
            url = urllib.parse.urlsplit(self.path)
            with lock, open(requests_log, "a") as f:
                f.write(f"{host} {self.path}\n")
            status, headers, body = table.get((host, url.path), (404, {}, b"not found\n"))
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            if host != "autoconfig.huge.test":  # that one ends only when it is cut off
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                self.wfile.write(body)
            except OSError:  # the client stopped reading (the huge answer)
                pass

        def log_message(self, *args):
            pass

    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(mail["ca_file"], os.path.join(mail["state_dir"], "key.pem"))
    httpd = http.server.ThreadingHTTPServer((HOST, port), Handler)
    httpd.daemon_threads = True
    httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, port, requests_log


def serve(args):
    with open(os.path.join(args.mail_server, "server.json")) as f:
        mail = json.load(f)
    state = tempfile.mkdtemp(prefix="brevdue-provider-")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: stop.set())
    dnsmasq, httpd = None, None
    try:
        dnsmasq, dns_port = start_dnsmasq(state, mail)
        httpd, https_port, requests_log = start_https(state, mail)
        guess = {993: "imaps", 143: "imap", 995: "pop3s", 110: "pop3", 465: "smtps",
                 587: "smtp"}
        info = {"dns": f"{HOST}:{dns_port}", "https_port": https_port,
                "ispdb_url": f"https://ispdb.test:{https_port}/v1.1/",
                "guess_ports": ",".join(f"{p}={mail[n + '_port']}" for p, n in guess.items()),
                "requests_log": requests_log, "state_dir": state,
                "domains": [d for d in mailserver.PROVIDER_DOMAINS] + ["badcert.test"]}
        print(json.dumps(info, separators=(",", ":")), flush=True)
        if not args.ignore_stdin:
            def watch_stdin():
                while os.read(0, 65536):
                    pass
                stop.set()
            threading.Thread(target=watch_stdin, daemon=True).start()
        while not stop.wait(0.5):
            if dnsmasq.poll() is not None:
                log(f"dnsmasq exited (status {dnsmasq.returncode})")
                return 1
    except BrokenPipeError:
        return 1
    finally:
        if httpd is not None:
            httpd.shutdown()
        if dnsmasq is not None:
            dnsmasq.terminate()
            try:
                dnsmasq.wait(5)
            except subprocess.TimeoutExpired:
                dnsmasq.kill()
        shutil.rmtree(state, ignore_errors=True)
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("serve", help="run DNS and HTTPS, print JSON info")
    p.add_argument("--mail-server", required=True, help="state dir of mailserver.py serve")
    p.add_argument("--ignore-stdin", action="store_true")
    p.set_defaults(func=serve)
    args = parser.parse_args()
    sys.exit(args.func(args))


if __name__ == "__main__":
    main()
