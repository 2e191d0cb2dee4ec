"""Deadline arithmetic: a start instant plus a configured limit, in the city's time zone.

Pure functions: plain values in (an aware start, a limit mapping, a `WorkCalendar`,
`ClockSettings`), an aware UTC datetime out. A limit is `{"amount": n, "unit": u}`:

- `working_days`: the n-th working day after the local start date (次日起算), due at
  `DAY_DEADLINE_TIME` local time on that day;
- `hours` / `minutes`: calendar time, nights and holidays included;
- `office_hours`: hours counted only inside `OFFICE_HOURS` periods of working days.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypedDict
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hotline.clock.calendar import ONE_DAY, WorkCalendar

UNITS = ("working_days", "hours", "minutes", "office_hours")
LIMIT_KEYS = frozenset({"amount", "unit"})
WARNING_KEYS = frozenset({"amount", "unit", "fraction"})


class Limit(TypedDict):
    amount: int
    unit: str


def validate_limit(limit: object, what: str = "limit") -> Limit:
    """Check a limit mapping and return it normalised; ValueError says what is wrong."""
    if not isinstance(limit, Mapping):
        raise ValueError(
            f"{what} must be a mapping like {{'amount': 2, 'unit': 'working_days'}}, got {limit!r}"
        )
    unknown = sorted(str(key) for key in set(limit) - LIMIT_KEYS)
    if unknown:
        raise ValueError(f"{what} has unknown key(s) {', '.join(unknown)}; use amount and unit")
    amount = limit.get("amount")
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 1:
        raise ValueError(f"{what}: amount must be a whole number of 1 or more, got {amount!r}")
    unit = limit.get("unit")
    if unit not in UNITS:
        raise ValueError(f"{what}: unit must be one of {', '.join(UNITS)}, got {unit!r}")
    return {"amount": amount, "unit": str(unit)}


def _parse_time(text: object, what: str) -> time:
    if not isinstance(text, str):
        raise ValueError(f"{what} must be a string like '23:59:59', got {text!r}")
    try:
        parsed = time.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{what} must look like 'HH:MM' or 'HH:MM:SS', got {text!r}") from None
    if parsed.tzinfo is not None:
        raise ValueError(f"{what} must be a local time without an offset, got {text!r}")
    return parsed


def _parse_period(text: object, what: str) -> tuple[time, time]:
    if not isinstance(text, str) or text.count("-") != 1:
        raise ValueError(f"{what} must look like '08:30-12:00', got {text!r}")
    opens_text, closes_text = text.split("-")
    opens, closes = _parse_time(opens_text, what), _parse_time(closes_text, what)
    if opens >= closes:
        raise ValueError(f"{what} must open before it closes, got {text!r}")
    return opens, closes


@dataclass(frozen=True)
class ClockSettings:
    """The city's clock: time zone, when day limits fall due, and office hours."""

    timezone: str = "Asia/Shanghai"
    day_deadline_time: str = "23:59:59"
    office_hours: tuple[str, ...] = ("08:30-12:00", "14:00-17:30")
    zone: ZoneInfo = field(init=False, repr=False, compare=False)
    deadline_time: time = field(init=False, repr=False, compare=False)
    periods: tuple[tuple[time, time], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            zone = ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise ValueError(f"TIMEZONE {self.timezone!r} is not a known time zone") from None
        if isinstance(self.office_hours, str):
            raise ValueError(
                f"OFFICE_HOURS must be a list like ['08:30-12:00', '14:00-17:30'], "
                f"got {self.office_hours!r}"
            )
        office_hours = tuple(self.office_hours)
        periods = sorted(
            _parse_period(text, f"OFFICE_HOURS[{index}]") for index, text in enumerate(office_hours)
        )
        for (_, closes), (opens, _) in zip(periods, periods[1:], strict=False):
            if opens < closes:
                raise ValueError(f"OFFICE_HOURS periods overlap: {list(office_hours)}")
        object.__setattr__(self, "office_hours", office_hours)
        object.__setattr__(self, "zone", zone)
        object.__setattr__(
            self, "deadline_time", _parse_time(self.day_deadline_time, "DAY_DEADLINE_TIME")
        )
        object.__setattr__(self, "periods", tuple(periods))

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ClockSettings:
        """Read TIMEZONE, DAY_DEADLINE_TIME and OFFICE_HOURS, defaulting each one."""
        defaults = cls()
        office_hours = config.get("OFFICE_HOURS", defaults.office_hours)
        if isinstance(office_hours, str) or not isinstance(office_hours, list | tuple):
            raise ValueError(
                f"OFFICE_HOURS must be a list like ['08:30-12:00', '14:00-17:30'], "
                f"got {office_hours!r}"
            )
        return cls(
            timezone=config.get("TIMEZONE") or defaults.timezone,
            day_deadline_time=config.get("DAY_DEADLINE_TIME") or defaults.day_deadline_time,
            office_hours=tuple(office_hours),
        )

    def local_date(self, moment: datetime) -> date:
        return _aware(moment).astimezone(self.zone).date()

    def at_local(self, day: date, at: time) -> datetime:
        """`day` at local wall time `at`, as an aware UTC datetime."""
        return datetime.combine(day, at, tzinfo=self.zone).astimezone(UTC)

    def office_periods(self, day: date) -> list[tuple[datetime, datetime]]:
        """The office periods of `day` as UTC (opens, closes) pairs, earliest first."""
        return [
            (self.at_local(day, opens), self.at_local(day, closes))
            for opens, closes in self.periods
        ]


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"deadlines need an aware datetime, got naive {moment!r}")
    return moment


def add_limit(
    start: datetime, limit: Mapping[str, Any], calendar: WorkCalendar, settings: ClockSettings
) -> datetime:
    """When a limit that starts at `start` falls due, as an aware UTC datetime."""
    checked = validate_limit(limit)
    amount, unit = checked["amount"], checked["unit"]
    start_utc = _aware(start).astimezone(UTC)
    if unit == "hours":
        return start_utc + timedelta(hours=amount)
    if unit == "minutes":
        return start_utc + timedelta(minutes=amount)
    if unit == "working_days":
        due_day = calendar.add_working_days(settings.local_date(start_utc), amount)
        return settings.at_local(due_day, settings.deadline_time)
    return _add_office_time(start_utc, timedelta(hours=amount), calendar, settings)


def subtract_limit(
    end: datetime, limit: Mapping[str, Any], calendar: WorkCalendar, settings: ClockSettings
) -> datetime:
    """The instant a limit before `end`; working days keep `end`'s local wall time."""
    checked = validate_limit(limit)
    amount, unit = checked["amount"], checked["unit"]
    end_utc = _aware(end).astimezone(UTC)
    if unit == "hours":
        return end_utc - timedelta(hours=amount)
    if unit == "minutes":
        return end_utc - timedelta(minutes=amount)
    if unit == "working_days":
        local = end_utc.astimezone(settings.zone)
        day = calendar.subtract_working_days(local.date(), amount)
        return settings.at_local(day, local.time())
    return _subtract_office_time(end_utc, timedelta(hours=amount), calendar, settings)


def _add_office_time(
    start: datetime, duration: timedelta, calendar: WorkCalendar, settings: ClockSettings
) -> datetime:
    if not settings.periods:
        raise ValueError("an office_hours limit needs OFFICE_HOURS to list at least one period")
    remaining = duration
    day = settings.local_date(start)
    while True:
        if calendar.is_workday(day):
            for opens, closes in settings.office_periods(day):
                begin = max(opens, start)
                if begin >= closes:
                    continue
                if remaining <= closes - begin:
                    return begin + remaining
                remaining -= closes - begin
        day += ONE_DAY


def _subtract_office_time(
    end: datetime, duration: timedelta, calendar: WorkCalendar, settings: ClockSettings
) -> datetime:
    if not settings.periods:
        raise ValueError("an office_hours limit needs OFFICE_HOURS to list at least one period")
    remaining = duration
    day = settings.local_date(end)
    while True:
        if calendar.is_workday(day):
            for opens, closes in reversed(settings.office_periods(day)):
                finish = min(closes, end)
                if finish <= opens:
                    continue
                if remaining <= finish - opens:
                    return finish - remaining
                remaining -= finish - opens
        day -= ONE_DAY


def _limit_in(config: Mapping[str, Any], key: str, name: str) -> Limit:
    table = config.get(key)
    if not isinstance(table, Mapping):
        raise ValueError(f"{key} must be a mapping of name to limit, got {table!r}")
    if name not in table:
        raise ValueError(f"{key} has no limit for {name!r} (known: {', '.join(map(str, table))})")
    return validate_limit(table[name], f"{key}[{name!r}]")


def handling_limit(config: Mapping[str, Any], ticket_type: str, urgency: str) -> Limit:
    """The handle-and-reply limit: URGENCY_HANDLING_LIMITS wins over HANDLING_LIMITS."""
    by_urgency = config.get("URGENCY_HANDLING_LIMITS") or {}
    if urgency in by_urgency:
        return _limit_in(config, "URGENCY_HANDLING_LIMITS", urgency)
    return _limit_in(config, "HANDLING_LIMITS", ticket_type)


def sign_limit(config: Mapping[str, Any], urgency: str) -> Limit:
    """The limit for a unit to sign (签收) a dispatched ticket, by urgency."""
    return _limit_in(config, "SIGN_LIMITS", urgency)


def send_back_limit(config: Mapping[str, Any], urgency: str) -> Limit:
    """The limit for a unit to send a ticket back (退单) after dispatch."""
    return _limit_in(config, "SEND_BACK_LIMITS", "complex" if urgency == "complex" else "default")


def visit_limit(config: Mapping[str, Any]) -> Limit:
    """The limit for the follow-up visit (回访) after the reply."""
    return validate_limit(config.get("VISIT_LIMIT"), "VISIT_LIMIT")


def yellow_warning_at(
    start: datetime,
    due: datetime,
    config: Mapping[str, Any],
    calendar: WorkCalendar,
    settings: ClockSettings,
) -> datetime:
    """When the yellow warning starts for a deadline running from `start` to `due`.

    WARNING_YELLOW gives a lead time (`amount` + `unit`, e.g. 1 working day before
    due) and/or a `fraction` of the whole span before due. With both, the LATER of
    the two points is taken: on a 15-working-day limit the warning comes on the last
    working day, and on a 2-hour limit (where "1 working day before" lies before the
    start) it still comes 24 minutes before due. The result stays within [start, due].
    """
    spec = config.get("WARNING_YELLOW")
    if not isinstance(spec, Mapping):
        raise ValueError(f"WARNING_YELLOW must be a mapping, got {spec!r}")
    unknown = sorted(str(key) for key in set(spec) - WARNING_KEYS)
    if unknown:
        raise ValueError(f"WARNING_YELLOW has unknown key(s) {', '.join(unknown)}")
    start_utc, due_utc = _aware(start).astimezone(UTC), _aware(due).astimezone(UTC)
    if due_utc <= start_utc:
        return due_utc
    points: list[datetime] = []
    if "amount" in spec or "unit" in spec:
        lead = {"amount": spec.get("amount"), "unit": spec.get("unit")}
        points.append(subtract_limit(due_utc, lead, calendar, settings))
    fraction = spec.get("fraction")
    if fraction is not None:
        if isinstance(fraction, bool) or not isinstance(fraction, int | float):
            raise ValueError(f"WARNING_YELLOW fraction must be a number, got {fraction!r}")
        if not 0 < fraction < 1:
            raise ValueError(f"WARNING_YELLOW fraction must be between 0 and 1, got {fraction}")
        points.append(due_utc - (due_utc - start_utc) * fraction)
    if not points:
        raise ValueError("WARNING_YELLOW needs amount and unit, or a fraction, or both")
    return min(max(max(points), start_utc), due_utc)
