"""The responsibility catalogue: validation, versioned import, export, and the CLI."""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask
from sqlalchemy import func, select

from hotline.errors import ImportFailed, NotFound
from hotline.extensions import db
from hotline.models import (
    CatalogueVersion,
    Category,
    Department,
    Event,
    Hotline,
    RoutingRule,
    Territory,
)
from routing.catalogue import (
    PACKAGED_CATALOGUE,
    catalogue_counts,
    current_version,
    export_catalogue,
    get_version,
    import_catalogue,
    parse_catalogue,
    route_for,
    rule_for,
    territorial_units,
    territory_chain,
    validate_catalogue,
)
from routing.cli import catalogue_cli

# CI copies `shared/` beside the repository.
SHARED_SAMPLE = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "catalogue.yaml"

# Counted from the Jiangmen file: 3 + 3 + 11 + 17 + 15 + 10 + 14 children.
JIANGMEN_COUNTS = {
    "territories": 7,
    "streets_and_towns": 73,
    "departments": 41,
    "categories": 17,
    "subcategories": 78,
    "hotlines": 29,
}


@functools.cache
def _packaged_document() -> dict[str, Any]:
    return parse_catalogue(PACKAGED_CATALOGUE.read_bytes(), PACKAGED_CATALOGUE.name)


def load_document() -> dict[str, Any]:
    """A fresh copy of the packaged catalogue, free to mutate."""
    return copy.deepcopy(_packaged_document())


def write(path: Path, document: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), "utf-8")
    return path


def row_count(model: type[Any]) -> int:
    return db.session.scalar(select(func.count()).select_from(model)) or 0


def snapshot() -> dict[str, Any]:
    """Every catalogue row as plain values, ids included."""
    return {
        "territories": sorted(
            (
                t.id,
                t.code,
                t.name,
                t.kind,
                t.parent.code if t.parent else None,
                t.active,
                tuple(sorted(a.alias for a in t.aliases)),
            )
            for t in db.session.scalars(select(Territory))
        ),
        "departments": sorted(
            (d.id, d.code, d.name, d.short_name, d.level, d.kind, d.territory_id, d.active)
            for d in db.session.scalars(select(Department))
        ),
        "categories": sorted(
            (c.id, c.code, c.name, c.parent_id, c.description, tuple(c.keywords), c.active)
            for c in db.session.scalars(select(Category))
        ),
        "hotlines": sorted(
            (h.id, h.number, h.name, h.status, h.department_id, h.default_category_id, h.active)
            for h in db.session.scalars(select(Hotline))
        ),
    }


def rules_of(version: CatalogueVersion) -> set[tuple[str, str, str, str, tuple[str, ...]]]:
    return {
        (r.category.code, r.mode, r.department.code, r.territory_level, tuple(r.assisting))
        for r in version.rules
    }


# --------------------------------------------------------------------------- validation


def test_packaged_catalogue_is_valid() -> None:
    document = load_document()
    assert validate_catalogue(document, "jiangmen_catalogue.yaml") == []
    assert catalogue_counts(document) == JIANGMEN_COUNTS


@pytest.mark.skipif(not SHARED_SAMPLE.exists(), reason="shared/ is not beside the repository")
def test_shared_sample_is_valid_and_the_packaged_copy_is_current() -> None:
    document = yaml.safe_load(SHARED_SAMPLE.read_text(encoding="utf-8"))
    assert validate_catalogue(document, "catalogue.yaml") == []
    assert PACKAGED_CATALOGUE.read_bytes() == SHARED_SAMPLE.read_bytes()


def set_department(doc: dict[str, Any]) -> None:
    doc["categories"][3]["children"][1]["department"] = "XYZ"


@pytest.mark.parametrize(
    ("mistake", "expected"),
    [
        (
            set_department,
            "categories[3].children[1].department: unknown department 'XYZ'",
        ),
        (
            lambda d: d["territories"][1]["children"].append(
                {"code": "440704001", "name": "新街道", "kind": "subdistrict"}
            ),
            "territories[1].children[3].code: duplicate territory code '440704001' "
            "(also at territories[1].children[0].code)",
        ),
        (
            lambda d: d["territories"][0].update(kind="province"),
            "territories[0].kind: 'province' is not one of district, county_city",
        ),
        (
            lambda d: d["territories"][0]["children"][0].update(kind="district"),
            "territories[0].children[0].kind: 'district' is not one of subdistrict, town",
        ),
        (
            lambda d: d["territories"][0]["children"][0].update(code="44070300"),
            "territories[0].children[0].code: '44070300' is not a 9-digit division code",
        ),
        (
            lambda d: d["territories"][0]["children"][0].update(code="440704002"),
            "territories[0].children[0].code: '440704002' does not start with "
            "its parent's code '440703'",
        ),
        (
            lambda d: d["territories"][0]["children"][0].update(code=440703002),
            "territories[0].children[0].code: must be a string (quote it), got 440703002",
        ),
        (
            lambda d: d["territories"][3]["children"][4]["aliases"].append("白沙街道"),
            "territories[3].children[4].aliases[0]: alias '白沙街道' is the name of "
            "another territory (440703002)",
        ),
        (
            lambda d: d["departments"][0].update(level="province"),
            "departments[0].level: 'province' is not one of city, district, street",
        ),
        (
            lambda d: d["departments"][0].update(kind="company"),
            "departments[0].kind: 'company' is not one of department, territorial, "
            "utility, mass_org",
        ),
        (
            lambda d: d["departments"][30].update(territory="440799"),
            "departments[30].territory: unknown territory '440799'",
        ),
        (
            lambda d: d["departments"][30].pop("territory"),
            "departments[30].territory: a territorial unit must name the territory it governs",
        ),
        (
            lambda d: d["departments"][30].update(territory="440703002"),
            "departments[30].territory: '440703002' is not a district or county-level city",
        ),
        (
            lambda d: d["departments"][31].update(territory="440703"),
            "departments[31].territory: territory '440703' already has a government unit "
            "(at departments[30])",
        ),
        (
            lambda d: d["categories"][0].update(code="1"),
            "categories[0].code: '1' is not a 2-digit category code",
        ),
        (
            lambda d: d["categories"][0]["children"][4].update(code="0299"),
            "categories[0].children[4].code: '0299' does not start with its parent's code '01'",
        ),
        (
            lambda d: d["categories"][0]["children"][0].update(routing="diagonal"),
            "categories[0].children[0].routing: 'diagonal' is not one of vertical, territorial",
        ),
        (
            lambda d: d["categories"][0]["children"][0].pop("routing"),
            "categories[0].children[0].routing: required field is missing",
        ),
        (
            lambda d: d["categories"][1]["children"][2].update(territory_level="village"),
            "categories[1].children[2].territory_level: 'village' is not one of district, street",
        ),
        (
            lambda d: d["categories"][0]["children"][0].update(territory_level="street"),
            "categories[0].children[0].territory_level: applies to territorial routing only",
        ),
        (
            lambda d: d["categories"][0]["children"][0].update(assisting=["CGJ", "NOPE"]),
            "categories[0].children[0].assisting[1]: unknown department 'NOPE'",
        ),
        (
            lambda d: d["categories"][0]["children"][0].update(keywords="食品"),
            "categories[0].children[0].keywords: must be a list of strings",
        ),
        (
            lambda d: d["categories"][0]["children"][0].update(rooting="vertical"),
            "categories[0].children[0].rooting: unknown field",
        ),
        (
            lambda d: d["hotlines"][0].update(status="closed"),
            "hotlines[0].status: 'closed' is not one of merged, kept, emergency",
        ),
        (
            lambda d: d["hotlines"][1].update(number="12315"),
            "hotlines[1].number: duplicate hotline number '12315' (also at hotlines[0].number)",
        ),
        (
            lambda d: d["hotlines"][0].pop("department"),
            "hotlines[0].department: required for a 'merged' hotline",
        ),
        (
            lambda d: d["hotlines"][0].update(default_category="01"),
            "hotlines[0].default_category: '01' is not a second-level category",
        ),
        (lambda d: d.pop("city"), "city: required field is missing"),
        (
            lambda d: d["city"].update(timezone="Mars/Olympus"),
            "city.timezone: unknown time zone 'Mars/Olympus'",
        ),
    ],
)
def test_each_mistake_is_reported(mistake: Any, expected: str) -> None:
    document = load_document()
    mistake(document)
    assert validate_catalogue(document, "catalogue.yaml") == [f"catalogue.yaml: {expected}"]


def test_emergency_hotline_needs_no_department() -> None:
    document = load_document()
    assert document["hotlines"][-1] == {
        "number": "12395",
        "name": "水上遇险求救电话",
        "status": "emergency",
    }
    assert validate_catalogue(document, "catalogue.yaml") == []


def test_street_units_may_govern_a_street_or_town() -> None:
    document = load_document()
    document["departments"].append(
        {
            "code": "PJQ-BS",
            "name": "蓬江区白沙街道办事处",
            "level": "street",
            "kind": "territorial",
            "territory": "440703002",
        }
    )
    document["categories"][5]["children"][0]["territory_level"] = "street"
    assert validate_catalogue(document, "catalogue.yaml") == []


def test_not_a_mapping() -> None:
    assert validate_catalogue([], "catalogue.yaml") == [  # type: ignore[arg-type]
        "catalogue.yaml: must be a mapping"
    ]


# --------------------------------------------------------------------------- import


def test_import_the_jiangmen_catalogue(app: Flask) -> None:
    version = import_catalogue(PACKAGED_CATALOGUE, imported_by="tester")

    assert version.number == 1
    assert version.is_current
    assert version.source == "jiangmen_catalogue.yaml"
    assert version.imported_by == "tester"
    assert len(version.checksum) == 64
    assert version.document == load_document()
    assert current_version() == version

    assert row_count(Territory) == 7 + 73
    assert db.session.scalar(select(func.count()).where(Territory.parent_id.is_(None))) == 7
    assert row_count(Department) == 41
    assert row_count(Category) == 17 + 78
    assert row_count(Hotline) == 29

    pengjiang = db.session.scalar(select(Territory).where(Territory.code == "440703"))
    assert pengjiang is not None
    assert pengjiang.kind == "district"
    assert [a.alias for a in pengjiang.aliases] == ["蓬江"]
    assert {c.code for c in pengjiang.children} >= {"440703002", "440703103"}
    pjq = db.session.scalar(select(Department).where(Department.code == "PJQ"))
    assert pjq is not None
    assert (pjq.short_name, pjq.kind, pjq.territory) == ("蓬江区", "territorial", pengjiang)
    line = db.session.scalar(select(Hotline).where(Hotline.number == "12315"))
    assert line is not None
    assert (line.status, line.department.code, line.default_category.code) == (  # type: ignore[union-attr]
        "merged",
        "SCJGJ",
        "0102",
    )


def test_every_second_level_category_has_a_rule(app: Flask) -> None:
    version = import_catalogue(PACKAGED_CATALOGUE)
    document = load_document()
    expected = {
        (child["code"], child["routing"], child["department"], "district", ())
        for first in document["categories"]
        for child in first["children"]
    }
    assert len(expected) == 78
    assert rules_of(version) == expected
    for code, mode, department, _level, _assisting in expected:
        rule = rule_for(code)
        assert rule is not None
        assert (rule.mode, rule.department.code) == (mode, department)
    assert rule_for("01") is None  # first-level categories carry no routing
    assert rule_for("9999") is None


def test_import_is_audited(app: Flask) -> None:
    import_catalogue(PACKAGED_CATALOGUE, imported_by="tester")
    event = db.session.scalar(select(Event).where(Event.action == "catalogue.imported"))
    assert event is not None
    assert event.actor_name == "system"
    assert event.data["version"] == 1
    assert event.data["imported_by"] == "tester"
    assert event.data["counts"] == JIANGMEN_COUNTS


def test_reimport_makes_a_new_version_and_keeps_ids(app: Flask) -> None:
    first = import_catalogue(PACKAGED_CATALOGUE)
    before = snapshot()
    first_rules = rules_of(first)

    second = import_catalogue(PACKAGED_CATALOGUE)

    assert second.number == 2
    assert second.is_current and not first.is_current
    assert current_version() == second
    assert second.checksum == first.checksum
    assert snapshot() == before
    assert rules_of(first) == rules_of(second) == first_rules
    assert row_count(RoutingRule) == 2 * 78
    old = rule_for("0203", first)
    new = rule_for("0203")
    assert old is not None and new is not None
    assert old.version == first and new.version == second
    assert old.category_id == new.category_id


def test_reimport_applies_edits_and_deactivates_what_is_gone(app: Flask, tmp_path: Path) -> None:
    import_catalogue(PACKAGED_CATALOGUE)
    ids = {t.code: t.id for t in db.session.scalars(select(Territory))}
    category_0203 = db.session.scalar(select(Category).where(Category.code == "0203"))
    assert category_0203 is not None

    document = load_document()
    gone = document["categories"][1]["children"].pop(3)  # 0204
    assert gone["code"] == "0204"
    document["categories"][1]["children"][2].update(
        territory_level="street", assisting=["CGJ"], department="ZJJ"
    )
    document["territories"][0]["aliases"] = ["蓬江", "江门市区"]
    document["territories"][0]["children"].pop()  # 杜阮镇
    document["hotlines"] = [h for h in document["hotlines"] if h["number"] != "12395"]
    version = import_catalogue(write(tmp_path / "edited.yaml", document))

    assert version.number == 2
    removed = db.session.scalar(select(Category).where(Category.code == "0204"))
    assert removed is not None and not removed.active
    assert rule_for("0204") is None
    assert rule_for("0204", get_version(1)) is not None  # old tickets keep their version
    rule = rule_for("0203")
    assert rule is not None
    assert (rule.department.code, rule.territory_level, rule.assisting) == (
        "ZJJ",
        "street",
        ["CGJ"],
    )
    assert rule.category_id == category_0203.id
    duruan = db.session.scalar(select(Territory).where(Territory.code == "440703103"))
    assert duruan is not None and not duruan.active
    assert {t.code: t.id for t in db.session.scalars(select(Territory))} == ids
    pengjiang = db.session.get(Territory, ids["440703"])
    assert pengjiang is not None
    assert sorted(a.alias for a in pengjiang.aliases) == ["江门市区", "蓬江"]
    line = db.session.scalar(select(Hotline).where(Hotline.number == "12395"))
    assert line is not None and not line.active

    # Putting it back reactivates the same rows.
    import_catalogue(PACKAGED_CATALOGUE)
    assert removed.active and duruan.active and line.active
    assert [a.alias for a in pengjiang.aliases] == ["蓬江"]


def test_a_broken_file_is_refused_with_every_problem_and_nothing_written(
    app: Flask, tmp_path: Path
) -> None:
    document = load_document()
    document["categories"][3]["children"][1]["department"] = "XYZ"
    document["departments"].append(
        {"code": "GAJ", "name": "重复的公安局", "level": "city", "kind": "department"}
    )
    document["categories"][1]["children"][0]["routing"] = "diagonal"
    document["territories"][0]["children"][1]["code"] = "440799005"
    path = write(tmp_path / "broken.yaml", document)

    with pytest.raises(ImportFailed) as failure:
        import_catalogue(path)

    assert failure.value.problems == [
        "broken.yaml: territories[0].children[1].code: '440799005' does not start with "
        "its parent's code '440703'",
        "broken.yaml: departments[41].code: duplicate department code 'GAJ' "
        "(also at departments[2].code)",
        "broken.yaml: categories[1].children[0].routing: 'diagonal' is not one of "
        "vertical, territorial",
        "broken.yaml: categories[3].children[1].department: unknown department 'XYZ'",
    ]
    assert failure.value.details["problems"] == failure.value.problems
    for model in (Territory, Department, Category, Hotline, CatalogueVersion, RoutingRule, Event):
        assert row_count(model) == 0, model


def test_a_broken_file_leaves_the_current_version_untouched(app: Flask, tmp_path: Path) -> None:
    import_catalogue(PACKAGED_CATALOGUE)
    before = snapshot()
    document = load_document()
    document["territories"] = []
    with pytest.raises(ImportFailed) as failure:
        import_catalogue(write(tmp_path / "empty.yaml", document))
    assert "empty.yaml: territories: must not be empty" in failure.value.problems
    assert snapshot() == before
    version = current_version()
    assert version is not None and version.number == 1
    assert row_count(CatalogueVersion) == 1


def test_yaml_syntax_error_is_reported_with_its_line(app: Flask, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("city:\n  name: 江门市\n   adcode: '440700'\n", encoding="utf-8")
    with pytest.raises(ImportFailed) as failure:
        import_catalogue(path)
    [problem] = failure.value.problems
    assert problem.startswith("bad.yaml: line 3, column ")
    assert "YAML syntax error" in problem
    assert row_count(CatalogueVersion) == 0


def test_a_key_given_twice_is_a_syntax_error(app: Flask, tmp_path: Path) -> None:
    path = tmp_path / "twice.yaml"
    path.write_text("city: {name: 江门市, name: 台山市}\n", encoding="utf-8")
    with pytest.raises(ImportFailed) as failure:
        import_catalogue(path)
    assert failure.value.problems == [
        "twice.yaml: line 1, column 19: YAML syntax error: found duplicate key 'name'"
    ]


def test_unreadable_and_non_utf8_files_are_refused(app: Flask, tmp_path: Path) -> None:
    with pytest.raises(ImportFailed) as failure:
        import_catalogue(tmp_path / "missing.yaml")
    assert failure.value.problems[0].startswith("missing.yaml: cannot read the file")
    path = tmp_path / "gbk.yaml"
    path.write_bytes("city: {name: 江门市}\n".encode("gbk"))
    with pytest.raises(ImportFailed) as failure:
        import_catalogue(path)
    assert failure.value.problems == ["gbk.yaml: not UTF-8 text (first bad byte at offset 13)"]


# --------------------------------------------------------------------------- queries


def test_route_for_applies_the_current_rules(app: Flask) -> None:
    import_catalogue(PACKAGED_CATALOGUE)
    decision = route_for("0203", "440703002")
    assert decision is not None
    assert decision.department_code == "PJQ"
    assert decision.reasons == ["分类 0203 属地管理 → 蓬江区（地址位于 蓬江区 白沙街道）"]
    fallback = route_for("0203")
    assert fallback is not None
    assert (fallback.department_code, fallback.used_fallback) == ("STHJJ", True)
    vertical = route_for("0101", "440781103")
    assert vertical is not None
    assert vertical.reasons == ["分类 0101 垂直管理 → 市场监管局"]
    assert route_for("9999", "440703002") is None


def test_territory_helpers(app: Flask) -> None:
    import_catalogue(PACKAGED_CATALOGUE)
    assert [(t.code, t.level) for t in territory_chain("440781103")] == [
        ("440781", 1),
        ("440781103", 2),
    ]
    assert [t.name for t in territory_chain("440703")] == ["蓬江区"]
    assert territory_chain("999999") == []
    assert territorial_units() == {
        "440703": "PJQ",
        "440704": "JHQ",
        "440705": "XHQ",
        "440781": "TSS",
        "440783": "KPS",
        "440784": "HSS",
        "440785": "EPS",
    }
    assert territorial_units(["440781", "440781103"]) == {"440781": "TSS"}


def test_nothing_imported_yet(app: Flask) -> None:
    assert current_version() is None
    assert rule_for("0101") is None
    assert route_for("0101") is None
    with pytest.raises(NotFound):
        get_version(1)


# --------------------------------------------------------------------------- export


def test_export_then_import_gives_the_same_catalogue(app: Flask, tmp_path: Path) -> None:
    first = import_catalogue(PACKAGED_CATALOGUE)
    before = snapshot()
    exported = tmp_path / "exported.yaml"

    assert export_catalogue(exported) == first
    text = exported.read_text(encoding="utf-8")
    assert "蓬江区" in text  # readable Chinese, not \u escapes
    assert text.startswith("# 12345 responsibility catalogue (权责清单), version 1")

    second = import_catalogue(exported)
    assert second.number == 2
    assert second.document == first.document
    assert rules_of(second) == rules_of(first)
    assert snapshot() == before


def test_export_an_older_version(app: Flask, tmp_path: Path) -> None:
    import_catalogue(PACKAGED_CATALOGUE)
    document = load_document()
    document["hotlines"].pop()
    import_catalogue(write(tmp_path / "v2.yaml", document))

    export_catalogue(tmp_path / "v1.yaml", version_number=1)
    assert yaml.safe_load((tmp_path / "v1.yaml").read_text("utf-8")) == load_document()
    with pytest.raises(NotFound):
        export_catalogue(tmp_path / "v9.yaml", version_number=9)


def test_export_without_a_catalogue(app: Flask, tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        export_catalogue(tmp_path / "none.yaml")
    assert not (tmp_path / "none.yaml").exists()


# --------------------------------------------------------------------------- CLI


def test_cli_import_and_export(app: Flask, tmp_path: Path) -> None:
    runner = app.test_cli_runner()

    result = runner.invoke(catalogue_cli, ["import", str(PACKAGED_CATALOGUE)])
    assert result.exit_code == 0, result.output
    assert "catalogue version 1 imported from jiangmen_catalogue.yaml" in result.output
    assert "7 territories, 73 streets_and_towns, 41 departments" in result.output

    result = runner.invoke(catalogue_cli, ["import", str(PACKAGED_CATALOGUE)])
    assert result.exit_code == 0, result.output
    assert "catalogue version 2 imported" in result.output

    exported = tmp_path / "out.yaml"
    result = runner.invoke(catalogue_cli, ["export", str(exported), "--version", "1"])
    assert result.exit_code == 0, result.output
    assert "catalogue version 1 written to" in result.output
    assert yaml.safe_load(exported.read_text("utf-8")) == load_document()


def test_cli_refuses_a_broken_file_listing_every_problem(app: Flask, tmp_path: Path) -> None:
    document = load_document()
    document["categories"][0]["children"][0]["department"] = "XYZ"
    document["hotlines"][0]["status"] = "closed"
    path = write(tmp_path / "broken.yaml", document)

    result = app.test_cli_runner().invoke(catalogue_cli, ["import", str(path)])

    assert result.exit_code == 1
    assert "2 problem(s); nothing was imported" in result.output
    assert "broken.yaml: categories[0].children[0].department: unknown department 'XYZ'" in (
        result.output
    )
    assert "broken.yaml: hotlines[0].status: 'closed' is not one of merged, kept, emergency" in (
        result.output
    )
    assert row_count(CatalogueVersion) == 0


def test_cli_export_of_a_missing_version_fails(app: Flask, tmp_path: Path) -> None:
    result = app.test_cli_runner().invoke(
        catalogue_cli, ["export", str(tmp_path / "x.yaml"), "--version", "3"]
    )
    assert result.exit_code == 1
    assert "No catalogue version 3" in result.output
