"""Deadline arithmetic and working-day properties: pure, no app."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hotline.clock.calendar import WorkCalendar
from hotline.clock.deadlines import (
    ClockSettings,
    add_limit,
    handling_limit,
    send_back_limit,
    sign_limit,
    subtract_limit,
    validate_limit,
    visit_limit,
    yellow_warning_at,
)
from hotline.config import Config
from hotline.errors import CalendarDataMissing

SHANGHAI = ZoneInfo("Asia/Shanghai")
CONFIG: dict[str, Any] = {key: getattr(Config, key) for key in dir(Config) if key.isupper()}
SETTINGS = ClockSettings()
PACKAGE = WorkCalendar()
# The package's 2025–2026 plus 2027 on the weekly pattern, so no draw runs off the data.
THROUGH_2027 = WorkCalendar(covered_years=[2027])
HOLIDAYS_2025_2026 = frozenset(
    chinese_calendar.get_holidays(date(2025, 1, 1), date(2026, 12, 31), include_weekends=False)
)

starts = st.dates(min_value=date(2025, 1, 1), max_value=date(2026, 12, 1))
counts = st.integers(min_value=1, max_value=30)


def shanghai(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=SHANGHAI)


def days(n: int) -> dict[str, Any]:
    return {"amount": n, "unit": "working_days"}


# --- properties of add_working_days ---------------------------------------------------


@given(starts, counts)
def test_the_result_is_a_later_working_day(start: date, n: int) -> None:
    result = THROUGH_2027.add_working_days(start, n)
    assert result > start
    assert THROUGH_2027.is_workday(result)


@given(starts, counts)
def test_more_days_give_a_strictly_later_day(start: date, n: int) -> None:
    assert THROUGH_2027.add_working_days(start, n + 1) > THROUGH_2027.add_working_days(start, n)


@given(starts, counts)
def test_a_statutory_holiday_is_never_returned(start: date, n: int) -> None:
    assert HOLIDAYS_2025_2026  # the enumeration itself is not empty
    assert THROUGH_2027.add_working_days(start, n) not in HOLIDAYS_2025_2026


@given(starts, counts)
def test_counting_back_gives_n(start: date, n: int) -> None:
    result = THROUGH_2027.add_working_days(start, n)
    assert THROUGH_2027.working_days_between(start, result) == n
    assert THROUGH_2027.working_days_between(start, result - timedelta(days=1)) == n - 1


@given(starts, counts)
def test_the_package_alone_agrees_or_refuses_2027(start: date, n: int) -> None:
    expected = THROUGH_2027.add_working_days(start, n)
    if expected.year <= 2026:
        assert PACKAGE.add_working_days(start, n) == expected
    else:
        with pytest.raises(CalendarDataMissing) as raised:
            PACKAGE.add_working_days(start, n)
        assert raised.value.year == 2027


@given(starts, counts)
def test_subtract_undoes_add_from_a_working_day(start: date, n: int) -> None:
    day = THROUGH_2027.add_working_days(start, 1)
    assert THROUGH_2027.subtract_working_days(THROUGH_2027.add_working_days(day, n), n) == day


@given(
    st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2026, 12, 1)),
    counts,
)
def test_a_day_limit_falls_due_at_the_deadline_time_of_the_nth_working_day(
    local_start: datetime, n: int
) -> None:
    start = local_start.replace(tzinfo=SHANGHAI).astimezone(UTC)
    due = add_limit(start, days(n), THROUGH_2027, SETTINGS)
    assert due.tzinfo is UTC
    local_due = due.astimezone(SHANGHAI)
    assert local_due.time() == time(23, 59, 59)
    assert local_due.date() == THROUGH_2027.add_working_days(local_start.date(), n)


# --- office hours, as properties -------------------------------------------------------

office_days = st.dates(min_value=date(2025, 1, 1), max_value=date(2026, 11, 30)).filter(
    PACKAGE.is_workday
)
office_moments = st.sampled_from(
    [time(8, 30), time(9, 15), time(11, 59), time(14, 0), time(16, 45), time(17, 29)]
)


@given(office_days, office_moments, st.integers(min_value=1, max_value=40))
def test_office_hours_land_inside_office_time_and_subtract_back(
    day: date, moment: time, hours: int
) -> None:
    start = datetime.combine(day, moment, tzinfo=SHANGHAI)
    limit = {"amount": hours, "unit": "office_hours"}
    due = add_limit(start, limit, THROUGH_2027, SETTINGS)
    local = due.astimezone(SHANGHAI)
    assert THROUGH_2027.is_workday(local.date())
    assert any(opens <= local.time() <= closes for opens, closes in SETTINGS.periods)
    assert subtract_limit(due, limit, THROUGH_2027, SETTINGS) == start


# --- add_limit, by unit -------------------------------------------------------------


def test_received_late_evening_local_counts_from_that_local_day() -> None:
    received = datetime(2025, 9, 29, 15, 30, tzinfo=UTC)  # 23:30 in Shanghai, 29 September
    assert received.astimezone(SHANGHAI).date() == date(2025, 9, 29)
    due = add_limit(received, days(5), PACKAGE, SETTINGS)
    assert due == datetime(2025, 10, 13, 15, 59, 59, tzinfo=UTC)  # 10-13 23:59:59 local
    # Half past midnight local is already the 30th: one day later.
    after_midnight = datetime(2025, 9, 29, 16, 30, tzinfo=UTC)
    assert add_limit(after_midnight, days(5), PACKAGE, SETTINGS).astimezone(
        SHANGHAI
    ).date() == date(2025, 10, 14)


def test_any_offset_in_gives_utc_out() -> None:
    plus_eight = datetime(2025, 1, 24, 10, 0, tzinfo=timezone(timedelta(hours=8)))
    due = add_limit(plus_eight, days(5), PACKAGE, SETTINGS)
    assert due == datetime(2025, 2, 7, 15, 59, 59, tzinfo=UTC)
    assert due.tzinfo is UTC


def test_the_day_deadline_time_is_configurable() -> None:
    settings = ClockSettings(day_deadline_time="17:30")
    due = add_limit(shanghai(2026, 2, 13, 9), days(10), PACKAGE, settings)
    assert due == shanghai(2026, 3, 5, 17, 30)


def test_hours_and_minutes_are_calendar_time() -> None:
    start = shanghai(2025, 9, 30, 23, 0)  # the eve of National Day
    assert add_limit(start, {"amount": 2, "unit": "hours"}, PACKAGE, SETTINGS) == shanghai(
        2025, 10, 1, 1, 0
    )
    assert add_limit(start, {"amount": 24, "unit": "hours"}, PACKAGE, SETTINGS) == shanghai(
        2025, 10, 1, 23, 0
    )
    assert add_limit(start, {"amount": 15, "unit": "minutes"}, PACKAGE, SETTINGS) == shanghai(
        2025, 9, 30, 23, 15
    )


def test_hours_need_no_calendar_even_in_an_uncovered_year() -> None:
    start = shanghai(2027, 5, 1, 9)
    assert add_limit(start, {"amount": 2, "unit": "hours"}, PACKAGE, SETTINGS) == shanghai(
        2027, 5, 1, 11
    )


@pytest.mark.parametrize(
    ("start", "hours", "expected"),
    [
        (shanghai(2025, 9, 30, 9, 0), 3, shanghai(2025, 9, 30, 12, 0)),  # ends with the morning
        (shanghai(2025, 9, 30, 11, 0), 2, shanghai(2025, 9, 30, 15, 0)),  # lunch not counted
        (shanghai(2025, 9, 30, 7, 0), 1, shanghai(2025, 9, 30, 9, 30)),  # before opening
        (shanghai(2025, 9, 30, 12, 30), 1, shanghai(2025, 9, 30, 15, 0)),  # at lunch
        # 17:00–17:30 on the 30th, then the holiday, then from 08:30 on 10-09
        (shanghai(2025, 9, 30, 17, 0), 1, shanghai(2025, 10, 9, 9, 0)),
        (shanghai(2025, 10, 11, 8, 30), 7, shanghai(2025, 10, 11, 17, 30)),  # make-up Saturday
        (shanghai(2025, 10, 12, 10, 0), 1, shanghai(2025, 10, 13, 9, 30)),  # from a Sunday
    ],
)
def test_office_hours_count_only_office_periods_of_working_days(
    start: datetime, hours: int, expected: datetime
) -> None:
    limit = {"amount": hours, "unit": "office_hours"}
    assert add_limit(start, limit, PACKAGE, SETTINGS) == expected


def test_office_hours_need_the_calendar() -> None:
    start = shanghai(2027, 1, 4, 9)
    limit = {"amount": 2, "unit": "office_hours"}
    with pytest.raises(CalendarDataMissing):
        add_limit(start, limit, PACKAGE, SETTINGS)
    assert add_limit(start, limit, PACKAGE.weekday_fallback(), SETTINGS) == shanghai(2027, 1, 4, 11)


def test_office_hours_need_periods() -> None:
    settings = ClockSettings(office_hours=())
    with pytest.raises(ValueError, match="OFFICE_HOURS"):
        add_limit(
            shanghai(2025, 9, 30, 9), {"amount": 1, "unit": "office_hours"}, PACKAGE, settings
        )


def test_working_days_in_an_uncovered_year_raise() -> None:
    with pytest.raises(CalendarDataMissing) as raised:
        add_limit(shanghai(2026, 12, 28, 10), days(10), PACKAGE, SETTINGS)
    assert raised.value.year == 2027


def test_subtract_limit_by_unit() -> None:
    end = shanghai(2025, 10, 9, 23, 59, 59)
    assert subtract_limit(end, days(1), PACKAGE, SETTINGS) == shanghai(2025, 9, 30, 23, 59, 59)
    assert subtract_limit(end, {"amount": 2, "unit": "hours"}, PACKAGE, SETTINGS) == shanghai(
        2025, 10, 9, 21, 59, 59
    )
    assert subtract_limit(end, {"amount": 5, "unit": "minutes"}, PACKAGE, SETTINGS) == shanghai(
        2025, 10, 9, 23, 54, 59
    )
    office = {"amount": 1, "unit": "office_hours"}
    assert subtract_limit(shanghai(2025, 10, 9, 9), office, PACKAGE, SETTINGS) == shanghai(
        2025, 9, 30, 17, 0
    )


# --- validation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("limit", "message"),
    [
        (None, "must be a mapping"),
        ([2, "hours"], "must be a mapping"),
        ({"unit": "hours"}, "amount must be a whole number"),
        ({"amount": 0, "unit": "hours"}, "amount must be a whole number of 1 or more, got 0"),
        ({"amount": -1, "unit": "hours"}, "got -1"),
        ({"amount": 1.5, "unit": "hours"}, "got 1.5"),
        ({"amount": True, "unit": "hours"}, "got True"),
        ({"amount": "2", "unit": "hours"}, "got '2'"),
        ({"amount": 2}, "unit must be one of working_days, hours, minutes, office_hours"),
        ({"amount": 2, "unit": "days"}, "got 'days'"),
        ({"amount": 2, "unit": "hours", "note": "x"}, "unknown key(s) note"),
    ],
)
def test_bad_limits_are_refused_clearly(limit: object, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        validate_limit(limit)
    assert message in str(raised.value)
    with pytest.raises(ValueError):
        add_limit(shanghai(2025, 9, 30, 9), limit, PACKAGE, SETTINGS)  # type: ignore[arg-type]


def test_a_naive_start_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        add_limit(datetime(2025, 9, 30, 9), days(1), PACKAGE, SETTINGS)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"timezone": "Mars/Olympus"}, "not a known time zone"),
        ({"day_deadline_time": "25:00"}, "DAY_DEADLINE_TIME must look like"),
        ({"day_deadline_time": "23:59:59+08:00"}, "without an offset"),
        ({"office_hours": ("08:30",)}, "OFFICE_HOURS[0] must look like '08:30-12:00'"),
        ({"office_hours": ("12:00-08:30",)}, "must open before it closes"),
        ({"office_hours": ("08:30-12:00", "11:00-13:00")}, "overlap"),
        ({"office_hours": "08:30-12:00"}, "must be a list"),
    ],
)
def test_bad_clock_settings_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as raised:
        ClockSettings(**kwargs)
    assert message in str(raised.value)


def test_clock_settings_from_config() -> None:
    settings = ClockSettings.from_config(CONFIG)
    assert settings == ClockSettings()
    assert settings.zone == SHANGHAI
    assert settings.deadline_time == time(23, 59, 59)
    assert settings.periods == ((time(8, 30), time(12, 0)), (time(14, 0), time(17, 30)))
    city = ClockSettings.from_config(
        {"DAY_DEADLINE_TIME": "18:00", "OFFICE_HOURS": ["14:30-18:00", "09:00-12:00"]}
    )
    assert city.deadline_time == time(18, 0)
    assert city.periods[0] == (time(9, 0), time(12, 0))  # sorted
    assert city.timezone == "Asia/Shanghai"
    with pytest.raises(ValueError, match="must be a list"):
        ClockSettings.from_config({"OFFICE_HOURS": "09:00-12:00"})


# --- limits from configuration ------------------------------------------------------------


def test_handling_limits_by_type_and_urgency() -> None:
    assert handling_limit(CONFIG, "consult", "general") == days(2)
    assert handling_limit(CONFIG, "complaint", "complex") == days(15)
    assert handling_limit(CONFIG, "complaint", "emergency") == {"amount": 2, "unit": "hours"}
    assert handling_limit(CONFIG, "help", "utilities") == {"amount": 24, "unit": "hours"}


def test_a_city_can_override_limits() -> None:
    city = {
        **CONFIG,
        "HANDLING_LIMITS": {**CONFIG["HANDLING_LIMITS"], "consult": days(1)},
        "URGENCY_HANDLING_LIMITS": {},
    }
    assert handling_limit(city, "consult", "general") == days(1)
    assert handling_limit(city, "report", "emergency") == days(15)


def test_unknown_names_and_bad_configuration_raise() -> None:
    with pytest.raises(ValueError, match="HANDLING_LIMITS has no limit for 'gossip'"):
        handling_limit(CONFIG, "gossip", "general")
    with pytest.raises(ValueError, match="SIGN_LIMITS has no limit for 'whenever'"):
        sign_limit(CONFIG, "whenever")
    broken = {**CONFIG, "SIGN_LIMITS": {"general": {"amount": 1, "unit": "weeks"}}}
    with pytest.raises(ValueError, match=r"SIGN_LIMITS\['general'\]: unit must be one of"):
        sign_limit(broken, "general")
    with pytest.raises(ValueError, match="HANDLING_LIMITS must be a mapping"):
        handling_limit({}, "consult", "general")


def test_sign_send_back_and_visit_limits() -> None:
    assert sign_limit(CONFIG, "emergency") == {"amount": 15, "unit": "minutes"}
    assert sign_limit(CONFIG, "utilities") == {"amount": 30, "unit": "minutes"}
    assert sign_limit(CONFIG, "general") == days(1)
    assert send_back_limit(CONFIG, "complex") == days(2)
    assert send_back_limit(CONFIG, "general") == days(1)
    assert send_back_limit(CONFIG, "emergency") == days(1)
    assert visit_limit(CONFIG) == days(1)


# --- yellow warning -------------------------------------------------------------------


def test_yellow_warning_on_a_long_limit_is_one_working_day_before_due() -> None:
    start = shanghai(2025, 9, 29, 10)
    due = add_limit(start, days(15), PACKAGE, SETTINGS)
    assert due == shanghai(2025, 10, 27, 23, 59, 59)
    # 20 % of the span lies days earlier, so the later point wins: the last working day.
    assert yellow_warning_at(start, due, CONFIG, PACKAGE, SETTINGS) == shanghai(
        2025, 10, 24, 23, 59, 59
    )


def test_yellow_warning_on_a_short_limit_is_the_fraction() -> None:
    start = shanghai(2025, 9, 29, 10)
    due = add_limit(start, {"amount": 2, "unit": "hours"}, PACKAGE, SETTINGS)
    assert yellow_warning_at(start, due, CONFIG, PACKAGE, SETTINGS) == shanghai(2025, 9, 29, 11, 36)


def test_yellow_warning_across_a_holiday_takes_the_later_point() -> None:
    start = shanghai(2025, 9, 30, 12)
    due = add_limit(start, days(1), PACKAGE, SETTINGS)
    assert due == shanghai(2025, 10, 9, 23, 59, 59)
    one_day_before = shanghai(2025, 9, 30, 23, 59, 59)  # the holiday does not count
    fraction_point = due - (due - start) * 0.2
    assert fraction_point > one_day_before
    assert yellow_warning_at(start, due, CONFIG, PACKAGE, SETTINGS) == fraction_point


def test_yellow_warning_with_only_one_rule_and_bounds() -> None:
    start = shanghai(2025, 9, 29, 10)
    due = shanghai(2025, 9, 29, 12)
    only_fraction = {"WARNING_YELLOW": {"fraction": 0.5}}
    assert yellow_warning_at(start, due, only_fraction, PACKAGE, SETTINGS) == shanghai(
        2025, 9, 29, 11
    )
    only_lead = {"WARNING_YELLOW": {"amount": 30, "unit": "minutes"}}
    assert yellow_warning_at(start, due, only_lead, PACKAGE, SETTINGS) == shanghai(
        2025, 9, 29, 11, 30
    )
    long_lead = {"WARNING_YELLOW": {"amount": 1, "unit": "working_days"}}
    assert yellow_warning_at(start, due, long_lead, PACKAGE, SETTINGS) == start  # clamped
    assert yellow_warning_at(due, start, CONFIG, PACKAGE, SETTINGS) == start  # due <= start


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (None, "must be a mapping"),
        ({}, "needs amount and unit, or a fraction"),
        ({"fraction": 1.5}, "between 0 and 1"),
        ({"fraction": "20%"}, "must be a number"),
        ({"fraction": 0.2, "colour": "amber"}, "unknown key(s) colour"),
        ({"amount": 1}, "unit must be one of"),
    ],
)
def test_bad_warning_configuration_is_refused(spec: object, message: str) -> None:
    start = shanghai(2025, 9, 29, 10)
    due = shanghai(2025, 9, 30, 10)
    with pytest.raises(ValueError) as raised:
        yellow_warning_at(start, due, {"WARNING_YELLOW": spec}, PACKAGE, SETTINGS)
    assert message in str(raised.value)
