"""Suggestions: the catalogue rule applied to classified, located requests (pure engine),
and the service with its cache and the training command (database)."""

from __future__ import annotations

import copy
import functools
from datetime import UTC, datetime
from typing import Any

import pytest
import yaml
from flask import Flask
from sqlalchemy import select

from hotline.extensions import db
from hotline.models import (
    Category,
    Department,
    RoutingDecision,
    RoutingModel,
    Territory,
    TerritoryPlace,
    Ticket,
)
from routing.catalogue import PACKAGED_CATALOGUE, import_catalogue, parse_catalogue, places_file
from routing.cli import routing_cli
from routing.suggest import COORDINATION_QUEUE, Engine, data_from_document, suggest, versions


@functools.cache
def _document() -> dict[str, Any]:
    return parse_catalogue(PACKAGED_CATALOGUE.read_bytes(), PACKAGED_CATALOGUE.name)


@functools.cache
def _places() -> dict[str, Any]:
    return yaml.safe_load(places_file(PACKAGED_CATALOGUE).read_text(encoding="utf-8"))


@functools.cache
def engine() -> Engine:
    return Engine(data_from_document(_document(), _places()))


# --------------------------------------------------------------------------- rules (pure)


def test_vertical_category_goes_to_its_unit_wherever_it_is() -> None:
    first = engine().suggest("今日一早起身冇水，成栋楼都冇水", address="台山市台城街道")[0]
    assert (first.category, first.department, first.territory) == ("0901", "GSQY", "440781001")
    assert first.department_name == "供水企业"
    assert first.territory_name == "台山市 台城街道"
    assert any("垂直管理" in r for r in first.reasons)
    assert any("地址栏" in r for r in first.reasons)


def test_territorial_category_goes_to_the_district_government() -> None:
    first = engine().suggest("楼下烧烤店每晚排油烟", address="蓬江区白沙街道")[0]
    assert (first.category, first.department, first.territory) == ("0605", "PJQ", "440703002")
    assert any("属地管理" in r and "蓬江区" in r for r in first.reasons)


def test_territorial_without_territory_falls_back_to_the_category_unit() -> None:
    first = engine().suggest("楼下烧烤店每晚排油烟")[0]
    assert (first.category, first.department, first.territory) == ("0605", "CGJ", None)
    assert any("兜底" in r for r in first.reasons)


def test_a_homonym_offers_both_governments() -> None:
    units = [s.department for s in engine().suggest("白沙那边烧烤店每晚排油烟")]
    assert {"PJQ", "TSS"} <= set(units)
    reasons = engine().suggest("白沙那边烧烤店每晚排油烟")[0].reasons
    assert any("同名" in r for r in reasons)


def test_street_level_rule_picks_the_street_unit() -> None:
    document = copy.deepcopy(_document())
    document["departments"].append(
        {
            "code": "BSJD",
            "name": "白沙街道办事处",
            "level": "street",
            "kind": "territorial",
            "territory": "440703002",
        }
    )
    for first in document["categories"]:
        for child in first["children"]:
            if child["code"] == "0605":
                child["territory_level"] = "street"
    street = Engine(data_from_document(document, _places()), segmenter=engine().segmenter)
    assert street.suggest("烧烤店排油烟", address="蓬江区白沙街道")[0].department == "BSJD"
    assert street.suggest("烧烤店排油烟", address="蓬江区环市街道")[0].department == "PJQ"


def test_a_category_without_rule_goes_to_the_coordination_queue() -> None:
    data = data_from_document(_document(), _places())
    del data.rules["0605"]
    no_rule = Engine(data, segmenter=engine().segmenter)
    first = no_rule.suggest("楼下烧烤店每晚排油烟", address="蓬江区")[0]
    assert (first.category, first.department) == ("0605", None)
    assert first.department_name == COORDINATION_QUEUE
    assert any("无派单规则" in r for r in first.reasons)


def test_nothing_recognised_goes_to_the_coordination_queue() -> None:
    suggestions = engine().suggest("喂？你好")
    assert len(suggestions) == 1
    assert (suggestions[0].category, suggestions[0].department) == (None, None)
    assert COORDINATION_QUEUE in suggestions[0].reasons[0]


def test_without_evidence_the_queue_comes_first_then_look_alikes() -> None:
    suggestions = engine().suggest("个呱呱机又坏咗")
    assert suggestions[0].department is None
    assert len(suggestions) == 3
    assert all(s.category and s.department for s in suggestions[1:])
    assert all("相近" in s.reasons[0] for s in suggestions[1:])


def test_fillers_are_the_categories_the_text_resembles() -> None:
    # One weak word points somewhere; the other places go to look-alikes, not to a prior.
    suggestions = engine().suggest("我哋条街啲街灯黑咗成个礼拜，夜晚行路好惊")
    assert suggestions[0].category == "0607"
    assert all(s.category != "0101" for s in suggestions)
    scores = [s.score for s in suggestions]
    assert scores == sorted(scores, reverse=True)


def test_at_most_three_distinct_units_best_first() -> None:
    suggestions = engine().suggest("小区物业乱收停车费，电梯又成日坏，仲有人乱摆卖")
    assert 1 <= len(suggestions) <= 3
    units = [s.department for s in suggestions]
    assert len(set(units)) == len(units)
    scores = [s.score for s in suggestions]
    assert scores == sorted(scores, reverse=True)
    assert all(0 <= s <= 1 for s in scores)


def test_suggestion_dict_shape() -> None:
    item = engine().suggest("社保卡唔见咗点补办")[0].as_dict()
    assert set(item) == {
        "category",
        "department",
        "territory",
        "score",
        "reasons",
        "category_name",
        "department_name",
        "territory_name",
    }
    assert item["category"] == "0301"
    assert isinstance(item["reasons"], list)


# --------------------------------------------------------------------------- the service (DB)


def test_before_any_catalogue_only_the_queue(app: Flask) -> None:
    (only,) = suggest("楼下烧烤店每晚排油烟")
    assert only.department is None
    assert versions() == (None, None)


def test_the_import_loads_places_and_centres(catalogue: Any) -> None:
    chicken = db.session.scalar(select(TerritoryPlace).where(TerritoryPlace.name == "自力村"))
    assert chicken is not None
    assert chicken.kind == "village"
    town = db.session.get(Territory, chicken.territory_id)
    assert town is not None and town.code == "440783108"
    assert town.lat == pytest.approx(22.37)
    first = suggest("自力村附近有间铺占道经营")[0]
    assert (first.department, first.territory) == ("KPS", "440783108")


def test_the_service_follows_a_new_catalogue_version(catalogue: Any, tmp_path: Any) -> None:
    assert suggest("楼下烧烤店每晚排油烟", "蓬江区")[0].department == "PJQ"
    assert versions() == (1, None)
    document = copy.deepcopy(_document())
    for first in document["categories"]:
        for child in first["children"]:
            if child["code"] == "0605":
                child["routing"] = "vertical"
    path = tmp_path / "v2.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    import_catalogue(path)
    assert suggest("楼下烧烤店每晚排油烟", "蓬江区")[0].department == "CGJ"
    assert versions() == (2, None)


def _closed(text: str, category: str, unit: str, number: int) -> Ticket:
    ticket = Ticket(
        reference=f"T{number:019d}",
        status="closed",
        channel="phone",
        type="complaint",
        urgency="general",
        title=text[:20],
        content=text,
        received_at=datetime.now(UTC),
        closed_at=datetime.now(UTC),
        category_id=db.session.scalar(select(Category.id).where(Category.code == category)),
        department_id=db.session.scalar(select(Department.id).where(Department.code == unit)),
    )
    db.session.add(ticket)
    return ticket


def test_training_learns_from_closed_tickets_and_overrides(app: Flask, catalogue: Any) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(routing_cli, ["train"])
    assert result.exit_code != 0  # no history yet
    assert "无法训练" in result.output

    n = 0
    for word, category, unit in (("呱呱机", "0902", "GDJ"), ("咕咕器", "0901", "GSQY")):
        for tail in ("又坏咗", "成日响", "冇反应", "好热", "出问题", "唔郁", "又整唔好"):
            n += 1
            _closed(f"屋企个{word}{tail}", category, unit, n)
    # A unit the rule does not allow: the label is not trusted.
    n += 1
    _closed("屋企个呱呱机又坏咗", "0902", "JYJ", n)
    # A dispatcher's override is a strong label.
    for tail in ("提取唔到", "冻结咗", "余额唔啱"):
        n += 1
        ticket = _closed(f"嘀嘀卡{tail}", "0101", "SCJGJ", n)
        db.session.flush()
        db.session.add(
            RoutingDecision(
                ticket_id=ticket.id,
                chosen_category_id=db.session.scalar(
                    select(Category.id).where(Category.code == "1502")
                ),
                overridden=True,
            )
        )
    db.session.commit()
    assert suggest("个呱呱机又坏咗")[0].department is None  # day one: no idea

    result = runner.invoke(routing_cli, ["train"])
    assert result.exit_code == 0, result.output
    assert "routing model version 1 trained on 17 tickets (3 overrides" in result.output
    assert "skipped 1: unit_disagrees_with_rule" in result.output
    row = db.session.scalar(select(RoutingModel).where(RoutingModel.is_current.is_(True)))
    assert row is not None and row.version == 1
    assert row.metrics["samples"] == 17
    assert "holdout_accuracy" in row.metrics

    first = suggest("个呱呱机又坏咗")[0]
    assert (first.category, first.department) == ("0902", "GDJ")
    assert suggest("嘀嘀卡提取唔到")[0].category == "1502"
    assert versions() == (1, 1)

    result = runner.invoke(routing_cli, ["train"])
    assert result.exit_code == 0
    assert "routing model version 2" in result.output
    current = db.session.scalars(select(RoutingModel.version).where(RoutingModel.is_current))
    assert list(current) == [2]


def test_evaluate_prints_the_metrics(app: Flask, catalogue: Any, tmp_path: Any) -> None:
    path = tmp_path / "labelled.yaml"
    items = [
        {"text": "楼下烧烤店每晚排油烟", "address": "蓬江区", "category": "0605",
         "territory": "440703", "unit": "PJQ"},
        {"text": "社保卡唔见咗点补办", "category": "0301", "territory": None, "unit": "RSJ"},
    ]  # fmt: skip
    path.write_text(yaml.safe_dump(items, allow_unicode=True), encoding="utf-8")
    result = app.test_cli_runner().invoke(routing_cli, ["evaluate", str(path), "--misses"])
    assert result.exit_code == 0, result.output
    assert "2 items" in result.output
    assert "unit_top1      1.000" in result.output
    assert "territory      1.000" in result.output
    assert "p95" in result.output

    path.write_text("- {text: 1}\n", encoding="utf-8")
    result = app.test_cli_runner().invoke(routing_cli, ["evaluate", str(path)])
    assert result.exit_code != 0
