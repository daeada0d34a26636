"""The emails sobot writes: allocation requests, answers to the unit, and replies to bad notifications.

Every one names the order by reference and the child by initials: never the full name or date of birth. One about
an order ends "Open in sobot: <its page>" (a link in the HTML part), and the digest links each order it lists.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from handlers.directory import IroLoad
from handlers.links import Links
from handlers.terms import TYPE_NAMES
from handlers.views import OrderView
from mail.backends import Outgoing
from mail.template import NEW_ORDER_HELP
from scheduler.dispatch import Message


def to_mime(message: Outgoing, sender: str) -> EmailMessage:
    mime = EmailMessage()
    mime["From"] = sender
    mime["To"] = ", ".join(message.to)
    mime["Subject"] = message.subject
    mime["Date"] = formatdate(localtime=False, usegmt=True)
    domain = sender.rpartition("@")[2] or "sobot.local"
    # Sent again for the same outbox row, it is the same message: a mail system may drop the copy.
    mime["Message-ID"] = f"<{message.token}@{domain}>" if message.token else make_msgid(domain=domain)
    mime["Auto-Submitted"] = "auto-generated"  # so no well-behaved mailbox answers it with an auto-reply
    if message.in_reply_to:
        mime["In-Reply-To"] = _angled(message.in_reply_to)
        mime["References"] = " ".join(_angled(i) for i in (*message.references, message.in_reply_to))
    mime.set_content(message.text)
    mime.add_alternative(message.html, subtype="html")
    return mime


def _angled(message_id: str) -> str:
    """A Message-ID as headers carry it: <id@host>."""
    return message_id if message_id.startswith("<") else f"<{message_id}>"


OPEN_IN_SOBOT = "Open in sobot"


def open_line(link: str) -> str:
    """The text part's link to an order's page (or the caseload's)."""
    return f"{OPEN_IN_SOBOT}: {link}"


def _open_lines(links: Sequence[str]) -> str:
    """The text part's ending: a paragraph of "Open in sobot" lines, one per order; nothing without an order."""
    return "\n\n" + "\n".join(open_line(link) for link in links) if links else ""


def _anchor(link: str, label: str) -> str:
    return f'<a href="{html.escape(link, quote=True)}">{html.escape(label)}</a>'


def _html(
    paragraphs: Sequence[str],
    rows: Sequence[tuple[str, str]] = (),
    after: Sequence[str] = (),
    preformatted: str = "",
    links: Sequence[str] = (),
    linked_rows: Sequence[tuple[str, str, str]] = (),
) -> str:
    """One HTML document: paragraphs, then a table of rows, then more paragraphs and preformatted text, then the
    "Open in sobot" links (one per order). `linked_rows` are rows whose value is linked: (heading, value, link)."""
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    cells = "".join(f"<tr><th align='left'>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
    cells += "".join(f"<tr><th align='left'>{html.escape(k)}</th><td>{_anchor(to, v)}</td></tr>"
                     for k, v, to in linked_rows)  # fmt: skip
    if cells:
        body += f"<table>{cells}</table>"
    body += "".join(f"<p>{html.escape(p)}</p>" for p in after)
    if preformatted:
        body += f"<pre>{html.escape(preformatted)}</pre>"
    body += "".join(f"<p>{_anchor(link, OPEN_IN_SOBOT)}</p>" for link in links)
    return f"<html><body>{body}</body></html>"


def order_lines(view: OrderView) -> list[tuple[str, str]]:
    return [
        ("Reference", view.reference),
        ("Child", view.child_initials),
        ("Order", TYPE_NAMES[view.order_type]),
        ("Made", f"{view.made:%d %B %Y}"),
        ("Last day", f"{view.last_day:%d %B %Y}"),
        ("Procedure", view.procedure_id),
        ("Social worker", view.social_worker or "not recorded"),
    ]


def allocation_request(view: OrderView, iros: Sequence[IroLoad], unit_address: str, link: str) -> Outgoing:
    """The unit's request to allocate an IRO to a new order; `link` is the order's page."""
    rows = order_lines(view)
    choices = [f"{load.person.name} ({load.load})" for load in iros
               if load.independent_of(view.social_worker_id)]  # fmt: skip
    text = (
        "A new order needs an IRO.\n\n"
        + "\n".join(f"{k}: {v}" for k, v in rows)
        + "\n\nReply to this email with the IRO's name (for example: Jane Smith) to allocate them.\n\nIROs:\n"
        + "\n".join(f"  {c}" for c in choices or ["none in the directory yet"])
        + "\n\n" + open_line(link)
    )  # fmt: skip
    markup = _html(
        ["A new order needs an IRO."], rows,
        ["Reply to this email with the IRO's name (for example: Jane Smith) to allocate them.", "IROs:", *choices],
        links=[link],
    )  # fmt: skip
    return Outgoing((unit_address,), f"[{view.reference}] Allocate an IRO", text, markup)


# A reply lists this many problems at most: a mail of 5,000 "Child ID:" lines once got a reply of 1.3 MB.
MOST_PROBLEMS = 20


def problems_reply(
    to: str, subject: str, message_id: str, problems: Sequence[str], saved: Sequence[str] = (),
    links: Sequence[str] = (),
) -> Outgoing:  # fmt: skip
    """The reply to an order email sobot could not wholly record. `saved` are the references of the orders of it
    that were recorded all the same (an email of several); `links` the pages of the orders it is about."""
    intro = "Thank you. sobot could not record this as a new Supervision Order, so nothing was saved:"
    if saved:
        intro = (f"Thank you. sobot recorded {' and '.join(saved)} from this email, but could not record the rest, "
                 "so nothing more was saved:")  # fmt: skip
    ending = "Please send the details again in a new email, filled in like this:"
    listed = list(problems[:MOST_PROBLEMS])
    if len(problems) > MOST_PROBLEMS:
        more = len(problems) - MOST_PROBLEMS
        listed.append(f"… and {more} more {'problem' if more == 1 else 'problems'} like these.")
    text = intro + "\n\n" + "\n".join(f"- {p}" for p in listed) + f"\n\n{ending}\n\n{NEW_ORDER_HELP}"
    if links:
        text = text.rstrip() + _open_lines(links)
    markup = _html([intro, *(f"• {p}" for p in listed), ending], preformatted=NEW_ORDER_HELP, links=links)
    return Outgoing((to,), _re(subject), text, markup, in_reply_to=message_id)


def answer(to: str, subject: str, message_id: str, sentences: Sequence[str], links: Sequence[str] = ()) -> Outgoing:
    """A plain reply in the thread: what sobot did with the message, a sentence a paragraph, then the pages of the
    orders it is about."""
    text = "\n\n".join(sentences) + _open_lines(links)
    return Outgoing((to,), _re(subject), text, _html(sentences, links=links), in_reply_to=message_id)


def allocation_answer(to: str, subject: str, message_id: str, sentence: str, iros: Sequence[IroLoad],
                      link: str | None = None) -> Outgoing:  # fmt: skip
    """The answer to the unit's allocation reply; `link` is the order's page, when there is such an order."""
    names = [f"{load.person.name} ({load.load})" for load in iros]
    links = [link] if link else []
    text = (
        sentence
        + ("\n\nIROs:\n" + "\n".join(f"  {n}" for n in names) if names and "now the IRO" not in sentence else "")
        + _open_lines(links)
    )
    markup = _html([sentence, *(names if "now the IRO" not in sentence else [])], links=links)
    return Outgoing((to,), _re(subject), text, markup, in_reply_to=message_id)


def _re(subject: str) -> str:
    return subject if subject.lower().startswith("re:") else f"Re: {subject}"


def notification(to: str, message: Message, links: Links) -> Outgoing:
    """A reminder, escalation, digest or note to the unit, by email: the same words as the Teams card, and the link
    to the order's page (the digest: to the caseload, and each order its own)."""
    subject = message.subject if message.reference else f"sobot: {message.subject}"
    if message.digest:
        rows = [(f"{line.due:%d %b %Y}" + (" (overdue)" if line.overdue else ""),
                 f"{line.reference} ({line.initials}): {line.title} [{line.owner.replace('_', ' ')}]",
                 links.order(line.reference))
                for line in message.digest]  # fmt: skip
        text = f"{message.text}\n\n{open_line(links.caseload())}"
        return Outgoing((to,), subject, text, _html([message.headline], linked_rows=rows, links=[links.caseload()]))
    if message.reference:
        link = links.order(message.reference)
        text = f"{message.text}\n\n{open_line(link)}"
        return Outgoing((to,), subject, text, _html([message.headline, *message.lines], links=[link]))
    return Outgoing((to,), subject, message.text, _html([message.headline, *message.lines]))
