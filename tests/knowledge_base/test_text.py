"""Search terms without an app: segmentation, bigrams, sounds, synonyms, stop words."""

from __future__ import annotations

import pytest

from knowledge_base.index import tsvector_literal
from knowledge_base.text import STORY_PARTS, Analyzer, StoryCut, sound_key, story_cut, story_terms


@pytest.fixture(scope="module")
def analyzer() -> Analyzer:
    tool = Analyzer()
    tool.set_synonyms([["社会保障卡", "社保卡", "医保卡"], ["住房公积金", "公积金"]])
    return tool


def test_a_question_keeps_its_content_and_drops_the_fillers(analyzer):
    query = analyzer.query("请问一下，社保卡丢了怎么补办啊？")
    assert "社保卡" in query.words and "补办" in query.words
    assert not {"请问", "一下", "怎么", "啊"} & set(query.words)
    assert {"社保", "保卡", "补办"} <= set(query.grams)


def test_cantonese_and_traditional_characters_are_folded(analyzer):
    query = analyzer.query("點樣補辦社保咭")
    assert "社保卡" in query.words
    assert "补办" in query.words


def test_synonyms_expand_to_every_member_of_the_group(analyzer):
    query = analyzer.query("医保卡怎么激活")
    assert {"社会保障卡", "社保卡"} <= set(query.expansions)
    assert query.concepts == (("社会保障卡", "社保卡", "医保卡"),)
    assert analyzer.query("公积金提取").expansions == ("住房公积金",)


def test_homophone_typos_share_their_sounds(analyzer):
    right = set(analyzer.query("身份证").sounds)
    typo = set(analyzer.query("身份正").sounds)
    assert right & typo == right
    assert set(analyzer.query("公基金").sounds) == set(analyzer.query("公积金").sounds)


def test_a_word_split_by_an_aspect_particle_is_asked_whole(analyzer):
    query = analyzer.query("我住过院又离了婚")
    assert {"住院", "离婚"} <= {unit.word for unit in query.units}
    assert {"住院", "离婚"} <= set(query.words)
    # Only where the two characters make a word (来我 is none).
    assert "来我" not in analyzer.query("社保卡来了我去拿").words


def test_a_question_of_stop_words_and_single_characters_asks_what_is_between(analyzer):
    assert analyzer.query("几时来水").words == ("来水",)
    assert analyzer.query("几时来水").grams == ("来水",)
    assert analyzer.query("怎么办").empty


def test_document_terms_keep_repeats_for_term_frequency(analyzer):
    terms = analyzer.document("社保卡遗失可挂失，挂失后补办社保卡")
    assert terms.words.count("社保卡") == 2
    assert "挂失" in terms.grams


def test_bigrams_do_not_span_removed_stop_words(analyzer):
    grams = analyzer.query("我的社保").grams
    assert grams == ("社保",)


def test_an_empty_or_punctuation_only_question_asks_nothing(analyzer):
    assert analyzer.query("").empty
    assert analyzer.query("？？！！ 。。").empty


def test_the_postgresql_vector_literal_weights_each_field():
    literal = tsvector_literal([("社保 社保", "A"), ("补办", "C")])
    assert literal == "'社保':1A,2A '补办':3C"


def test_single_characters_between_stop_words_are_kept_apart(analyzer):
    query = analyzer.query("我想查一下医保")
    assert "查" in query.chars and "医保" in query.words


def test_a_story_is_cut_into_jiebas_words_its_single_characters_and_their_pairs():
    """The words a caller's story is matched by: jieba's own dictionary words and those
    inside longer ones, after the usual folding; the characters jieba leaves single (社宝卡,
    a typo; 要, 吗), themselves and paired into bigrams where they stand together;
    punctuation dropped."""
    cut = story_cut("住房公积金提取，要带身份證吗？")
    assert cut.words == ("住房", "公积", "积金", "公积金", "提取", "身份", "身份证")
    assert cut.pairs == ("要带",)
    assert cut.chars == ("要", "带", "吗")
    assert story_cut("社宝卡补办") == StoryCut(("补办",), ("社宝", "宝卡"), ("社", "宝", "卡"))
    assert story_cut("我老公在工地") == StoryCut(("老公", "工地"), (), ("我", "在"))
    assert story_cut("") == StoryCut((), (), ())


def test_an_article_keeps_its_story_cut_in_three_parts():
    assert story_terms("社宝卡补办") == "补办 | 社宝 宝卡 | 社 宝 卡"
    assert story_terms("我老公在工地").split(STORY_PARTS) == ["老公 工地", "", "我 在"]
    assert story_terms("").split(STORY_PARTS) == ["", "", ""]


def test_a_homophone_typo_of_a_known_word_asks_for_the_word():
    tool = Analyzer()
    tool.set_synonyms([["最低生活保障", "低保"], ["结婚登记", "登记结婚"]])
    tool.add_words(["残疾人证", "快递"])
    assert _misheard(tool, "申请低报要什么条件") == [("低报", ("低保",))]
    query = tool.query("申请低报要什么条件")
    assert {"低保", "最低生活保障"} <= set(query.expansions)
    assert any(unit.word == "低报" and "最低生活保障" in unit.terms for unit in query.units)
    # Its whole text is matched as read: the typo's characters (低, 报) would count for
    # whatever article has them.
    assert query.read_as() == "申请低保要什么条件"
    assert {"低保", "申请", "条件"} <= set(story_cut(query.read_as()).words)
    assert tool.query("低保要什么条件").read_as() == "低保要什么条件"
    assert _misheard(tool, "结婚等级要带什么") == [("结婚等级", ("结婚登记",))]
    assert _misheard(tool, "残疾人正怎么补") == [("残疾人正", ("残疾人证",))]
    # Right as typed: a known word, two words that only sound like one (块地 / 快递:
    # every character differs), or two characters jieba cut as one word.
    assert _misheard(tool, "低保要什么条件") == []
    assert _misheard(tool, "想在后山找块地") == []
    assert _misheard(tool, "快点去登记") == []
    # Sounds are compared syllable by syllable: 西安 (xi'an) is not 先 (xian).
    assert sound_key("低报") == sound_key("低保") != sound_key("西安")
    assert sound_key("西安") != sound_key("先") and sound_key("社保app") is None


def _misheard(tool: Analyzer, question: str) -> list[tuple[str, tuple[str, ...]]]:
    query = tool.query(question)
    _words, runs, pieces, _chars = tool._pieces(query.normalised)
    return tool._misheard(runs, pieces, [])
