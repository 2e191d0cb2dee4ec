"""The figures against a fixture worked out on paper: every rate of DOMAIN.md "KPIs",
formula by formula, overall, by unit and by agent, and through GET /api/v1/kpi.

The fixture, November 2025 (Beijing time):

calls: C1 answered after 10 s, 100 s talk (agent a); C2 after 20 s, 200 s (agent a);
C3 abandoned in the queue; C4 after 15 s, 60 s (agent b); C5 a practice call, C6
handed to 110, C7 left in the menu: not counted.
  inbound 4, answered 3, within 15 s 2 (C1, C4), abandoned 1, wait 45 s, talk 360 s.

tickets: T1 PJQ replied 11-08, due 11-10, closed; T2 PJQ replied 11-14, due 11-12,
closed; T3 SCJGJ not replied, due 11-07; T4 answered directly; T5 merged into T1;
T6 received in October (PJQ), due 11-02, replied 11-01.
  accepted 5 (T1-T5), direct 1, repeats 1; due 4 (T1, T2, T3, T6), on time 2 (T1, T6);
  dispatched in November 3 (T1-T3), closed 2.

assignments: A1 T1 PJQ signed in time; A2 T2 PJQ signed late; A3 T3 SCJGJ in time;
A4 T3 PJQ (assisting) not signed.  4 assignments, 2 in time.
send-backs: R1 T2 PJQ approved; R2 T3 SCJGJ refused as wrongful; R3 T1 PJQ pending.
  3 send-backs, 2 decided, 1 wrongful.

visits: T1 reached (solved, satisfied, timely contact); T2 unreachable, then reached
(partly, basic; not asked about contact, first contact 11-05 before its deadline);
T3 reached (unsolved, dissatisfied, redone, contact not timely); T6 unreachable.
  valid 3, rated 3, timely 2, solved 1, partly 1, satisfied 1, basic 1, redone 1;
  5 attempts, 3 reached.

The same figures come out of the daily rollup (hotline.kpi_rollup) once it is built,
and a day changed after that is counted live until it is built again.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from sqlalchemy import select

from hotline.extensions import db
from hotline.kpi import report
from hotline.models import (
    Assignment,
    CallRecord,
    Department,
    ReturnRequest,
    Ticket,
    User,
    Visit,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
START = datetime(2025, 11, 1, tzinfo=SHANGHAI)
END = datetime(2025, 12, 1, tzinfo=SHANGHAI)


def day(month_day: str, hour: int = 10) -> datetime:
    month, dom = (int(p) for p in month_day.split("-"))
    return datetime(2025, month, dom, hour, tzinfo=SHANGHAI)


def unit(code: str) -> int:
    found = db.session.scalar(select(Department.id).where(Department.code == code))
    assert found is not None
    return found


def user(name: str) -> int:
    found = db.session.scalar(select(User.id).where(User.username == name))
    assert found is not None
    return found


@pytest.fixture
def fixture(app: Flask, staff: Any) -> dict[str, int]:
    staff.user("agent-a", "agent")
    staff.user("agent-b", "agent")
    a, b = user("agent-a"), user("agent-b")
    calls = [
        (
            "C1",
            dict(
                queued_at=day("11-03"),
                answered_at=day("11-03"),
                queue_wait_s=10,
                duration_s=100,
                agent_id=a,
            ),
        ),
        (
            "C2",
            dict(
                queued_at=day("11-03"),
                answered_at=day("11-03"),
                queue_wait_s=20,
                duration_s=200,
                agent_id=a,
            ),
        ),
        ("C3", dict(queued_at=day("11-04"), abandoned=True)),
        (
            "C4",
            dict(
                queued_at=day("11-05"),
                answered_at=day("11-05"),
                queue_wait_s=15,
                duration_s=60,
                agent_id=b,
            ),
        ),
        (
            "C5",
            dict(
                queued_at=day("11-05"),
                answered_at=day("11-05"),
                queue_wait_s=5,
                duration_s=30,
                agent_id=b,
                data={"practice": True},
            ),
        ),
        ("C6", dict(emergency_line="110")),
        ("C7", dict(status="menu")),
    ]
    for sid, fields in calls:
        db.session.add(CallRecord(call_sid=f"CA{sid:0>32}", started_at=day("11-03", 9), **fields))
    pjq, scjgj = unit("PJQ"), unit("SCJGJ")

    def ticket(ref: str, **fields: Any) -> Ticket:
        row = Ticket(
            reference=f"4407002025110{ref}",
            channel="phone",
            type="complaint",
            urgency="general",
            title=ref,
            content=ref,
            **fields,
        )
        db.session.add(row)
        db.session.flush()
        return row

    t1 = ticket(
        "0001",
        received_at=day("11-03"),
        status="closed",
        department_id=pjq,
        dispatched_at=day("11-03"),
        due_at=day("11-10"),
        replied_at=day("11-08"),
        accepted_by_id=a,
    )
    t2 = ticket(
        "0002",
        received_at=day("11-04"),
        status="closed",
        department_id=pjq,
        dispatched_at=day("11-04"),
        due_at=day("11-12"),
        replied_at=day("11-14"),
        first_contact_at=day("11-05"),
        accepted_by_id=a,
    )
    t3 = ticket(
        "0003",
        received_at=day("11-05"),
        status="in_progress",
        department_id=scjgj,
        dispatched_at=day("11-05"),
        due_at=day("11-07"),
        accepted_by_id=b,
    )
    ticket(
        "0004",
        received_at=day("11-06"),
        status="closed",
        disposition="direct_answer",
        accepted_by_id=b,
    )
    ticket(
        "0005", received_at=day("11-07"), status="merged", merged_into_id=t1.id, accepted_by_id=b
    )
    t6 = ticket(
        "0006",
        received_at=day("10-20"),
        status="closed",
        department_id=pjq,
        dispatched_at=day("10-20"),
        due_at=day("11-02"),
        replied_at=day("11-01"),
    )

    def assignment(
        t: Ticket, department: int, role: str, sign_due: str, signed: str | None
    ) -> Assignment:
        row = Assignment(
            ticket_id=t.id,
            department_id=department,
            role=role,
            round=1,
            dispatched_at=t.dispatched_at,
            dispatched_by_id=a,
            sign_due_at=day(sign_due),
            signed_at=day(signed) if signed else None,
        )
        db.session.add(row)
        db.session.flush()
        return row

    a1 = assignment(t1, pjq, "lead", "11-04", "11-03")
    a2 = assignment(t2, pjq, "lead", "11-05", "11-06")
    a3 = assignment(t3, scjgj, "lead", "11-06", "11-05")
    assignment(t3, pjq, "assist", "11-06", None)
    for t, assigned, department, decision, wrongful in (
        (t2, a2, pjq, "approved", False),
        (t3, a3, scjgj, "rejected", True),
        (t1, a1, pjq, "pending", False),
    ):
        db.session.add(
            ReturnRequest(
                ticket_id=t.id,
                assignment_id=assigned.id,
                department_id=department,
                round=1,
                reason="r",
                basis="b",
                previous_status="in_progress",
                requested_by_id=a,
                requested_at=day("11-06"),
                decision=decision,
                wrongful=wrongful,
            )
        )
    visits = [
        (
            t1,
            dict(reached=True, solved="solved", satisfaction="satisfied", timely_contact=True),
            "11-20",
        ),
        (t2, dict(reached=False), "11-15"),
        (t2, dict(reached=True, solved="partly", satisfaction="basic"), "11-16"),
        (
            t3,
            dict(
                reached=True,
                solved="unsolved",
                satisfaction="dissatisfied",
                redo=True,
                timely_contact=False,
            ),
            "11-20",
        ),
        (t6, dict(reached=False), "11-05"),
    ]
    for t, fields, at in visits:
        db.session.add(Visit(ticket_id=t.id, method="phone", visited_at=day(at), **fields))
    db.session.commit()
    return {"PJQ": pjq, "SCJGJ": scjgj}


EXPECTED = {
    "answer_rate": 0.75,
    "answer_rate_15s": 0.666667,
    "avg_speed_of_answer_s": 15.0,
    "abandon_rate": 0.25,
    "avg_handle_time_s": 120.0,
    "direct_answer_rate": 0.2,
    "repeat_rate": 0.2,
    "timely_sign_rate": 0.5,
    "return_rate": 0.75,
    "wrongful_return_rate": 0.5,
    "on_time_rate": 0.5,
    "overdue_rate": 0.5,
    "completion_rate": 0.666667,
    "response_rate": 0.666667,
    "resolution_rate": 0.5,  # (1 + 0.5·1) / 3
    "satisfaction_rate": 0.666667,  # (1 + 1.0·1) / 3
    "redo_rate": 0.333333,
    "valid_visit_rate": 0.6,  # 3 reached of 5 attempts
    # 0.30·2/3 + 0.35·0.5 + 0.35·2/3 − 0.10·0.5 (overdue) − 0.05·0.5 (wrongful)
    "composite": 0.533333,
}


def test_every_figure_matches_the_paper(fixture: dict[str, int]) -> None:
    found = report(START, END).total["metrics"]
    assert found == pytest.approx(EXPECTED, abs=1e-6)
    assert set(found) == set(EXPECTED)


def test_by_unit(fixture: dict[str, int]) -> None:
    rows = {row["key"]: row for row in report(START, END, "department").rows}
    pjq, scjgj = rows["PJQ"]["metrics"], rows["SCJGJ"]["metrics"]
    names = dict(db.session.execute(select(Department.code, Department.name)).all())
    assert rows["PJQ"]["name"] == names["PJQ"] and rows["SCJGJ"]["name"] == names["SCJGJ"]
    assert pjq["timely_sign_rate"] == pytest.approx(1 / 3, abs=1e-6)  # A1 of A1, A2, A4
    assert pjq["return_rate"] == pytest.approx(2 / 3, abs=1e-6)  # R1, R3
    assert pjq["wrongful_return_rate"] == 0.0
    assert pjq["on_time_rate"] == pytest.approx(2 / 3, abs=1e-6)  # T1, T6 of T1, T2, T6
    assert pjq["completion_rate"] == 1.0
    assert (pjq["response_rate"], pjq["resolution_rate"], pjq["satisfaction_rate"]) == (
        1.0,
        0.75,
        1.0,
    )
    assert pjq["valid_visit_rate"] == 0.5  # T1, T2 twice, T6: 2 of 4 reached
    assert pjq["answer_rate"] is None  # calls belong to no unit
    assert (scjgj["timely_sign_rate"], scjgj["wrongful_return_rate"], scjgj["on_time_rate"]) == (
        1.0,
        1.0,
        0.0,
    )
    assert (scjgj["resolution_rate"], scjgj["redo_rate"], scjgj["composite"]) == (
        0.0,
        1.0,
        pytest.approx(-0.15, abs=1e-6),  # nothing earned; overdue 1.0 and wrongful 1.0 deducted
    )


def test_by_agent_and_channel(fixture: dict[str, int]) -> None:
    rows = {row["key"]: row for row in report(START, END, "agent").rows}
    a, b = rows["agent-a"], rows["agent-b"]
    assert a["counts"]["calls_answered"] == 2 and a["metrics"]["answer_rate_15s"] == 0.5
    assert b["metrics"]["avg_handle_time_s"] == 60.0  # the practice call left out
    # Agent b accepted T3, T4 and T5, and answered T4 directly.
    assert a["metrics"]["direct_answer_rate"] == 0.0
    assert b["metrics"]["direct_answer_rate"] == pytest.approx(1 / 3, abs=1e-6)
    by_channel = {row["key"]: row for row in report(START, END, "channel").rows}
    assert by_channel["phone"]["metrics"]["answer_rate"] == 0.75


def test_the_api_answers_with_the_same_figures(fixture: dict[str, int], staff: Any) -> None:
    staff.user("sup", "supervisor")
    response = staff.get("sup", "/kpi?from=2025-11-01&to=2025-11-30&group_by=department")
    assert response.status_code == 200, response.json
    body = response.json
    assert body["from"] == "2025-11-01T00:00:00+08:00" and body["to"] == "2025-12-01T00:00:00+08:00"
    assert body["total"]["metrics"] == pytest.approx(EXPECTED, abs=1e-6)
    assert {row["key"] for row in body["rows"]} >= {"PJQ", "SCJGJ"}
    assert staff.get("sup", "/kpi?group_by=street").status_code == 422
    assert staff.get("sup", "/kpi?from=yesterday").status_code == 422
    assert staff.get("sup", "/kpi?from=2025-12-01&to=2025-11-01").status_code == 422
    staff.user("h", "handler", "PJQ")
    assert staff.get("h", "/kpi").status_code == 403


def test_the_openapi_document_describes_it(client: Any) -> None:
    kpi = client.get("/api/v1/openapi.json").json["paths"]["/kpi"]["get"]
    groups = next(p for p in kpi["parameters"] if p["name"] == "group_by")["schema"]["enum"]
    assert groups == ["department", "category", "channel", "territory", "agent", "type"]


def test_the_rollup_gives_the_same_figures_and_follows_changes(fixture: dict[str, int]) -> None:
    from sqlalchemy import func, text

    from hotline.kpi_rollup import refresh
    from hotline.models import KpiChange, KpiRollup

    live_by_unit = {row["key"]: row["metrics"] for row in report(START, END, "department").rows}
    built = refresh(limit=1000)
    assert date(2025, 10, 20) in built and date(2025, 11, 20) in built
    assert db.session.scalar(select(func.count(KpiRollup.id))) > 0
    assert report(START, END).total["metrics"] == pytest.approx(EXPECTED, abs=1e-6)
    by_unit = {row["key"]: row["metrics"] for row in report(START, END, "department").rows}
    assert by_unit == live_by_unit
    agents = {row["key"]: row["counts"] for row in report(START, END, "agent").rows}
    assert agents["agent-a"]["calls_answered"] == 2
    # Built days are read from the rollup: a change that bypasses the application (and
    # so is not logged) does not show …
    db.session.execute(text("UPDATE ticket SET replied_at = due_at WHERE replied_at IS NULL"))
    db.session.commit()
    assert report(START, END).total["metrics"]["on_time_rate"] == 0.5
    # … while one made through it (T3 replied on time, late) is counted at once.
    t3 = db.session.scalar(select(Ticket).where(Ticket.reference.endswith("0003")))
    t3.replied_at = day("11-07", 9)
    t3.status = "closed"
    db.session.commit()
    assert db.session.scalar(select(func.count(KpiChange.id))) > 0
    assert report(START, END).total["metrics"]["on_time_rate"] == 0.75
    assert report(START, END).total["metrics"]["completion_rate"] == 1.0
    # The worker builds the changed days again and clears their log.
    assert date(2025, 11, 7) in refresh()
    assert db.session.scalar(select(func.count(KpiChange.id))) == 0
    assert report(START, END).total["metrics"]["on_time_rate"] == 0.75
    assert report(START, END).total["metrics"]["completion_rate"] == 1.0
    # A half-day period reads its partial day live and the rest from the rollup.
    noon = datetime(2025, 11, 20, 12, tzinfo=SHANGHAI)
    assert report(START, noon).total["counts"]["visits_valid"] == 3
    assert report(noon, END).total["counts"].get("visits_valid", 0) == 0


def test_a_later_visit_replaces_the_earlier_one_in_the_rollup(fixture: dict[str, int]) -> None:
    from hotline.kpi_rollup import refresh

    refresh(limit=1000)
    t2 = db.session.scalar(select(Ticket).where(Ticket.reference.endswith("0002")))
    db.session.add(
        Visit(
            ticket_id=t2.id,
            method="phone",
            visited_at=day("11-25"),
            reached=True,
            solved="solved",
            satisfaction="satisfied",
        )
    )
    db.session.commit()
    # T2 now speaks through its 11-25 visit: solved and satisfied, where 11-16's was
    # partly and basic; the 11-16 day, built before, is counted live again.
    counts = report(START, END).total["counts"]
    assert (counts["visits_valid"], counts["solved"], counts["partly_solved"]) == (3, 2, 0)
    assert counts["visited"] == 6 and counts["visits_reached"] == 4
    assert date(2025, 11, 16) in refresh()
    assert report(START, END).total["counts"] == counts


def test_the_demo_citys_figures_are_the_same_from_the_rollup(app: Flask, runner: Any) -> None:
    """Tickets through every path of the lifecycle over three months: every count of
    every group, per day, from the worker's rollup equals the count made live."""
    from datetime import timedelta

    from sqlalchemy import func

    from hotline.demo import demo_command
    from hotline.kpi import GROUPS
    from hotline.kpi_rollup import gather, live, refresh
    from hotline.models import KpiChange, KpiRollup

    assert runner.invoke(demo_command, ["--tickets", "60"]).exit_code == 0
    now = datetime.now(SHANGHAI)
    end = datetime(now.year, now.month, now.day, 12, tzinfo=SHANGHAI)  # today half live
    start = end - timedelta(days=120, hours=12)

    def counted(found: dict[Any, Any]) -> dict[Any, dict[str, int]]:
        return {key: f.whole_counts() for key, f in found.items() if any(f.whole_counts().values())}

    before = {g: counted(live(start, end, g, by_day=True)) for g in (None, *GROUPS)}
    assert sum(c["accepted"] for c in before[None].values()) > 0
    assert refresh(limit=400)
    assert db.session.scalar(select(func.count(KpiChange.id))) == 0
    assert db.session.scalar(select(func.count(KpiRollup.id))) > 0
    for group_by in (None, *GROUPS):
        assert counted(gather(start, end, group_by, by_day=True)) == before[group_by], group_by
