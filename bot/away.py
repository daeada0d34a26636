"""Absences in Teams chat: "away … , cover …", "back", "cancel away" and "who is away", each one operation."""

from __future__ import annotations

from datetime import date
from typing import Protocol

from microsoft_agents.hosting.core import TurnContext

from bot.activities import Reply
from bot.commands import Command
from handlers import absences
from handlers.context import Context
from handlers.directory import PersonView
from handlers.errors import NotFound
from rules.cover import long_day


class SobotAgent(Protocol):
    """What these answers need of the agent: the handlers' context."""

    @property
    def ctx(self) -> Context: ...


AFTER = "Type **back** when you return early, or **cancel away** if you are not going."


async def away(agent: SobotAgent, turn_context: TurnContext, person: PersonView, command: Command) -> Reply:
    assert command.on is not None  # the parser gives a first day, or a problem
    last = date.fromisoformat(str(command.data["last_day"]))
    who = command.text or person.email
    done = await absences.record_absence(agent.ctx, person.actor, who, command.on, last,
                                         str(command.data.get("cover") or "") or None)  # fmt: skip
    return Reply(f"Recorded: {done.words} {AFTER if done.person_id == person.id else ''}".rstrip())


async def back(agent: SobotAgent, turn_context: TurnContext, person: PersonView, command: Command) -> Reply:
    done = await absences.back(agent.ctx, person.actor, person.email)
    if done.cancelled:
        return Reply("Welcome back: your absence is cancelled, and what is sent comes to you again.")
    return Reply(f"Welcome back: your absence now ends {long_day(done.last_day)}, and what is sent comes to you again.")


async def cancel_away(agent: SobotAgent, turn_context: TurnContext, person: PersonView, command: Command) -> Reply:
    mine = await absences.absences(agent.ctx, person.email)
    if not mine:
        raise NotFound("You are not recorded away today or later: nothing to cancel.")
    done = await absences.cancel_absence(agent.ctx, person.actor, mine[0].id)
    more = f" You have {len(mine) - 1} more recorded: type **cancel away** again for the next." if len(mine) > 1 else ""
    return Reply(f"Cancelled: {done.words}{more}")


async def who_is_away(agent: SobotAgent, turn_context: TurnContext, person: PersonView, command: Command) -> Reply:
    listed = await absences.absences(agent.ctx)
    if not listed:
        return Reply("Nobody is recorded away today or later. To record yours: away 14/08/2026 to 28/08/2026, cover "
                     "Jane Smith.")  # fmt: skip
    return Reply("\n\n".join(f"- {a.words}" for a in listed))
