"""Deadline preview and the OpenAPI document."""

from __future__ import annotations

from hotline.tickets.lifecycle import ACTIONS


def test_deadline_preview_counts_working_days(staff):
    r = staff.get(
        "agent",
        "/deadlines/preview?type=consult&urgency=general&received_at=2025-09-29T10:00:00%2B08:00",
    )
    assert r.status_code == 200, r.json
    assert r.json["due_at"] == "2025-10-09T23:59:59+08:00"  # 2 working days after the holiday
    assert r.json["sign_due_at"] == "2025-09-30T23:59:59+08:00"
    assert r.json["provisional"] is False


def test_deadline_preview_reads_bare_times_as_beijing_time(staff):
    r = staff.get("agent", "/deadlines/preview?type=complaint&received_at=2025-01-24T09:00")
    assert r.status_code == 200, r.json
    assert r.json["received_at"] == "2025-01-24T09:00:00+08:00"


def test_deadline_preview_rejects_bad_values(staff):
    assert staff.get("agent", "/deadlines/preview?type=gossip").status_code == 422
    r = staff.get("agent", "/deadlines/preview?type=consult&urgency=soon")
    assert r.status_code == 422 and r.json["error"]["details"]["field"] == "urgency"
    r = staff.get("agent", "/deadlines/preview?type=consult&received_at=yesterday")
    assert r.status_code == 422


def test_preview_in_a_year_without_calendar_is_provisional_and_alerts(staff):
    r = staff.get("agent", "/deadlines/preview?type=complaint&received_at=2027-03-01T09:00")
    assert r.status_code == 200
    assert r.json["provisional"] is True


def test_openapi_lists_every_action_with_its_body(client):
    doc = client.get("/api/v1/openapi.json").json
    assert doc["openapi"].startswith("3.")
    paths = doc["paths"]
    for action in ACTIONS:
        operation = paths[f"/tickets/{{reference}}/{action}"]["post"]
        ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        assert ref.split("/")[-1] in doc["components"]["schemas"]
    create = doc["components"]["schemas"]["TicketCreate"]
    assert set(create["required"]) == {"channel", "type", "content"}
    assert create["additionalProperties"] is False
    assert {"/tickets", "/tickets/{reference}", "/deadlines/preview"} <= set(paths)


def test_openapi_enums_match_what_the_api_accepts(staff, client):
    doc = client.get("/api/v1/openapi.json").json
    schemas = doc["components"]["schemas"]
    channels = schemas["Channel"]["enum"]
    for channel in channels:
        r = staff.post(
            "agent", "/tickets", {"channel": channel, "type": "consult", "content": "问"}
        )
        assert r.status_code == 201, (channel, r.json)
    r = staff.post("agent", "/tickets", {"channel": "fax", "type": "consult", "content": "问"})
    assert r.status_code == 422
