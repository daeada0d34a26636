"""The Teams agent: turns activities into the project's requests, and answers with text and cards."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, cast

from aiohttp import ClientError
from microsoft_agents.activity import (
    Activity,
    ActivityTypes,
    AdaptiveCardInvokeValue,
    InvokeResponse,
)
from microsoft_agents.hosting.core import ActivityHandler, CardFactory, MessageFactory, TurnContext
from pydantic import ValidationError

from bot import cards
from bot.commands import HELP, Command, parse
from bot.messenger import Messenger
from handlers import access, conversations, order_form, orders, queries, reminders
from handlers.context import Context
from handlers.directory import TRUSTED_FOR, PersonView, identify, iro_loads
from handlers.errors import InvalidInput, NotAllowed, NotFound, RequestError
from handlers.kept import Kept
from rules.ukdates import DateNotUnderstood, parse_uk_date
from storage import DatabaseUnavailable

log = logging.getLogger(__name__)

DATABASE_DOWN = "I can't reach the records just now, try again in a minute. Nothing was saved."
STRANGER = "I don't know you yet: ask the Safeguarding Unit or your sobot administrator to add you to the directory."
SORRY = (
    "Something went wrong on my side and nothing was saved. Please try again; if it keeps happening, tell the "
    "Safeguarding Unit."
)
FIELD_OF = {"social_worker_email": "social_worker", "key": "procedure"}
# Teams' connector not answering within the client's timeout, or refusing what was sent.
TEAMS_UNREACHABLE = (TimeoutError, ClientError)


@dataclass(frozen=True)
class Reply:
    """What a turn answers: a line of text, a card, or both."""

    text: str | None = None
    card: cards.Card | None = None

    def activity(self) -> Activity:
        if self.card is not None:
            return cast(Activity, MessageFactory.attachment(CardFactory.adaptive_card(self.card), text=self.text))
        return MessageFactory.text(self.text or "")


def _kind(activity: Activity) -> str:
    conversation_type = (activity.conversation.conversation_type if activity.conversation else None) or "personal"
    return (
        "channel" if conversation_type == "channel" else ("group" if conversation_type == "groupChat" else "personal")
    )


def _thread_root(activity: Activity) -> str | None:
    """The id of the post a channel reply belongs to (Teams puts it in the conversation id)."""
    conversation_id = activity.conversation.id if activity.conversation else ""
    if ";messageid=" in conversation_id:
        return conversation_id.split(";messageid=", 1)[1]
    return activity.reply_to_id


def _channel_id(activity: Activity) -> str:
    return (activity.conversation.id if activity.conversation else "").split(";messageid=", 1)[0]


class SobotAgent(ActivityHandler):
    """Each turn: remember where the person is, find who they are, do what they ask."""

    def __init__(self, ctx: Context, messenger: Messenger, unit_mailbox: str | None = None) -> None:
        self.ctx = ctx
        self.messenger = messenger
        # Where a new order's allocation request is emailed, besides the card in the unit's channel.
        self.unit_mailbox = unit_mailbox
        # Every turn would otherwise read the sender's stored conversation reference to find it unchanged,
        # and who the sender is; every new order, where the unit's channel is.
        self.recent = conversations.RecentReferences()
        self.known: Kept[str, PersonView] = Kept(TRUSTED_FOR)
        self.channel: Kept[str, conversations.Conversation | None] = Kept(TRUSTED_FOR)

    async def on_turn(self, turn_context: TurnContext) -> None:  # type: ignore[override]
        activity = turn_context.activity
        if activity.conversation is None or activity.recipient is None or activity.from_property is None:
            # Teams always sends all three; without them there is nobody to answer and nowhere to answer them.
            log.warning("a %s activity without its conversation, sender or recipient was ignored", activity.type)
            if activity.type == ActivityTypes.invoke:
                # An invoke is answered in the HTTP response; the SDK would otherwise say 501 for want of one.
                _answer_invoke(turn_context, 400, None)
            return
        try:
            if activity.type == ActivityTypes.invoke:
                response = await self.on_invoke_activity(turn_context)
                if response is not None:
                    _answer_invoke(turn_context, response.status, response.body)
            else:
                await super().on_turn(turn_context)
        except DatabaseUnavailable:
            log.warning("database unavailable during a %s turn", turn_context.activity.type)
            await self._apologise(turn_context, DATABASE_DOWN)
        except TEAMS_UNREACHABLE as error:
            # The answer could not reach Teams. What the turn did stands, so "nothing was saved" would be untrue;
            # and an apology would wait as long again for the same connector.
            log.warning("a %s turn's answer did not reach Teams: %s", turn_context.activity.type, type(error).__name__)
        except Exception:
            # Nothing was committed (each operation is one transaction); the person is told, never left waiting.
            log.exception("a %s turn failed", turn_context.activity.type)
            await self._apologise(turn_context, SORRY)

    async def _apologise(self, turn_context: TurnContext, sentence: str) -> None:
        if turn_context.activity.type == ActivityTypes.invoke:
            _answer_invoke(turn_context, 200, _card_body(cards.message(sentence, attention=True)))
        else:
            await turn_context.send_activity(sentence)

    async def _person(self, turn_context: TurnContext) -> PersonView | None:
        """Who sent this, from the directory; the conversation is remembered either way."""
        activity = turn_context.activity
        sender = activity.from_property
        entra_id = sender.aad_object_id if sender else None
        person = await identify(self.ctx, entra_id, None, self.known) if entra_id else None
        if person is None:
            person = await identify(self.ctx, entra_id, await self._email(turn_context), self.known)
        reference = activity.get_conversation_reference().model_dump(mode="json", by_alias=True, exclude_none=True)
        # A channel is reached at its top level, not inside the thread this message happened to be in.
        reference["conversation"]["id"] = _channel_id(activity)
        for per_turn in ("activityId", "requestId"):
            reference.pop(per_turn, None)
        await conversations.remember(
            self.ctx,
            conversation_id=_channel_id(activity),
            kind=_kind(activity),
            service_url=activity.service_url or "",
            reference=reference,
            person=person,
            recent=self.recent,
        )
        return person

    async def _email(self, turn_context: TurnContext) -> str | None:
        """The sender's email from Teams' member lookup, when the channel offers one."""
        sender = turn_context.activity.from_property
        if sender is None or not sender.id or turn_context.activity.conversation is None:
            return None
        try:
            member = await self.messenger.member(turn_context, sender.id)
        except Exception:  # the lookup is a convenience: an unanswered one leaves the Entra id to match
            log.debug("member lookup failed", exc_info=True)
            return None
        return member

    async def on_conversation_update_activity(self, turn_context: TurnContext) -> None:  # type: ignore[override]
        person = await self._person(turn_context)
        added = turn_context.activity.members_added or []
        recipient = turn_context.activity.recipient
        if recipient and any(member.id == recipient.id for member in added):
            greeting = (
                f"Hello {person.name}. I keep Supervision Orders on time. Type help to see what I can do."
                if person
                else f"Hello. I keep Supervision Orders on time. {STRANGER}"
            )
            await turn_context.send_activity(greeting)

    async def on_installation_update(self, turn_context: TurnContext) -> None:  # type: ignore[override]
        await self._person(turn_context)

    async def on_message_activity(self, turn_context: TurnContext) -> None:  # type: ignore[override]
        person = await self._person(turn_context)
        activity = turn_context.activity
        if person is None:
            verb = activity.value.get("verb") if isinstance(activity.value, dict) else None
            await access.refuse_stranger(self.ctx, _sender(activity), str(verb or "message"))
            await turn_context.send_activity(STRANGER)
            return
        if isinstance(activity.value, dict) and activity.value.get("verb"):
            reply = await self.card_action(turn_context, person, str(activity.value["verb"]), activity.value)
        else:
            reply = await self.command(turn_context, person, parse(activity.text or "", self.ctx.today()))
        await turn_context.send_activity(reply.activity())

    async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse | None:  # type: ignore[override]
        """A card's Action.Execute, answered with the card that replaces it; sobot's cards use no other invoke."""
        activity = turn_context.activity
        action = activity.value.get("action") if isinstance(activity.value, dict) else None
        if (
            activity.name != "adaptiveCard/action"
            or not isinstance(action, dict)
            or action.get("type") != "Action.Execute"
        ):
            # The SDK would refuse the rest with a body it cannot send (a 500).
            return InvokeResponse(status=400, body={"error": "sobot answers Action.Execute from its own cards only"})
        try:
            invoke_value = AdaptiveCardInvokeValue.model_validate(activity.value)
        except ValidationError:
            return InvokeResponse(status=400, body={"error": "the card action is not an Adaptive Card invoke value"})
        return InvokeResponse(status=200, body=_card_body(await self.card_invoke(turn_context, invoke_value)))

    async def card_invoke(self, turn_context: TurnContext, invoke_value: AdaptiveCardInvokeValue) -> cards.Card:
        person = await self._person(turn_context)
        action = invoke_value.action
        if person is None:
            await access.refuse_stranger(
                self.ctx, _sender(turn_context.activity), (action.verb if action else "") or ""
            )
            return cards.message(STRANGER, attention=True)
        data = dict(action.data or {}) if action else {}
        reply = await self.card_action(turn_context, person, (action.verb if action else "") or "", data)
        return reply.card or cards.message(reply.text or "")

    # Commands typed in chat ------------------------------------------------------------------

    async def command(self, turn_context: TurnContext, person: PersonView, command: Command) -> Reply:
        if command.problem:
            return Reply(command.problem)
        handler = self.COMMANDS.get(command.name)
        if handler is None:
            return self.help(command)
        try:
            return await handler(self, turn_context, person, command)
        except RequestError as error:
            return Reply(str(error))

    def help(self, command: Command | None = None) -> Reply:
        lines = [f"**{usage}**: {meaning}" for usage, meaning in HELP]
        intro = ""
        if command is not None and command.name == "unknown":
            intro = f'I didn\'t understand "{command.text}".'
            if command.suggestion:
                intro += f" Did you mean **{command.suggestion}**?"
            intro += " Here is what I can do:\n\n"
        return Reply(intro + "\n\n".join(lines))

    async def _help(self, turn_context: TurnContext, person: PersonView, command: Command) -> Reply:
        return self.help(command)

    async def _new_order(self, turn_context: TurnContext, person: PersonView, command: Command) -> Reply:
        values = {"procedure": self.ctx.default_procedure, "social_worker": person.email}
        return Reply(card=cards.new_order_form(self._procedure_choices(), values, form=uuid.uuid4().hex))

    async def _my_orders(self, turn_context: TurnContext, person: PersonView, command: Command) -> Reply:
        found = await queries.my_orders(self.ctx, person)
        if not found:
            return Reply("You have no open orders.")
        return Reply(card=cards.orders_table("Your orders", found))

    async def _order(self, turn_context: TurnContext, person: PersonView, command: Command) -> Reply:
        await access.require_linked(self.ctx, person, command.reference or "", "order.view")
        view = await orders.get_order(self.ctx, command.reference or "")
        return Reply(card=cards.order_summary(view))

    async def _due(self, turn_context: TurnContext, person: PersonView, command: Command) -> Reply:
        today = self.ctx.today()
        if command.days == 0:
            until = today + timedelta(days=6 - today.weekday())
            label = "this week"
        else:
            until = today + timedelta(days=command.days or 7)
            label = f"in the next {command.days or 7} days"
        steps = await queries.due_steps(self.ctx, person, until=until)
        if not steps:
            return Reply(f"Nothing is due {label} on your orders, and nothing is overdue.")
        return Reply(card=cards.due_table(f"Due {label} (and overdue)", steps))

    async def _overdue(self, turn_context: TurnContext, person: PersonView, command: Command) -> Reply:
        steps = await queries.due_steps(self.ctx, person, until=None, overdue_only=True)
        if not steps:
            return Reply("Nothing is overdue on your orders.")
        return Reply(card=cards.due_table("Overdue", steps))

    async def _done(self, turn_context: TurnContext, person: PersonView, command: Command) -> Reply:
        await access.require_linked(self.ctx, person, command.reference or "", "event.record")
        view = await orders.get_order(self.ctx, command.reference or "")
        key, value = self._step_and_value(view.procedure_id, command.text)
        on = command.on or self.ctx.today()
        updated = await orders.record_event(self.ctx, view.reference, key, on, person.actor, value=value)
        return Reply(f"Recorded for {updated.reference}: {self._title(updated.procedure_id, key)} on {on:%d %B %Y}"
                     + (f" ({value})." if value else "."),
                     cards.order_summary(updated))  # fmt: skip

    async def _extend(self, turn_context: TurnContext, person: PersonView, command: Command) -> Reply:
        assert command.on is not None
        await access.require_linked(self.ctx, person, command.reference or "", "order.extend")
        view = await orders.extend_order(self.ctx, command.reference or "", command.on, person.actor)
        return Reply(f"{view.reference} now lasts to {view.last_day:%d %B %Y}.", cards.order_summary(view))

    async def _allocate(self, turn_context: TurnContext, person: PersonView, command: Command) -> Reply:
        reference = command.reference
        if reference is None:
            root = _thread_root(turn_context.activity)
            reference = await conversations.order_for_card(self.ctx, root) if root else None
        if reference is None:
            return Reply("Say which order, e.g. allocate SO-2026-0007 to Jane Smith, or reply in its card's thread.")
        return await self.allocate(person, reference, command.text)

    async def _use_channel(self, turn_context: TurnContext, person: PersonView, command: Command) -> Reply:
        if _kind(turn_context.activity) != "channel":
            return Reply("Say this in the Safeguarding Unit's Teams channel, where the allocation cards should go.")
        await conversations.use_for_allocations(self.ctx, _channel_id(turn_context.activity), person)
        self.channel.forget()
        return Reply('This channel now gets an "Allocate an IRO" card for each new order.')

    COMMANDS: Mapping[str, Callable[[SobotAgent, TurnContext, PersonView, Command], Awaitable[Reply]]] = {
        "help": _help,
        "new_order": _new_order,
        "my_orders": _my_orders,
        "order": _order,
        "due": _due,
        "overdue": _overdue,
        "done": _done,
        "event": _done,  # an event is recorded as a step is: by its key or title, with its date
        "extend": _extend,
        "allocate": _allocate,
        "use_channel": _use_channel,
    }

    # Card buttons ----------------------------------------------------------------------------

    async def card_action(
        self, turn_context: TurnContext, person: PersonView, verb: str, data: dict[str, Any]
    ) -> Reply:
        try:
            if verb == "order.submit":
                return await self.submit_order(person, data)
            if verb == "order.allocate":
                return await self.allocate(person, str(data.get("reference", "")), str(data.get("iro", "")))
            if verb in ("step.done", "step.done_on"):
                return await self.step_done(person, data, on_a_date=verb == "step.done_on")
            if verb == "step.acknowledge":
                step = _step_of(data)
                await access.require_linked(self.ctx, person, step[0], verb)
                ack = await reminders.acknowledge(self.ctx, *step, person.actor)
                line = f"Acknowledged: {ack.title} on {ack.reference}. Escalations to you for it stop."
                return Reply(line, cards.message(line))
            if verb == "step.snooze":
                days = int(data.get("days") or 0)
                step = _step_of(data)
                await access.require_linked(self.ctx, person, step[0], verb)
                quiet = await reminders.snooze(self.ctx, *step, days, person.actor)
                assert quiet.until is not None
                line = f"Snoozed: {quiet.title} on {quiet.reference}, until {quiet.until:%a %d %b %Y}."
                return Reply(line, cards.message(line))
        except NotAllowed as error:
            return Reply(str(error), cards.message(str(error), attention=True))
        except RequestError as error:
            return Reply(str(error), cards.message(str(error), attention=True))
        return Reply("That button is not one I know; type help to see what I can do.")

    async def submit_order(self, person: PersonView, data: Mapping[str, Any]) -> Reply:
        values = {field: str(data.get(field) or "").strip() for field, _, _ in cards.FORM_FIELDS}
        # Saving a form twice (pressed twice, or Teams sending it again) saves one order: the form's id is unique.
        form = str(data.get("form") or "")[:64] or None
        labelled = dict(values)
        if values["last_day"] and values["months"] == "12":
            labelled["months"] = ""  # the length box's stated default, left beside the court's last day
        read = order_form.read_order(labelled, self.ctx.today())
        if isinstance(read, list):
            errors: dict[str, str] = {}
            for problem in read:
                errors.setdefault(problem.field, problem.sentence)
            return await self._form_again_unless_saved(values, errors, form=form)
        new = replace(read, social_worker_email=read.social_worker_email or person.email, form_id=form)
        try:
            view = await orders.create_order(self.ctx, new, person.actor, sender=person, ask_unit_at=self.unit_mailbox)
        except orders.AlreadySaved as saved:
            return Reply(card=cards.order_summary(saved.view, saved=True))
        except orders.AlreadyRecorded as already:
            return Reply(str(already), cards.order_summary(already.view, note=str(already)))
        except InvalidInput as error:
            field = FIELD_OF.get(error.field or "", error.field or "")
            errors = {field: str(error)} if field in values else {}
            return await self._form_again_unless_saved(values, errors, str(error), form)
        except NotFound as error:
            return await self._form_again_unless_saved(values, {"social_worker": str(error)}, form=form)
        await self.ask_for_allocation(view)
        return Reply(card=cards.order_summary(view, saved=True))

    async def _form_again_unless_saved(
        self, values: dict[str, str], errors: dict[str, str], problem: str | None = None, form: str | None = None
    ) -> Reply:
        """The form with its problems; but a form already saved (a press that raced the first) gets its order."""
        already = await orders.order_for_form(self.ctx, form) if form is not None else None
        if already is not None:
            return Reply(card=cards.order_summary(already, saved=True))
        summary = problem or "Some answers need changing: see the notes under them."
        return Reply(card=cards.new_order_form(self._procedure_choices(), values, errors, summary, form))

    async def ask_for_allocation(self, view: Any) -> None:
        # The order is already saved: whatever fails here, the turn or poll that saved it must still say so.
        try:
            channel = await conversations.allocation_channel(self.ctx, self.channel)
            if channel is None:
                log.warning("%s: no allocation channel is set; the unit was not asked in Teams", view.reference)
                return
            activity_id = await self.messenger.send(channel, cards.allocation_request(view, await iro_loads(self.ctx)))
            if activity_id:
                await conversations.record_allocation_card(self.ctx, view.reference, channel, activity_id)
            await orders.unit_told(self.ctx, view.reference)  # the card is sobot telling the unit
        except (DatabaseUnavailable, *TEAMS_UNREACHABLE) as error:
            log.warning("%s: the unit was not asked in Teams (%s)", view.reference, type(error).__name__)

    async def allocate(self, person: PersonView, reference: str, iro: str) -> Reply:
        done = await orders.allocate_iro(self.ctx, reference, iro, person.actor)
        updated = await self.announce_allocation(done)
        return Reply(f"{done.order.iro} is now the IRO for {done.order.reference}.", updated)

    async def announce_allocation(self, done: orders.Allocated) -> cards.Card:
        """Update the posted cards and tell the social worker and IRO, whichever channel allocated; the new card."""
        updated = cards.allocated(done.order, done.by, done.at, done.replaced, await iro_loads(self.ctx))
        for posted in await conversations.allocation_cards(self.ctx, done.order.reference):
            await self.messenger.update(posted.conversation, posted.activity_id, updated)
        await self.tell_allocation(done.order, done.replaced)
        return updated

    async def tell_unit(self, note: str) -> None:
        """A note for the Safeguarding Unit's channel, when it has one."""
        channel = await conversations.allocation_channel(self.ctx, self.channel)
        if channel is None:
            log.warning("a note for the Safeguarding Unit could not go to Teams: no allocation channel is set")
            return
        await self.messenger.send(channel, cards.message(note, attention=True), text=note)

    async def tell_allocation(self, view: Any, replaced: str | None) -> None:
        note = f" (replacing {replaced})" if replaced else ""
        for person_id, line in (
            (view.social_worker_id, f"{view.iro} is the IRO for {view.reference} ({view.child_initials}){note}."),
            (view.iro_id, f"You are now the IRO for {view.reference} ({view.child_initials}); "
                          f"the social worker is {view.social_worker or 'not recorded'}."),
        ):  # fmt: skip
            if person_id is None:
                continue
            conversation = await conversations.personal_conversation(self.ctx, person_id)
            if conversation is None:
                log.info("%s: person %s has no Teams conversation to be told in", view.reference, person_id)
                continue
            await self.messenger.send(conversation, cards.order_summary(view), text=line)

    async def step_done(self, person: PersonView, data: Mapping[str, Any], *, on_a_date: bool) -> Reply:
        reference = str(data.get("reference", ""))
        key = str(data.get("step", ""))
        await access.require_linked(self.ctx, person, reference, "event.record")
        on = self.ctx.today()
        if on_a_date:
            try:
                on = parse_uk_date(str(data.get("done_on") or ""))
            except DateNotUnderstood as error:
                return Reply(str(error), cards.message(f"{error} Pick the day it was done, then press Done on a date."))
        view = await orders.record_event(self.ctx, reference, key, on, person.actor)
        return Reply(f"Recorded as done on {on:%d %B %Y}.", cards.order_summary(view))

    # Helpers ---------------------------------------------------------------------------------

    def _procedure_choices(self) -> list[tuple[str, str]]:
        return [(pid, p.title) for pid, p in sorted(self.ctx.procedures.items())]

    def _step_and_value(self, procedure_id: str, text: str) -> tuple[str, str | None]:
        """The step or event `text` names, and the value it ends with when that event takes one ("outcome B")."""
        words = text.split()
        if len(words) > 1:
            key = self._step_key(procedure_id, " ".join(words[:-1]), quiet=True)
            event = self.ctx.procedures[procedure_id].event_keys().get(key or "")
            value = next((v for v in (event.values if event else ()) if v.upper() == words[-1].upper()), None)
            if key and value:
                return key, value
        return self._step_key(procedure_id, text) or "", None

    def _step_key(self, procedure_id: str, text: str, *, quiet: bool = False) -> str | None:
        """The procedure's step or event that `text` names: its key, or words of its title."""
        procedure = self.ctx.procedures[procedure_id]
        wanted = "_".join(text.lower().replace("-", " ").split())
        known: dict[str, str] = {key: event.title for key, event in procedure.event_keys().items()}
        known.update({rule.key: rule.title for rule in procedure.milestones})
        if wanted in known:
            return wanted
        words = set(text.lower().split())
        scored = sorted(
            ((len(words & set(title.lower().replace("(", " ").split())) + len(words & set(key.split("_"))), key)
             for key, title in known.items()),
            reverse=True,
        )  # fmt: skip
        if scored and scored[0][0] > 0 and (len(scored) == 1 or scored[0][0] > scored[1][0]):
            return scored[0][1]
        if quiet:
            return None
        raise InvalidInput(f"I can't tell which step {text!r} is. Its steps are: {', '.join(sorted(known))}.", "key")

    def _title(self, procedure_id: str, key: str) -> str:
        procedure = self.ctx.procedures[procedure_id]
        named = procedure.event_keys().get(key) or procedure.milestone(key)
        return named.title if named else key


def _sender(activity: Activity) -> str:
    """Who an unknown caller says they are, for the audit log: their Teams id and Entra object id."""
    sender = activity.from_property
    return f"teams:{sender.id if sender else '?'} entra:{(sender.aad_object_id if sender else None) or '?'}"


def _step_of(data: Mapping[str, Any]) -> tuple[str, str, int]:
    try:
        return str(data["reference"]), str(data["step"]), int(data.get("occurrence") or 1)
    except (KeyError, ValueError):
        raise InvalidInput("That card is missing its order or step: open the order with `order REF`.") from None


def _card_body(card: cards.Card) -> dict[str, Any]:
    """An Adaptive Card invoke response's body (AdaptiveCardInvokeResponse, as Teams reads it): the new card."""
    return {"statusCode": 200, "type": "application/vnd.microsoft.card.adaptive", "value": card}


def _answer_invoke(turn_context: TurnContext, status: int, body: Any) -> None:
    """Leave the invoke's answer where the adapter looks for it.

    The SDK's own route, sending an invoke-response activity, validates and deep-copies the whole card
    three times over on its way to the same place.
    """
    # Built without validation: the adapter reads only its value, which sobot made.
    turn_context.turn_state[turn_context.adapter.INVOKE_RESPONSE_KEY] = Activity.model_construct(
        type=ActivityTypes.invoke_response, value={"status": status, "body": body}
    )
