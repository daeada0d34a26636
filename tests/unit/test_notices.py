"""When notices go out, and which one a step calls for: working hours across the clock changes."""

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from rules.calendar import WorkingCalendar
from rules.notices import WorkingHours, due_notices
from rules.timeline import Escalation, Milestone

LONDON = ZoneInfo("Europe/London")
HOURS = WorkingHours(WorkingCalendar([date(2026, 12, 24)]))


def step(**changes: object) -> Milestone:
    values: dict[str, object] = {
        "key": "nine_month_review", "occurrence": 1, "title": "Review", "owner": "iro", "due": date(2026, 12, 3),
        "preferred_by": None, "waiting_on": None,
        "reminders": (date(2026, 11, 19), date(2026, 12, 1), date(2026, 12, 3)),
        "escalations": (Escalation(date(2026, 12, 4), "team_manager"),
                        Escalation(date(2026, 12, 10), "service_manager"),
                        Escalation(date(2026, 12, 17), "head_of_service")),
        "source": "x", "state": "open", "done_on": None,
    }  # fmt: skip
    values.update(changes)
    return Milestone(**values)  # type: ignore[arg-type]


def test_nothing_before_the_first_reminder() -> None:
    assert due_notices("SO-2026-0001", step(), date(2026, 11, 18)) == []


def test_only_the_latest_missed_reminder_is_due() -> None:
    [notice] = due_notices("SO-2026-0001", step(), date(2026, 12, 2))
    assert (notice.kind, notice.role, notice.on) == ("reminder", "iro", date(2026, 12, 1))
    assert notice.dedupe_key == "SO-2026-0001:nine_month_review:1:reminder:iro:2026-12-01"


def test_the_escalation_chain_moves_on() -> None:
    notices = due_notices("SO-2026-0001", step(), date(2026, 12, 11))
    assert [(n.kind, n.role, n.on) for n in notices] == [
        ("reminder", "iro", date(2026, 12, 3)),
        ("escalation", "service_manager", date(2026, 12, 10)),
    ]


def test_done_waiting_and_waived_steps_call_for_nothing() -> None:
    for state in ("done", "waived", "waiting"):
        assert due_notices("SO-2026-0001", step(state=state), date(2026, 12, 11)) == []


def test_working_hours_in_london_across_the_clock_changes() -> None:
    # Winter (GMT): 08:30 London is 08:30 UTC. Tue 3 Mar 2026.
    assert not HOURS.is_open(datetime(2026, 3, 3, 8, 29, tzinfo=UTC))
    assert HOURS.is_open(datetime(2026, 3, 3, 8, 30, tzinfo=UTC))
    # Summer (BST, from Sun 29 Mar 2026): 08:30 London is 07:30 UTC; 17:30 London is 16:30 UTC.
    assert HOURS.is_open(datetime(2026, 3, 30, 7, 30, tzinfo=UTC))
    assert not HOURS.is_open(datetime(2026, 3, 30, 16, 30, tzinfo=UTC))
    # Weekends, bank holidays and the authority's closure days are closed all day.
    assert not HOURS.is_open(datetime(2026, 4, 3, 10, 0, tzinfo=UTC))  # Good Friday
    assert not HOURS.is_open(datetime(2026, 12, 24, 10, 0, tzinfo=UTC))  # a closure day


def test_what_falls_outside_waits_for_the_next_opening() -> None:
    # Fri 27 Mar 2026 at 18:00 GMT: the weekend holds the clock change, so Monday opens at 08:30 BST.
    opening = HOURS.next_opening(datetime(2026, 3, 27, 18, 0, tzinfo=UTC))
    assert opening == datetime(2026, 3, 30, 8, 30, tzinfo=LONDON)
    assert opening.astimezone(UTC) == datetime(2026, 3, 30, 7, 30, tzinfo=UTC)
    # Sat 24 Oct 2026 (BST) → Mon 26 Oct 08:30 GMT, after the clocks go back.
    assert HOURS.next_opening(datetime(2026, 10, 24, 12, 0, tzinfo=UTC)).astimezone(UTC) == datetime(
        2026, 10, 26, 8, 30, tzinfo=UTC
    )
    # Early on a working day: the same day's opening. Before Christmas: Wed 23 Dec's, then past the
    # closure day, Christmas, Boxing Day's substitute and the weekend: Tue 29 Dec.
    assert HOURS.next_opening(datetime(2026, 3, 3, 6, 0, tzinfo=UTC)) == datetime(2026, 3, 3, 8, 30, tzinfo=LONDON)
    assert HOURS.next_opening(datetime(2026, 12, 23, 18, 0, tzinfo=UTC)) == datetime(2026, 12, 29, 8, 30, tzinfo=LONDON)
    open_now = datetime(2026, 3, 3, 10, 0, tzinfo=UTC)
    assert HOURS.next_opening(open_now) == open_now
    assert HOURS.start == time(8, 30)
