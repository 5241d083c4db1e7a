#!/usr/bin/env python3
"""Brevdue's benchmark: one run, one private Dovecot, every figure measured here.

Loads the reference mailbox (shared/bench/gen_mailbox.py, 10,000 messages, seed 42) into
a private Dovecot and prints, against the reference tools measured in the same run:
  - initial header sync        vs protocol_limit.py imap-headers
  - full body sync             vs protocol_limit.py imap-full and mbsync (isync)
  - no-change resync, peak RSS
  - the first sync over TLS on loopback and through a delaying link (25 ms each way,
    20 Mbit/s): newest 50 listable vs the least client, all headers vs the protocol limit,
    bytes, and mbsync over the same link
  - bytes received by the first sync and a resync: headers only, the default, every body
  - local search p50 over 100,000 messages (whole words, word starts, single letters),
    the size of the search index, the newest 50 threads
  - POP3 download of the same INBOX (a POP3 account, --pop3-delete never, fresh data dir)
                               vs protocol_limit.py pop3-full and fetchmail (--keep --all,
                               into a BSMTP file: no MDA forked per message)
Every client talks to the plain ports without TLS (the harness allows plaintext logins).
Usage: tests/bench/run.py [--brevdue target/release/brevdue] [--messages 10000] [--runs 3]
                          [--only imap|pop3|link|data|search]
Run through tests/bench/run.sh, which builds the release binary first.
"""
import argparse
import imaplib
import json
import os
import pwd
import queue
import shutil
import socket
import sqlite3
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SHARED = os.environ.get("BREVDUE_SHARED", os.path.join(ROOT, "..", "shared"))
GEN = os.path.join(SHARED, "bench", "gen_mailbox.py")
LIMIT = os.path.join(SHARED, "bench", "protocol_limit.py")
HARNESS = os.path.join(ROOT, "tests", "mailserver.py")
USER, PASSWORD = "bench", "benchpw"


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def timed(cmd, env=None):
    """Runs cmd; returns (seconds, peak RSS in MB, stdout)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    out = proc.stdout.read()
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{cmd[0]} failed: {err.decode(errors='replace')[-2000:]}")
    return seconds, usage.ru_maxrss / 1024.0, out.decode()


def protocol_limit(mode, port, runs, tls=False):
    """protocol_limit.py's median in seconds (the plain port unless `tls`)."""
    out = subprocess.run([sys.executable, LIMIT, mode, "--port", str(port), "--user", USER,
                          "--password", PASSWORD, "--runs", str(runs), *(["--tls"] if tls else [])],
                         check=True, capture_output=True, text=True).stdout
    return float(out.strip().splitlines()[-1].split("=")[1])


def dovecot_idle_delay(port, rounds=10):
    """Dovecot's own notification delay: a bare IDLE client on one socket, a STORE on
    another, and the time until the untagged FETCH arrives. The floor for any client."""
    watcher = socket.create_connection(("127.0.0.1", port))
    f = watcher.makefile("rb")
    f.readline()

    def command(tag, text):
        watcher.sendall(f"{tag} {text}\r\n".encode())
        while not f.readline().startswith(tag.encode()):
            pass

    command("a1", f"LOGIN {USER} {PASSWORD}")
    command("a2", "SELECT INBOX")
    writer = imaplib.IMAP4("127.0.0.1", port)
    writer.login(USER, PASSWORD)
    writer.select("INBOX")
    samples = []
    for i in range(rounds):
        watcher.sendall(b"a3 IDLE\r\n")
        f.readline()  # + idling
        time.sleep(0.3)
        start = time.perf_counter()
        writer.store("1", "+FLAGS" if i % 2 == 0 else "-FLAGS", "(\\Seen)")
        while b"FETCH" not in f.readline():
            pass
        samples.append(time.perf_counter() - start)
        watcher.sendall(b"DONE\r\n")
        while not f.readline().startswith(b"a3 "):
            pass
    writer.logout()
    watcher.close()
    return statistics.median(samples)


class CountingProxy:
    """Forwards 127.0.0.1:port to the server and counts the bytes the client receives."""

    def __init__(self, upstream):
        self.upstream = upstream
        self.received = 0
        self.lock = threading.Lock()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            client, _ = self.sock.accept()
            server = socket.create_connection(("127.0.0.1", self.upstream))
            self._serve(client, server)

    def _serve(self, client, server):
        threading.Thread(target=self._pipe, args=(client, server, False), daemon=True).start()
        threading.Thread(target=self._pipe, args=(server, client, True), daemon=True).start()

    def _pipe(self, src, dst, count):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if count:
                    with self.lock:
                        self.received += len(data)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def take(self):
        with self.lock:
            n, self.received = self.received, 0
        return n


class DelayProxy(CountingProxy):
    """A CountingProxy through a link like a phone's: every chunk is held `delay` seconds
    in each direction, and each direction is capped at `rate` bytes/s."""

    def __init__(self, upstream, delay=0.025, rate=20e6 / 8):
        self.delay, self.rate = delay, rate
        super().__init__(upstream)

    def _serve(self, client, server):
        for s in (client, server):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for src, dst, count in ((client, server, False), (server, client, True)):
            chunks = queue.Queue()
            threading.Thread(target=self._read, args=(src, chunks), daemon=True).start()
            threading.Thread(target=self._write, args=(dst, chunks, count), daemon=True).start()

    def _read(self, src, chunks):
        try:
            while True:
                data = src.recv(65536)
                chunks.put((time.monotonic(), data))
                if not data:
                    return
        except OSError:
            chunks.put((time.monotonic(), b""))

    def _write(self, dst, chunks, count):
        free_at = 0.0  # when the capped link has sent what it was given
        try:
            while True:
                arrived, data = chunks.get()
                if not data:
                    break
                start = max(arrived + self.delay, free_at)
                free_at = start + len(data) / self.rate
                wait = free_at - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                dst.sendall(data)
                if count:
                    with self.lock:
                        self.received += len(data)
        except OSError:
            pass
        finally:
            try:
                dst.shutdown(socket.SHUT_WR)
            except OSError:
                pass


def newest_screen_client(port, ca_file, screen=50):
    """The least a client can do to show the newest `screen` messages of INBOX over TLS:
    connect, LOGIN, SELECT, one FETCH of their header facts. Returns seconds."""
    start = time.perf_counter()
    ctx = ssl.create_default_context(cafile=ca_file)
    c = imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=ctx)
    c.login(USER, PASSWORD)
    _, data = c.select("INBOX")
    exists = int(data[0])
    first = max(1, exists - screen + 1)
    c.fetch(f"{first}:{exists}", "(UID FLAGS RFC822.SIZE INTERNALDATE BODY.PEEK[HEADER.FIELDS "
            "(FROM TO CC SUBJECT DATE MESSAGE-ID IN-REPLY-TO REFERENCES CONTENT-TYPE)])")
    seconds = time.perf_counter() - start
    c.logout()
    return seconds


class Brevdue:
    def __init__(self, exe, server, workdir):
        self.exe, self.server, self.workdir = exe, server, workdir
        self.count = 0

    def _add(self, *args):
        """A fresh data dir with the account 'bench' added (the login is checked, not timed)."""
        self.count += 1
        d = os.path.join(self.workdir, f"brevdue{self.count}")
        env = dict(os.environ, BENCH_PW=PASSWORD)
        subprocess.run([self.exe, "--data-dir", d, "account", "add", "bench",
                        "--email", "bench@example.test", "--host", "127.0.0.1", *args,
                        "--security", "plain", "--user", USER, "--password-env", "BENCH_PW"],
                       check=True, env=env, capture_output=True)
        return d

    def fresh_tls(self, port):
        """An account over TLS (the harness's CA) on `port`, default body prefetch."""
        self.count += 1
        d = os.path.join(self.workdir, f"brevdue{self.count}")
        env = dict(os.environ, BENCH_PW=PASSWORD)
        subprocess.run([self.exe, "--data-dir", d, "account", "add", "bench",
                        "--email", "bench@example.test", "--host", "127.0.0.1", "--port", str(port),
                        "--security", "tls", "--ca-file", self.server["ca_file"], "--user", USER,
                        "--password-env", "BENCH_PW"], check=True, env=env, capture_output=True)
        return d

    def fresh(self, prefetch, port=None):
        d = self._add("--port", str(port or self.server["imap_port"]))
        subprocess.run([self.exe, "--data-dir", d, "config", "body-prefetch", prefetch],
                       check=True, capture_output=True)
        return d

    def fresh_pop3(self):
        return self._add("--protocol", "pop3", "--pop3-delete", "never",
                         "--port", str(self.server["pop3_port"]))

    def inbox_total(self, d):
        out = subprocess.run([self.exe, "--data-dir", d, "folders", "--json"],
                             check=True, capture_output=True, text=True).stdout
        return next(f["total"] for f in json.loads(out) if f["role"] == "inbox")

    def sync(self, d, extra=()):
        return timed([self.exe, "--data-dir", d, *extra, "sync"])


def mbsync(server, workdir, runs, port=None, tls=False):
    times = []
    for i in range(runs):
        d = tempfile.mkdtemp(prefix="mbsync", dir=workdir)
        os.makedirs(os.path.join(d, "mail"))
        rc = os.path.join(d, "mbsyncrc")
        security = (f"SSLType IMAPS\nCertificateFile {server['ca_file']}" if tls
                    else "SSLType None")
        with open(rc, "w") as f:
            f.write(f"""IMAPAccount bench
Host 127.0.0.1
Port {port or server['imap_port']}
User {USER}
Pass {PASSWORD}
{security}
AuthMechs LOGIN

IMAPStore remote
Account bench

MaildirStore local
Path {d}/mail/
Inbox {d}/mail/INBOX

Channel inbox
Far :remote:
Near :local:
Patterns INBOX
Create Near
Sync Pull
SyncState *
""")
        seconds, _, _ = timed(["mbsync", "-q", "-c", rc, "inbox"])
        times.append(seconds)
    return statistics.median(times)


def bsmtp_messages(path):
    """Messages in a BSMTP file: one end of DATA each (a lone dot; dot-stuffed inside).
    Read in chunks: the children started later inherit this process's peak RSS as the
    floor of their ru_maxrss (vfork, then exec), so it must not hold the whole file."""
    count, tail = 0, b""
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            data = tail + chunk
            count += data.count(b"\r\n.\r\n")
            tail = data[-4:]
    return count


def fetchmail(port, workdir, runs, messages):
    """fetchmail downloading the whole INBOX over plain POP3: --keep --all, into a BSMTP
    file (its cheapest sink: no MDA forked, no SMTP listener), its own rcfile, idfile and
    pidfile in a fresh HOME per run. Returns (median seconds, peak RSS in MB)."""
    times, peak = [], 0.0
    for i in range(runs):
        home = os.path.join(workdir, f"fetchmail{i}")
        os.makedirs(home)
        rc = os.path.join(home, "fetchmailrc")
        with open(os.open(rc, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
            # sslproto "": no opportunistic STLS; no sslcertck: TLS is not required.
            f.write(f'poll 127.0.0.1 proto pop3 service {port} auth password\n'
                    f'  user "{USER}" there with password "{PASSWORD}"\n'
                    f'  sslproto "" no sslcertck\n')
        sink = os.path.join(home, "inbox.bsmtp")
        seconds, rss, _ = timed(["fetchmail", "-f", rc, "--nosyslog", "--silent", "--keep", "--all",
                                 "--bsmtp", sink, "--idfile", os.path.join(home, "fetchids"),
                                 "--pidfile", os.path.join(home, "fetchmail.pid")],
                                env=dict(os.environ, HOME=home, FETCHMAILHOME=home))
        got = bsmtp_messages(sink)
        if got != messages:
            raise RuntimeError(f"fetchmail stored {got} messages, not {messages}")
        times.append(seconds)
        peak = max(peak, rss)
    return statistics.median(times), peak


def bench_imap(a, server, b, rows):
    """The IMAP sections; appends table rows, returns the lines printed after the table."""
    port = server["imap_port"]
    # Warm Dovecot's index and the page cache once, so every tool sees the same state.
    protocol_limit("imap-full", port, 1)

    log("header sync")
    limit_headers = protocol_limit("imap-headers", port, a.runs)
    header_runs = [b.sync(b.fresh("0")) for _ in range(a.runs)]
    headers = statistics.median(t for t, _, _ in header_runs)
    rows.append(("initial header sync", headers, limit_headers, "protocol limit (imap-headers)", "<= 1.5x"))

    log("full sync")
    limit_full = protocol_limit("imap-full", port, a.runs)
    mb = mbsync(server, a.workdir, a.runs)
    full_dirs, full_runs = [], []
    for _ in range(a.runs):
        d = b.fresh("all")
        full_runs.append(b.sync(d))
        full_dirs.append(d)
    full = statistics.median(t for t, _, _ in full_runs)
    peak_rss = max(rss for _, rss, _ in full_runs + header_runs)
    rows.append(("full body sync", full, limit_full, "protocol limit (imap-full)", ""))
    rows.append(("full body sync", full, mb, "mbsync", "< 1x"))

    log("no-change resync")
    d = full_dirs[0]
    nochange = statistics.median(b.sync(d)[0] for _ in range(max(5, a.runs)))
    limit_noop = protocol_limit("imap-noop", port, 5)
    rows.append(("no-change resync", nochange, limit_noop, "protocol limit (imap-noop)", "<= 30 ms"))

    log("flag resync with and without CONDSTORE")
    # Another client flips \Flagged on every tenth message; each engine picks it up.
    # Bytes are counted by a proxy between the engine and Dovecot.
    proxy = CountingProxy(port)
    flag_rows = []
    for label, extra in (("with CONDSTORE", ()), ("without CONDSTORE", ("--disable-extension", "CONDSTORE"))):
        fd = b.fresh("0", proxy.port)
        b.sync(fd, extra)
        times, sizes = [], []
        for change in ("+FLAGS.SILENT", "-FLAGS.SILENT", "+FLAGS.SILENT"):
            c = imaplib.IMAP4("127.0.0.1", port)
            c.login(USER, PASSWORD)
            c.select("INBOX")
            _, data = c.uid("SEARCH", None, "ALL")
            uids = data[0].split()[::10]
            c.uid("STORE", b",".join(uids).decode(), change, "(\\Flagged)")
            c.logout()
            proxy.take()
            seconds, _, _ = b.sync(fd, extra)
            times.append(seconds)
            sizes.append(proxy.take())
        flag_rows.append((label, statistics.median(times), statistics.median(sizes), len(uids)))
    limit_flags = protocol_limit("imap-flags", port, a.runs)

    log("push latency through IDLE")
    _, _, out = timed([a.brevdue, "--data-dir", d, "bench", "push-latency", "--account", "bench",
                       "--password-env", "BENCH_PW"], env=dict(os.environ, BENCH_PW=PASSWORD))
    push = json.loads(out)
    server_delay = dovecot_idle_delay(port)

    lines = []
    for label, seconds, nbytes, n in flag_rows:
        lines.append(f"{'flag resync ' + label:<36} {seconds*1000:>8.0f}ms {nbytes/1024:>8.1f}KB received"
                     f"  ({n} changed flags, {a.messages}-message folder)")
    lines.append(f"{'  (protocol limit: all flags once)':<36} {limit_flags*1000:>8.0f}ms")
    lines.append(f"{'change to other device (IDLE)':<36} {push['p50_ms']:>8.0f}ms  p50 of {push['rounds']}"
                 f" (min {push['min_ms']:.0f}, max {push['max_ms']:.0f}); Dovecot's own delay"
                 f" {server_delay*1000:.0f} ms (bare IDLE client), so +{push['p50_ms'] - server_delay*1000:.0f} ms;"
                 f" target <= delay + 50 ms")
    lines.append(f"{'peak RSS (sync)':<24} {peak_rss:>8.1f}MB   target < 80 MB")
    return lines + bench_link(a, server, b) + bench_data(a, server, b) + bench_search(a, server, b)


def bench_link(a, server, b):
    """The first sync over TLS on loopback and through a link like a phone's (25 ms each
    way, 20 Mbit/s), beside the least a client can do and mbsync on the same link."""
    lines = []
    for label, proxy in (("loopback", None), ("phone link", DelayProxy(server["imaps_port"]))):
        port = proxy.port if proxy else server["imaps_port"]
        log(f"first sync over TLS, {label}")
        screens, minimal, headers, syncs, first_bytes, again_bytes, again = [], [], [], [], [], [], []
        for _ in range(a.runs):
            d = b.fresh_tls(port)
            proxy and proxy.take()
            _, _, out = timed([b.exe, "--data-dir", d, "bench", "first-sync", "--account", "bench"])
            first = json.loads(out)
            first_bytes.append(proxy.take() if proxy else 0)
            screens.append(first["first_screen_ms"])
            headers.append(first["all_headers_ms"])
            syncs.append(first["sync_ms"])
            again.append(b.sync(d)[0] * 1000)
            again_bytes.append(proxy.take() if proxy else 0)
            minimal.append(newest_screen_client(port, server["ca_file"]) * 1000)
        limit = protocol_limit("imap-headers", port, a.runs, tls=True) * 1000
        med = statistics.median
        lines.append(f"{'newest 50 listable, ' + label:<36} {med(screens):>8.0f}ms   least client"
                     f" {med(minimal):.0f} ms ({med(screens) / med(minimal):.2f}x), target <= 1.5x")
        lines.append(f"{'all 10,000 headers in, ' + label:<36} {med(headers):>8.0f}ms   protocol limit"
                     f" {limit:.0f} ms ({med(headers) / limit:.2f}x), target <= 2x")
        if proxy:
            proxy.take()
            mb = mbsync(server, a.workdir, 1, port=port, tls=True) * 1000
            mb_bytes = proxy.take()
            lines.append(f"{'first sync, ' + label:<36} {med(syncs):>8.0f}ms   {med(first_bytes) / 2**20:.1f} MB"
                         f" (headers + newest 50 bodies); mbsync (every message) {mb:.0f} ms,"
                         f" {mb_bytes / 2**20:.1f} MB")
            lines.append(f"{'no-change resync, ' + label:<36} {med(again):>8.0f}ms   {med(again_bytes) / 1024:.1f} KB")
        else:
            lines.append(f"{'first sync, ' + label:<36} {med(syncs):>8.0f}ms")
    return lines


def bench_data(a, server, b):
    """Bytes the first sync and a no-change resync receive under each body setting."""
    log("data received per body setting")
    proxy = CountingProxy(server["imap_port"])
    received = []
    for label, prefetch, extra in (
            ("headers only (--metered, or body-prefetch 0)", "50", ("--metered",)),
            ("newest 50 bodies per folder (the default)", "50", ()),
            ("every body (body-prefetch all)", "all", ())):
        d = b.fresh(prefetch, proxy.port)
        proxy.take()
        b.sync(d, extra)
        first = proxy.take()
        b.sync(d, extra)
        received.append((label, first, proxy.take()))
    lines = []
    for label, first, again in received:
        lines.append(f"{'data, first sync':<24} {first / 2**20:>8.2f}MB   {label}; a no-change resync"
                     f" {again / 1024:.1f} KB")
    return lines


def index_bytes(data_dir, table):
    """Bytes of an FTS5 index: its segments (the _data table) and their keys (_idx)."""
    db = sqlite3.connect(f"file:{os.path.join(data_dir, 'brevdue.sqlite3')}?mode=ro", uri=True)
    try:
        data = db.execute(f"SELECT ifnull(sum(length(block)), 0) FROM {table}_data").fetchone()[0]
        keys = db.execute(f"SELECT ifnull(sum(length(term) + 16), 0) FROM {table}_idx").fetchone()[0]
        return data + keys
    finally:
        db.close()


def bench_search(a, server, b):
    """Local search and threads over the mailbox plus server-side copies of it."""
    log(f"search over {a.messages * (a.search_copies + 1)} messages")
    c = imaplib.IMAP4("127.0.0.1", server["imap_port"])
    c.login(USER, PASSWORD)
    c.select("INBOX")
    for i in range(a.search_copies):
        c.create(f"Copy{i}")
        c.uid("COPY", "1:*", f"Copy{i}")
    c.logout()
    big = b.fresh("all")
    big_sync, big_rss, _ = b.sync(big)
    _, _, out = timed([a.brevdue, "--data-dir", big, "bench", "local", "--account", "bench"])
    local = json.loads(out)
    whole, headers = index_bytes(big, "message_fts"), index_bytes(big, "header_fts")
    n = local["messages"]
    return [
        f"{'sync of ' + str(n) + ' messages':<24} {big_sync*1000:>8.0f}ms   peak RSS {big_rss:.1f} MB",
        f"{'search p50':<24} {local['search_p50_ms']:>8.2f}ms   over {n} messages, target < 5 ms",
        f"{'search p50, word starts':<24} {local['partial_p50_ms']:>8.2f}ms   (as you type: 'invo', 'budg', ...), target < 5 ms",
        f"{'search p50, one letter':<24} {local['letters_p50_ms']:>8.2f}ms   (the first key: 'a', 'e', 'm', 's', 't')",
        f"{'search index':<24} {(whole + headers) / 2**20:>8.1f}MB   words {whole / 2**20:.1f} MB + word starts in headers"
        f" {headers / 2**20:.1f} MB (+{100 * headers / whole:.0f} %), target <= +33 %",
        f"{'newest 50 threads':<24} {local['threads_p50_ms']:>8.2f}ms   target < 5 ms",
    ]


def bench_pop3(a, server, b, rows):
    """POP3 download of the whole INBOX: brevdue, fetchmail and the protocol limit, all on
    the plain POP3 port. Appends table rows, returns the lines printed after the table.
    Runs last: Dovecot marks RETRieved messages \\Seen, which the IMAP figures must not see."""
    port = server["pop3_port"]
    log("POP3 download")
    # Dovecot's first POP3 session computes and caches every message's POP3 size.
    protocol_limit("pop3-full", port, 1)
    limit = protocol_limit("pop3-full", port, a.runs)
    fm, fm_rss = fetchmail(port, a.workdir, a.runs, a.messages)
    runs = []
    for _ in range(a.runs):
        d = b.fresh_pop3()
        runs.append(b.sync(d))
        got = b.inbox_total(d)
        if got != a.messages:
            raise RuntimeError(f"brevdue's POP3 sync stored {got} messages, not {a.messages}")
    ours = statistics.median(t for t, _, _ in runs)
    rss = max(r for _, r, _ in runs)
    rows.append(("POP3 download", ours, limit, "protocol limit (pop3-full)", ""))
    rows.append(("POP3 download", ours, fm, "fetchmail (--keep --all --bsmtp)", "< 1x"))
    verdict = f"{fm/ours:.1f}x faster" if ours <= fm else f"{ours/fm:.1f}x slower"
    return [f"POP3 download {a.messages:,} msgs: brevdue {ours:.1f} s, fetchmail {fm:.1f} s"
            f" (brevdue {verdict}), protocol limit {limit:.1f} s ({ours/limit:.1f}x);"
            f" peak RSS brevdue {rss:.1f} MB, fetchmail {fm_rss:.1f} MB"]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--brevdue", default=os.path.join(ROOT, "target", "release", "brevdue"))
    p.add_argument("--messages", type=int, default=10000)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--search-copies", type=int, default=9,
                   help="server-side copies of the mailbox for the 100,000-message search")
    p.add_argument("--only", choices=("imap", "pop3", "link", "data", "search"),
                   help="run only the IMAP, the POP3, the phone-link, the data or the search sections")
    a = p.parse_args()
    a.workdir = tempfile.mkdtemp(prefix="brevdue-bench-")
    serve = subprocess.Popen(["/usr/bin/python3", HARNESS, "serve", "--users", f"{USER}:{PASSWORD}"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        server = json.loads(serve.stdout.readline())
        maildir = os.path.join(server["maildir_root"], USER, "Maildir")
        log(f"generating {a.messages} messages into {maildir}")
        subprocess.run([sys.executable, GEN, maildir, str(a.messages), "42"], check=True,
                       stdout=subprocess.DEVNULL)
        nobody = pwd.getpwnam("nobody")
        for base, dirs, files in os.walk(os.path.join(server["maildir_root"], USER)):
            for name in [base] + [os.path.join(base, x) for x in dirs + files]:
                os.chown(name, nobody.pw_uid, nobody.pw_gid)
        b = Brevdue(a.brevdue, server, a.workdir)
        rows, lines = [], []
        if a.only == "search":
            lines += bench_search(a, server, b)
        elif a.only == "data":
            lines += bench_data(a, server, b)
        elif a.only == "link":
            lines += bench_link(a, server, b)
        elif a.only != "pop3":
            lines += bench_imap(a, server, b, rows)
        if a.only is None or a.only == "pop3":
            lines += bench_pop3(a, server, b, rows)

        print()
        print(f"Brevdue benchmark, {a.messages} messages (seed 42), median of {a.runs} runs, loopback, no TLS")
        print(f"{'measure':<24} {'brevdue':>10} {'reference':>10} {'ratio':>7}  reference tool / target")
        for name, ours, ref, tool, target in rows:
            print(f"{name:<24} {ours*1000:>8.0f}ms {ref*1000:>8.0f}ms {ours/ref:>6.2f}x  {tool} {target}")
        for line in lines:
            print(line)
    finally:
        serve.stdin.close()  # the server stops Dovecot and removes its state dir
        shutil.rmtree(a.workdir, ignore_errors=True)
        try:
            serve.wait(timeout=120)
        except subprocess.TimeoutExpired:  # deleting 100,000 messages can take long on a busy disk
            log("the mail server is still removing its state dir; leaving it to finish")


if __name__ == "__main__":
    main()
