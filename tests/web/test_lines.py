"""Legacy hotlines (一号对外): the service, the staff page (/lines) and `hotline lines`."""

from __future__ import annotations

import csv
import io
from collections import Counter
from typing import Any

import pytest
from flask import Flask, g
from flask.testing import FlaskClient, FlaskCliRunner

from hotline.auth import add_user
from hotline.intake.lines import legacy_lines
from hotline.intake.lines_cli import lines_command

PASSWORD = "correct horse battery staple"


@pytest.fixture
def lines_app(app: Flask) -> Flask:
    """The app with the /lines page (registered by web/__init__.py once the lead adds it)."""
    if "lines" not in app.blueprints:
        from web.lines import bp

        app.register_blueprint(bp)
    return app


def sign_in(client: FlaskClient, username: str, role: str, department: str | None = None) -> None:
    add_user(username, role, department_code=department, password=PASSWORD)
    g.pop("_login_user", None)
    response = client.post("/login", data={"username": username, "password": PASSWORD})
    assert response.status_code == 302


def test_every_line_of_the_catalogue_is_listed(app: Flask, catalogue: Any) -> None:
    lines = legacy_lines()
    assert len(lines) == 29
    assert Counter(line["status"] for line in lines) == {"merged": 14, "kept": 10, "emergency": 5}
    statuses = [line["status"] for line in lines]
    assert statuses == sorted(statuses, key=["merged", "kept", "emergency"].index)
    by_number = {line["number"]: line for line in lines}
    consumer = by_number["12315"]
    assert consumer["status_zh"] == "已并入"
    assert (consumer["department"], consumer["category"]) == ("SCJGJ", "0102")
    assert consumer["handling"].startswith("号码已并入 12345")
    assert "0102" not in consumer["handling"] and consumer["category_name"] in consumer["handling"]
    kept = by_number["12393"]
    assert kept["status_zh"] == "双号并行" and "双号并行" in kept["handling"]
    weather = by_number["12121"]  # kept, with a unit but no preset category
    assert weather["category"] is None and "诉求分类" not in weather["handling"]
    police = by_number["110"]
    assert police["status_zh"] == "紧急热线"
    assert "不受理" in police["handling"] and "110" in police["handling"]
    assert by_number["12395"]["department"] is None  # an emergency line without a unit


def test_no_catalogue_no_lines(app: Flask) -> None:
    assert legacy_lines() == []


def test_the_page_needs_a_sign_in(lines_app: Flask, client: FlaskClient) -> None:
    response = client.get("/lines")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.mark.parametrize(
    ("role", "department"),
    [("agent", None), ("handler", "SCJGJ"), ("supervisor", None), ("editor", None)],
)
def test_every_staff_role_sees_the_lines(
    lines_app: Flask, client: FlaskClient, catalogue: Any, role: str, department: str | None
) -> None:
    sign_in(client, f"u-{role}", role, department)
    g.pop("_flask_babel", None)
    page = client.get("/lines")
    assert page.status_code == 200
    assert page.text.count('<tr class="line ') == 29
    for text in ("原热线归并情况", "已并入", "双号并行", "紧急热线", "12315"):
        assert text in page.text
    assert "市场监管投诉举报热线" in page.text
    assert "95598" in page.text and "南方电网供电服务热线" in page.text


def test_the_command_prints_a_table(runner: FlaskCliRunner, catalogue: Any) -> None:
    result = runner.invoke(lines_command)
    assert result.exit_code == 0, result.output
    rows = result.output.splitlines()
    assert rows[0].split() == ["号码", "名称", "归并方式", "承办单位", "预置分类", "来电处理"]
    assert rows[-2:] == ["", "共 29 条热线"] and len(rows) == 1 + 29 + 2
    assert any(row.startswith("12315") and "已并入" in row for row in rows)
    assert any(row.startswith("120 ") and "紧急热线" in row for row in rows)


def test_the_command_writes_csv(runner: FlaskCliRunner, catalogue: Any) -> None:
    result = runner.invoke(lines_command, ["--format", "csv"])
    assert result.exit_code == 0, result.output
    records = list(csv.DictReader(io.StringIO(result.output)))
    assert len(records) == 29
    first = records[0]
    assert list(first) == [
        "number",
        "name",
        "status",
        "status_zh",
        "department",
        "department_name",
        "category",
        "category_name",
        "handling",
    ]
    by_number = {r["number"]: r for r in records}
    assert by_number["12315"]["status_zh"] == "已并入"
    assert by_number["0750-0000000"]["status"] == "kept"
    assert by_number["12395"]["department"] == ""


def test_the_command_refuses_an_unknown_format(runner: FlaskCliRunner) -> None:
    result = runner.invoke(lines_command, ["--format", "xml"])
    assert result.exit_code == 2
