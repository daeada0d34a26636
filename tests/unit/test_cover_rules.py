"""Who covers, and what Outlook's automatic replies say of the days away (pure)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from mail.automatic_replies import instant, replies_of
from rules.cover import AutomaticReplies, Away, covering, days_away, for_whom

LONDON = ZoneInfo("Europe/London")
TODAY = date(2026, 8, 10)  # a Monday
MEGAN, JANE, RITA, TESS = 1, 2, 3, 4
MANAGERS = {MEGAN: RITA, JANE: RITA, RITA: TESS, TESS: None}


def test_the_named_cover_takes_it_else_the_team_manager_and_an_absent_cover_passes_it_on() -> None:
    megan = Away(10, MEGAN, date(2026, 8, 10), date(2026, 8, 28), JANE)
    assert covering(MEGAN, TODAY, [megan], MANAGERS) == (JANE, megan)
    assert covering(MEGAN, date(2026, 8, 29), [megan], MANAGERS) is None  # back
    assert covering(JANE, TODAY, [megan], MANAGERS) is None  # not away
    uncovered = Away(11, MEGAN, TODAY, TODAY, None)
    assert covering(MEGAN, TODAY, [uncovered], MANAGERS) == (RITA, uncovered)
    # Jane covers but is away herself with no cover named: it goes on to her manager, and is still Megan's.
    jane = Away(12, JANE, TODAY, TODAY, None)
    assert covering(MEGAN, TODAY, [megan, jane], MANAGERS) == (RITA, megan)
    # Everyone up the line away, or a circle of covers: nobody there to take it.
    circle = [Away(13, MEGAN, TODAY, TODAY, JANE), Away(14, JANE, TODAY, TODAY, MEGAN)]
    assert covering(MEGAN, TODAY, circle, MANAGERS) is None
    assert covering(TESS, TODAY, [Away(15, TESS, TODAY, TODAY, None)], MANAGERS) is None


def test_a_notice_for_a_cover_says_for_whom() -> None:
    assert for_whom("Megan Bowen", date(2026, 8, 28)) == "For Megan Bowen, away until Fri 28 Aug"


def test_scheduled_replies_give_the_days_away_in_the_council_s_zone() -> None:
    def scheduled(start: datetime, end: datetime) -> tuple[date, date] | None:
        return days_away(AutomaticReplies("scheduled", start, end), TODAY, date(2026, 8, 11), LONDON)

    # From 08:00 Fri 14 Aug to 09:00 Mon 31 Aug (BST): back on the Monday, so the last day is the Sunday.
    assert scheduled(datetime(2026, 8, 14, 7, 0, tzinfo=UTC), datetime(2026, 8, 31, 8, 0, tzinfo=UTC)) == (
        date(2026, 8, 14), date(2026, 8, 30))  # fmt: skip
    # From 17:30 Friday to 17:00 the Friday after: away from the Saturday, to that Friday.
    assert scheduled(datetime(2026, 8, 14, 16, 30, tzinfo=UTC), datetime(2026, 8, 21, 16, 0, tzinfo=UTC)) == (
        date(2026, 8, 15), date(2026, 8, 21))  # fmt: skip
    # Over already, or ending before it starts: nothing.
    assert scheduled(datetime(2026, 8, 3, 7, 0, tzinfo=UTC), datetime(2026, 8, 7, 16, 0, tzinfo=UTC)) is None
    assert days_away(AutomaticReplies("disabled"), TODAY, date(2026, 8, 11), LONDON) is None
    assert days_away(AutomaticReplies("alwaysEnabled"), TODAY, date(2026, 8, 11), LONDON) == (TODAY, date(2026, 8, 11))


def test_graph_s_date_time_time_zone_is_read_in_its_own_zone() -> None:
    assert instant({"dateTime": "2026-08-14T08:00:00.0000000", "timeZone": "UTC"}, LONDON) == datetime(
        2026, 8, 14, 8, 0, tzinfo=UTC)  # fmt: skip
    # Windows' name for UK time, in summer: an hour ahead of UTC.
    assert instant({"dateTime": "2026-08-14T08:00:00.0000000", "timeZone": "GMT Standard Time"}, LONDON) == datetime(
        2026, 8, 14, 7, 0, tzinfo=UTC)  # fmt: skip
    assert instant({"dateTime": "2026-12-14T08:00:00.0000000", "timeZone": "Europe/London"}, LONDON) == datetime(
        2026, 12, 14, 8, 0, tzinfo=UTC)  # fmt: skip
    # A zone sobot does not know is read as the council's own.
    assert instant({"dateTime": "2026-08-14T08:00:00", "timeZone": "Mars Standard Time"}, LONDON) == datetime(
        2026, 8, 14, 7, 0, tzinfo=UTC)  # fmt: skip
    setting = {"status": "scheduled", "externalAudience": "all",
               "scheduledStartDateTime": {"dateTime": "2026-08-14T08:00:00.0000000", "timeZone": "UTC"},
               "scheduledEndDateTime": {"dateTime": "2026-08-29T08:00:00.0000000", "timeZone": "UTC"}}  # fmt: skip
    assert replies_of(setting, LONDON) == AutomaticReplies(
        "scheduled", datetime(2026, 8, 14, 8, 0, tzinfo=UTC), datetime(2026, 8, 29, 8, 0, tzinfo=UTC))  # fmt: skip
