"""POST /api/v1/routing/suggest: shape, roles, validation, and the OpenAPI document."""

from __future__ import annotations

import pytest

BODY = {"text": "楼下烧烤店每晚排油烟，熏到我屋企", "address": "蓬江区白沙街道"}


def test_suggestions_shape(staff):
    r = staff.post("dispatcher", "/routing/suggest", BODY)
    assert r.status_code == 200, r.json
    assert set(r.json) == {"suggestions", "catalogue_version", "model_version"}
    assert r.json["catalogue_version"] == 1
    assert r.json["model_version"] is None
    suggestions = r.json["suggestions"]
    assert 1 <= len(suggestions) <= 3
    first = suggestions[0]
    assert {"category", "department", "territory", "score", "reasons"} <= set(first)
    assert (first["category"], first["department"], first["territory"]) == (
        "0605",
        "PJQ",
        "440703002",
    )
    assert (first["category_name"], first["department_name"], first["territory_name"]) == (
        "餐饮油烟",
        "蓬江区",
        "蓬江区 白沙街道",
    )
    assert all(isinstance(reason, str) for reason in first["reasons"])
    scores = [s["score"] for s in suggestions]
    assert scores == sorted(scores, reverse=True)


def test_phone_and_coordinates_locate_the_request(staff):
    r = staff.post(
        "agent",
        "/routing/suggest",
        {"text": "楼下烧烤店每晚排油烟", "lat": 22.253, "lng": 112.792, "phone": "13800000000"},
    )
    assert r.status_code == 200, r.json
    assert r.json["suggestions"][0]["department"] == "TSS"
    r = staff.post(
        "agent", "/routing/suggest", {"text": "楼下烧烤店每晚排油烟", "phone": "0750-3123456"}
    )
    first = r.json["suggestions"][0]
    assert (first["department"], first["territory"]) == ("CGJ", None)
    assert any("0750" in reason for reason in first["reasons"])


def test_unrecognised_text_goes_to_the_coordination_queue(staff):
    r = staff.post("agent", "/routing/suggest", {"text": "喂？"})
    assert r.status_code == 200
    assert r.json["suggestions"][0]["department"] is None
    assert r.json["suggestions"][0]["department_name"] == "协调队列（热线办）"


@pytest.mark.parametrize("role", ["agent", "dispatcher", "supervisor", "admin"])
def test_office_roles_may_ask(staff, role):
    assert staff.post(role, "/routing/suggest", BODY).status_code == 200


@pytest.mark.parametrize("who", ["pjq", "editor"])
def test_handlers_and_editors_may_not(staff, who):
    r = staff.post(who, "/routing/suggest", BODY)
    assert r.status_code == 403
    assert r.json["error"]["code"] == "forbidden"


def test_anonymous_callers_are_refused(client, catalogue):
    assert client.post("/api/v1/routing/suggest", json=BODY).status_code == 401


@pytest.mark.parametrize(
    "body",
    [
        {"text": ""},
        {"text": "   "},
        {},
        {"address": "蓬江区"},
        {"text": "停电", "lat": 200},
        {"text": "停电", "colour": "red"},
    ],
)
def test_invalid_bodies_are_422(staff, body):
    r = staff.post("agent", "/routing/suggest", body)
    assert r.status_code == 422
    assert r.json["error"]["code"] == "invalid_input"


def test_openapi_documents_the_path(client):
    doc = client.get("/api/v1/openapi.json").json
    operation = doc["paths"]["/routing/suggest"]["post"]
    ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    body = doc["components"]["schemas"][ref.split("/")[-1]]
    assert body["required"] == ["text"]
    assert {"text", "address", "phone", "lat", "lng"} == set(body["properties"])
    answer = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    item = doc["components"]["schemas"][answer.split("/")[-1]]["properties"]["suggestions"]
    assert set(item["items"]["required"]) == {
        "category",
        "department",
        "territory",
        "score",
        "reasons",
    }
