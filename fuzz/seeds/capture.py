#!/usr/bin/python3
"""Writes the fuzz seeds that are real server output: starts the test harness's Dovecot
(tests/mailserver.py, with tests/demo_mail.py's mailbox), sends it the commands the
engine sends, in the engine's order and with its tags, and stores what Dovecot answers,
behind the option byte the targets read first (fuzz/src/lib.rs, `Options`).

    /usr/bin/python3 fuzz/seeds/capture.py

Overwrites fuzz/seeds/{imap_answers,pop3_answers}/dovecot-*; the hand-written seeds
(from RFC examples and the core's tests) beside them stay as they are.
"""
import json
import os
import re
import socket
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
HEADER_FIELDS = "FROM TO CC SUBJECT DATE MESSAGE-ID IN-REPLY-TO REFERENCES CONTENT-TYPE"


class Server:
    def __init__(self, *options):
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", os.path.join(ROOT, "tests", "mailserver.py"), "serve",
             "--users", "alice:secret,bob:secret", "--demo-mailbox", "alice", *options],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.info = json.loads(self.proc.stdout.readline())

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


class Imap:
    """A raw IMAP connection that records every byte the server sends."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""
        self.transcript = b""
        self.tag = 0
        self.read_response()  # the greeting

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("server closed the connection")
            self.buf += chunk
        end = self.buf.index(b"\r\n") + 2
        line, self.buf = self.buf[:end], self.buf[end:]
        self.transcript += line
        return line

    def _literal(self, n):
        while len(self.buf) < n:
            self.buf += self.sock.recv(65536)
        data, self.buf = self.buf[:n], self.buf[n:]
        self.transcript += data

    def read_response(self):
        """One response, literals included; returns its first line."""
        first = line = self._line()
        while m := re.search(rb"~?\{(\d+)\+?\}\r\n$", line):
            self._literal(int(m.group(1)))
            line = self._line()
        return first

    def command(self, text):
        """Sends a tagged command (tags as async-imap makes them) and reads to its end."""
        self.tag += 1
        tag = b"A%04d" % self.tag
        self.sock.sendall(tag + b" " + text.encode() + b"\r\n")
        while True:
            line = self.read_response()
            if line.startswith(tag + b" "):
                return line


def engine_session(port, folder="INBOX", caps_off=(), fetch=(1, 3), bodies=(1, 2),
                   select=None, password="secret"):
    """The engine's commands for a header and body sync of `folder`, as ImapConnection
    sends them with the extensions left after `caps_off`; returns the server's bytes,
    with those extensions removed from the CAPABILITY answer too."""
    imap = Imap(port)
    if not imap.command(f"LOGIN alice {password}").split()[1] == b"OK":
        return imap.transcript
    cap_line = imap.transcript.count(b"\r\n")
    imap.command("CAPABILITY")
    caps = set(re.findall(rb"[^ \r\n]+", imap.transcript.split(b"\r\n")[cap_line]))
    caps -= {c.encode() for c in caps_off}
    condstore = b"CONDSTORE" in caps or b"QRESYNC" in caps
    qresync = b"QRESYNC" in caps
    if qresync:
        imap.command("ENABLE QRESYNC")
    options = []
    if b"SPECIAL-USE" in caps:
        options.append("SPECIAL-USE")
    if b"LIST-STATUS" in caps:
        options.append("STATUS (MESSAGES UIDNEXT UIDVALIDITY%s)"
                       % (" HIGHESTMODSEQ" if condstore else ""))
    imap.command('LIST "" "*"' + (f" RETURN ({' '.join(options)})" if options else ""))
    name = select or folder
    imap.command(f'SELECT "{name}"' + (" (CONDSTORE)" if condstore else ""))
    items = "(UID FLAGS MODSEQ)" if condstore else "(UID FLAGS)"
    if qresync:
        items += " (CHANGEDSINCE 1 VANISHED)"
    elif condstore:
        items += " (CHANGEDSINCE 1)"
    imap.command(f"UID FETCH 1:* {items}")
    imap.command("UID SEARCH ALL")
    imap.command(f"UID FETCH {fetch[0]}:{fetch[1]} (UID FLAGS RFC822.SIZE INTERNALDATE "
                 f"BODY.PEEK[HEADER.FIELDS ({HEADER_FIELDS})]{' MODSEQ' if condstore else ''})")
    imap.command(f"UID FETCH {bodies[0]}:{bodies[1]} (UID BODY.PEEK[])")
    imap.command("NOOP")
    out = imap.transcript
    for cap in caps_off:
        out = re.sub(rb"(\* CAPABILITY[^\r]*?) " + re.escape(cap.encode()) + rb"(?=[ \r])",
                     rb"\1", out, count=1)
    return out


def change_inbox(port):
    """Another client flags one message and expunges another (for VANISHED)."""
    imap = Imap(port)
    imap.command("LOGIN alice secret")
    imap.command("SELECT INBOX")
    imap.command("UID STORE 1 +FLAGS (\\Flagged $Forwarded)")
    imap.command("UID STORE 2 +FLAGS (\\Deleted)")
    imap.command("EXPUNGE")
    imap.command("LOGOUT")


class Pop3:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""
        self.transcript = b""
        self.line()

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("server closed the connection")
            self.buf += chunk
        end = self.buf.index(b"\r\n") + 2
        line, self.buf = self.buf[:end], self.buf[end:]
        self.transcript += line
        return line

    def answer(self, multiline):
        status = self.line()
        if multiline and status.startswith(b"+OK"):
            while self.line() != b".\r\n":
                pass
        return status

    def send(self, *commands):
        self.sock.sendall(b"".join(c.encode() + b"\r\n" for c in commands))


def pop3_session(port, pipelining=True, sasl=True, password="secret"):
    """The engine's POP3 commands (Pop3Connection: start, login, then what sync and the
    fuzz target ask), with PIPELINING or SASL taken out of the CAPA answer if asked."""
    pop = Pop3(port)
    pop.send("CAPA")
    pop.answer(True)
    if sasl:
        import base64
        token = base64.b64encode(f"\0alice\0{password}".encode()).decode()
        pop.send(f"AUTH PLAIN {token}")
        ok = pop.answer(False)
    else:
        pop.send("USER alice")
        pop.answer(False)
        pop.send(f"PASS {password}")
        ok = pop.answer(False)
    if ok.startswith(b"+OK"):
        pop.send("STAT")
        pop.answer(False)
        start = len(pop.transcript)
        pop.send("UIDL")
        pop.answer(True)
        numbers = [int(line.split()[0]) for line in pop.transcript[start:].split(b"\r\n")[1:-2]]
        pop.send("LIST")
        pop.answer(True)
        if pipelining:
            pop.send(*(f"RETR {n}" for n in numbers))
            for _ in numbers:
                pop.answer(True)
        else:
            for n in numbers:
                pop.send(f"RETR {n}")
                pop.answer(True)
        pop.send(f"RETR {numbers[0]}")
        pop.answer(True)
        pop.send(f"TOP {numbers[0]} 0")
        pop.answer(True)
        pop.send(f"DELE {numbers[0]}")
        pop.answer(False)
    pop.send("QUIT")
    pop.answer(False)
    out = pop.transcript
    if not pipelining:
        out = out.replace(b"PIPELINING\r\n", b"", 1)
    if not sasl:
        out = re.sub(rb"SASL[^\r]*\r\n", b"", out, count=1)
    return out


def write(target, name, option, data):
    folder = os.path.join(HERE, target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, f"dovecot-{name}"), "wb") as f:
        f.write(option + data)


def main():
    server = Server()
    try:
        imap, pop3 = server.info["imap_port"], server.info["pop3_port"]
        full = engine_session(imap)
        write("imap_answers", "sync", b"0", full)
        write("imap_answers", "sync-3-byte-reads", b"1", full)
        write("imap_answers", "sync-7-byte-reads", b"2", full)
        write("imap_answers", "sync-small-limits", b"8", full)
        write("imap_answers", "html-and-pdf", b"6", engine_session(imap, fetch=(4, 5), bodies=(4, 5)))
        write("imap_answers", "archive", b"0", engine_session(imap, folder="Archive"))
        write("imap_answers", "no-extensions", b"5",
              engine_session(imap, caps_off=("QRESYNC", "CONDSTORE", "SPECIAL-USE", "LIST-STATUS")))
        write("imap_answers", "condstore-only", b"3",
              engine_session(imap, caps_off=("QRESYNC",)))
        write("imap_answers", "select-refused", b"0", engine_session(imap, select="Nope"))
        write("imap_answers", "login-refused", b"0", engine_session(imap, password="wrong"))
        change_inbox(imap)
        write("imap_answers", "vanished", b"0", engine_session(imap, fetch=(1, 4), bodies=(3, 3)))

        write("pop3_answers", "pipelined", b"0", pop3_session(pop3))
        write("pop3_answers", "pipelined-3-byte-reads", b"1", pop3_session(pop3))
        write("pop3_answers", "one-at-a-time", b"0", pop3_session(pop3, pipelining=False))
        write("pop3_answers", "user-pass-7-byte-reads", b"2",
              pop3_session(pop3, pipelining=False, sasl=False))
        write("pop3_answers", "login-refused", b"0", pop3_session(pop3, password="wrong"))
    finally:
        server.close()
    server = Server("--namespace", "inbox-dot")
    try:
        write("imap_answers", "inbox-dot-namespace", b"2",
              engine_session(server.info["imap_port"], fetch=(6, 6), bodies=(6, 6)))
    finally:
        server.close()


if __name__ == "__main__":
    sys.exit(main())
