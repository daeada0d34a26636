"""What every handler is given: the records, the procedures, the calendar and the clock."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from rules.calendar import WorkingCalendar
from rules.clock import Clock
from rules.clock import today as today_on
from rules.procedures import Procedure
from storage import Database


@dataclass(frozen=True)
class Context:
    database: Database
    procedures: Mapping[str, Procedure]
    calendar: WorkingCalendar
    clock: Clock
    default_procedure: str
    zone: str = "Europe/London"
    # How many working days an acknowledgement holds a person's notices for a step, unless its procedure says.
    acknowledge_days: int = 5

    def today(self) -> date:
        return today_on(self.clock, ZoneInfo(self.zone))

    def acknowledgement_holds(self, procedure: Procedure) -> int:
        """Working days an Acknowledge holds on an order following `procedure`: its own figure, else the settings'."""
        return procedure.acknowledge_days or self.acknowledge_days


@dataclass(frozen=True)
class Actor:
    """Who is asking: a person, known by the email their channel vouches for, or a channel acting for the council.

    Teams acts as the directory's person behind the sender's Entra id; mail as the sender whose address the
    council's mail system vouches for. The command line and sobot's own jobs are administrators: whoever can run
    them already holds the whole database, so the permission table lets them do everything.
    """

    name: str
    email: str | None = None
    administrator: bool = False

    @property
    def label(self) -> str:
        return self.email or self.name


CLI = Actor("cli", administrator=True)
SYSTEM = Actor("system", administrator=True)
