"""The Teams agent: each turn finds who is asking, and answers what they ask (a chat line or a card's button)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from datetime import timedelta
from typing import Any

from microsoft_agents.activity import (
    ActivityTypes,
    AdaptiveCardInvokeValue,
    InvokeResponse,
)
from microsoft_agents.hosting.core import ActivityHandler, TurnContext
from pydantic import ValidationError

from bot import activities, away, cards
from bot.activities import Reply
from bot.announce import TEAMS_UNREACHABLE, Announcements, event_titles
from bot.commands import HELP, Command, parse
from bot.messenger import Messenger
from handlers import access, confirm, conversations, order_form, orders, permissions, queries, reminders
from handlers.context import Context
from handlers.directory import TRUSTED_FOR, PersonView, identify, iro_loads
from handlers.errors import Ambiguous, InvalidInput, NotAllowed, NotFound, RequestError, brief
from handlers.kept import Kept
from handlers.links import Links
from handlers.views import OrderView
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
STRANGER_AUDITED_EVERY = timedelta(hours=1)


class SobotAgent(ActivityHandler):
    """Each turn: remember where the person is, find who they are, do what they ask."""

    def __init__(self, ctx: Context, messenger: Messenger, links: Links, unit_mailbox: str | None = None) -> None:
        self.ctx = ctx
        self.messenger = messenger
        self.links = links  # where each card's "Open in sobot" goes
        # Where a new order's allocation request is emailed, besides the card in the unit's channel.
        self.unit_mailbox = unit_mailbox
        # Every turn would otherwise read the sender's stored conversation reference to find it unchanged,
        # and who the sender is.
        self.recent = conversations.RecentReferences()
        self.known: Kept[str, PersonView] = Kept(TRUSTED_FOR)
        # A stranger (someone the directory does not know) costs a bounded amount however much they send: each
        # thing they ask (a command, whatever its words; a button of sobot's; anything else) is audited once in
        # STRANGER_AUDITED_EVERY, their conversation kept once in it, and Teams asked for their email once in
        # TRUSTED_FOR (someone added to the directory by email is known within it, by Entra object id at once).
        # Otherwise each message would add an audit row, a stored conversation and a lookup, without limit.
        self.refused: Kept[tuple[str, str], bool] = Kept(STRANGER_AUDITED_EVERY)
        self.stranger_kept: Kept[str, bool] = Kept(STRANGER_AUDITED_EVERY)
        self.unknown: Kept[str, bool] = Kept(TRUSTED_FOR)
        self.announcements = Announcements(ctx, messenger, links)
        # What the order form and the other channels (the mailbox's poller) tell the unit and the people concerned.
        self.ask_for_allocation = self.announcements.ask_for_allocation
        self.announce_allocation = self.announcements.announce_allocation
        self.tell_unit = self.announcements.tell_unit

    async def on_turn(self, turn_context: TurnContext) -> None:  # type: ignore[override]
        activity = turn_context.activity
        if activity.conversation is None or activity.recipient is None or activity.from_property is None:
            # Teams always sends all three; without them there is nobody to answer and nowhere to answer them.
            log.warning("a %s activity without its conversation, sender or recipient was ignored", activity.type)
            if activity.type == ActivityTypes.invoke:
                # An invoke is answered in the HTTP response; the SDK would otherwise say 501 for want of one.
                activities.answer_invoke(turn_context, 400, None)
            return
        try:
            if activity.type == ActivityTypes.invoke:
                response = await self.on_invoke_activity(turn_context)
                if response is not None:
                    activities.answer_invoke(turn_context, response.status, response.body)
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
            activities.answer_invoke(turn_context, 200, activities.card_body(cards.message(sentence, attention=True)))
        else:
            await turn_context.send_activity(sentence)

    async def _refuse_stranger(self, who: str, attempt: str, asked: str) -> None:
        """Audit a stranger's attempt: the first of each thing `asked` in STRANGER_AUDITED_EVERY from one sender."""
        now = self.ctx.clock.now()
        key = (who, asked if asked in self.ASKS else "unknown")
        if self.refused.get(key, now) is None:
            await access.refuse_stranger(self.ctx, who, attempt[:64])
            self.refused.keep(key, True, now)

    async def _person(self, turn_context: TurnContext) -> PersonView | None:
        """Who sent this, from the directory; the conversation is remembered, a stranger's once in a while."""
        activity = turn_context.activity
        sender = activity.from_property
        entra_id = sender.aad_object_id if sender else None
        who, now = activities.sender(activity), self.ctx.clock.now()
        person = await identify(self.ctx, entra_id, None, self.known) if entra_id else None
        if person is None and self.unknown.get(who, now) is None:
            person = await identify(self.ctx, entra_id, await self._email(turn_context), self.known)
            if person is None:
                self.unknown.keep(who, True, now)
        if person is None:
            if self.stranger_kept.get(who, now) is not None:
                return None  # a stranger seen lately: their conversation was kept then
            self.stranger_kept.keep(who, True, now)
        reference = activity.get_conversation_reference().model_dump(mode="json", by_alias=True, exclude_none=True)
        # A channel is reached at its top level, not inside the thread this message happened to be in.
        reference["conversation"]["id"] = activities.channel_id(activity)
        for per_turn in ("activityId", "requestId"):
            reference.pop(per_turn, None)
        await conversations.remember(
            self.ctx,
            conversation_id=activities.channel_id(activity),
            kind=activities.kind(activity),
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
        # Only a person's own chat is greeted: in a channel the greeting would go to the whole team.
        personal = activities.kind(turn_context.activity) == "personal"
        if personal and recipient and any(member.id == recipient.id for member in added):
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
            asked = str(verb) if verb else parse(activity.text or "", self.ctx.today()).name
            await self._refuse_stranger(activities.sender(activity), str(verb or "message"), asked)
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
        return InvokeResponse(status=200, body=activities.card_body(await self.card_invoke(turn_context, invoke_value)))

    async def card_invoke(self, turn_context: TurnContext, invoke_value: AdaptiveCardInvokeValue) -> cards.Card:
        person = await self._person(turn_context)
        action = invoke_value.action
        if person is None:
            verb = (action.verb if action else "") or ""
            await self._refuse_stranger(activities.sender(turn_context.activity), verb, verb)
            return cards.message(STRANGER, attention=True)
        data = dict(action.data or {}) if action else {}
        reply = await self.card_action(turn_context, person, (action.verb if action else "") or "", data)
        return reply.card or cards.message(reply.text or "")

    # What people ask, typed in chat or pressed on a card ---------------------------------------

    async def command(self, turn_context: TurnContext, person: PersonView, command: Command) -> Reply:
        """A chat line's command, answered in text (and a card where it shows one)."""
        if command.problem:
            return Reply(command.problem)
        handler = self.ASKS.get(command.name)
        if handler is None or _is_verb(command.name):
            return self.help(command)
        try:
            return await handler(self, turn_context, person, command)
        except RequestError as error:
            return Reply(str(error))

    async def card_action(
        self, turn_context: TurnContext, person: PersonView, verb: str, data: Mapping[str, Any]
    ) -> Reply:
        """A card button's verb, answered with a card in place of the one pressed."""
        handler = self.ASKS.get(verb)
        if handler is None or not _is_verb(verb):
            return Reply("That button is not one I know; type help to see what I can do.")
        reference = data.get("reference")
        try:
            return await handler(self, turn_context, person, Command(verb, str(reference) if reference else None,
                                                                     data=dict(data)))  # fmt: skip
        except RequestError as error:
            return Reply(str(error), cards.message(str(error), attention=True))

    def help(self, command: Command | None = None) -> Reply:
        lines = [f"**{usage}**: {meaning}" for usage, meaning in HELP]
        lines.append(f"Your steps' due dates can be in your Outlook calendar: make your own calendar link on "
                     f"sobot's [My calendar]({self.links.calendar_in_teams()}) page, then in Outlook Add calendar, "
                     f"Subscribe from web.")  # fmt: skip
        intro = ""
        if command is not None and command.name == "unknown":
            intro = f'I didn\'t understand "{brief(command.text)}".'
            if command.suggestion:
                intro += f" Did you mean **{command.suggestion}**?"
            intro += " Here is what I can do:\n\n"
        return Reply(intro + "\n\n".join(lines))

    async def _help(self, turn_context: TurnContext, person: PersonView, command: Command) -> Reply:
        return self.help(command)

    async def _new_order(self, turn_context: TurnContext, person: PersonView, command: Command) -> Reply:
        values = {"procedure": self.ctx.default_procedure, "social_worker": person.email,
                  "order_type": command.text or "supervision"}  # fmt: skip
        return Reply(card=cards.new_order_form(self._procedure_choices(), values, form=uuid.uuid4().hex))

    async def _submit_order(self, turn_context: TurnContext, person: PersonView, command: Command) -> Reply:
        sender = turn_context.activity.from_property
        return await self.submit_order(person, command.data, sender.id if sender else None)

    async def _my_orders(self, turn_context: TurnContext, person: PersonView, command: Command) -> Reply:
        found = await queries.my_orders(self.ctx, person)
        if not found:
            return Reply("You have no open orders.")
        return Reply(card=cards.orders_table("Your orders", found))

    async def _order(self, turn_context: TurnContext, person: PersonView, command: Command) -> Reply:
        view = await orders.get_order(self.ctx, command.reference or "", person.actor)
        return Reply(card=self._summary(view))

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
        on = command.on or self.ctx.today()
        done = await orders.record_said(self.ctx, command.reference or "", command.text, on, person.actor)
        line = f"Recorded for {done.order.reference}: {done.title} on {on:%d %B %Y}" + (
            f" ({done.value})." if done.value else "."
        )
        return Reply(line, self._summary(done.order, note=line))

    async def _confirm(self, turn_context: TurnContext, person: PersonView, command: Command) -> Reply:
        step = await confirm.confirm_step(self.ctx, command.reference or "", command.text, person.actor, command.on)
        if command.on is None:
            line = f"Confirmed outstanding on {step.reference}: {step.title}. It is reminded and escalated from now."
        else:
            line = f"Confirmed on {step.reference}: {step.title}, done {command.on:%d %B %Y}."
        return Reply(line, cards.message(line))

    async def _step_done(self, turn_context: TurnContext, person: PersonView, command: Command) -> Reply:
        data = command.data
        on = self.ctx.today()
        if command.name == "step.done_on":
            try:
                on = parse_uk_date(str(data.get("done_on") or ""))
            except DateNotUnderstood as error:
                return Reply(str(error), cards.message(f"{error} Pick the day it was done, then press Done on a date."))
        key = str(data.get("step", ""))
        view = await orders.record_event(self.ctx, command.reference or "", key, on, person.actor)
        title = next((step.title for step in view.steps if step.key == key), key)
        line = f"Recorded: {title} done on {on:%d %B %Y}."
        return Reply(line, self._summary(view, note=line))

    async def _acknowledge(self, turn_context: TurnContext, person: PersonView, command: Command) -> Reply:
        ack = await reminders.acknowledge(self.ctx, *_step_of(command.data), person.actor)
        assert ack.until is not None
        line = (f"Acknowledged: reminders pause until {cards.day(ack.until)}. {ack.title} on {ack.reference} is still "
                f"open: they resume after that unless it is done.")  # fmt: skip
        return Reply(line, cards.message(line))

    async def _snooze(self, turn_context: TurnContext, person: PersonView, command: Command) -> Reply:
        try:
            days = int(command.data.get("days") or 0)
        except (TypeError, ValueError):
            raise InvalidInput("Snooze for 1, 2, 5 working days: press one of the card's Snooze buttons.") from None
        quiet = await reminders.snooze(self.ctx, *_step_of(command.data), days, person.actor)
        assert quiet.until is not None
        line = f"Snoozed: {quiet.title} on {quiet.reference}, until {quiet.until:%a %d %b %Y}."
        return Reply(line, cards.message(line))

    async def _extend(self, turn_context: TurnContext, person: PersonView, command: Command) -> Reply:
        assert command.on is not None
        view = await orders.extend_order(self.ctx, command.reference or "", command.on, person.actor)
        return Reply(f"{view.reference} now lasts to {view.last_day:%d %B %Y}.", self._summary(view))

    async def _allocate(self, turn_context: TurnContext, person: PersonView, command: Command) -> Reply:
        reference = command.reference
        if reference is None:
            root = activities.thread_root(turn_context.activity)
            reference = await conversations.order_for_card(self.ctx, root) if root else None
        if reference is None:
            return Reply("Say which order, e.g. allocate SO-2026-0007 to Jane Smith, or reply in its card's thread.")
        return await self.allocate(person, reference, command.text)

    async def _allocate_pressed(self, turn_context: TurnContext, person: PersonView, command: Command) -> Reply:
        return await self.allocate(person, command.reference or "", str(command.data.get("iro", "")))

    async def _refresh(self, turn_context: TurnContext, person: PersonView, command: Command) -> Reply:
        """A card opened again (its Universal Actions refresh): the card as it now is, for the person looking."""
        data = command.data
        if data.get("card") == "reminder":
            reference, key, occurrence = _step_of(data)
            sender = turn_context.activity.from_property
            try:
                step = await reminders.step_now(self.ctx, reference, key, occurrence, person.actor)
            except NotAllowed as refused:
                return Reply(card=cards.card(cards.text(str(refused), color="Attention")))
            may_allocate = permissions.may_everywhere(person.roles, "order.allocate")
            covering = str(data["covering"]) if data.get("covering") else None  # sent for someone away
            return Reply(card=cards.reminder_now(step, self.ctx.today(), sender.id if sender else None,
                                                 link=self.links.in_teams(step.reference), may_allocate=may_allocate,
                                                 covering=covering))  # fmt: skip
        if data.get("card") == "allocation":
            return Reply(card=await self._allocation_card(person, command.reference or ""))
        return Reply("That card is not one I know; type help to see what I can do.")

    async def _choose_iro(self, turn_context: TurnContext, person: PersonView, command: Command) -> Reply:
        if not permissions.may_everywhere(person.roles, "order.allocate"):
            raise NotAllowed(permissions.refusal("order.allocate", command.reference))
        return Reply(card=await self._allocation_card(person, command.reference or ""))

    async def _allocation_card(self, person: PersonView, reference: str) -> cards.Card:
        """An order's allocation card as it stands: its IRO, who allocated them and when; buttons for the unit."""
        try:
            view, done = await orders.allocation_now(self.ctx, reference, person.actor)
        except NotAllowed as refused:
            return cards.card(cards.heading(reference), cards.text(str(refused), isSubtle=True))
        may_allocate = permissions.may_everywhere(person.roles, "order.allocate")
        loads = await iro_loads(self.ctx) if may_allocate else []
        link = self.links.in_teams(view.reference)
        if done is None:
            return cards.allocation_request(view, loads, link=link, may_allocate=may_allocate)
        return cards.allocated(view, done.by, done.at, done.replaced, loads, link=link, may_allocate=may_allocate)

    async def _use_channel(self, turn_context: TurnContext, person: PersonView, command: Command) -> Reply:
        if activities.kind(turn_context.activity) != "channel":
            return Reply("Say this in the Safeguarding Unit's Teams channel, where the allocation cards should go.")
        await conversations.use_for_allocations(self.ctx, activities.channel_id(turn_context.activity), person)
        self.announcements.channel.forget()
        return Reply('This channel now gets an "Allocate an IRO" card for each new order.')

    # The one map from what people ask to what answers it: chat commands (bot/commands.py parses the line) and card
    # verbs (dotted; bot/cards.py puts them on the buttons) alike. Each answer calls one operation in handlers/,
    # which checks who may do it.
    ASKS: Mapping[str, Callable[[SobotAgent, TurnContext, PersonView, Command], Awaitable[Reply]]] = {
        "help": _help,
        "new_order": _new_order,
        "order.submit": _submit_order,
        "my_orders": _my_orders,
        "order": _order,
        "due": _due,
        "overdue": _overdue,
        "done": _done,
        "event": _done,  # an event is recorded as a step is: by its key or title, with its date
        "step.done": _step_done,
        "step.done_on": _step_done,
        "step.acknowledge": _acknowledge,
        "step.snooze": _snooze,
        "extend": _extend,
        "allocate": _allocate,
        "order.allocate": _allocate_pressed,
        "order.choose_iro": _choose_iro,
        cards.REFRESH: _refresh,
        "use_channel": _use_channel,
        "confirm": _confirm,
        "away": away.away,
        "back": away.back,
        "cancel_away": away.cancel_away,
        "who_is_away": away.who_is_away,
    }

    async def submit_order(self, person: PersonView, data: Mapping[str, Any], teams_id: str | None = None) -> Reply:
        """Save the form's order, or give the form back with its problems; `teams_id` is the sender's in Teams."""
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
        named = read.social_worker_email or read.social_worker_name
        new = replace(read, social_worker_email=read.social_worker_email or (None if named else person.email),
                      form_id=form)  # fmt: skip
        try:
            view = await orders.create_order(self.ctx, new, person.actor, sender=person, ask_unit_at=self.unit_mailbox)
        except orders.AlreadySaved as saved:
            return Reply(card=self._summary(saved.view, saved=True))
        except orders.AlreadyRecorded as already:
            return Reply(str(already), self._summary(already.view, note=str(already)))
        except InvalidInput as error:
            field = FIELD_OF.get(error.field or "", error.field or "")
            errors = {field: str(error)} if field in values else {}
            return await self._form_again_unless_saved(values, errors, str(error), form)
        except NotFound as error:
            return await self._form_again_unless_saved(values, {"social_worker": str(error)}, form=form)
        if teams_id and view.social_worker_id == person.id:
            # The order's cards refresh for its social worker, here the one saving it, known by this turn's Teams id
            # (read from the records, it would be one more statement in the busiest turn there is).
            view = replace(view, viewers=(teams_id,))
        await self.ask_for_allocation(view)
        return Reply(card=self._summary(view, saved=True))

    async def _form_again_unless_saved(
        self, values: dict[str, str], errors: dict[str, str], problem: str | None = None, form: str | None = None
    ) -> Reply:
        """The form with its problems; but a form already saved (a press that raced the first) gets its order."""
        already = await orders.order_for_form(self.ctx, form) if form is not None else None
        if already is not None:
            return Reply(card=self._summary(already, saved=True))
        summary = problem or "Some answers need changing: see the notes under them."
        return Reply(card=cards.new_order_form(self._procedure_choices(), values, errors, summary, form))

    async def allocate(self, person: PersonView, reference: str, iro: str) -> Reply:
        try:
            done = await orders.allocate_iro(self.ctx, reference, iro, person.actor)
        except Ambiguous as unsure:
            return Reply(str(unsure), cards.choose_iro(reference, unsure.choices, link=self.links.in_teams(reference)))
        updated = await self.announce_allocation(done)
        return Reply(f"{done.order.iro} is now the IRO for {done.order.reference}.", updated)

    # Helpers ---------------------------------------------------------------------------------

    def _summary(self, view: OrderView, *, saved: bool = False, note: str | None = None) -> cards.Card:
        return cards.order_summary(view, link=self.links.in_teams(view.reference), saved=saved, note=note,
                                   events=event_titles(self.ctx, view))  # fmt: skip

    def _procedure_choices(self) -> list[tuple[str, str]]:
        return [(pid, p.title) for pid, p in sorted(self.ctx.procedures.items())]


def _is_verb(name: str) -> bool:
    """Card verbs are dotted ("step.done"); chat commands are not, so neither reaches the other's answers."""
    return "." in name


def _step_of(data: Mapping[str, Any]) -> tuple[str, str, int]:
    try:
        return str(data["reference"]), str(data["step"]), int(data.get("occurrence") or 1)
    except (KeyError, ValueError):
        raise InvalidInput("That card is missing its order or step: open the order with `order REF`.") from None
