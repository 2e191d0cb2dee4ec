"""Chinese working days and schedule files: pure, no app."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import chinese_calendar
import pytest

from hotline.clock.calendar import (
    WorkCalendar,
    package_covers,
    parse_schedule,
    read_schedule,
    weekday_fallback,
)
from hotline.errors import CalendarDataMissing, ImportFailed

SAMPLES = Path(__file__).resolve().parents[2] / "hotline" / "clock" / "samples"
CALENDAR = WorkCalendar()


def valid_2027() -> dict[str, Any]:
    """A made-up 2027 schedule in the import format (the real one is not published yet)."""
    return {
        "year": 2027,
        "source": "测试用 2027 年安排",
        "holidays": [
            {"name": "元旦", "from": "2027-01-01", "to": "2027-01-03"},
            {"name": "春节", "from": "2027-02-06", "to": "2027-02-13"},
        ],
        "workdays": [{"date": "2027-02-20", "name": "春节调休"}],
    }


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        # DOMAIN.md's checked examples
        (date(2025, 9, 29), 5, date(2025, 10, 13)),  # the 10-11 make-up Saturday counts
        (date(2025, 1, 24), 5, date(2025, 2, 7)),  # across the Spring Festival
        (date(2026, 2, 13), 10, date(2026, 3, 5)),
        # counting starts the next day even from a rest day (find_workday is one late here)
        (date(2025, 10, 4), 1, date(2025, 10, 9)),
        (date(2025, 10, 10), 1, date(2025, 10, 11)),
        (date(2025, 10, 13), 0, date(2025, 10, 13)),
        (date(2025, 12, 31), 1, date(2026, 1, 4)),  # 2026-01-04 is a make-up Sunday
    ],
)
def test_add_working_days_checked_examples(start: date, n: int, expected: date) -> None:
    assert CALENDAR.add_working_days(start, n) == expected


def test_find_workday_would_be_one_day_late_from_a_rest_day() -> None:
    # Why add_working_days does not use it: the first working day after 10-04 is 10-09.
    assert chinese_calendar.find_workday(1, date(2025, 10, 4)) == date(2025, 10, 10)
    assert CALENDAR.add_working_days(date(2025, 10, 4), 1) == date(2025, 10, 9)


def test_negative_counts_are_refused() -> None:
    with pytest.raises(ValueError, match="0 or more"):
        CALENDAR.add_working_days(date(2025, 1, 2), -1)
    with pytest.raises(ValueError, match="0 or more"):
        CALENDAR.subtract_working_days(date(2025, 1, 2), -1)


def test_is_workday_follows_holidays_and_make_up_days() -> None:
    assert not CALENDAR.is_workday(date(2025, 10, 1))  # National Day, a Wednesday
    assert CALENDAR.is_workday(date(2025, 10, 11))  # make-up Saturday
    assert not CALENDAR.is_workday(date(2025, 10, 12))  # ordinary Sunday
    assert CALENDAR.is_workday(date(2025, 10, 9))


def test_package_covers_2004_to_2026_only() -> None:
    assert package_covers(2004)
    assert package_covers(2026)
    assert not package_covers(2003)
    assert not package_covers(2027)


def test_a_year_no_calendar_covers_raises_instead_of_guessing() -> None:
    with pytest.raises(CalendarDataMissing) as raised:
        CALENDAR.is_workday(date(2027, 3, 1))
    assert raised.value.year == 2027
    assert "hotline calendar import" in raised.value.message
    with pytest.raises(CalendarDataMissing):
        CALENDAR.add_working_days(date(2026, 12, 30), 5)
    with pytest.raises(CalendarDataMissing):
        CALENDAR.working_days_between(date(2003, 12, 30), date(2004, 1, 5))


def test_covered_years_use_the_weekly_pattern_and_overrides() -> None:
    calendar = WorkCalendar(
        {date(2027, 1, 1): False, date(2027, 2, 20): True}, covered_years=[2027]
    )
    assert not calendar.is_workday(date(2027, 1, 1))  # a Friday, but a holiday
    assert calendar.is_workday(date(2027, 2, 20))  # a Saturday, but a make-up day
    assert calendar.is_workday(date(2027, 3, 1))
    assert not calendar.is_workday(date(2027, 3, 6))
    assert calendar.add_working_days(date(2026, 12, 31), 1) == date(2027, 1, 4)
    assert calendar.source_for(2027) == "import"
    assert calendar.source_for(2025) == "package"
    assert WorkCalendar().source_for(2027) is None


def test_overrides_alone_cover_only_their_days() -> None:
    calendar = WorkCalendar({date(2027, 1, 1): False})
    assert not calendar.is_workday(date(2027, 1, 1))
    with pytest.raises(CalendarDataMissing):
        calendar.is_workday(date(2027, 1, 4))


def test_an_imported_year_takes_precedence_over_the_package() -> None:
    calendar = WorkCalendar(covered_years=[2025])
    assert calendar.is_workday(date(2025, 10, 1))  # no import overrides: just a Wednesday
    assert not calendar.is_workday(date(2025, 10, 11))


def test_working_days_between_counts_the_half_open_interval() -> None:
    assert CALENDAR.working_days_between(date(2025, 9, 29), date(2025, 10, 13)) == 5
    assert CALENDAR.working_days_between(date(2025, 9, 29), date(2025, 9, 29)) == 0
    assert CALENDAR.working_days_between(date(2025, 10, 1), date(2025, 10, 8)) == 0
    assert CALENDAR.working_days_between(date(2025, 10, 13), date(2025, 9, 29)) == -5


def test_subtract_working_days_mirrors_add() -> None:
    assert CALENDAR.subtract_working_days(date(2025, 10, 13), 5) == date(2025, 9, 29)
    assert CALENDAR.subtract_working_days(date(2025, 10, 9), 1) == date(2025, 9, 30)
    assert CALENDAR.subtract_working_days(date(2025, 10, 9), 0) == date(2025, 10, 9)


def test_weekday_fallback_assumes_mon_to_fri_and_records_the_guess() -> None:
    real = WorkCalendar({date(2027, 1, 1): False})
    fallback = real.weekday_fallback()
    assert fallback.is_workday(date(2027, 1, 4))
    assert not fallback.is_workday(date(2027, 1, 9))
    assert not fallback.is_workday(date(2027, 1, 1))  # the override still counts
    assert not fallback.is_workday(date(2025, 10, 1))  # the package still counts
    assert fallback.guessed_years == {2027}
    assert fallback.add_working_days(date(2026, 12, 30), 3) == date(2027, 1, 5)
    assert fallback.weekday_fallback() is fallback
    assert weekday_fallback().add_working_days(date(2027, 12, 31), 1) == date(2028, 1, 3)


# --- schedule files ---------------------------------------------------------------


@pytest.mark.parametrize("name", ["2025.yaml", "2026.json"])
def test_the_samples_agree_with_the_package_on_every_day(name: str) -> None:
    schedule = read_schedule(SAMPLES / name)
    calendar = WorkCalendar(schedule.overrides(), [schedule.year])
    day = date(schedule.year, 1, 1)
    while day.year == schedule.year:
        assert calendar.is_workday(day) == chinese_calendar.is_workday(day), day
        day += timedelta(days=1)


def test_sample_2025_counts() -> None:
    schedule = read_schedule(SAMPLES / "2025.yaml")
    assert schedule.year == 2025
    assert schedule.source == "国务院办公厅关于2025年部分节假日安排的通知"
    assert schedule.holiday_count == 28
    assert schedule.workday_count == 5
    assert schedule.days[date(2025, 10, 11)].name == "国庆节调休"
    assert not schedule.days[date(2025, 2, 1)].is_workday  # a Saturday inside 春节: fine


def test_a_valid_schedule_parses() -> None:
    schedule = parse_schedule(valid_2027(), "2027.yaml")
    assert schedule.year == 2027
    assert schedule.holiday_count == 11
    assert schedule.workday_count == 1
    assert list(schedule.days) == sorted(schedule.days)


def test_workday_names_are_optional_and_workdays_may_be_absent() -> None:
    data = valid_2027()
    data["workdays"] = [{"date": date(2027, 2, 20)}]
    assert parse_schedule(data, "x.yaml").days[date(2027, 2, 20)].name == "调休"
    del data["workdays"]
    assert parse_schedule(data, "x.yaml").workday_count == 0


def test_every_problem_is_reported_at_once() -> None:
    data = {
        "year": 2027,
        "source": "",
        "holiday": [],
        "holidays": [
            {"name": "元旦", "from": "2027-01-01", "to": "2027-01-03"},
            {"name": "春节", "from": "2027-02-13", "to": "2027-02-06"},
            {"name": "", "from": "2026-12-31", "to": "2027-13-01"},
            "国庆节",
            {"name": "重复", "from": "2027-01-03", "to": "2027-01-03", "note": "x"},
            {"name": "带时间", "from": datetime(2027, 5, 1, 9, 0), "to": 20270501},
        ],
        "workdays": [
            {"date": "2027-01-02", "name": "冲突"},
            {"date": "2027-03-03", "name": "周三"},
            {"date": "2028-01-08", "name": "跨年"},
            {"name": "无日期"},
        ],
    }
    with pytest.raises(ImportFailed) as raised:
        parse_schedule(data, "bad.yaml")
    problems = raised.value.problems
    expected = [
        "bad.yaml: holiday: unknown key",
        "bad.yaml: source: must name the notice",
        "bad.yaml: holidays[1].to: 2027-02-06 is before from 2027-02-13",
        "bad.yaml: holidays[2].name: must be a non-empty text",
        "bad.yaml: holidays[2].from: 2026-12-31 is not in 2027",
        "bad.yaml: holidays[2].to: must be a date like 2027-01-01, got '2027-13-01'",
        "bad.yaml: holidays[3]: must be a mapping",
        "bad.yaml: holidays[4].note: unknown key",
        "bad.yaml: holidays[4]: 2027-01-03 is already in holidays[0]",
        "bad.yaml: holidays[5].from: must be a date without a time",
        "bad.yaml: holidays[5].to: must be a date like 2027-01-01, got 20270501",
        "bad.yaml: workdays[0].date: 2027-01-02 is also a holiday in holidays[0]",
        "bad.yaml: workdays[1].date: 2027-03-03 is a Wednesday, a working day anyway",
        "bad.yaml: workdays[2].date: 2028-01-08 is not in 2027",
        "bad.yaml: workdays[3].date: is missing",
    ]
    for start in expected:
        assert any(problem.startswith(start) for problem in problems), (start, problems)
    assert len(problems) == len(expected)
    assert raised.value.to_dict()["details"]["problems"] == problems


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ([], "bad.yaml: must be a mapping with year"),
        ({"source": "s", "holidays": []}, "bad.yaml: year: is missing"),
        ({"year": "2027", "source": "s"}, "bad.yaml: year: must be a year like 2027"),
        ({"year": True, "source": "s"}, "bad.yaml: year: must be a year like 2027"),
        ({"year": 2027, "source": "s"}, "bad.yaml: holidays: must be a non-empty list"),
        ({"year": 2027, "source": "s" * 256}, "bad.yaml: source: is longer than 255"),
    ],
)
def test_structural_problems(data: object, problem: str) -> None:
    with pytest.raises(ImportFailed) as raised:
        parse_schedule(data, "bad.yaml")
    assert any(p.startswith(problem) for p in raised.value.problems), raised.value.problems


def test_dates_are_not_checked_against_a_bad_year() -> None:
    data = valid_2027()
    data["year"] = "next year"
    with pytest.raises(ImportFailed) as raised:
        parse_schedule(data, "bad.yaml")
    assert raised.value.problems == ["bad.yaml: year: must be a year like 2027, got 'next year'"]


def test_read_schedule_yaml_and_json(tmp_path: Path) -> None:
    yaml_file = tmp_path / "2027.yaml"
    yaml_file.write_text(
        "year: 2027\n"
        "source: 测试\n"
        "holidays:\n"
        "  - {name: 元旦, from: 2027-01-01, to: 2027-01-03}\n"
        "workdays:\n"
        "  - {date: 2027-02-20, name: 春节调休}\n",
        encoding="utf-8",
    )
    json_file = tmp_path / "2027.json"
    json_file.write_text(json.dumps(valid_2027(), ensure_ascii=False), encoding="utf-8")
    assert read_schedule(yaml_file).holiday_count == 3
    assert read_schedule(str(json_file)).holiday_count == 11


def test_read_schedule_refuses_unreadable_files(tmp_path: Path) -> None:
    broken_yaml = tmp_path / "broken.yaml"
    broken_yaml.write_text("year: 2027\nholidays: [\n", encoding="utf-8")
    broken_json = tmp_path / "broken.json"
    broken_json.write_text('{"year": 2027,', encoding="utf-8")
    cases = {
        broken_yaml: "broken.yaml: line ",
        broken_json: "broken.json: line 1 column 15: invalid JSON",
        tmp_path / "missing.yaml": "missing.yaml: cannot read the file",
        tmp_path / "schedule.txt": "schedule.txt: unknown file type .txt",
    }
    for path, start in cases.items():
        with pytest.raises(ImportFailed) as raised:
            read_schedule(path)
        assert len(raised.value.problems) == 1
        assert raised.value.problems[0].startswith(start), raised.value.problems
