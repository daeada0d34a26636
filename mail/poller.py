"""Reading the unit's mailbox: each message acted on once, moved only after what it caused is committed."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import re
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from email import policy
from email.parser import BytesHeaderParser
from typing import NamedTuple, TypeVar

from handlers import orders, receipts, replies
from handlers.context import SYSTEM, Actor, Context
from handlers.directory import IroLoad, PersonView, identify, iro_loads
from handlers.errors import NotAllowed, RequestError
from handlers.links import Links
from handlers.receipts import Receipt
from handlers.views import OrderView
from mail import compose
from mail.backends import NEEDS_ATTENTION, PROCESSED, Mailbox, Outgoing, RawMessage
from mail.parsing import (
    IncomingMail,
    MailHeaders,
    OrderEmailResult,
    header_block,
    parse_order_email,
    read_headers_and_message_id,
    read_message,
)
from mail.trust import SenderTrust, vouched
from storage import DatabaseUnavailable

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


class _Spoilt(Exception):
    """A message's handling failed in its batch, whose transaction now holds part of it: the batch is rolled back."""

    def __init__(self, error: Exception) -> None:
        super().__init__(f"{type(error).__name__}: {error}")
        self.error = error


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
    retrying: int = 0  # failed this time, to be tried again after a pause
    held_elsewhere: int = 0  # claimed by another poller, or waiting for its next try
    batches: int = 0  # transactions committed, each holding what one or more messages caused
    batches_redone: int = 0  # batches done again: without a message that failed, or (commit failed) one by one

    def add(self, other: PollReport) -> None:
        self.orders += other.orders
        self.allocations += other.allocations
        self.replied += other.replied
        self.needs_attention += other.needs_attention
        self.already_done += other.already_done
        self.retrying += other.retrying
        self.held_elsewhere += other.held_elsewhere
        self.batches += other.batches
        self.batches_redone += other.batches_redone


@dataclass(frozen=True)
class _Mail:
    """A message this poller claimed: its claim's key, its earlier failed tries, its headers and its receipts (None:
    read them when it is acted on)."""

    key: str
    raw: RawMessage
    tries: int
    headers: MailHeaders
    done: dict[int, str] | None


@dataclass
class _Outcome:
    """What acting on one message came to, and what is left for when its batch is committed."""

    report: PollReport = field(default_factory=PollReport)
    moves: list[Callable[[], Awaitable[object]]] = field(default_factory=list)
    notices: list[Callable[[], Awaitable[object]]] = field(default_factory=list)


# Messages claimed in one statement: enough to spare a commit per message, few enough that one poller's claims run
# out long before it has finished with them.
CLAIM_BATCH = 50
# A batch (one transaction, see Poller._batch) is at most BATCH_MAILS messages, and no message is begun in it after
# BATCH_SECONDS: what the batch holds until its commit (the year's reference counter; on SQLite the write lock) is
# held about that long (and a message being read, at most read_seconds, longer), so a Teams user saving an order
# meanwhile waits about that long at most.
BATCH_MAILS = 50
BATCH_SECONDS = 0.2
PRUNE_EVERY = timedelta(hours=1)


def _claimant() -> str:
    """This poller's name on its claims: unique to the process and the poller, readable in the database."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


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
    attempts: int = 5  # tries of one message before it is left in Needs attention
    retry_seconds: float = 60.0  # the pause before a failed message's second try; doubled each try after
    hold_for: timedelta = timedelta(minutes=10)  # how long a claim keeps other pollers off a message
    claimant: str = field(default_factory=_claimant)
    # Sends the replies queued in the outbox (the dispatcher's send_replies); None leaves them to its next tick.
    send_replies: Callable[[], Awaitable[object]] | None = None
    # Claims whose lease ended longer ago than this are forgotten (their messages are long filed), once an hour.
    claims_kept: timedelta = timedelta(days=7)
    batch_mails: int = BATCH_MAILS
    batch_seconds: float = BATCH_SECONDS
    monotonic: Callable[[], float] = time.monotonic  # the batches' timer
    # Where the dashboard is: a reply about an order ends "Open in sobot" with its page. None: no dashboard to open.
    links: Links | None = None
    _senders: dict[str, PersonView] = field(default_factory=dict, init=False, repr=False)  # this poll's, by email
    _pruned_at: datetime | None = field(default=None, init=False, repr=False)

    async def poll_once(self) -> PollReport:
        """Act on every message of the inbox not yet acted on, each claimed so no other poller acts on it too.

        A message whose handling fails is tried again after a pause, and after its last try is left in Needs
        attention with a note to the unit; the rest of the poll carries on. A mailbox or database that cannot be
        reached ends the poll (the rest would fail as well), leaving every message for the next one.

        Messages are acted on in batches, one transaction each (see _batch): one that fails is undone alone (its
        batch rolled back and done again without it), and each is moved out of the inbox (and the unit told in
        Teams) only once its batch is committed.

        Nothing is sent from here: every reply is queued in the outbox, and the allocation request with its order,
        so a poller stopped at any instant sends nothing twice. The replies then go at once.
        """
        report = PollReport()
        self._senders.clear()
        try:
            messages = await self.mailbox.new_messages()
            for start in range(0, len(messages), CLAIM_BATCH):
                chunk = messages[start : start + CLAIM_BATCH]
                # The headers alone first, a batch in one go: who sent each, and its id, before any body is read.
                keyed = await asyncio.to_thread(_headers_of_all, chunk)
                headers = [read for _, read in keyed]
                batch = [(key, raw) for (key, _), raw in zip(keyed, chunk, strict=True)]
                taken = await receipts.take(self.ctx, {key for key, _ in batch}, {h.message_id for h in headers},
                                            self.claimant, self.hold_for)  # fmt: skip
                held = taken.tries
                seen: set[str] = set()
                work: list[_Mail] = []
                for number, (key, raw) in enumerate(batch):
                    if key not in held:
                        report.held_elsewhere += 1
                        continue
                    message_id = headers[number].message_id
                    # The same message twice in one batch: the second learns what the first did.
                    done = taken.done.get(message_id, {}) if message_id not in seen else None
                    seen.add(message_id)
                    work.append(_Mail(key, raw, held[key], headers[number], done))
                while work:
                    try:
                        finished = await self._batch(work, report)
                    except Exception:
                        # The poll ends here: the claims not yet acted on are given back for the next poll.
                        with contextlib.suppress(DatabaseUnavailable):
                            await receipts.release(self.ctx, {mail.key for mail in work}, self.claimant)
                        raise
                    work = work[finished:]
            await self._prune()
        finally:
            if self.send_replies is not None:  # this poll's, and any an earlier one left queued
                await self.send_replies()
        return report

    async def _batch(self, work: Sequence[_Mail], report: PollReport) -> int:
        """Act on the first of `work` in one transaction: at most batch_mails of them, and none begun after
        batch_seconds; how many were acted on.

        A commit is most of the time a message takes, so a batch shares one. What a batch holds (the year's
        reference counter, on SQLite the write lock) is held until its commit, which is why a batch is short:
        a Teams user saving an order meanwhile waits at most that long.

        Each message writes straight into the batch's transaction, with no savepoint of its own (two statements
        fewer a message): one whose handling fails spoils the batch, which is rolled back whole and done again
        without it, and the failure is recorded for that message alone (tried again later, or filed after its
        last try). A batch whose commit fails is done again a message at a time, so one message that spoils the
        transaction holds up none of the others.
        """
        started = self.monotonic()
        outcomes: list[_Outcome] = []
        begun = 0
        try:
            async with self.ctx.database.batch():
                for mail in work[: max(1, self.batch_mails)]:
                    begun += 1
                    outcomes.append(await self._one(mail))
                    if self.monotonic() - started >= self.batch_seconds:
                        break
        except _Spoilt as spoilt:
            # Rolled back whole: the messages before the one that failed are done again, and its failure recorded.
            if begun > 1:
                report.batches_redone += 1
                redone = 0
                while redone < begun - 1:
                    redone += await self._batch(work[redone : begun - 1], report)
            failed, outcome = work[begun - 1], _Outcome()
            await self._failed(failed.raw, failed.key, failed.tries + 1, spoilt.error, outcome)
            await self._after_commit(outcome, report)
            return begun
        except Exception as error:
            if out_of_reach(error) or not begun:  # not begun: the transaction itself could not be opened
                raise
            if begun > 1:
                log.warning("mail: a batch of %d messages could not be committed (%s: %s); acting on each alone",
                            begun, type(error).__name__, error)  # fmt: skip
                report.batches_redone += 1
                for mail in work[:begun]:
                    await self._alone(mail, report)
                return begun
            # A message alone whose transaction cannot be committed: its own fault, tried again later.
            outcomes = [_Outcome()]
            await self._failed(work[0].raw, work[0].key, work[0].tries + 1, error, outcomes[0])
        else:
            report.batches += 1
        for outcome in outcomes:
            await self._after_commit(outcome, report)
        return begun

    async def _alone(self, mail: _Mail, report: PollReport) -> None:
        """Act on one message in a transaction of its own (a batch of one)."""
        await self._batch([mail], report)

    async def _one(self, mail: _Mail) -> _Outcome:
        """Act on one claimed message in its part of the batch; _Spoilt when its handling fails (see _batch)."""
        outcome = _Outcome()
        if mail.tries >= self.attempts:
            # Its last try failed before (or while) it was filed: file it now.
            await self._give_up(mail.raw, mail.key, mail.tries, outcome)
            return outcome
        try:
            async with self.ctx.database.part():
                await self._handle(mail.raw, mail.headers, mail.done, outcome)
        except Exception as error:
            if out_of_reach(error):
                raise
            raise _Spoilt(error) from error  # nothing of what it did is kept, nor filed, nor told
        return outcome

    async def _after_commit(self, outcome: _Outcome, report: PollReport) -> None:
        """What a message's handling left for after its batch's commit: its move out of the inbox, then the notes
        in Teams. A mailbox out of reach ends the poll (the next one finds the message done and files it)."""
        for move in outcome.moves:
            try:
                await move()
            except Exception as error:
                if out_of_reach(error):
                    raise
                # Its receipt is committed: a later poll files it.
                log.warning("mail: a message acted on could not be filed: %s: %s", type(error).__name__, error)
        for notice in outcome.notices:
            try:
                await notice()
            except Exception:
                log.exception("mail: could not tell the unit in Teams about a message acted on")
        report.add(outcome.report)

    async def _prune(self) -> None:
        now = self.ctx.clock.now()
        if self._pruned_at is None or now - self._pruned_at >= PRUNE_EVERY:
            gone = await receipts.prune_claims(self.ctx, self.claims_kept)
            self._pruned_at = now
            if gone:
                log.info("mail: forgot %d claims of messages filed more than %s ago", gone, self.claims_kept)

    async def _failed(self, raw: RawMessage, key: str, tries: int, error: Exception, out: _Outcome) -> None:
        said = f"{type(error).__name__}: {error}"
        log.warning("mail: acting on message %s failed (try %d of %d): %s", key, tries, self.attempts, said)
        pause = timedelta(seconds=retry_delay(tries, self.retry_seconds))
        await receipts.failed_try(self.ctx, key, self.claimant, self.ctx.clock.now() + pause, said)
        if tries < self.attempts:
            out.report.retrying += 1
            return
        await self._give_up(raw, key, tries, out, said)

    async def _give_up(self, raw: RawMessage, key: str, tries: int, out: _Outcome, said: str = "") -> None:
        self._file(out, raw, NEEDS_ATTENTION)
        out.report.needs_attention += 1
        # Moved back to the inbox by a person, it is tried afresh.
        await receipts.restart(self.ctx, key, self.claimant, self.hold_for)
        why = f" (the last error: {said})" if said else ""
        self._tell(out, f"The unit's mailbox has a message sobot could not act on after {tries} tries (subject "
                        f'"{_subject(raw.mime)}"){why}: it is in {NEEDS_ATTENTION}. Move it back to the Inbox to have '
                        "it tried again.")  # fmt: skip

    def _trusted(self, mail: MailHeaders) -> bool:
        domain = mail.sender_email.rpartition("@")[2].lower()
        return any(domain == d.lower().lstrip("@") for d in self.allowed_domains)

    def _vouched(self, mail: MailHeaders) -> bool:
        return not mail.sender_is_ambiguous and vouched(
            self.trust, mail.sender_email, mail.authentication_results, mail.exchange_auth_as
        )

    async def _off_loop(self, work: Callable[..., T], *args: object) -> T:
        """Reading a message in a worker thread, so the service answers meanwhile, for at most read_seconds.

        Handed to the loop's pool of threads directly, under a deadline: no task of its own to wait for, as
        wait_for and to_thread would make for every message (the reading needs none of the caller's context).
        """
        async with asyncio.timeout(self.read_seconds):
            return await asyncio.get_running_loop().run_in_executor(None, work, *args)

    async def _handle(self, raw: RawMessage, headers: MailHeaders, done: dict[int, str] | None,
                      out: _Outcome) -> None:  # fmt: skip
        """Act on one message, its headers read; `done` is its receipts read with its claim (None: read them now)."""
        if done is None:
            done = await receipts.done_parts(self.ctx, headers.message_id)
        if 0 in done:
            # Acted on before a crash kept it from moving: finish the move, do nothing twice.
            out.report.already_done += 1
            self._file(out, raw, done[0])
            return
        if await replies.is_own(self.ctx, headers.message_id):
            # Sobot's own mail come back (the unit's list includes its mailbox): nothing to act on.
            await receipts.record(self.ctx, Receipt(headers.message_id, headers.sender_email), "own", PROCESSED)
            self._file(out, raw, PROCESSED)
            return
        if not self._trusted(headers):
            # Unknown senders get no answer (no backscatter) and their mail is left unread for a person.
            await receipts.record(self.ctx, Receipt(headers.message_id, headers.sender_email), "untrusted",
                                  NEEDS_ATTENTION)  # fmt: skip
            out.report.needs_attention += 1
            self._file(out, raw, NEEDS_ATTENTION)
            return
        if not self._vouched(headers):
            # An allowed domain's From line, but the council's mail system does not say it sent it: no answer
            # (it could be anyone's), and the unit is told.
            await self._needs_attention(raw, headers, out, f"a message whose sender, {headers.sender_email}, the "
                                        "council's mail system does not vouch for")  # fmt: skip
            return
        if len(raw.mime) > self.max_bytes:
            await self._reply(headers, "too large", compose.answer(headers.sender_email, headers.subject,
                                                                   headers.message_id, [
                f"Thank you. This email is {_megabytes(len(raw.mime))}, more than the {_megabytes(self.max_bytes)} "
                "sobot reads, so nothing was saved: send the order's details typed into a new email, without "
                "attachments."
            ]), out)  # fmt: skip
            await self._needs_attention(raw, headers, out, f"a message from {headers.sender_email} too large to "
                                        "read")  # fmt: skip
            return
        try:
            # The message and, when it gives orders, the orders: read in one go, in one worker thread.
            read = await self._off_loop(_read, raw.mime, headers, self.ctx.today())
        except TimeoutError:
            await self._needs_attention(raw, headers, out, f"a message from {headers.sender_email} that took "
                                        f"more than {self.read_seconds:g} s to read")  # fmt: skip
            return
        if read.allocation is not None:
            await self._allocation(raw, read.mail, read.allocation, out)
        elif read.orders is None:  # an auto-reply
            await receipts.record(self.ctx, Receipt(read.mail.message_id, read.mail.sender_email), "ignored",
                                  PROCESSED)  # fmt: skip
            self._file(out, raw, PROCESSED)
        else:
            await self._new_orders(raw, read.mail, read.orders, done, out)

    def _file(self, out: _Outcome, raw: RawMessage, folder: str) -> None:
        """Move the message to `folder` once its batch is committed.

        A move alone: marking it read first would leave, after a crash between the two, a read message in the inbox
        that no later poll picks up.
        """
        out.moves.append(lambda: self.mailbox.move(raw, folder))

    def _tell(self, out: _Outcome, note: str) -> None:
        """Tell the unit `note` in Teams once the message's batch is committed."""
        if self.notices.unreadable is not None:
            unreadable = self.notices.unreadable
            out.notices.append(lambda: unreadable(note))

    async def _new_orders(self, raw: RawMessage, mail: IncomingMail, result: OrderEmailResult, done: dict[int, str],
                          out: _Outcome) -> None:  # fmt: skip
        if result.kind == "auto_reply":
            await receipts.record(self.ctx, Receipt(mail.message_id, mail.sender_email), "ignored", PROCESSED)
            self._file(out, raw, PROCESSED)
            return
        if result.kind == "not_an_order":
            await self._needs_attention(raw, mail, out, f"a message from {mail.sender_email} that is not an order")
            return
        problems = list(result.problems)
        repeated: list[str] = []
        known: list[str] = []  # the orders this message is about that are recorded: the reply links their pages
        message = Receipt(mail.message_id, mail.sender_email)
        filed = False  # the message's own receipt written with its last order
        if result.kind == "orders":
            for number, fields in enumerate(result.orders, start=1):
                if number in done:
                    continue
                # The last order of a message that needs no answer carries the message's receipt: one commit.
                last = number == len(result.orders) and not problems and not repeated
                try:
                    view = await orders.create_order(
                        self.ctx, _new_order(fields, mail), Actor(mail.sender_name or mail.sender_email,
                                                                  mail.sender_email),
                        Receipt(mail.message_id, mail.sender_email, number), await self._sender(mail.sender_email),
                        ask_unit_at=self.unit_address, filed=message if last else None,
                    )  # fmt: skip
                except orders.AlreadyRecorded as already:
                    # Not a problem to fix: the sender is told the reference it has, and this part is done. The
                    # receipt names no order, as the order is not this message's to ask the unit about.
                    repeated.append(f"{_label(number, len(result.orders), fields.child_name)}{already}")
                    known.append(already.view.reference)
                    await receipts.record(self.ctx, Receipt(mail.message_id, mail.sender_email, number), "repeated",
                                          PROCESSED)  # fmt: skip
                    continue
                except RequestError as error:
                    problems.append(f"{_label(number, len(result.orders), fields.child_name)}{error}")
                    continue
                filed = last
                out.report.orders.append(view.reference)
                known.append(view.reference)
                self._ask_for_allocation(out, view)
        if problems:
            problems += repeated
            await self._reply(mail, "problems", compose.problems_reply(mail.sender_email, mail.subject,
                                                                       mail.message_id, problems,
                                                                       out.report.orders, self._pages(known)),
                              out)  # fmt: skip
            await self._needs_attention(raw, mail, out, f"an order email from {mail.sender_email} that needs fixing")
            return
        if repeated:
            await self._reply(mail, "repeated", compose.answer(mail.sender_email, mail.subject, mail.message_id,
                                                               repeated, self._pages(known)), out)  # fmt: skip
        if not filed:
            await receipts.record(self.ctx, message, "order", PROCESSED)
        self._file(out, raw, PROCESSED)

    async def _needs_attention(
        self, raw: RawMessage, mail: MailHeaders | IncomingMail, out: _Outcome, what: str
    ) -> None:
        await receipts.record(self.ctx, Receipt(mail.message_id, mail.sender_email), "needs_attention", NEEDS_ATTENTION)
        out.report.needs_attention += 1
        self._file(out, raw, NEEDS_ATTENTION)
        self._tell(out, f'The unit\'s mailbox has {what} (subject "{mail.subject}"): it is in {NEEDS_ATTENTION}.')

    async def _sender(self, email: str) -> PersonView | None:
        """The directory's record of a sender, read once a poll: most of a poll's mail comes from a few people, and
        one who leaves the directory meanwhile is refused from the next poll on (a stranger is looked up again)."""
        known = self._senders.get(email)
        if known is None:
            known = await identify(self.ctx, None, email)
            if known is not None:
                self._senders[email] = known
        return known

    async def _iros_for(self, reference: str) -> tuple[list[IroLoad], bool]:
        """The IROs a refused allocation's answer offers (those independent of the order's social worker), and
        whether there is such an order."""
        try:
            social_worker = (await orders.get_order(self.ctx, reference, SYSTEM)).social_worker_id
            exists = True
        except RequestError:
            social_worker, exists = None, False
        return [load for load in await iro_loads(self.ctx) if load.independent_of(social_worker)], exists

    def _page(self, reference: str) -> str | None:
        """The order's page on the dashboard, for a browser (an email is read outside Teams as often as in)."""
        return self.links.order(reference) if self.links is not None else None

    def _pages(self, references: Sequence[str]) -> list[str]:
        return [page for page in (self._page(r) for r in dict.fromkeys(references)) if page]

    async def _reply(self, mail: MailHeaders | IncomingMail, what: str, outgoing: Outgoing, out: _Outcome) -> None:
        reply = replies.Reply(outgoing.to[0], outgoing.subject, outgoing.text, outgoing.html, outgoing.in_reply_to,
                              outgoing.references)  # fmt: skip
        await replies.queue_reply(self.ctx, mail.message_id, what, reply)
        out.report.replied += 1

    def _ask_for_allocation(self, out: _Outcome, view: OrderView) -> None:
        # The email asking the unit was queued with the order; the unit's channel in Teams is told once committed.
        if self.notices.order_created is not None:
            order_created = self.notices.order_created
            out.notices.append(lambda: order_created(view))

    async def _allocation(self, raw: RawMessage, mail: IncomingMail, reference: str, out: _Outcome) -> None:
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
            iros, exists = await self._iros_for(reference)
            answer = compose.allocation_answer(mail.sender_email, mail.subject, mail.message_id, str(error), iros,
                                               self._page(reference) if exists else None)  # fmt: skip
            await self._reply(mail, "allocation", answer, out)
            await receipts.record(self.ctx, receipt, "allocation_refused", PROCESSED)
            self._file(out, raw, PROCESSED)
            return
        out.report.allocations.append(reference)
        sentence = f"{allocated.order.iro} is now the IRO for {reference}."
        await self._reply(mail, "allocation",
                          compose.allocation_answer(mail.sender_email, mail.subject, mail.message_id, sentence, [],
                                                    self._page(reference)), out)  # fmt: skip
        self._file(out, raw, PROCESSED)
        if self.notices.allocated is not None:
            allocated_notice = self.notices.allocated
            out.notices.append(lambda: allocated_notice(allocated))


_MESSAGE_ID = re.compile(r"<[^<>\s]{1,400}>")


def message_key(raw: bytes) -> str:
    """What a message is known by in its claim: its Message-ID, or a hash of it all when it has none.

    Read from the header alone, without the full parser, so even a message that cannot be parsed has one.
    """
    return _key(raw, BytesHeaderParser().parsebytes(header_block(raw)).get("Message-ID"))


def _key(raw: bytes, message_id: object) -> str:
    found = _MESSAGE_ID.search(str(message_id or ""))
    return found.group(0) if found else "sha256:" + hashlib.sha256(raw).hexdigest()


class _Read(NamedTuple):
    """A message read: the order an answer to an allocation request names, or else the orders it gives (None for
    an auto-reply, which is neither)."""

    mail: IncomingMail
    allocation: str | None
    orders: OrderEmailResult | None


def _read(raw: bytes, headers: MailHeaders, today: date) -> _Read:
    """What a worker thread does for one message: one hand-over from the event loop, not one to read the message
    and another to read its orders."""
    mail = read_message(raw, headers)
    if mail.is_auto_reply:
        return _Read(mail, None, None)
    found = ALLOCATION_SUBJECT.search(mail.subject)
    if found and (mail.in_reply_to or mail.subject.lower().startswith("re")):
        return _Read(mail, found.group(1).upper(), None)
    return _Read(mail, None, parse_order_email(mail, today))


def _headers_of_all(messages: Sequence[RawMessage]) -> list[tuple[str, MailHeaders]]:
    """Each message's claim key (as message_key) and headers, from one parse of its header block."""
    keyed: list[tuple[str, MailHeaders]] = []
    for raw in messages:
        headers, message_id = read_headers_and_message_id(raw.mime)
        # A Message-ID line of other than ASCII is read as message_key reads it (bytes the stdlib keeps as they came
        # are no key a database can store), so a message has the one key whichever way it is read.
        key = _key(raw.mime, message_id) if message_id is None or message_id.isascii() else message_key(raw.mime)
        keyed.append((key, headers))
    return keyed


def _subject(raw: bytes) -> str:
    try:
        headers = BytesHeaderParser(policy=policy.default).parsebytes(header_block(raw))
        return " ".join(str(headers.get("Subject") or "").split())
    except Exception:  # a malformed header: the note says which message without it
        return "(unreadable)"


def retry_delay(tries: int, first: float, ceiling: float = 3600.0) -> float:
    """Seconds before the next try of a message that failed `tries` times: `first`, doubled each try, capped."""
    return float(min(first * 2 ** (tries - 1), ceiling))


def out_of_reach(error: BaseException) -> bool:
    """Whether the error is the mailbox or the database being out of reach (down, or refusing our login): no
    fault of the message at hand, and every other message would meet it too."""
    if isinstance(error, RequestError):
        return False  # a refusal of what the message asks, which is the message's own
    return isinstance(error, ConnectionError | TimeoutError | PermissionError | DatabaseUnavailable)


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
