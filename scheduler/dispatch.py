"""The outbox's dispatcher: claims what is due, sends each row once by Teams or email, retries, tells the unit.

A row's life:

    queued ──claim──▶ claimed ──▶ sending ──▶ sent
      ▲                  │            ├──▶ queued again (a retry, after a back-off or Retry-After)
      └── lease expired ─┘            ├──▶ failed (the last try; the unit is told)
                                      └──▶ unconfirmed (the process stopped mid-send; the unit is told)
    queued or claimed ──▶ cancelled (step done, order ended) or superseded (a newer notice); held while the
                          person's acknowledgement or snooze lasts, then sent if the step is still open

Rows are claimed a batch at a time with one UPDATE (… FOR UPDATE SKIP LOCKED on PostgreSQL), each claim
leased to this dispatcher, so several `sobot serve` processes share the work and never take the same row.
A row is marked `sending` in the database before it goes out and `sent` after. A dispatcher that dies
after claiming leaves rows whose lease runs out and which another claims: nothing is lost. One that dies
after sending leaves them `sending`: they are never sent again (nothing twice), and the Safeguarding Unit
is told they may not have arrived, so even the instant between the mark and the send is not silent.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from random import Random
from typing import Any, Protocol

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, selectinload

from handlers.permissions import ROLE_WORDS
from handlers.recipients import circle
from rules.calendar import WorkingCalendar
from rules.clock import Clock
from rules.cover import for_whom
from rules.initials import initials
from rules.notices import WorkingHours, opening_after
from rules.recipients import Recipient
from scheduler.cover import COVERING, audit_cover, redirections
from scheduler.outbox import recipient_key
from storage import Database, models, outbox
from storage.outbox import ALLOCATION, NOTE, REPLY, UNIT, Planned, Settlement, queue

log = logging.getLogger(__name__)

STEP_KINDS = ("reminder", "escalation", "nobody")
# How soon a note waiting for its cause to go (an IRO to be allocated) is looked at again.
RECHECK = timedelta(hours=1)
# An email subject longer than this is cut at a word, with an ellipsis.
SUBJECT_LENGTH = 120


class Transient(Exception):
    """A send that may work later: a timeout, a 5xx, a 429 (with the seconds it asked us to wait)."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class Unreachable(Exception):
    """Teams says the bot cannot reach this conversation any more (403 or 404: removed or blocked)."""


@dataclass(frozen=True)
class DigestLine:
    due: date
    reference: str
    initials: str
    title: str
    owner: str
    overdue: bool


@dataclass(frozen=True)
class Message:
    """What one notification says, whatever carries it: the reference and the child's initials, never more."""

    kind: str
    headline: str
    lines: tuple[str, ...] = ()
    reference: str | None = None
    initials: str | None = None
    step: str | None = None
    occurrence: int = 1
    title: str | None = None
    due: date | None = None
    digest: tuple[DigestLine, ...] = ()
    token: str | None = None  # the outbox row's own, for the email's Message-ID (outbox.message_token)
    mail: Mapping[str, Any] | None = None  # a reply to a sender: the email as the mail channel wrote it
    covering: str | None = None  # sent to someone covering: "For Megan Bowen, away until Fri 28 Aug"
    reallocate: bool = False  # a note to the unit that the IRO will be away: its card offers to choose another
    choices: tuple[tuple[str, str], ...] = ()  # with `reallocate`, the IROs free to chair instead: (name, email)

    @property
    def subject(self) -> str:
        # A subject is one line: a note of several lines (a summary) is named by its first.
        first = self.headline.partition("\n")[0]
        return cut_at_word(f"{self.covering}: {first}" if self.covering else first, SUBJECT_LENGTH)

    @property
    def text(self) -> str:
        return "\n".join((*((f"{self.covering}.",) if self.covering else ()), self.headline, *self.lines))


class Channels(Protocol):
    """How a message reaches someone. Both raise Transient for what may work later; teams() raises
    Unreachable when the conversation is gone; anything else is treated as transient. reach() gives a Teams
    conversation (its stored id and reference) for someone who has none yet, where it can make one."""

    async def teams(self, reference: dict[str, Any], message: Message) -> None: ...

    async def reach(self, person_id: int) -> tuple[int, dict[str, Any]] | None: ...

    async def email(self, to: str, message: Message) -> None: ...

    @property
    def has_email(self) -> bool: ...


@dataclass
class Report:
    sent: Counter[str] = field(default_factory=Counter)  # by channel
    retried: int = 0
    failed_by: Counter[str] = field(default_factory=Counter)  # by the channel last tried
    cancelled: int = 0
    deferred: int = 0
    unconfirmed: int = 0
    queued: int = 0

    @property
    def failed(self) -> int:
        return sum(self.failed_by.values())


@dataclass(frozen=True)
class _Result:
    """How one send went: sent (by which channel), to retry, or failed; the reason, without personal data."""

    result: str
    channel: str
    error: str | None = None
    retry_after: float | None = None


@dataclass
class _Row:
    """A claimed row with what sending it needs, read in one go."""

    note: models.Notification
    reference: str | None
    child: str | None
    order_open: bool
    step: models.Milestone | None
    person: models.Person | None
    owner_name: str | None
    teams: tuple[int, dict[str, Any]] | None = None
    held_until: date | None = None  # the last day the person's acknowledgement or snooze holds their notices
    allocated: bool = False  # the order has an IRO already
    iro_id: int | None = None  # the order's IRO now
    holders: list[Recipient] = field(default_factory=list)  # for a note that nobody held a role: who does now


@dataclass
class Dispatcher:
    database: Database
    channels: Channels
    hours: WorkingHours
    clock: Clock
    unit_address: str | None = None
    legal_address: str | None = None  # Legal's address, when nobody in the directory has the legal role
    name: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}")
    batch: int = 200
    concurrency: int = 32  # sends in flight at once; each batch of them is marked and settled in one go
    attempts: int = 6
    backoff: float = 30.0  # seconds before the first retry; doubled each time, with jitter
    backoff_cap: float = 3600.0
    timeout: float = 20.0
    lease: timedelta = timedelta(minutes=2)
    random: Random = field(default_factory=Random)

    @property
    def calendar(self) -> WorkingCalendar:
        return self.hours.calendar

    async def tick(self) -> Report:
        """Recover abandoned claims, then send everything due now, batch by batch."""
        report = Report()
        await self.recover(report)
        # Out of working hours only replies go: the answer to someone who has just written is not held overnight.
        kinds = None if self.hours.is_open(self.clock.now()) else (REPLY,)
        return await self._drain(report, kinds)

    async def send_replies(self) -> Report:
        """Send the replies to mail senders queued now, at any hour (the poller's own, after each poll)."""
        report = Report()
        await self.recover(report)
        return await self._drain(report, (REPLY,))

    async def _drain(self, report: Report, kinds: Sequence[str] | None) -> Report:
        while True:
            claimed = await self.claim(kinds=kinds)
            if claimed:
                await self.deliver(claimed, report)
            if len(claimed) < self.batch:
                return report

    async def claim(self, limit: int | None = None, kinds: Sequence[str] | None = None) -> list[int]:
        """Lease up to `limit` due rows (of `kinds`, when given) to this dispatcher, in one statement; their ids."""
        now = self.clock.now()
        async with self.database.session() as session:
            return await outbox.claim(session, self.name, now, now + self.lease, limit or self.batch, kinds)

    async def recover(self, report: Report) -> None:
        """Rows whose lease ran out: unsent claims go back to the queue; rows caught mid-send are reported."""
        now = self.clock.now()
        async with self.database.session() as session:
            lost = await outbox.release_expired(session, now)
            if lost:
                report.unconfirmed += len(lost)
                log.error("outbox: %d notifications may not have been delivered (stopped mid-send)", len(lost))
                await self._tell_unit(session, lost, "unconfirmed", now, report)

    async def deliver(self, ids: Sequence[int], report: Report) -> None:
        rows = await self._read(ids)
        today = self.clock.now().astimezone(self.hours.zone).date()
        rows = await self._to_cover(rows, today, report)
        ready = []
        settled: list[Settlement] = []
        held: list[Planned] = []
        for row in rows:
            verdict = self._verdict(row, today)
            if verdict is None:
                ready.append(row)
            elif isinstance(verdict, datetime):
                report.deferred += 1
                settled.append(self._outcome(row, "queued", not_before=verdict))
            else:
                report.cancelled += 1
                settled.append(self._outcome(row, "cancelled", error=verdict))
                held += _now_held(row)
        await self._settle(settled)
        if held:
            # The role has somebody now: the notice goes to them (from the next tick) in place of the note to the unit.
            now = self.clock.now()
            async with self.database.session() as session:
                report.queued += len(await queue(session, held, now, now))
        for start in range(0, len(ready), self.concurrency):
            chunk = await self._mark_sending(ready[start : start + self.concurrency])
            outcomes = await asyncio.gather(*(self._send(row, today) for row in chunk))
            await self._finish(chunk, outcomes, report)

    # Reading ---------------------------------------------------------------------------------

    async def _read(self, ids: Sequence[int]) -> list[_Row]:
        table = models.Notification
        social_worker = aliased(models.Person)
        async with self.database.session() as session:
            result = await session.execute(
                select(table, models.Order.reference, models.Order.status, models.Child.name, models.Milestone,
                       models.Person, social_worker.name)
                .outerjoin(models.Order, table.order_id == models.Order.id)
                .outerjoin(models.Child, models.Order.child_id == models.Child.id)
                .outerjoin(models.Milestone, table.milestone_id == models.Milestone.id)
                .outerjoin(models.Person, table.person_id == models.Person.id)
                .outerjoin(social_worker, models.Order.social_worker_id == social_worker.id)
                .where(table.id.in_(ids), table.claimed_by == self.name, table.state == "claimed")
                .order_by(table.id)
            )  # fmt: skip
            rows = [
                _Row(note, reference, child, status == "open", step, person,
                     owner if step is not None and step.owner_role == "social_worker" else None)
                for note, reference, status, child, step, person, owner in result
            ]  # fmt: skip
            people = {r.person.id for r in rows if r.person is not None}
            references: dict[int, tuple[int, dict[str, Any]]] = {}
            if people:
                found = await session.scalars(
                    select(models.ConversationReference)
                    .where(models.ConversationReference.person_id.in_(people),
                           models.ConversationReference.kind == "personal",
                           models.ConversationReference.stale.is_(False))
                    .order_by(models.ConversationReference.updated_at)
                )  # fmt: skip
                references = {c.person_id: (c.id, dict(c.reference)) for c in found if c.person_id is not None}
            channel = None
            if any(r.note.person_id is None and r.note.address is None for r in rows):
                unit = await session.scalar(
                    select(models.ConversationReference).where(
                        models.ConversationReference.purpose == "allocations",
                        models.ConversationReference.stale.is_(False),
                    )
                )
                channel = (unit.id, dict(unit.reference)) if unit is not None else None
            asking = {r.note.order_id for r in rows if r.note.kind in (ALLOCATION, NOTE, "nobody")}
            iros: dict[int, int] = (
                {
                    order_id: iro_id
                    for order_id, iro_id in await session.execute(
                        select(models.Allocation.order_id, models.Allocation.iro_id).where(
                            models.Allocation.order_id.in_(asking), models.Allocation.active.is_(True)
                        )
                    )
                }
                if asking
                else {}
            )
            holders = await self._holders(session, [r for r in rows if r.note.kind == "nobody"])
            steps = {r.note.milestone_id for r in rows if r.note.milestone_id is not None}
            answers = (
                (
                    await session.scalars(
                        select(models.StepResponse).where(models.StepResponse.milestone_id.in_(steps))
                    )
                ).all()
                if steps
                else []
            )
        for row in rows:
            note = row.note
            row.iro_id = iros.get(note.order_id or 0)
            row.allocated = row.iro_id is not None
            row.holders = holders.get(note.id, [])
            if note.person_id is not None:
                row.teams = references.get(note.person_id)
            elif note.address is None:
                row.teams = channel
            mine = [a for a in answers if a.milestone_id == note.milestone_id and a.person_id == note.person_id]
            # An acknowledgement, like a snooze, holds until its day; one from before holds were dated holds no more.
            row.held_until = max((a.until for a in mine if a.until), default=None)
        return rows

    async def _holders(self, session: AsyncSession, rows: list[_Row]) -> dict[int, list[Recipient]]:
        """For each note that nobody held a role, who holds it for that order now (by the note's id)."""
        orders = {r.note.order_id for r in rows if r.note.order_id is not None}
        if not orders:
            return {}
        found = await session.scalars(
            select(models.Order).where(models.Order.id.in_(orders))
            .options(selectinload(models.Order.social_worker),
                     selectinload(models.Order.allocations).selectinload(models.Allocation.iro))
        )  # fmt: skip
        by_id = {order.id: order for order in found}
        holders = {}
        for row in rows:
            order = by_id.get(row.note.order_id or 0)
            role = str(row.note.payload.get("role", ""))
            if order is not None and role:
                holders[row.note.id] = (await circle(session, order, {role})).choose(role, self.legal_address)
        return holders

    def _verdict(self, row: _Row, today: date) -> datetime | str | None:
        """None to send now; a later instant to wait for (a snooze); or why it is no longer wanted."""
        note = row.note
        if note.kind == ALLOCATION:
            if not row.order_open:
                return "the order is no longer open"
            return "an IRO is allocated already" if row.allocated else None
        if note.kind == NOTE:
            told = note.payload.get("iro_id")
            if told is not None and told != row.iro_id:
                return "the order has another IRO now"
            return None
        if note.kind not in STEP_KINDS:
            return None
        if not row.order_open:
            return "the order is no longer open"
        if row.step is None or row.step.state != "open":
            return "the step is no longer open"
        if note.person_id is not None and row.person is not None and not row.person.active:
            return "the person has left the directory"
        if row.held_until is not None and row.held_until >= today:
            return opening_after(self.hours, row.held_until)
        if note.kind == "nobody" and row.holders:
            return f"somebody is {the_role(str(note.payload.get('role', '')))} now: they are told instead"
        if note.kind == "nobody" and note.payload.get("role") == "iro" and not row.allocated:
            # No IRO yet is the unit's own step, asked for and reminded of: told beside the allocation card that
            # nobody is the IRO, it would be noise. Looked at again soon: allocated, the IRO is told instead.
            return self.hours.next_opening(self.clock.now() + RECHECK)
        return None

    async def _to_cover(self, rows: list[_Row], today: date, report: Report) -> list[_Row]:
        """Rows for someone away today that were queued before their absence was known (off sick this morning):
        each is cancelled and sent instead to whoever covers them, saying for whom. The rest come back."""
        asked = [r.note for r in rows if r.note.kind in (*STEP_KINDS, "digest") and r.person is not None
                 and COVERING not in r.note.payload]  # fmt: skip
        if not asked:
            return rows
        async with self.database.session() as session:
            moved = await redirections(session, asked, today)
        if not moved:
            return rows
        await self._settle([self._outcome(r, "cancelled", error="away today: sent to whoever covers them instead")
                            for r in rows if r.note.id in moved])  # fmt: skip
        report.cancelled += len(moved)
        now = self.clock.now()
        async with self.database.session() as session:
            queued = await queue(session, list(moved.values()), now, now)
            await audit_cover(session, list(moved.values()), queued, now)
        report.queued += len(queued)
        return [r for r in rows if r.note.id not in moved]

    # Sending ---------------------------------------------------------------------------------

    async def _mark_sending(self, rows: list[_Row]) -> list[_Row]:
        """Mark these rows as being sent now; only those still leased to this dispatcher come back."""
        if not rows:
            return []
        async with self.database.session() as session:
            still = await outbox.mark_sending(session, [r.note.id for r in rows], self.name,
                                              self.clock.now() + self.lease)  # fmt: skip
        return [r for r in rows if r.note.id in still]

    async def _send(self, row: _Row, today: date) -> _Result:
        note = row.note
        message = replace(self.message(row, today), token=outbox.message_token(note.id, note.dedupe_key))
        address = note.address or (row.person.email if row.person is not None else self.unit_address)
        can_email = bool(address) and self.channels.has_email
        if row.teams is None and row.person is not None and note.address is None:
            # Someone who never opened the bot: where sobot may install itself for them, the notice goes in Teams.
            try:
                row.teams = await asyncio.wait_for(self.channels.reach(row.person.id), self.timeout)
            except Exception as error:  # reaching them is a bonus: email is still there
                log.warning("notification %s: could not reach them in Teams (%s)", note.id, type(error).__name__)
        if row.teams is not None:
            try:
                await asyncio.wait_for(self.channels.teams(row.teams[1], message), self.timeout)
                return _Result("sent", "teams")
            except Unreachable:
                await self._mark_stale(row.teams[0])
                log.warning("notification %s: Teams can no longer reach the conversation; trying email", note.id)
            except Exception as error:  # a refused connection, a timeout, a token Entra would not give
                failed = self._failure("teams", error)
                if note.attempts + 1 < self.attempts or not can_email:
                    return failed
                # Its last try: what Teams could not carry goes by email rather than not at all.
                log.warning("notification %s: Teams failed %d times (%s); sending it by email", note.id,
                            note.attempts + 1, failed.error)  # fmt: skip
        if not can_email:
            return _Result("failed", "none", "no way to reach them: no Teams conversation and no email")
        try:
            await asyncio.wait_for(self.channels.email(str(address), message), self.timeout)
            return _Result("sent", "email")
        except Exception as error:  # whatever it is, a later try may work
            return self._failure("email", error)

    def _failure(self, channel: str, error: Exception) -> _Result:
        """A failed send to try again: its reason, without personal data."""
        if isinstance(error, Transient):
            return _Result("retry", channel, str(error), error.retry_after)
        if isinstance(error, TimeoutError):
            return _Result("retry", channel, f"no answer within {self.timeout:g} s")
        return _Result("retry", channel, type(error).__name__)  # a channel's own failure: try again later

    async def _mark_stale(self, reference_id: int) -> None:
        async with self.database.session() as session:
            await session.execute(
                update(models.ConversationReference)
                .where(models.ConversationReference.id == reference_id)
                .values(stale=True)
                .execution_options(synchronize_session=False)
            )

    async def _finish(self, rows: list[_Row], outcomes: list[_Result], report: Report) -> None:
        now = self.clock.now()
        settled: list[Settlement] = []
        failed = []
        for row, outcome in zip(rows, outcomes, strict=True):
            tries = row.note.attempts + 1
            error = outcome.error
            if outcome.result == "sent":
                report.sent[outcome.channel] += 1
                settled.append(self._outcome(row, "sent", channel=outcome.channel, sent_at=now, attempts=tries))
            elif outcome.result == "retry" and tries < self.attempts:
                report.retried += 1
                # Retry-After is honoured as asked, but never as "now": that would spin within one tick.
                wait = max(outcome.retry_after, 1.0) if outcome.retry_after is not None else self._backoff(tries)
                later = now + timedelta(seconds=wait)
                if row.note.kind != REPLY:
                    later = self.hours.next_opening(later)
                settled.append(self._outcome(row, "queued", error=error, attempts=tries, not_before=later))
                log.warning("notification %s: try %d failed (%s); next in %.0f s", row.note.id, tries, error, wait)
            else:
                report.failed_by[outcome.channel] += 1
                failed.append(row.note.id)
                settled.append(self._outcome(row, "failed", channel=outcome.channel, error=error, attempts=tries))
                log.error("notification %s failed after %d tries: %s", row.note.id, tries, error)
        await self._settle(settled)
        if failed:
            async with self.database.session() as session:
                await self._tell_unit(session, failed, "failed", now, report)

    def _backoff(self, tries: int) -> float:
        ceiling = min(self.backoff * 2 ** (tries - 1), self.backoff_cap)
        return float(ceiling / 2 + self.random.uniform(0, ceiling / 2))

    def _outcome(self, row: _Row, state: str, *, channel: str | None = None, sent_at: datetime | None = None,
                 attempts: int | None = None, not_before: datetime | None = None,
                 error: str | None = None) -> Settlement:  # fmt: skip
        note = row.note
        return {"nid": note.id, "state": state, "channel": channel, "sent_at": sent_at,
                "attempts": note.attempts if attempts is None else attempts,
                "not_before": not_before or note.not_before, "last_error": error}  # fmt: skip

    async def _settle(self, outcomes: list[Settlement]) -> None:
        if not outcomes:
            return
        async with self.database.session() as session:
            await outbox.settle(session, self.name, outcomes)

    async def _tell_unit(self, session: AsyncSession, ids: list[int], kind: str, now: datetime,
                         report: Report) -> None:  # fmt: skip
        """A note to the Safeguarding Unit about rows that failed or may not have arrived (not about its own)."""
        table = models.Notification
        rows = (await session.scalars(select(table).where(table.id.in_(ids)))).all()
        ids_of_people = {row.person_id for row in rows if row.person_id is not None}
        names = (
            {person_id: name for person_id, name in await session.execute(
                select(models.Person.id, models.Person.name).where(models.Person.id.in_(ids_of_people)))}
            if ids_of_people
            else {}
        )  # fmt: skip
        notes = []
        for row in rows:
            if row.person_id is None and row.address is None:
                # The unit itself could not be reached: the log and the audit are what is left.
                session.add(models.AuditEntry(at=now, actor="system", action=f"notify.{kind}",
                                              order_reference=None, outcome="refused",
                                              details={"notification": row.id, "kind": row.kind}))  # fmt: skip
                continue
            notes.append(Planned(f"{kind}:{row.id}", row.order_id, row.milestone_id, kind, UNIT, None, None,
                                 {"notification": row.id, "kind": row.kind, "role": row.role,
                                  "person_id": row.person_id, "address": row.address,
                                  "name": names.get(row.person_id or 0), "error": row.last_error or "",
                                  "attempts": row.attempts,
                                  "text": str(row.payload.get("text", "")) if row.kind == NOTE else ""}))  # fmt: skip
        report.queued += len(await queue(session, notes, self.hours.next_opening(now), now))

    # Words -----------------------------------------------------------------------------------

    def message(self, row: _Row, today: date) -> Message:
        """What a row says; one sent to someone covering for a person away first says for whom."""
        message = self._words(row, today)
        facts = row.note.payload.get(COVERING)
        if isinstance(facts, dict) and facts.get("name") and facts.get("until"):
            return replace(message, covering=for_whom(str(facts["name"]), date.fromisoformat(str(facts["until"]))))
        return message

    def _words(self, row: _Row, today: date) -> Message:
        note = row.note
        child = initials(row.child) if row.child else None
        label = f"{row.reference} ({child})" if row.reference else "An order"
        step = row.step
        if note.kind == "digest":
            return digest_message(note.payload)
        if note.kind == REPLY:
            return Message(REPLY, str(note.payload.get("subject", "")), mail=note.payload)
        if note.kind == NOTE:
            return Message(
                NOTE,
                str(note.payload.get("text", "")),
                reference=row.reference,
                initials=child,
                reallocate=bool(note.payload.get("reallocate")) and row.reference is not None,
                choices=iro_choices(note.payload.get("choices")),
            )
        if note.kind == ALLOCATION:
            # The mail channel writes the request itself, with the order and the IROs as they are when it goes.
            return Message(ALLOCATION, f"{label}: please allocate an IRO.", reference=row.reference, initials=child)
        if step is None or step.due is None:
            return Message(note.kind, self._about(note.kind, label, note.payload), reference=row.reference,
                           initials=child)  # fmt: skip
        due = f"{step.due:%A} {step.due.day} {step.due:%B %Y}"
        days = self.calendar.working_days_between(today, step.due)
        base = Message(note.kind, "", (), row.reference, child, step.key, step.occurrence, step.title, step.due)
        owner = the_role(step.owner_role) + (f" ({row.owner_name})" if row.owner_name else "")
        if note.kind == "reminder":
            when = "today" if days == 0 else f"in {days} working day{'s' if days != 1 else ''}"
            if days < 0:
                when = f"{-days} working day{'s' if days != -1 else ''} ago"
            return replace(base, headline=f"{label}: {step.title} is due {due} ({when}).",
                           lines=(f"Source: {step.source}.", HOW_TO_ANSWER))  # fmt: skip
        if note.kind == "escalation":
            late = max(-days, 0)
            plural = "s" if late != 1 else ""
            return replace(
                base,
                headline=f"Overdue: {label}: {step.title} was due {due}, {late} working day{plural} ago.",
                lines=(f"It is for {owner}. You are told as {the_role(note.role)}.",
                 f"Source: {step.source}.", HOW_TO_ANSWER),
            )  # fmt: skip
        return replace(base, headline=self._about(note.kind, label, note.payload, step))

    def _about(self, kind: str, label: str, payload: dict[str, Any], step: models.Milestone | None = None) -> str:
        title = f"“{step.title}”" if step is not None else "a step"
        if step is not None and step.due is not None:
            # A repeated step's notes must say which time round they are about.
            which = f"occurrence {step.occurrence}, " if step.occurrence > 1 else ""
            title += f" ({which}due {step.due:%A} {step.due.day} {step.due:%B %Y})"
        if kind == "nobody":
            role = the_role(str(payload.get("role", "")))
            return (f"{label}: {with_article(str(payload.get('kind', 'notice')))} about {title} is due but nobody "
                    f"is {role} for this order. Add them to the directory (sobot people import), "
                    f"or pass it on.")  # fmt: skip
        name = payload.get("name")
        who = str(name) if name else "the person it was for"
        if payload.get("person_id") is None:
            who = str(payload["address"]) if payload.get("address") else "the Safeguarding Unit"
        role = the_role(str(payload.get("role", "")))
        if payload.get("kind") == NOTE:
            about = f"a note to {who} (“{cut_at_word(str(payload.get('text', '')), 160)}”)"
        else:
            to = f"{role} ({name})" if name else role
            about = f"{with_article(str(payload.get('kind', 'notification')))} to {to} about {title}"
        if kind == "failed":
            attempts = int(payload.get("attempts") or 0)
            tries = f"{attempts} tr{'ies' if attempts != 1 else 'y'}"
            return (f"{label}: {about} could not be delivered after {tries} ({payload.get('error')}). "
                    f"Please make sure {who} knows.")  # fmt: skip
        return (f"{label}: {about} may not have been delivered: sobot stopped while sending it. "
                f"Please check that {who} knows.")  # fmt: skip


def the_role(role: str) -> str:
    """A role as a sentence names it: "the IRO", "the team manager", "Legal"."""
    return ROLE_WORDS.get(role) or f"the {role.replace('_', ' ')}"


def with_article(noun: str) -> str:
    """The noun with the article English gives it ("a reminder", "an escalation")."""
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}" if noun else "a notice"


def cut_at_word(text: str, limit: int) -> str:
    """The text, or as many whole words of it as fit in `limit` characters with an ellipsis."""
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    space = head.rfind(" ")
    if text[limit - 1] != " " and space > limit // 2:  # mid-word: back to the last whole one (unless it is long)
        head = head[:space]
    return head.rstrip(" ,;:.–-") + "…"


def _now_held(row: _Row) -> list[Planned]:
    """For a note that nobody held a role, the notices for those who hold it now (the planner's keys)."""
    note = row.note
    if note.kind != "nobody" or not row.holders:
        return []
    base = note.dedupe_key.removesuffix(":nobody")
    kind, role = str(note.payload.get("kind", "reminder")), str(note.payload.get("role", ""))
    return [Planned(f"{base}:{recipient_key(r)}", note.order_id,
                    note.milestone_id, kind, role, r.person_id, None if r.person_id else r.email, {})
            for r in row.holders]  # fmt: skip


HOW_TO_ANSWER = "Answer with the buttons in Teams, or type “done REFERENCE STEP” to the sobot bot."


def digest_message(payload: dict[str, Any]) -> Message:
    lines = tuple(
        DigestLine(date.fromisoformat(str(item["due"])), str(item["reference"]), str(item["initials"]),
                   str(item["title"]), str(item["owner"]), bool(item["overdue"]))
        for item in payload.get("steps", [])
    )  # fmt: skip
    overdue = int(payload.get("overdue", sum(1 for line in lines if line.overdue)))
    soon = int(payload.get("total", len(lines))) - overdue
    plural = "s" if overdue != 1 else ""
    headline = f"Good morning: {overdue} step{plural} overdue, {soon} due in the next 10 working days."
    unconfirmed = int(payload.get("to_confirm", 0))
    if unconfirmed:
        # The unit's part: steps an import brought in past their date, silent until the unit says.
        headline = (f"Good morning: {unconfirmed} imported step{'s' if unconfirmed != 1 else ''} to confirm, each "
                    "past its date with nothing recorded and neither reminded nor escalated until you confirm it "
                    "done (with its date) or outstanding.")  # fmt: skip
    text = tuple(
        f"{'OVERDUE ' if line.overdue else ''}{line.due:%d %b %Y}  {line.reference} ({line.initials})  "
        f"{line.title}  [{line.owner.replace('_', ' ')}]"
        for line in lines
    )  # fmt: skip
    more = overdue + soon - len(lines)
    if more > 0 and unconfirmed:
        text += (f"… and {more} more: the dashboard's import page lists them all.",)
    elif more > 0:
        text += (f"… and {more} more: type “overdue” or “due” to the sobot bot in Teams for the whole list.",)
    return Message("digest", headline, text, digest=lines)


def iro_choices(value: Any) -> tuple[tuple[str, str], ...]:
    """The IROs a note of an IRO away names, as its payload keeps them (name and email pairs); anything else none."""
    if not isinstance(value, list):
        return ()
    return tuple((str(pair[0]), str(pair[1])) for pair in value if isinstance(pair, list | tuple) and len(pair) == 2)
