"""Chinese working days: imported schedules first, then `chinese_calendar`, never a guess.

A day is a working day when the State Council schedule says so: statutory
holidays are off and make-up days (调休) are worked. The `chinese_calendar`
package knows 2004–2026; later years come from `hotline calendar import`.
A date that neither covers raises `CalendarDataMissing`, except through
`weekday_fallback()`, which callers use only for deadlines they flag provisional.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any, Literal

import chinese_calendar
import yaml

from hotline.errors import CalendarDataMissing, ImportFailed

ONE_DAY = timedelta(days=1)

CalendarSource = Literal["import", "package"]


@cache
def package_covers(year: int) -> bool:
    """Whether the installed `chinese_calendar` has the State Council schedule for `year`."""
    try:
        chinese_calendar.is_workday(date(year, 1, 1))
    except NotImplementedError:
        return False
    return True


def is_weekday(day: date) -> bool:
    return day.weekday() < 5


class WorkCalendar:
    """Which days are working days; `overrides` and `covered_years` come from imports.

    `overrides` maps a date to whether it is worked (holidays False, 调休 True);
    `covered_years` are the imported years, whose other days follow Mon–Fri and
    which take precedence over the package's data for the same year.
    """

    def __init__(
        self,
        overrides: Mapping[date, bool] | None = None,
        covered_years: Iterable[int] = (),
    ) -> None:
        self.overrides: dict[date, bool] = dict(overrides or {})
        self.covered_years: frozenset[int] = frozenset(covered_years)
        self._known: dict[date, bool] = {}  # answers so far: a calendar never changes

    def source_for(self, year: int) -> CalendarSource | None:
        """Where this calendar's knowledge of `year` comes from, or None when it has none."""
        if year in self.covered_years:
            return "import"
        if package_covers(year):
            return "package"
        return None

    def is_workday(self, day: date) -> bool:
        known = self._known.get(day)
        if known is not None:
            return known
        if day in self.overrides:
            answer = self.overrides[day]
        elif day.year in self.covered_years:
            answer = is_weekday(day)
        elif package_covers(day.year):
            answer = bool(chinese_calendar.is_workday(day))
        else:
            return self._uncovered(day)
        self._known[day] = answer
        return answer

    def _uncovered(self, day: date) -> bool:
        raise CalendarDataMissing(day.year)

    def add_working_days(self, day: date, n: int) -> date:
        """The n-th working day strictly after `day` (次日起算); `day` itself when n is 0.

        Counting starts the next day whether or not `day` is a working day, which is
        where `chinese_calendar.find_workday` is one day late from a rest day.
        """
        if n < 0:
            raise ValueError(f"working days to add must be 0 or more, got {n}")
        current = day
        remaining = n
        while remaining:
            current += ONE_DAY
            if self.is_workday(current):
                remaining -= 1
        return current

    def subtract_working_days(self, day: date, n: int) -> date:
        """The n-th working day strictly before `day`; `day` itself when n is 0."""
        if n < 0:
            raise ValueError(f"working days to subtract must be 0 or more, got {n}")
        current = day
        remaining = n
        while remaining:
            current -= ONE_DAY
            if self.is_workday(current):
                remaining -= 1
        return current

    def working_days_between(self, start: date, end: date) -> int:
        """Working days in (start, end]; negative, counting (end, start], when end < start."""
        if end < start:
            return -self.working_days_between(end, start)
        count = 0
        current = start
        while current < end:
            current += ONE_DAY
            if self.is_workday(current):
                count += 1
        return count

    def weekday_fallback(self) -> WeekdayFallbackCalendar:
        """This calendar, with Mon–Fri assumed for uncovered years (provisional use only)."""
        return WeekdayFallbackCalendar(self.overrides, self.covered_years)


class WeekdayFallbackCalendar(WorkCalendar):
    """Answers for uncovered years with the weekly pattern and remembers which it guessed.

    Deadlines computed with it are estimates: the caller flags them provisional and
    raises an alert for every year in `guessed_years`.
    """

    def __init__(
        self,
        overrides: Mapping[date, bool] | None = None,
        covered_years: Iterable[int] = (),
    ) -> None:
        super().__init__(overrides, covered_years)
        self.guessed_years: set[int] = set()

    def _uncovered(self, day: date) -> bool:
        self.guessed_years.add(day.year)
        return is_weekday(day)

    def weekday_fallback(self) -> WeekdayFallbackCalendar:
        return self


def weekday_fallback() -> WeekdayFallbackCalendar:
    """A calendar with no imports that assumes Mon–Fri wherever the package has no data."""
    return WorkCalendar().weekday_fallback()


# --- State Council schedules (国务院办公厅关于部分节假日安排的通知) as import files ---

SCHEDULE_KEYS = ("year", "source", "holidays", "workdays")
HOLIDAY_KEYS = ("name", "from", "to")
WORKDAY_KEYS = ("date", "name")
NAME_MAX = 64
SOURCE_MAX = 255
DEFAULT_WORKDAY_NAME = "调休"
EXAMPLE_SOURCE = "国务院办公厅关于2027年部分节假日安排的通知"


@dataclass(frozen=True)
class ScheduledDay:
    is_workday: bool
    name: str


@dataclass(frozen=True)
class Schedule:
    """One year's schedule: the days that differ from Mon–Fri, or that are holidays."""

    year: int
    source: str
    days: Mapping[date, ScheduledDay]

    @property
    def holiday_count(self) -> int:
        return sum(not entry.is_workday for entry in self.days.values())

    @property
    def workday_count(self) -> int:
        return sum(entry.is_workday for entry in self.days.values())

    def overrides(self) -> dict[date, bool]:
        return {day: entry.is_workday for day, entry in self.days.items()}


class _ScheduleReader:
    """Collects every problem of one schedule file instead of stopping at the first."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.problems: list[str] = []
        self.year: int | None = None
        self.days: dict[date, ScheduledDay] = {}
        self.listed_at: dict[date, str] = {}

    def problem(self, where: str, message: str) -> None:
        self.problems.append(
            f"{self.label}: {where}: {message}" if where else f"{self.label}: {message}"
        )

    def read(self, data: object) -> Schedule:
        if not isinstance(data, Mapping):
            self.problem("", "must be a mapping with year, source, holidays and workdays")
            raise ImportFailed(self.problems)
        self.check_keys(data, SCHEDULE_KEYS, "")
        self.year = self.read_year(data.get("year"))
        source = self.read_source(data.get("source"))
        holidays = data.get("holidays")
        if not isinstance(holidays, list) or not holidays:
            self.problem("holidays", "must be a non-empty list of {name, from, to} periods off")
            holidays = []
        for index, entry in enumerate(holidays):
            self.read_holiday(entry, f"holidays[{index}]")
        workdays = data.get("workdays") or []
        if not isinstance(workdays, list):
            self.problem("workdays", "must be a list of {date, name} make-up working days")
            workdays = []
        for index, entry in enumerate(workdays):
            self.read_workday(entry, f"workdays[{index}]")
        if self.problems or self.year is None:
            raise ImportFailed(self.problems)
        return Schedule(year=self.year, source=source, days=dict(sorted(self.days.items())))

    def read_year(self, year: object) -> int | None:
        if year is None:
            self.problem("year", "is missing")
            return None
        if isinstance(year, bool) or not isinstance(year, int) or not 1900 <= year <= 2999:
            self.problem("year", f"must be a year like 2027, got {year!r}")
            return None
        return year

    def read_source(self, source: object) -> str:
        if not isinstance(source, str) or not source.strip():
            self.problem("source", f"must name the notice, e.g. {EXAMPLE_SOURCE}")
            return ""
        if len(source.strip()) > SOURCE_MAX:
            self.problem("source", f"is longer than {SOURCE_MAX} characters")
        return source.strip()

    def read_holiday(self, entry: object, where: str) -> None:
        if not isinstance(entry, Mapping):
            self.problem(where, "must be a mapping like {name: 元旦, from: 2027-01-01, to: …}")
            return
        self.check_keys(entry, HOLIDAY_KEYS, where)
        name = self.read_name(entry, where, required=True)
        first = self.read_date(entry, "from", where)
        last = self.read_date(entry, "to", where)
        if first is None or last is None:
            return
        if first > last:
            self.problem(f"{where}.to", f"{last.isoformat()} is before from {first.isoformat()}")
            return
        day = first
        while day <= last:
            if day in self.listed_at:
                self.problem(where, f"{day.isoformat()} is already in {self.listed_at[day]}")
            else:
                self.days[day] = ScheduledDay(is_workday=False, name=name)
                self.listed_at[day] = where
            day += ONE_DAY

    def read_workday(self, entry: object, where: str) -> None:
        if not isinstance(entry, Mapping):
            self.problem(where, "must be a mapping like {date: 2027-02-20, name: 春节调休}")
            return
        self.check_keys(entry, WORKDAY_KEYS, where)
        name = self.read_name(entry, where, required=False)
        day = self.read_date(entry, "date", where)
        if day is None:
            return
        if day in self.listed_at and not self.days[day].is_workday:
            self.problem(
                f"{where}.date",
                f"{day.isoformat()} is also a holiday in {self.listed_at[day]}; "
                f"a day cannot be both a holiday and a make-up working day",
            )
        elif day in self.listed_at:
            self.problem(f"{where}.date", f"{day.isoformat()} is already in {self.listed_at[day]}")
        elif is_weekday(day):
            self.problem(
                f"{where}.date",
                f"{day.isoformat()} is a {day.strftime('%A')}, a working day anyway; "
                f"make-up working days are Saturdays or Sundays",
            )
        else:
            self.days[day] = ScheduledDay(is_workday=True, name=name)
            self.listed_at[day] = where

    def read_name(self, entry: Mapping[str, Any], where: str, *, required: bool) -> str:
        name = entry.get("name")
        if name is None and not required:
            return DEFAULT_WORKDAY_NAME
        if not isinstance(name, str) or not name.strip():
            self.problem(f"{where}.name", f"must be a non-empty text such as 元旦, got {name!r}")
            return ""
        if len(name.strip()) > NAME_MAX:
            self.problem(f"{where}.name", f"is longer than {NAME_MAX} characters")
        return name.strip()

    def read_date(self, entry: Mapping[str, Any], key: str, where: str) -> date | None:
        value = entry.get(key)
        found: date | None = None
        if value is None:
            self.problem(f"{where}.{key}", "is missing")
        elif isinstance(value, datetime):
            self.problem(f"{where}.{key}", f"must be a date without a time, got {value!r}")
        elif isinstance(value, date):
            found = value
        elif isinstance(value, str):
            try:
                found = date.fromisoformat(value.strip())
            except ValueError:
                self.problem(f"{where}.{key}", f"must be a date like 2027-01-01, got {value!r}")
        else:
            self.problem(f"{where}.{key}", f"must be a date like 2027-01-01, got {value!r}")
        if found is not None and self.year is not None and found.year != self.year:
            self.problem(f"{where}.{key}", f"{found.isoformat()} is not in {self.year}")
            return None
        return found

    def check_keys(self, entry: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
        for key in entry:
            if key not in allowed:
                target = f"{where}.{key}" if where else str(key)
                self.problem(target, f"unknown key; expected {', '.join(allowed)}")


def parse_schedule(data: object, label: str) -> Schedule:
    """Validate a loaded schedule file; ImportFailed lists every problem found."""
    return _ScheduleReader(label).read(data)


def read_schedule(path: str | os.PathLike[str]) -> Schedule:
    """Load and validate a schedule file (.yaml, .yml or .json)."""
    file = Path(path)
    label = file.name
    suffix = file.suffix.lower()
    if suffix not in (".yaml", ".yml", ".json"):
        raise ImportFailed([f"{label}: unknown file type {suffix or '(none)'}; use .yaml or .json"])
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ImportFailed([f"{label}: cannot read the file: {exc}"]) from None
    try:
        data = json.loads(text) if suffix == ".json" else yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise ImportFailed(
            [f"{label}: line {exc.lineno} column {exc.colno}: invalid JSON: {exc.msg}"]
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1} column {mark.column + 1}: " if mark is not None else ""
        reason = getattr(exc, "problem", None) or str(exc)
        raise ImportFailed([f"{label}: {where}invalid YAML: {reason}"]) from None
    return parse_schedule(data, label)
