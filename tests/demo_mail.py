"""A small, realistic demo mailbox: a few conversations, a newsletter, an invoice with a
PDF, mail in German and Japanese. Used by the demo; stdlib only."""
import email.utils
from email.message import EmailMessage

BASE = 1_767_225_600  # 2026-01-01 UTC


def _msg(i, sender, to, subject, body, reply_to=None, html=None, attachment=None, minutes=0):
    m = EmailMessage()
    m["From"] = sender
    m["To"] = to
    m["Subject"] = subject
    m["Date"] = email.utils.formatdate(BASE + minutes * 60)
    m["Message-ID"] = f"<demo{i}@brevdue.example>"
    if reply_to:
        m["In-Reply-To"] = f"<demo{reply_to}@brevdue.example>"
        m["References"] = f"<demo{reply_to}@brevdue.example>"
    m.set_content(body)
    if html:
        m.add_alternative(html, subtype="html")
    if attachment:
        name, data, maintype, subtype = attachment
        m.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return m.as_bytes()


def mailbox(owner="you@example.test"):
    """(folder, flags, raw bytes) for every demo message."""
    me = f"You <{owner}>"
    return [
        ("INBOX", "", _msg(1, "Anna Berg <anna@example.test>", me, "Dinner on Friday?",
                           "Hi! Shall we try the new place on Friday at 19:00?\n\nAnna", minutes=10)),
        ("INBOX", "\\Seen", _msg(2, me, "Anna Berg <anna@example.test>", "Re: Dinner on Friday?",
                                  "Friday works. See you there.", reply_to=1, minutes=40)),
        ("INBOX", "", _msg(3, "Anna Berg <anna@example.test>", me, "Re: Dinner on Friday?",
                           "Great, I booked a table for two.", reply_to=2, minutes=55)),
        ("INBOX", "", _msg(4, "Stadtwerke Zürich <rechnung@stadtwerke.example>", me,
                           "Ihre Rechnung für März",
                           "Guten Tag,\n\nim Anhang finden Sie Ihre Rechnung über 84,20 CHF.\n\nFreundliche Grüße",
                           attachment=("Rechnung-Maerz.pdf", b"%PDF-1.4\n% demo invoice\n%%EOF\n", "application", "pdf"),
                           minutes=120)),
        ("INBOX", "", _msg(5, "Rust Weekly <news@rustweekly.example>", me, "This week in Rust: async traits",
                           "Highlights of the week...", html="<h1>This week</h1><p>Highlights <img src='https://tracker.example/p.gif'></p>",
                           minutes=300)),
        ("INBOX", "\\Seen \\Flagged", _msg(6, "Kenji Sato <kenji@example.jp>", me, "会議の議事録",
                                            "昨日の会議の議事録を送ります。", minutes=400)),
        ("INBOX", "", _msg(7, "Ben Ortiz <ben@work.example>", me, "Quarterly report draft",
                           "Could you review the draft before Thursday?", minutes=500)),
        ("Archive", "\\Seen", _msg(8, "Airline <no-reply@air.example>", me, "Your boarding pass",
                                   "Flight BD 123, seat 14C.", minutes=5)),
        ("Archive", "\\Seen", _msg(9, "Shop <orders@shop.example>", me, "Order confirmation #4711",
                                   "Thank you for your order.", minutes=7)),
    ]
