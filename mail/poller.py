"""Reading the unit's mailbox: each message acted on once, moved only after what it caused is committed."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TypeVar

from handlers import orders, receipts
from handlers.context import Actor, Context
from handlers.directory import IroLoad, iro_loads
from handlers.errors import NotAllowed, RequestError
from handlers.receipts import Receipt
from handlers.views import OrderView
from mail import compose
from mail.backends import NEEDS_ATTENTION, PROCESSED, Mailbox, RawMessage
from mail.parsing import IncomingMail, MailHeaders, parse_order_email, read_headers, read_message
from mail.trust import SenderTrust, vouched

log = logging.getLogger(__name__)
T = TypeVar("T")

ALLOCATION_SUBJECT = re.compile(r"\[(SO-\d{4}-\d{4,6})\]", re.IGNORECASE)
# "Jane Smith", "Allocate to Jane Smith.", "Jane Smith please", "Jane Smith (IRO)", "IRO: Jane Smith, thanks".
_COURTESY = r"(?:please|pls|thanks|thank\s+you|many\s+thanks|ta|cheers)"
IRO_LINE = re.compile(
    rf"^\s*(?:{_COURTESY}[\s,]+)?(?:(?:allocate|assign)\s+(?:to\s+)?|iro\s*[:-]\s*)?(?P<name>[^\n]+?)"
    rf"(?:\s*\(\s*(?:the\s+)?iro\s*\)|\s*[-,]\s*iro)?(?:[\s,]+{_COURTESY})?\s*[.!]*\s*$",
    re.IGNORECASE,
)
# A greeting is not a name: "Hi all," on the first line, or before the name on the same line.
GREETING = re.compile(
    r"^\s*(?:hi|hello|hey|dear|morning|afternoon|good\s+(?:morning|afternoon|evening))\b[^,!\n]{0,40}(?:[,!]\s*|$)",
    re.IGNORECASE,
)


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
    # How the council's mail system vouches for a sender; by default no one is vouched for.
    trust: SenderTrust = field(default_factory=SenderTrust)
    max_bytes: int = 10_000_000
    read_seconds: float = 10.0

    async def poll_once(self) -> PollReport:
        """Act on every unread message; a mailbox that drops mid-poll leaves the rest for the next poll."""
        report = PollReport()
        for raw in await self.mailbox.new_messages():
            await self._handle(raw, report)
        return report

    def _trusted(self, mail: MailHeaders) -> bool:
        domain = mail.sender_email.rpartition("@")[2].lower()
        return any(domain == d.lower().lstrip("@") for d in self.allowed_domains)

    def _vouched(self, mail: MailHeaders) -> bool:
        return not mail.sender_is_ambiguous and vouched(
            self.trust, mail.sender_email, mail.authentication_results, mail.exchange_auth_as
        )

    async def _off_loop(self, work: Callable[..., T], *args: object) -> T:
        """Reading a message in a worker thread, so the service answers meanwhile, for at most read_seconds."""
        return await asyncio.wait_for(asyncio.to_thread(work, *args), self.read_seconds)

    async def _handle(self, raw: RawMessage, report: PollReport) -> None:
        # The headers alone first: who sent it, and whether anyone vouches for them, before any body is read.
        headers = await asyncio.to_thread(read_headers, raw.mime)
        done = await receipts.done_parts(self.ctx, headers.message_id)
        if 0 in done:
            # Acted on before a crash kept it from moving: finish the move, do nothing twice.
            report.already_done += 1
            await self._file(raw, done[0])
            return
        if not self._trusted(headers):
            # Unknown senders get no answer (no backscatter) and their mail is left unread for a person.
            await receipts.record(self.ctx, Receipt(headers.message_id, headers.sender_email), "untrusted",
                                  NEEDS_ATTENTION)  # fmt: skip
            report.needs_attention += 1
            await self.mailbox.move(raw, NEEDS_ATTENTION)
            return
        if not self._vouched(headers):
            # An allowed domain's From line, but the council's mail system does not say it sent it: no answer
            # (it could be anyone's), and the unit is told.
            await self._needs_attention(raw, headers, report, f"a message whose sender, {headers.sender_email}, the "
                                        "council's mail system does not vouch for")  # fmt: skip
            return
        if len(raw.mime) > self.max_bytes:
            await self.mailbox.send(compose.answer(headers.sender_email, headers.subject, headers.message_id, [
                f"Thank you. This email is {_megabytes(len(raw.mime))}, more than the {_megabytes(self.max_bytes)} "
                "sobot reads, so nothing was saved: send the order's details typed into a new email, without "
                "attachments."
            ]))  # fmt: skip
            report.replied += 1
            await self._needs_attention(raw, headers, report, f"a message from {headers.sender_email} too large to "
                                        "read")  # fmt: skip
            return
        try:
            mail = await self._off_loop(read_message, raw.mime)
        except TimeoutError:
            await self._needs_attention(raw, headers, report, f"a message from {headers.sender_email} that took "
                                        f"more than {self.read_seconds:g} s to read")  # fmt: skip
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
        try:
            result = await self._off_loop(parse_order_email, mail, self.ctx.today())
        except TimeoutError:
            await self._needs_attention(raw, mail, report, f"a message from {mail.sender_email} that took more than "
                                        f"{self.read_seconds:g} s to read")  # fmt: skip
            return
        if result.kind == "auto_reply":
            await receipts.record(self.ctx, Receipt(mail.message_id, mail.sender_email), "ignored", PROCESSED)
            await self._file(raw, PROCESSED)
            return
        if result.kind == "not_an_order":
            await self._needs_attention(raw, mail, report, f"a message from {mail.sender_email} that is not an order")
            return
        problems = list(result.problems)
        repeated: list[str] = []
        for reference in await receipts.unasked(self.ctx, mail.message_id):
            # Saved by an earlier poll that stopped before the unit was asked: ask now, once.
            await self._ask_for_allocation(await orders.get_order(self.ctx, reference))
        if result.kind == "orders":
            for number, fields in enumerate(result.orders, start=1):
                if number in done:
                    continue
                try:
                    view = await orders.create_order(
                        self.ctx, _new_order(fields, mail), Actor(mail.sender_name or mail.sender_email,
                                                                  mail.sender_email),
                        Receipt(mail.message_id, mail.sender_email, number),
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
            await self.mailbox.send(compose.problems_reply(mail.sender_email, mail.subject, mail.message_id, problems))
            report.replied += 1
            await self._needs_attention(raw, mail, report, f"an order email from {mail.sender_email} that needs fixing")
            return
        if repeated:
            await self.mailbox.send(compose.answer(mail.sender_email, mail.subject, mail.message_id, repeated))
            report.replied += 1
        await receipts.record(self.ctx, Receipt(mail.message_id, mail.sender_email), "order", PROCESSED)
        await self._file(raw, PROCESSED)

    async def _needs_attention(
        self, raw: RawMessage, mail: MailHeaders | IncomingMail, report: PollReport, what: str
    ) -> None:
        await receipts.record(self.ctx, Receipt(mail.message_id, mail.sender_email), "needs_attention", NEEDS_ATTENTION)
        report.needs_attention += 1
        await self._file(raw, NEEDS_ATTENTION)
        if self.notices.unreadable is not None:
            await self.notices.unreadable(f"The unit's mailbox has {what} (subject \"{mail.subject}\"): it is in "
                                          f"{NEEDS_ATTENTION}.")  # fmt: skip

    async def _iros_for(self, reference: str) -> list[IroLoad]:
        """The IROs a refused allocation's answer offers: those independent of the order's social worker."""
        try:
            social_worker = (await orders.get_order(self.ctx, reference)).social_worker_id
        except RequestError:
            social_worker = None
        return [load for load in await iro_loads(self.ctx) if load.independent_of(social_worker)]

    async def _ask_for_allocation(self, view: OrderView) -> None:
        await self.mailbox.send(compose.allocation_request(view, await iro_loads(self.ctx), self.unit_address))
        await receipts.mark_asked(self.ctx, view.reference, self.unit_address)
        if self.notices.order_created is not None:
            await self.notices.order_created(view)

    async def _allocation(self, raw: RawMessage, mail: IncomingMail, reference: str, report: PollReport) -> None:
        line = next((ln for ln in (GREETING.sub("", ln, count=1) for ln in mail.new_text.splitlines()) if ln.strip()),
                    "")  # fmt: skip
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
            await self.mailbox.send(answer)
            report.replied += 1
            await receipts.record(self.ctx, receipt, "allocation_refused", PROCESSED)
            await self._file(raw, PROCESSED)
            return
        report.allocations.append(reference)
        sentence = f"{allocated.order.iro} is now the IRO for {reference}."
        await self.mailbox.send(
            compose.allocation_answer(mail.sender_email, mail.subject, mail.message_id, sentence, [])
        )
        await self._file(raw, PROCESSED)
        if self.notices.allocated is not None:
            await self.notices.allocated(allocated)


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB" if size >= 1_000_000 else f"{size // 1000} KB"


def _label(number: int, total: int, child_name: str) -> str:
    """How a sentence about one order of an email that gives several says which."""
    return f"Order {number} ({child_name}): " if total > 1 else ""


def _new_order(fields: orders.NewOrder, mail: IncomingMail) -> orders.NewOrder:
    # An email that names no social worker is the social worker's own; one that names them, by address or by name
    # alone, is theirs (the sender of a forward is often not the order's social worker).
    if fields.social_worker_email or fields.social_worker_name:
        return fields
    return replace(fields, social_worker_email=mail.sender_email)
