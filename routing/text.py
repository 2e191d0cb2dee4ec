"""Chinese text for routing: normalisation and segmentation (jieba with the domain's words).

Normalisation folds what agents and callers type into one form: full-width letters,
digits and punctuation to half-width (NFKC), traditional characters to simplified
(OpenCC `t2s`: Jiangmen is a 侨乡 and many overseas relatives write traditional
characters), and the written Cantonese function words of 四邑/广府 speech to their
Mandarin equivalents (冇 → 没, 喺 → 在 …), so one keyword list serves both.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

# Written Cantonese → Mandarin. Multi-character words first (longest match wins);
# single characters only where the character is not used in Mandarin words.
CANTONESE = {
    "而家": "现在",
    "依家": "现在",
    "成日": "经常",
    "琴日": "昨天",
    "寻日": "昨天",
    "听日": "明天",
    "屋企": "家里",
    "铺头": "店铺",
    "边度": "哪里",
    "呢度": "这里",
    "嗰度": "那里",
    "点解": "为什么",
    "啱啱": "刚刚",
    "乜嘢": "什么",
    "出粮": "发工资",
    "泊车": "停车",
    "乱泊": "乱停",
    "泊到": "停到",
    "泊满": "停满",
    "揸车": "开车",
    "差佬": "警察",
    "巴士": "公交车",
    "雪柜": "冰箱",
    "冷气机": "空调",
    "老细": "老板",
    "出过粮": "发过工资",
    "欠粮": "欠工资",
    "埋单": "结账",
    "兜路": "绕路",
    "兜圈": "绕路",
    "落大雨": "下大雨",
    "落雨": "下雨",
    "过身": "去世",
    "走佬": "跑路",
    "出世": "出生",
    "食咗": "吃了",
    "食完": "吃完",
    "食到": "吃到",
    "食出": "吃出",
    "食坏": "吃坏",
    "食嘢": "吃东西",
    "瞓唔着": "睡不着",
    "瞓觉": "睡觉",
    "污糟": "脏",
    "樽装": "瓶装",
    "边个": "谁",
    "唔该": "请",
    "冇": "没",
    "喺": "在",
    "嘅": "的",
    "咗": "了",
    "唔": "不",
    "佢": "他",
    "哋": "们",
    "嚟": "来",
    "睇": "看",
    "搵": "找",
    "揾": "找",
    "攞": "拿",
    "畀": "给",
    "俾": "给",
    "嘈": "吵",
    "咭": "卡",
    "劏": "宰",
    "㓥": "宰",  # 劏 after OpenCC t2s (the mapping runs on simplified text)
    "𠮶度": "那里",  # 嗰度 after t2s
    "𠮶": "那",  # 嗰 after t2s
    "瞓": "睡",
    "嗰": "那",
    "咁": "这么",
    "乜": "什么",
    "咩": "什么",
    "嘢": "东西",
    "啲": "些",
    "掟": "扔",
    "𨋢": "电梯",
    "䢂": "电梯",  # 𨋢 after t2s
    # Everyday written Cantonese (general usage, not taken from any question set).
    "点算": "怎么办",
    "点办": "怎么办",
    "有冇": "有没有",
    "唔使": "不用",
    "使唔使": "需不需要",
    "唔系": "不是",
    "系咪": "是不是",
    "系唔系": "是不是",
    "就系": "就是",
    "都系": "都是",
    "我系": "我是",
    "你系": "你是",
    "佢系": "他是",
    "唔知": "不知道",
    "得唔得": "可不可以",
    "好似": "好像",
    "人哋": "别人",
    "俾人": "被人",
    "畀人": "被人",
    "呃钱": "骗钱",
    "呃人": "骗人",
    "呃咗": "骗了",
    "搞掂": "办好",
    "搞唔掂": "办不好",
    "唔见咗": "丢了",
    "烂咗": "坏了",
    "整坏": "弄坏",
    "整烂": "弄坏",
    "攞返": "拿回",
    "拎返": "拿回",
    "退返": "退回",
    "补返": "补回",
    "揾返": "找回",
    "要返": "要回",
    "畀返": "还给",
    "俾返": "还给",
    "返屋企": "回家",
    "返工": "上班",
    "放工": "下班",
    "返学": "上学",
    "返去": "回去",
    "返嚟": "回来",
    "揾工": "找工作",
    "揾食": "谋生",
    "事头婆": "老板娘",
    "事头": "老板",
    "老豆": "爸爸",
    "老窦": "爸爸",
    "细路仔": "小孩",
    "细路": "小孩",
    "细佬": "弟弟",
    "家姐": "姐姐",
    "隔篱": "隔壁",
    "行路": "走路",
    "出街": "出门",
    "水喉": "水龙头",
    "电掣": "开关",
    "插苏": "插座",
    "散纸": "零钱",
    "银纸": "钱",
    "执笠": "倒闭",
    "蚀钱": "亏钱",
    "闩门": "关门",
    "租屋": "租房",
    "买屋": "买房",
    "卖屋": "卖房",
    "起屋": "建房",
    "买楼": "买房",
    "卖楼": "卖房",
    "供楼": "还房贷",
    "㓥房": "分租房",  # 劏房 after t2s
    "啱": "对",
    "嘥": "浪费",
    "嬲": "生气",
    "攰": "累",
    "噉": "这样",
}
_CANTONESE_RE = re.compile("|".join(sorted(map(re.escape, CANTONESE), key=len, reverse=True)))
_SPACES = re.compile(r"\s+")

# Function words and fillers that carry no routing signal.
_STOP_TEXT = (
    "的 了 在 是 我 你 他 她 它 们 我们 你们 他们 这 那 这个 那个 这里 那里 有 没 也 都 就 "
    "又 还 很 好 太 要 会 能 想 说 讲 问 请 给 跟 和 与 及 或 而 但 被 把 让 从 到 对 向 于 "
    "一 一个 个 些 一些 什么 怎么 怎样 为什么 哪里 多少 几 吗 呢 吧 啊 呀 嘛 啦 哦 喔 哈 "
    "现在 今天 昨天 明天 已经 刚刚 经常 一直 还是 可以 不 没有 之 其 等 着 过 去 来 上 下 "
    "里 中 后 前 时 时候 问题 情况 反映 投诉 咨询 市民 来电 反映 希望 要求 处理 相关 部门 "
    ", . ! ? ; : 、 ， 。 ！ ？ ； ： ( ) （ ） “ ” \" ' - — … ~"
)
STOPWORDS = frozenset(_STOP_TEXT.split())


@lru_cache(maxsize=1)
def _t2s():  # type: ignore[no-untyped-def]
    import opencc

    return opencc.OpenCC("t2s")


def normalise(text: str) -> str:
    """Half-width, simplified, Mandarin function words, lower-case, single spaces."""
    if not text:
        return ""
    folded = unicodedata.normalize("NFKC", text)
    if not folded.isascii():
        folded = _t2s().convert(folded)
        folded = _CANTONESE_RE.sub(lambda m: CANTONESE[m.group(0)], folded)
    return _SPACES.sub(" ", folded).strip().lower()


def char_ngrams(text: str, n: int = 2) -> list[str]:
    """Character n-grams of the CJK runs (typos and unknown words still share them)."""
    grams: list[str] = []
    for run in re.findall(r"[\u3400-\u9fff]+", text):
        grams.extend(run[i : i + n] for i in range(len(run) - n + 1))
    return grams


class Segmenter:
    """jieba with its own dictionary: the catalogue's terms and territory names added.

    A private `jieba.Tokenizer` (not the module-level one) so routing's words never
    change how other packages segment, and theirs never change routing. Words only
    accumulate: a term dropped from a later catalogue stays a word, which is harmless.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokenizer = None
        self._words: set[str] = set()

    def _ready(self):  # type: ignore[no-untyped-def]
        if self._tokenizer is None:
            with self._lock:
                if self._tokenizer is None:
                    import jieba

                    jieba.setLogLevel(60)  # it logs the dictionary load at INFO
                    tokenizer = jieba.Tokenizer()
                    tokenizer.initialize()
                    self._tokenizer = tokenizer
        return self._tokenizer

    def add_words(self, words: Iterable[str]) -> None:
        tokenizer = self._ready()
        with self._lock:
            for word in words:
                word = normalise(word)
                if len(word) >= 2 and word not in self._words:
                    # A high count so a listed term beats the general dictionary's split.
                    tokenizer.add_word(word, freq=max(2000, 400 * len(word)))
                    self._words.add(word)

    def is_word(self, word: str) -> bool:
        """Whether jieba's dictionary (with the added terms) knows `word`."""
        return self._ready().FREQ.get(word, 0) > 0

    def cut(self, normalised: str) -> list[str]:
        """Tokens of already normalised text, covering it exactly (spaces included)."""
        if not normalised:
            return []
        return list(self._ready().cut(normalised, HMM=False))


def token_spans(tokens: Iterable[str]) -> list[tuple[int, int]]:
    """(start, end) offsets of each token in the text they were cut from."""
    spans = []
    position = 0
    for token in tokens:
        spans.append((position, position + len(token)))
        position += len(token)
    return spans


def content_tokens(tokens: Iterable[str]) -> list[str]:
    """Tokens worth a feature: no stop words, punctuation, spaces or lone digits."""
    return [
        t
        for t in tokens
        if t.strip() and t not in STOPWORDS and not t.isdigit() and not _PUNCT.fullmatch(t)
    ]


_PUNCT = re.compile(r"[\W_]+")


def features(normalised: str, tokens: list[str]) -> list[str]:
    """Model features: content tokens plus character bigrams (marked with a `#`)."""
    return content_tokens(tokens) + ["#" + g for g in char_ngrams(normalised)]


# Fuzzy pinyin as southern Chinese speakers type it: zh/ch/sh = z/c/s, -ng = -n, n = l.
_FUZZY_INITIALS = (("zh", "z"), ("ch", "c"), ("sh", "s"), ("n", "l"))
_TONES = str.maketrans("āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜüńňǹḿ", "aaaaeeeeiiiioooouuuuvvvvvnnnm")


@lru_cache(maxsize=8192)
def sounds(char: str) -> tuple[str, ...]:
    """The char's common reading, toneless and fuzzy (宝, 保 -> "bao"); () if not Hanzi.

    Only the first (most common) reading: rare readings make unrelated words rhyme."""
    from pypinyin.constants import PINYIN_DICT

    raw = PINYIN_DICT.get(ord(char))
    if not raw:
        return ()
    readings = []
    for reading in raw.split(",")[:1]:
        syllable = reading.translate(_TONES)
        for full, short in _FUZZY_INITIALS:
            if syllable.startswith(full):
                syllable = short + syllable[len(full) :]
                break
        if syllable.endswith("ng"):
            syllable = syllable[:-1]
        if syllable not in readings:
            readings.append(syllable)
    return tuple(readings)


_default: Segmenter | None = None


def default_segmenter() -> Segmenter:
    """One segmenter per process (loading jieba's dictionary takes about a second)."""
    global _default
    if _default is None:
        _default = Segmenter()
    return _default
