#!/usr/bin/env python3
"""The demo: a private mail server, a realistic mailbox, and the engine on two devices
(IMAP). Everything printed below the headings is what the `brevdue` CLI printed."""
import imaplib
import json
import os
import ssl
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.dirname(__file__))
import demo_mail  # noqa: E402

EXE = os.environ.get("BREVDUE", os.path.join(ROOT, "target", "debug", "brevdue"))


def heading(text):
    print(f"\n=== {text}", flush=True)


def brevdue(device, *args, show=True):
    out = subprocess.run([EXE, "--data-dir", device, *args], capture_output=True, text=True,
                         env=dict(os.environ, DEMO_PASSWORD="demo-pw"))
    if out.returncode != 0:
        sys.exit(f"brevdue {' '.join(args)} failed: {out.stderr.strip()}")
    if show:
        for line in (out.stdout + out.stderr).rstrip().splitlines():
            print(f"  {line}")
    return out.stdout


def main():
    serve = subprocess.Popen(["/usr/bin/python3", os.path.join(ROOT, "tests", "mailserver.py"), "serve",
                              "--users", "you:demo-pw"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    work = tempfile.mkdtemp(prefix="brevdue-demo-")
    try:
        server = json.loads(serve.stdout.readline())
        heading(f"private Dovecot on 127.0.0.1:{server['imaps_port']} (IMAPS) with a demo mailbox")
        ctx = ssl.create_default_context(cafile=server["ca_file"])
        with imaplib.IMAP4_SSL("127.0.0.1", server["imaps_port"], ssl_context=ctx) as c:
            c.login("you", "demo-pw")
            for folder, flags, raw in demo_mail.mailbox():
                c.append(folder, f"({flags})" if flags else None, None, raw)
        phone, pc = os.path.join(work, "phone"), os.path.join(work, "pc")
        for device in (phone, pc):
            heading(f"{os.path.basename(device)}: add the account (login checked, password kept out of the database)")
            brevdue(device, "account", "add", "demo", "--email", "you@example.test", "--protocol", "imap",
                    "--host", "127.0.0.1", "--port", str(server["imaps_port"]), "--security", "tls",
                    "--user", "you", "--password-env", "DEMO_PASSWORD", "--ca-file", server["ca_file"])
        heading("phone: sync")
        brevdue(phone, "sync")
        heading("phone: folders")
        brevdue(phone, "folders")
        heading("phone: INBOX, newest first (* unread, ! flagged, R answered, @ attachment)")
        brevdue(phone, "list", "--folder", "INBOX")
        heading("phone: conversations in INBOX ([messages])")
        brevdue(phone, "threads", "--account", "demo")
        heading("phone: search 'rechnung'")
        hits = json.loads(brevdue(phone, "search", "rechnung", "--json", show=False))
        brevdue(phone, "search", "rechnung")
        if hits:
            heading("phone: open the invoice")
            brevdue(phone, "show", str(hits[0]["id"]))
        heading("another client (Python imaplib) reads Anna's mail and flags Ben's")
        with imaplib.IMAP4_SSL("127.0.0.1", server["imaps_port"], ssl_context=ctx) as c:
            c.login("you", "demo-pw")
            c.select("INBOX")
            for mid, flag in (("demo3", "\\Seen"), ("demo7", "\\Flagged")):
                _, data = c.uid("SEARCH", None, "HEADER", "Message-ID", f"{mid}@brevdue.example")
                c.uid("STORE", data[0].decode(), "+FLAGS", f"({flag})")
                print(f"  {mid}: +{flag}")
        heading("phone: read Anna's first mail, file the invoice into a new folder 'Receipts'")
        inbox = json.loads(brevdue(phone, "list", "--folder", "INBOX", "--json", show=False))
        by_mid = {m["message_id"]: str(m["id"]) for m in inbox}
        brevdue(phone, "mark", by_mid["demo1@brevdue.example"], "--read")
        brevdue(phone, "folder", "create", "Receipts")
        brevdue(phone, "move", by_mid["demo4@brevdue.example"], "--to", "Receipts")
        brevdue(phone, "folders")
        pending = json.loads(brevdue(phone, "ops", "--json", show=False))
        print(f"  changes still waiting for the server: {len(pending)}")
        heading("pc: sync; everything done on the phone and by the other client is here")
        brevdue(pc, "sync")
        brevdue(pc, "folders")
        brevdue(pc, "list", "--folder", "INBOX")
        brevdue(pc, "list", "--folder", "Receipts")
    finally:
        serve.stdin.close()
        serve.wait(timeout=30)
        subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    main()
