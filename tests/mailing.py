"""The mail poller joined to the outbox's dispatcher as the service joins them, for tests on any mailbox backend."""

from __future__ import annotations

from collections.abc import Sequence

from handlers.context import Context
from handlers.links import Links
from mail.backends import Mailbox
from mail.poller import Notices, Poller
from mail.trust import SenderTrust
from rules.notices import WorkingHours
from scheduler.dispatch import Dispatcher
from sobot.delivery import Delivery
from tests.vouching import TRUST

# The dashboard as `make run` serves it: where the emails' "Open in sobot" links go.
LINKS = Links("http://127.0.0.1:3978/")


def dispatcher(ctx: Context, mailbox: Mailbox, unit: str, allocation_to: Sequence[str] = ()) -> Dispatcher:
    """The outbox's dispatcher, sending email through `mailbox` (no Teams)."""
    return Dispatcher(ctx.database, Delivery(None, mailbox, ctx, allocation_to, links=LINKS),
                      WorkingHours(ctx.calendar), ctx.clock, unit)  # fmt: skip


def poller(
    ctx: Context,
    mailbox: Mailbox,
    unit: str,
    domains: Sequence[str],
    notices: Notices | None = None,
    *,
    trust: SenderTrust = TRUST,
) -> Poller:
    """A poller whose replies, queued in the outbox, are sent at the end of each poll; it believes the test
    council's mail server (tests.vouching) unless told otherwise."""
    return Poller(ctx, mailbox, unit, list(domains), notices or Notices(), trust=trust,
                  send_replies=dispatcher(ctx, mailbox, unit).send_replies, links=LINKS)  # fmt: skip
