"""The pure routing rule: vertical, territorial (district or street), and the fallback."""

from __future__ import annotations

import pytest

from routing.rules import RouteDecision, TerritoryInfo, route

PENGJIANG = TerritoryInfo("440703", "蓬江区", 1)
BAISHA = TerritoryInfo("440703002", "白沙街道", 2)
TAISHAN = TerritoryInfo("440781", "台山市", 1)
BAISHA_TOWN = TerritoryInfo("440781103", "白沙镇", 2)

UNITS = {"440703": "PJQ", "440781": "TSS"}
NAMES = {"PJQ": "蓬江区", "TSS": "台山市", "STHJJ": "市生态环境局", "SCJGJ": "市场监管局"}


def test_vertical_goes_to_the_category_unit_wherever_the_address_is() -> None:
    decision = route(
        "vertical", "SCJGJ", "district", [TAISHAN, BAISHA_TOWN], UNITS, category_code="0101"
    )
    assert decision == RouteDecision("SCJGJ", ["分类 0101 垂直管理 → SCJGJ"], used_fallback=False)


def test_vertical_reason_uses_the_unit_name_when_given() -> None:
    decision = route("vertical", "SCJGJ", "district", [], UNITS, unit_names=NAMES)
    assert decision.reasons == ["垂直管理 → 市场监管局"]
    assert not decision.used_fallback


def test_territorial_goes_to_the_district_owning_the_address() -> None:
    decision = route(
        "territorial",
        "STHJJ",
        "district",
        [PENGJIANG, BAISHA],
        UNITS,
        category_code="0203",
        unit_names=NAMES,
    )
    assert decision.department_code == "PJQ"
    assert decision.reasons == ["分类 0203 属地管理 → 蓬江区（地址位于 蓬江区 白沙街道）"]
    assert not decision.used_fallback


def test_territorial_names_the_district_even_without_unit_names() -> None:
    decision = route("territorial", "STHJJ", "district", [TAISHAN], UNITS, category_code="0203")
    assert decision.department_code == "TSS"
    assert decision.reasons == ["分类 0203 属地管理 → 台山市（地址位于 台山市）"]


def test_same_street_name_in_two_districts_routes_by_the_chain_not_the_name() -> None:
    assert (
        route("territorial", "CGJ", "district", [TAISHAN, BAISHA_TOWN], UNITS).department_code
        == "TSS"
    )
    assert (
        route("territorial", "CGJ", "district", [PENGJIANG, BAISHA], UNITS).department_code == "PJQ"
    )


def test_chain_order_does_not_matter() -> None:
    decision = route("territorial", "CGJ", "district", [BAISHA, PENGJIANG], UNITS)
    assert decision.department_code == "PJQ"


def test_street_level_prefers_the_street_unit() -> None:
    units = {**UNITS, "440703002": "PJQ-BS"}
    decision = route(
        "territorial",
        "CGJ",
        "street",
        [PENGJIANG, BAISHA],
        units,
        category_code="0601",
        unit_names={"PJQ-BS": "白沙街道办事处"},
    )
    assert decision.department_code == "PJQ-BS"
    assert decision.reasons == [
        "分类 0601 属地管理（街镇） → 白沙街道办事处（地址位于 蓬江区 白沙街道）"
    ]
    assert not decision.used_fallback


def test_street_level_without_a_street_unit_goes_to_the_district() -> None:
    decision = route("territorial", "CGJ", "street", [PENGJIANG, BAISHA], UNITS)
    assert decision.department_code == "PJQ"
    assert not decision.used_fallback
    assert decision.reasons[-1] == "所在街道/镇未设承办单位，由区（市）承办"


def test_street_level_with_only_a_district_known_goes_to_the_district() -> None:
    decision = route("territorial", "CGJ", "street", [PENGJIANG], UNITS)
    assert decision.department_code == "PJQ"


def test_district_level_ignores_a_street_unit() -> None:
    units = {**UNITS, "440703002": "PJQ-BS"}
    assert (
        route("territorial", "CGJ", "district", [PENGJIANG, BAISHA], units).department_code == "PJQ"
    )


def test_unknown_address_falls_back_to_the_category_unit() -> None:
    decision = route(
        "territorial", "STHJJ", "district", [], UNITS, category_code="0203", unit_names=NAMES
    )
    assert decision.department_code == "STHJJ"
    assert decision.used_fallback
    assert decision.reasons == ["分类 0203 属地管理，地址所属区（市）不明 → 兜底派至 市生态环境局"]


def test_street_without_its_district_in_the_chain_falls_back() -> None:
    decision = route("territorial", "STHJJ", "district", [BAISHA], UNITS)
    assert decision.department_code == "STHJJ"
    assert decision.used_fallback


def test_district_without_a_government_unit_falls_back_and_says_so() -> None:
    decision = route("territorial", "STHJJ", "district", [PENGJIANG, BAISHA], {}, unit_names=NAMES)
    assert decision.department_code == "STHJJ"
    assert decision.used_fallback
    assert decision.reasons == [
        "属地管理，蓬江区 未设承办单位 → 兜底派至 市生态环境局（地址位于 蓬江区 白沙街道）"
    ]


@pytest.mark.parametrize(
    ("mode", "level"), [("diagonal", "district"), ("territorial", "village"), ("", "district")]
)
def test_unknown_mode_or_level_is_a_programming_error(mode: str, level: str) -> None:
    with pytest.raises(ValueError):
        route(mode, "STHJJ", level, [PENGJIANG], UNITS)


def test_enum_values_are_accepted() -> None:
    from hotline.models.enums import RoutingMode

    decision = route(RoutingMode.TERRITORIAL, "STHJJ", "district", [PENGJIANG], UNITS)
    assert decision.department_code == "PJQ"
