"""What sobot tells people in Teams unasked when an order is saved or allocated, whichever channel did it.

What Teams cannot carry at once (nobody has a chat with the bot, or Teams does not answer) is not dropped: it
is queued in the outbox, which tries Teams again and then email, and tells the unit when neither reaches them.
"""

from __future__ import annotations

import logging

from aiohttp import ClientError

from bot import cards
from bot.messenger import Messenger
from handlers import absences, conversations, orders
from handlers.context import Context
from handlers.directory import TRUSTED_FOR, iro_loads
from handlers.kept import Kept
from handlers.links import Links
from handlers.notes import queue_note
from handlers.views import OrderView

log = logging.getLogger(__name__)

# Teams' connector not answering within the client's timeout, or refusing what was sent.
TEAMS_UNREACHABLE = (TimeoutError, ClientError)


def event_titles(ctx: Context, view: OrderView) -> dict[str, str]:
    """The titles of the events the order's procedure knows, by key, for the steps that wait on one."""
    procedure = ctx.procedures.get(view.procedure_id)
    return {key: event.title for key, event in procedure.event_keys().items()} if procedure else {}


class Announcements:
    """The unit's allocation cards and the notes to the people an allocation concerns."""

    def __init__(self, ctx: Context, messenger: Messenger, links: Links) -> None:
        self.ctx = ctx
        self.messenger = messenger
        self.links = links
        # Every new order would otherwise read where the unit's channel is.
        self.channel: Kept[str, conversations.Conversation | None] = Kept(TRUSTED_FOR)

    async def ask_for_allocation(self, view: OrderView) -> None:
        """Post the "Allocate an IRO" card in the unit's channel."""
        # The order is already saved: whatever fails here, the turn or poll that saved it must still say so.
        try:
            channel = await conversations.allocation_channel(self.ctx, self.channel)
            if channel is None:
                log.warning("%s: no allocation channel is set; the unit was not asked in Teams", view.reference)
                return
            activity_id = await self.messenger.send(
                channel,
                cards.allocation_request(view, await iro_loads(self.ctx), link=self.links.in_teams(view.reference)),
            )
            if activity_id:
                await conversations.record_allocation_card(self.ctx, view.reference, channel, activity_id)
            await orders.unit_told(self.ctx, view.reference)  # the card is sobot telling the unit
        except Exception as error:  # Teams down, or a token Entra would not give: the email request still goes
            log.warning("%s: the unit was not asked in Teams (%s)", view.reference, type(error).__name__)

    async def announce_allocation(self, done: orders.Allocated) -> cards.Card:
        """Update the posted cards and tell the social worker and IRO, whichever channel allocated; the new card."""
        updated = cards.allocated(done.order, done.by, done.at, done.replaced, await iro_loads(self.ctx),
                                  link=self.links.in_teams(done.order.reference))  # fmt: skip
        for posted in await conversations.allocation_cards(self.ctx, done.order.reference):
            try:
                await self.messenger.update(posted.conversation, posted.activity_id, updated)
            except Exception as error:  # a card left as it was must not keep the people concerned untold
                log.warning("%s: the allocation card could not be updated in Teams (%s)", done.order.reference,
                            type(error).__name__)  # fmt: skip
        await self.tell_allocation(done.order, done.replaced)
        return updated

    async def tell_unit(self, note: str) -> None:
        """A note for the Safeguarding Unit: in its channel, or by the outbox (its mailbox) when Teams cannot."""
        channel = await conversations.allocation_channel(self.ctx, self.channel)
        if channel is not None:
            try:
                # A note is one sentence: as a card beside the same text it would show twice.
                await self.messenger.send(channel, None, text=note)
                return
            except Exception as error:  # whatever Teams failed with (a token it would not give, too), it is queued
                log.warning("a note for the Safeguarding Unit could not go to Teams (%s): queued", type(error).__name__)
        else:
            log.info("a note for the Safeguarding Unit: no allocation channel is set, so it goes to its mailbox")
        await queue_note(self.ctx, f"unit:{self.ctx.clock.now().isoformat()}", None, None, note)

    async def tell_allocation(self, view: OrderView, replaced: str | None) -> None:
        note = f" (replacing {replaced})" if replaced else ""
        told = [
            (view.social_worker_id, f"{view.iro} is the IRO for {view.reference} ({view.child_initials}){note}."),
            (view.iro_id, f"You are now the IRO for {view.reference} ({view.child_initials}); "
                          f"the social worker is {view.social_worker or 'not recorded'}."),
        ]  # fmt: skip
        # An IRO away today is told for their return; whoever covers them is told now, saying for whom.
        covered = await absences.covered_today(self.ctx, view.iro_id) if view.iro_id is not None else None
        if covered is not None:
            told.append((covered.holder_id, f"{covered.for_whom}: {view.iro} is now the IRO for {view.reference} "
                                            f"({view.child_initials}); the social worker is "
                                            f"{view.social_worker or 'not recorded'}."))  # fmt: skip
            await absences.audit_covered(self.ctx, covered, view.reference, "allocation")
        for person_id, line in told:
            if person_id is None:
                continue
            conversation = await conversations.personal_conversation(self.ctx, person_id)
            if conversation is not None:
                try:
                    summary = cards.order_summary(view, link=self.links.in_teams(view.reference),
                                                  events=event_titles(self.ctx, view))  # fmt: skip
                    await self.messenger.send(conversation, summary, text=line)
                    continue
                except Exception as error:  # whatever Teams failed with, the outbox tries again, then email
                    log.warning("%s: person %s could not be told in Teams (%s): queued", view.reference, person_id,
                                type(error).__name__)  # fmt: skip
            else:
                log.info("%s: person %s has no Teams conversation yet: told by the outbox", view.reference, person_id)
            await queue_note(self.ctx, f"allocated:{view.reference}:{self.ctx.clock.now().isoformat()}",
                             view.reference, person_id, line, iro_id=view.iro_id)  # fmt: skip
