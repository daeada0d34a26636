"""Reading the unit's mailbox: each message acted on once, moved only after what it caused is committed."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace

from handlers import orders, receipts, replies
from handlers.context import SYSTEM, Actor, Context
from handlers.directory import IroLoad, iro_loads
from handlers.errors import NotAllowed, RequestError
from handlers.receipts import Receipt
from handlers.views import OrderView
from mail import compose
from mail.backends import NEEDS_ATTENTION, PROCESSED, Mailbox, Outgoing, RawMessage
from mail.parsing import IncomingMail, parse_order_email, read_message

log = logging.getLogger(__name__)

ALLOCATION_SUBJECT = re.compile(r"\[(SO-\d{4}-\d{4,6})\]", re.IGNORECASE)
IRO_LINE = re.compile(r"^\s*(?:allocate\s+(?:to\s+)?|iro\s*:\s*)?(?P<name>[^\n]+?)\s*[.!]?\s*$", re.IGNORECASE)


@dataclass
class Notices:
    """What the other channel does when mail causes something: by default nothing (mail-only runs)."""

    order_created: Callable[[OrderView], Awaitable[None]] | None = None
    allocated: Callable[[orders.Allocated], Awaitable[object]] | None = None
    unreadable: Callable[[str], Awaitable[None]] | None = None


@dataclass
class PollReport:
    orders: list[str] = field(default_factory=list)
    allocations: list[str] = field(default_factory=list)
    replied: int = 0
    needs_attention: int = 0
    already_done: int = 0


@dataclass
class Poller:
    ctx: Context
    mailbox: Mailbox
    unit_address: str
    allowed_domains: Sequence[str]
    notices: Notices = field(default_factory=Notices)
    # Sends the replies queued in the outbox (the dispatcher's send_replies); None leaves them to its next tick.
    send_replies: Callable[[], Awaitable[object]] | None = None

    async def poll_once(self) -> PollReport:
        """Act on every unread message; a mailbox that drops mid-poll leaves the rest for the next poll.

        Nothing is sent from here: every reply is queued in the outbox, and the allocation request with its order,
        so a poller stopped at any instant sends nothing twice. The replies then go at once.
        """
        report = PollReport()
        try:
            for raw in await self.mailbox.new_messages():
                await self._handle(raw, report)
        finally:
            if self.send_replies is not None:  # this poll's, and any an earlier one left queued
                await self.send_replies()
        return report

    def _trusted(self, mail: IncomingMail) -> bool:
        domain = mail.sender_email.rpartition("@")[2].lower()
        return any(domain == d.lower().lstrip("@") for d in self.allowed_domains)

    async def _handle(self, raw: RawMessage, report: PollReport) -> None:
        mail = read_message(raw.mime)
        done = await receipts.done_parts(self.ctx, mail.message_id)
        if 0 in done:
            # Acted on before a crash kept it from moving: finish the move, do nothing twice.
            report.already_done += 1
            await self._file(raw, done[0])
            return
        if await replies.is_own(self.ctx, mail.message_id):
            # Sobot's own mail come back (the unit's list includes its mailbox): nothing to act on.
            await receipts.record(self.ctx, Receipt(mail.message_id, mail.sender_email), "own", PROCESSED)
            await self._file(raw, PROCESSED)
            return
        if not self._trusted(mail):
            # Unknown senders get no answer (no backscatter) and their mail is left unread for a person.
            await receipts.record(self.ctx, Receipt(mail.message_id, mail.sender_email), "untrusted", NEEDS_ATTENTION)
            report.needs_attention += 1
            await self.mailbox.move(raw, NEEDS_ATTENTION)
            return
        if mail.is_auto_reply:
            await receipts.record(self.ctx, Receipt(mail.message_id, mail.sender_email), "ignored", PROCESSED)
            await self._file(raw, PROCESSED)
            return
        subject_reference = ALLOCATION_SUBJECT.search(mail.subject)
        if subject_reference and (mail.in_reply_to or mail.subject.lower().startswith("re")):
            await self._allocation(raw, mail, subject_reference.group(1).upper(), report)
            return
        await self._new_orders(raw, mail, done, report)

    async def _file(self, raw: RawMessage, folder: str) -> None:
        # A move alone: marking it read first would leave, after a crash between the two, a read message in
        # the inbox that no later poll picks up.
        await self.mailbox.move(raw, folder)

    async def _new_orders(self, raw: RawMessage, mail: IncomingMail, done: dict[int, str], report: PollReport) -> None:
        result = parse_order_email(mail, self.ctx.today())
        if result.kind == "auto_reply":
            await receipts.record(self.ctx, Receipt(mail.message_id, mail.sender_email), "ignored", PROCESSED)
            await self._file(raw, PROCESSED)
            return
        if result.kind == "not_an_order":
            await self._needs_attention(raw, mail, report, f"a message from {mail.sender_email} that is not an order")
            return
        problems = list(result.problems)
        repeated: list[str] = []
        if result.kind == "orders":
            for number, fields in enumerate(result.orders, start=1):
                if number in done:
                    continue
                try:
                    view = await orders.create_order(
                        self.ctx, _new_order(fields, mail), Actor(mail.sender_name or mail.sender_email,
                                                                  mail.sender_email),
                        Receipt(mail.message_id, mail.sender_email, number), ask_unit_at=self.unit_address,
                    )  # fmt: skip
                except orders.AlreadyRecorded as already:
                    # Not a problem to fix: the sender is told the reference it has, and this part is done. The
                    # receipt names no order, as the order is not this message's to ask the unit about.
                    repeated.append(f"{_label(number, len(result.orders), fields.child_name)}{already}")
                    await receipts.record(self.ctx, Receipt(mail.message_id, mail.sender_email, number), "repeated",
                                          PROCESSED)  # fmt: skip
                    continue
                except RequestError as error:
                    problems.append(f"{_label(number, len(result.orders), fields.child_name)}{error}")
                    continue
                report.orders.append(view.reference)
                await self._ask_for_allocation(view)
        if problems:
            problems += repeated
            await self._reply(mail, "problems", compose.problems_reply(mail.sender_email, mail.subject,
                                                                       mail.message_id, problems), report)  # fmt: skip
            await self._needs_attention(raw, mail, report, f"an order email from {mail.sender_email} that needs fixing")
            return
        if repeated:
            await self._reply(mail, "repeated", compose.answer(mail.sender_email, mail.subject, mail.message_id,
                                                               repeated), report)  # fmt: skip
        await receipts.record(self.ctx, Receipt(mail.message_id, mail.sender_email), "order", PROCESSED)
        await self._file(raw, PROCESSED)

    async def _needs_attention(self, raw: RawMessage, mail: IncomingMail, report: PollReport, what: str) -> None:
        await receipts.record(self.ctx, Receipt(mail.message_id, mail.sender_email), "needs_attention", NEEDS_ATTENTION)
        report.needs_attention += 1
        await self._file(raw, NEEDS_ATTENTION)
        if self.notices.unreadable is not None:
            await self.notices.unreadable(f"The unit's mailbox has {what} (subject \"{mail.subject}\"): it is in "
                                          f"{NEEDS_ATTENTION}.")  # fmt: skip

    async def _iros_for(self, reference: str) -> list[IroLoad]:
        """The IROs a refused allocation's answer offers: those independent of the order's social worker."""
        try:
            social_worker = (await orders.get_order(self.ctx, reference, SYSTEM)).social_worker_id
        except RequestError:
            social_worker = None
        return [load for load in await iro_loads(self.ctx) if load.independent_of(social_worker)]

    async def _reply(self, mail: IncomingMail, what: str, outgoing: Outgoing, report: PollReport) -> None:
        reply = replies.Reply(outgoing.to[0], outgoing.subject, outgoing.text, outgoing.html, outgoing.in_reply_to,
                              outgoing.references)  # fmt: skip
        await replies.queue_reply(self.ctx, mail.message_id, what, reply)
        report.replied += 1

    async def _ask_for_allocation(self, view: OrderView) -> None:
        # The email asking the unit was queued with the order; the unit's channel in Teams is told now.
        if self.notices.order_created is not None:
            await self.notices.order_created(view)

    async def _allocation(self, raw: RawMessage, mail: IncomingMail, reference: str, report: PollReport) -> None:
        line = next((ln for ln in mail.new_text.splitlines() if ln.strip()), "")
        match = IRO_LINE.match(line)
        name = match.group("name") if match else ""
        actor = Actor(mail.sender_name or mail.sender_email, mail.sender_email)
        receipt = Receipt(mail.message_id, mail.sender_email)
        try:
            if not name:
                raise RequestError("The reply did not name an IRO: reply with just their name, e.g. Jane Smith.")
            allocated = await orders.allocate_iro(self.ctx, reference, name, actor, receipt)
        except (RequestError, NotAllowed) as error:
            answer = compose.allocation_answer(mail.sender_email, mail.subject, mail.message_id, str(error),
                                               await self._iros_for(reference))  # fmt: skip
            await self._reply(mail, "allocation", answer, report)
            await receipts.record(self.ctx, receipt, "allocation_refused", PROCESSED)
            await self._file(raw, PROCESSED)
            return
        report.allocations.append(reference)
        sentence = f"{allocated.order.iro} is now the IRO for {reference}."
        await self._reply(mail, "allocation",
                          compose.allocation_answer(mail.sender_email, mail.subject, mail.message_id, sentence, []),
                          report)  # fmt: skip
        await self._file(raw, PROCESSED)
        if self.notices.allocated is not None:
            await self.notices.allocated(allocated)


def _label(number: int, total: int, child_name: str) -> str:
    """How a sentence about one order of an email that gives several says which."""
    return f"Order {number} ({child_name}): " if total > 1 else ""


def _new_order(fields: orders.NewOrder, mail: IncomingMail) -> orders.NewOrder:
    # An email that names no social worker is the social worker's own.
    return replace(fields, social_worker_email=fields.social_worker_email or mail.sender_email)
