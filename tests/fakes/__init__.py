"""Loopback fakes of the mail services sobot talks to, speaking their real wire formats."""


def notification(number: int, to: str) -> bytes:
    """A short new-order email to the unit's mailbox, with a £ and an accent so charsets are exercised."""
    from email.message import EmailMessage

    mime = EmailMessage()
    mime["From"] = "worker@council.example"
    mime["To"] = to
    mime["Subject"] = f"New Supervision Order {number}"
    mime["Message-ID"] = f"<order-{number}@council.example>"
    mime.set_content(f"Child ID: C{number:04d}\nOrder type: Supervision Order\n£ café\n")
    return mime.as_bytes()
