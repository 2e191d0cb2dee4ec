"""Territory resolution, pure: names, aliases, homonyms, places, phone, coordinates."""

from __future__ import annotations

import functools

import pytest
import yaml

from routing.catalogue import PACKAGED_CATALOGUE, parse_catalogue, places_file
from routing.territory import Area, Gazetteer, Place, build_gazetteer, nearest, resolve
from routing.text import default_segmenter


@functools.cache
def jiangmen() -> Gazetteer:
    """The demo city's gazetteer, built the way the engine builds it (no app, no DB)."""
    from routing.suggest import Engine, data_from_document

    document = parse_catalogue(PACKAGED_CATALOGUE.read_bytes(), PACKAGED_CATALOGUE.name)
    places = yaml.safe_load(places_file(PACKAGED_CATALOGUE).read_text(encoding="utf-8"))
    return Engine(data_from_document(document, places)).gazetteer


def where(text: str = "", **kwargs: object):  # type: ignore[no-untyped-def]
    return resolve(jiangmen(), text, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("蓬江区白沙街道有人占道经营", "440703002"),
        ("台山市白沙镇停水", "440781103"),
        ("台山白沙嗰边停水", "440781103"),  # the district settles the homonym
        ("蓬江白沙有间酒楼", "440703002"),
        ("开平长沙嗰边有人加建", "440783002"),
        ("恩平东成镇停电", "440785109"),
        ("恩平东成停电", "440785109"),
        ("五邑大学附近东成村", "440703"),  # the village, listed as a place of 蓬江区
        ("台城有个烧烤档", "440781001"),  # a listed alias
        ("江门高新区有间厂", "440704"),
        ("鹤山市", "440784"),
        ("自力村附近嘅村道好多坑", "440783108"),  # a listed place (塘口镇)
        ("小鸟天堂门口乱收费", "440705001"),
    ],
)
def test_names_aliases_and_places(text: str, code: str) -> None:
    result = where(text)
    assert result.code == code
    assert result.source == "text"
    assert result.level == (2 if len(code) == 9 else 1)
    assert result.ambiguous == ()
    assert result.matched


@pytest.mark.parametrize(
    ("text", "candidates"),
    [
        ("白沙那边停水三天", {"440703002", "440781103", None}),  # and 海南白沙
        ("东成有条路路灯唔着", {"440785109", "440703"}),
        ("长沙那边有人乱摆卖", {"440783002", None}),  # 开平长沙街道 or 湖南长沙
    ],
)
def test_a_homonym_alone_is_reported_not_guessed(text: str, candidates: set[str | None]) -> None:
    result = where(text)
    assert result.code is None
    assert {c.code for c in result.ambiguous} == candidates
    assert "同名" in result.notes[0]


def test_a_place_outside_the_city() -> None:
    result = where("我妈喺湖南长沙住，想问养老金认证")
    assert (result.code, result.in_city) == (None, False)
    assert result.ambiguous == ()
    assert "市外" in result.notes[0]


def test_the_city_itself_and_its_province_are_not_outside() -> None:
    result = where("广东省江门市台山市台城街道")
    assert result.code == "440781001"
    assert where("江门市有人乱摆卖").in_city is not False


def test_no_location() -> None:
    result = where("想问下社保卡点样补办")
    assert (result.code, result.level, result.source, result.ambiguous) == (None, 0, None, ())


def test_the_address_field_outranks_the_text() -> None:
    result = where("我系台山人，而家喺度上班", address="新会区会城街道")
    assert result.code == "440705001"
    assert result.source == "address"
    assert any("另提及" in note for note in result.notes)


def test_the_text_refines_the_address_within_its_district() -> None:
    result = where("赤坎古镇入面有间铺乱收费", address="开平市")
    assert result.code == "440783109"
    assert result.source == "address"


def test_the_district_in_the_address_settles_a_homonym_in_the_text() -> None:
    assert where("白沙那边停水", address="台山市").code == "440781103"
    assert where("白沙那边停水", address="蓬江区").code == "440703002"


def test_a_short_alias_inside_an_ordinary_word_is_not_a_place() -> None:
    assert where("楼下排水口堵塞").code is None  # 水口 is 开平水口镇
    assert where("三合一场所住人").code is None  # 三合 is 台山三合镇
    assert where("水口镇有间厂").code == "440783117"


def test_a_jiangmen_landline_says_only_in_the_city() -> None:
    result = where("想问社保卡点样补办", area_code="0750")
    assert (result.code, result.level, result.source, result.in_city) == (None, 0, "phone", True)
    assert "区（市）不明" in result.notes[0]


def test_another_area_code_is_noted_but_locates_nothing() -> None:
    result = where("想问社保卡点样补办", area_code="020")
    assert (result.code, result.source, result.in_city) == (None, None, None)
    assert "市外固话" in result.notes[0]


def test_a_named_place_beats_the_area_code() -> None:
    result = where("台城有人乱摆卖", area_code="0750")
    assert (result.code, result.source) == ("440781001", "text")


def test_coordinates_find_the_nearest_centre() -> None:
    result = where("路灯唔着", lat=22.253, lng=112.792)  # 台城
    assert (result.code, result.source) == ("440781001", "geo")
    assert "公里" in result.notes[0]
    assert where("路灯唔着", lat=39.9, lng=116.4).code is None  # Beijing: not in the city


def test_coordinates_refine_a_named_district() -> None:
    result = where("开平有条路路灯唔着", lat=22.321, lng=112.581)  # 赤坎镇
    assert result.code == "440783109"
    assert result.source == "text"


def test_coordinates_do_not_override_a_named_place() -> None:
    assert where("台城有人乱摆卖", lat=22.58, lng=113.08).code == "440781001"


def test_traditional_and_full_width_text() -> None:
    assert where("臺山市臺城街道").code == "440781001"
    assert where("開平市赤坎鎮").code == "440783109"


def test_a_small_gazetteer_without_segmenter() -> None:
    areas = [
        Area("1", "东城区", 1, aliases=("东城",), lat=1.0, lng=1.0),
        Area("11", "甲乙街道", 2, "1", lat=1.01, lng=1.01),
        Area("2", "西城区", 1, aliases=("西城",)),
        Area("21", "甲乙镇", 2, "2", lat=1.2, lng=1.2),
    ]
    gazetteer = build_gazetteer(areas, [Place("大石桥", "21")], city_name="某市")
    assert resolve(gazetteer, "西城甲乙那边").code == "21"
    assert {c.code for c in resolve(gazetteer, "甲乙那边").ambiguous} == {"11", "21"}
    assert resolve(gazetteer, "大石桥底").code == "21"
    assert resolve(gazetteer, "甲乙街道").code == "11"
    code, km = nearest(gazetteer, 1.011, 1.011)  # type: ignore[misc]
    assert code == "11"
    assert km == pytest.approx(0.16, abs=0.1)


def test_the_segmenter_knows_common_words() -> None:
    segmenter = default_segmenter()
    assert segmenter.is_word("排水口")
    assert not segmenter.is_word("呱呱机")
