"""The classifier on misleading words (cases from the development set), and the learned
model's training and storage. Pure: no app, no database."""

from __future__ import annotations

import functools
import io
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import yaml

from routing.blend import Classifier
from routing.catalogue import PACKAGED_CATALOGUE, parse_catalogue, places_file
from routing.classify import CatalogueModel, CategoryInfo, Combo, Lexicon
from routing.model import FORMAT, ModelError, Sample, dump, fit, load, read_labelled
from routing.suggest import Engine, data_from_document
from routing.text import normalise

DEV_SET = Path(__file__).resolve().parent / "data" / "dev_set.yaml"
HOLDOUT_SET = Path(__file__).resolve().parent / "data" / "holdout_set.yaml"
HOLDOUT2_SET = Path(__file__).resolve().parent / "data" / "holdout2_set.yaml"


@functools.cache
def engine() -> Engine:
    document = parse_catalogue(PACKAGED_CATALOGUE.read_bytes(), PACKAGED_CATALOGUE.name)
    places = yaml.safe_load(places_file(PACKAGED_CATALOGUE).read_text(encoding="utf-8"))
    return Engine(data_from_document(document, places))


def top(text: str) -> str:
    normalised, tokens = engine().tokens(text)
    ranked, _ = engine().classifier.classify(normalised, tokens)
    return ranked[0].code


@pytest.mark.parametrize(
    ("text", "category"),
    [
        # product vs service: the appliance, not the gas or power supply
        ("刚买的煤气灶点火的时候爆了一下，玻璃面板全部裂晒，厂家唔认", "0107"),
        ("新买的电热水器用了一个星期就漏电，电到我老婆", "0107"),
        ("屋企闻到好大煤气味，系咪漏气，边个嚟检查", "0903"),
        # a pharmacy and a medical-insurance card: fund fraud, not a pharmacy complaint
        ("药房话可以用医保卡换油换米，举报佢", "0403"),
        ("有间店冇处方都卖抗生素俾人", "0104"),
        # adding a lift to an old building vs a lift that fails
        ("我们旧楼想加装电梯，一楼业主坚决反对，怎么协调", "0505"),
        ("我们小区5栋的电梯今天早上突然下坠了一层，有人被困二十分钟", "0105"),
        # construction noise vs home renovation vs site safety
        ("隔离工地夜晚十二点仲打桩，吵到冇得瞓", "0203"),
        ("隔壁装修天天电钻，周末都唔停", "0704"),
        ("楼下工地扬尘好大，车辆进出不冲洗", "0503"),
        # parking fees inside an estate are the property manager's
        ("物业乱收小区停车费，一个月收到四百", "0501"),
        ("收到一张违停罚单，但我当时只是临时停车上落客，想申诉", "0803"),
        # a teacher's paid tutoring is a school matter
        ("老师周末叫学生去佢屋企补课，一个钟收一百蚊", "1003"),
        ("补习班收了一年的学费就关门跑路了", "1002"),
        # a place named only as where (学校门口) does not decide what
        ("学校门口放学时段车辆乱停，堵得水泄不通", "0805"),
        # restaurant smoke vs factory fumes
        ("饭馆的排烟管直接对住住宅楼，厨房烟味好大", "0605"),
        ("附近的家具厂每天喷漆，味道很刺鼻，晚上开窗都受不了", "0201"),
    ],
)
def test_misleading_words(text: str, category: str) -> None:
    assert top(text) == category


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("今日去银行激活新社宝卡，话个卡未制好", "0301"),  # 宝 for 保
        ("想问下公基金点样提取出嚟还房贷", "1502"),  # 基 for 积
        ("房产正写错了名字，有一个字打错了，去哪里改", "1201"),  # 正 for 证
        ("請問辦理港澳通行證需要帶甚麼證件", "0703"),  # traditional characters
        ("屋企個電錶好似行得好快，冇用幾多電都要成三百蚊", "0902"),
    ],
)
def test_typos_and_traditional_characters(text: str, category: str) -> None:
    assert top(text) == category


def test_cantonese_words_without_a_mandarin_reading_are_folded() -> None:
    assert normalise("部𨋢坏咗，仲掟啤酒樽落嚟") == "部电梯坏了,仲扔啤酒樽落来"


def test_a_verb_object_term_split_by_an_aspect_word_still_counts() -> None:
    normalised, tokens = engine().tokens("我哋成条村停咗两日水，冇通知")
    ranked, found = engine().classifier.classify(normalised, tokens)
    assert found
    assert ranked[0].code == "0901"
    assert any("停水" in e and "拆开" in e for e in ranked[0].evidence)


def test_resemblance_orders_the_categories_nothing_points_to() -> None:
    categories = [
        CategoryInfo("0001", "供水", keywords=("停水", "水压低")),
        CategoryInfo("0002", "路灯维修", keywords=("路灯不亮", "路灯坏了")),
        CategoryInfo("0003", "乙类"),
    ]
    model = CatalogueModel(categories)
    like = model.resemblance(normalise("街口支灯黑咗成晚"))
    assert like[1] > 0
    assert like[0] == like[2] == 0
    ranked, found = Classifier(model).classify(normalise("街口支灯黑咗成晚"), [])
    assert not found
    assert ranked[0].code == "0002"
    assert ranked[0].resemblance == pytest.approx(like[1])
    assert model.resemblance(normalise("喂？你好")).max() == 0  # stop words only


def test_a_contrast_word_takes_the_weight_off_the_term() -> None:
    model = engine().catalogue_model
    plain = model.scores(normalise("燃气泄漏"), None)["0903"][0]
    denied = model.scores(normalise("不是燃气泄漏"), None)["0903"][0]
    assert denied < plain / 3


def test_evidence_names_the_words_that_decided() -> None:
    normalised, tokens = engine().tokens("药店可以刷医保卡买洗发水纸巾")
    ranked, found = engine().classifier.classify(normalised, tokens)
    assert found
    assert ranked[0].code == "0403"
    assert any("组合" in e and "药店" in e for e in ranked[0].evidence)


def test_no_evidence_at_all() -> None:
    normalised, tokens = engine().tokens("你好，喂？")
    _, found = engine().classifier.classify(normalised, tokens)
    assert not found


def test_lexicon_entries_need_the_catalogue_name_to_match() -> None:
    categories = [CategoryInfo("0001", "甲类", keywords=("苹果",)), CategoryInfo("0002", "乙类")]
    lexicon = Lexicon(
        terms={"0002": ("别的名字", ("香蕉",))},
        combos=(Combo("0002", (("香蕉",),)),),
    )
    model = CatalogueModel(categories, lexicon)
    assert "香蕉" not in model.terms
    assert model.combos == ()
    assert Classifier(model).classify("苹果", [])[0][0].code == "0001"


@pytest.mark.parametrize(
    ("path", "least", "per_category"),
    [(DEV_SET, 150, 1), (HOLDOUT_SET, 240, 2), (HOLDOUT2_SET, 150, 1)],
)
def test_the_labelled_sets_are_well_formed(path: Path, least: int, per_category: int) -> None:
    """Every code exists, every category is there, and each unit follows the catalogue rule:
    vertical -> the category's department; territorial -> the government owning the
    territory's district, or the category's department when there is no territory."""
    items = read_labelled(path.read_bytes(), path.name)
    assert len(items) >= least
    document = parse_catalogue(PACKAGED_CATALOGUE.read_bytes(), PACKAGED_CATALOGUE.name)
    rules = {c["code"]: c for g in document["categories"] for c in g["children"]}
    counts = Counter(i.category for i in items)
    assert set(counts) == set(rules)  # every category
    assert min(counts.values()) >= per_category
    territories = {t["code"] for t in document["territories"]} | {
        c["code"] for t in document["territories"] for c in t.get("children", [])
    }
    governments = {d["territory"]: d["code"] for d in document["departments"] if d.get("territory")}
    for item in items:
        assert item.territory is None or item.territory in territories, item.text
        rule = rules[item.category]
        if rule["routing"] == "territorial" and item.territory is not None:
            expected = governments[item.territory[:6]]
        else:
            expected = rule["department"]
        assert item.unit == expected, item.text


# --------------------------------------------------------------------------- learned model


def samples() -> list[Sample]:
    texts = {
        "0902": ["呱呱机又坏咗", "呱呱机成日响", "呱呱机唔郁", "屋企个呱呱机冇反应", "呱呱机好热"],
        "0901": ["咕咕器漏咗", "咕咕器出黄色", "咕咕器塞咗", "咕咕器冇嘢出", "楼下咕咕器爆咗"],
        "1502": ["嘀嘀卡提取唔到", "嘀嘀卡冻结咗", "嘀嘀卡余额唔啱"],
    }
    return [Sample(t, code) for code, items in texts.items() for t in items]


def test_training_learns_words_the_catalogue_does_not_know() -> None:
    day_one = engine()
    result = fit(samples(), day_one.featurise, day_one.catalogue_probabilities)
    assert set(result.model.classes) == {"0901", "0902", "1502"}
    assert 0 < result.model.blend < 1
    assert result.metrics["samples"] == 13
    with_history = Engine(day_one.data, result.model, segmenter=day_one.segmenter)
    assert day_one.suggest("个呱呱机又坏咗")[0].department is None  # coordination queue
    first = with_history.suggest("个呱呱机又坏咗")[0]
    assert (first.category, first.department) == ("0902", "GDJ")
    assert any("历史工单模型" in r for r in first.reasons)


def test_too_little_history_is_refused() -> None:
    with pytest.raises(ModelError):
        fit(samples()[:5], engine().featurise)
    with pytest.raises(ModelError):
        fit([Sample("呱呱机", "0902")] * 20, engine().featurise)


def test_a_stored_model_predicts_the_same() -> None:
    model = fit(samples(), engine().featurise).model
    restored = load(dump(model), version=7)
    assert restored.version == 7
    assert restored.classes == model.classes
    features = engine().featurise("咕咕器又漏咗")
    before = model.probabilities(features)
    after = restored.probabilities(features)
    assert before.keys() == after.keys()
    for code in before:
        assert after[code] == pytest.approx(before[code], abs=1e-5)


def _npz(**arrays: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def test_a_bad_artifact_is_refused_not_executed() -> None:
    good = load(dump(fit(samples(), engine().featurise).model))
    header = {"format": FORMAT, "classes": good.classes, "vocabulary": ["a", "b"], "blend": 0.5}
    raw_header = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    with pytest.raises(ModelError):
        load(b"not a model at all")
    with pytest.raises(ModelError):  # an object array would need pickle
        load(_npz(header=np.array([{"x": 1}], dtype=object)))
    with pytest.raises(ModelError):  # shapes that do not fit the vocabulary
        load(
            _npz(
                header=raw_header,
                idf=np.ones(3),
                coef=np.ones((3, 3)),
                intercept=np.ones(3),
            )
        )
    with pytest.raises(ModelError):  # non-finite weights
        load(
            _npz(
                header=raw_header,
                idf=np.ones(2),
                coef=np.full((3, 2), np.nan),
                intercept=np.ones(3),
            )
        )
