"""`hotline demo`: the demo city loads once, through the real services, in every state."""

from __future__ import annotations

from sqlalchemy import func, select

from hotline.audit import verify_chain
from hotline.demo import demo_command
from hotline.extensions import db
from hotline.models import Ticket, User


def test_demo_city_loads_once_with_history_in_every_state(app, runner):
    result = runner.invoke(demo_command, ["--tickets", "120"])
    assert result.exit_code == 0, result.output
    assert "agent1" in result.output and "hotline-demo" in result.output
    statuses = dict(
        db.session.execute(select(Ticket.status, func.count()).group_by(Ticket.status)).all()
    )
    assert sum(statuses.values()) == 120
    assert {"closed", "pending_sign", "pending_visit"} <= set(statuses)
    assert {"in_progress", "reply_review"} & set(statuses)  # some still with their unit
    oldest = db.session.scalar(select(func.min(Ticket.received_at)))
    newest = db.session.scalar(select(func.max(Ticket.received_at)))
    assert (newest - oldest).days >= 80
    roles = set(db.session.scalars(select(User.role)))
    assert roles >= {"agent", "dispatcher", "handler", "supervisor", "admin", "editor"}
    assert verify_chain().ok

    again = runner.invoke(demo_command, ["--tickets", "120"])
    assert again.exit_code == 0
    assert "already loaded" in again.output
    assert db.session.scalar(select(func.count()).select_from(Ticket)) == 120


def test_demo_agent_can_sign_in(app, runner, client):
    runner.invoke(demo_command, ["--tickets", "5"])
    response = client.post("/login", data={"username": "agent1", "password": "hotline-demo"})
    assert response.status_code == 302
    page = client.get("/tickets")
    assert page.status_code == 200
    assert "工单" in page.get_data(as_text=True)
