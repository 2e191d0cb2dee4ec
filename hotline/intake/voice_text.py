"""What callers hear on the one number (Mandarin), and how what they key or say maps to
the menu. Plain values in, plain values out: no app, no database."""

from __future__ import annotations

import math
import re
import unicodedata

from hotline.phones import EMERGENCY_LINES

# Menu choices a caller can make; emergency lines are choices too ("110" …).
CONSULT, APPEAL, PROGRESS, AGENT = "1", "2", "3", "0"
MENU_KEYS = (CONSULT, APPEAL, PROGRESS, AGENT)
NOTHING = ""  # silence: no key, no words
INVALID = "invalid"  # a key that is not on the menu
UNRECOGNISED = "speech"  # words that are not a menu choice: they want a person

# Telephone style: 1 is read 幺 so 110 is never heard as "一百一十".
_SPOKEN = dict(zip("0123456789", "零幺二三四五六七八九", strict=True))
_NUMERALS = str.maketrans(
    {"零": "0", "〇": "0", "洞": "0", "一": "1", "幺": "1", "二": "2", "两": "2", "三": "3"}
    | {"四": "4", "五": "5", "六": "6", "七": "7", "八": "8", "九": "9"}
)
_LINE_USE = {"110": "报警", "119": "火警", "120": "医疗急救", "122": "交通事故报警"}

# Said in the menu. Order matters: progress before appeals ("查询投诉进度" is a lookup).
_MENU_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (PROGRESS, ("查询", "进度", "办理情况", "查工单", "办到哪")),
    (AGENT, ("人工", "客服", "话务员", "接线员")),
    (APPEAL, ("投诉", "举报", "建议", "求助", "反映", "反应")),
    (CONSULT, ("咨询", "了解", "问一下", "问问")),
)
_EMERGENCY_WORDS: dict[str, tuple[str, ...]] = {
    "110": ("报警", "救命", "抢劫", "打劫", "行凶", "绑架"),
    "119": ("着火", "失火", "火灾", "火警", "起火"),
    "120": ("急救", "救护车", "晕倒", "昏迷", "不省人事"),
    "122": ("车祸", "撞车"),
}
# Words of someone using the hotline *about* an emergency service ("投诉120服务差"):
# they stay with 12345, and an agent can still hand them over (一键转接).
_ABOUT_WORDS = ("投诉", "举报", "建议", "咨询", "查询", "进度")
_EMERGENCY_NUMBER = re.compile(r"(?<!\d)(" + "|".join(EMERGENCY_LINES) + r")(?!\d)")


def spoken_digits(number: str) -> str:
    """A phone number or reference read digit by digit: "12345" -> "幺二三四五"."""
    return "".join(_SPOKEN.get(ch, ch) for ch in number)


def _normalise(speech: str) -> str:
    text = unicodedata.normalize("NFKC", speech or "")
    return re.sub(r"[\s\W_]+", "", text)


def choice_from_input(digits: str | None, speech: str | None) -> str:
    """The menu choice in a Gather result: a menu key, an emergency line, or one of
    NOTHING / INVALID / UNRECOGNISED."""
    keyed = re.sub(r"[^0-9*#]", "", digits or "")
    if keyed:
        if keyed in EMERGENCY_LINES:
            return keyed
        return keyed if keyed in MENU_KEYS else INVALID
    text = _normalise(speech or "")
    if not text:
        return NOTHING
    as_digits = text.translate(_NUMERALS)
    if not any(word in text for word in _ABOUT_WORDS):
        for line, words in _EMERGENCY_WORDS.items():
            if any(word in text for word in words):
                return line
        found = _EMERGENCY_NUMBER.search(as_digits)
        if found:
            return found.group(1)
    for choice, words in _MENU_WORDS:
        if any(word in text for word in words):
            return choice
    bare = re.sub(r"^(按|选|我选|选择)", "", as_digits)
    if bare in MENU_KEYS:
        return bare
    return UNRECOGNISED


def wait_minutes(
    position: int | None, average_wait_s: int | None, handle_seconds: int
) -> int | None:
    """Expected wait in whole minutes (at least 1): callers ahead × average handling time,
    or Twilio's average queue time when the position is unknown."""
    if position and position > 0:
        seconds = position * handle_seconds
    elif average_wait_s and average_wait_s > 0:
        seconds = average_wait_s
    else:
        return None
    return max(1, math.ceil(seconds / 60))


HOTLINE = "幺二三四五政务服务便民热线"

WELCOME = f"您好，欢迎致电{HOTLINE}。"
MENU = (
    "咨询请按1；求助、投诉、举报、建议请按2；查询工单办理进度请按3；人工服务请按0。"
    "您也可以直接说出您的需求。如遇紧急情况，请挂机后直接拨打"
    "幺幺零、幺幺九、幺二零或幺二二。"
)
MENU_AGAIN = "对不起，您的输入有误，请重新选择。"
TO_AGENT = "正在为您转接人工服务，请稍候。"


def legacy_line(name: str, status: str) -> str:
    """Greeting for a call forwarded from an old hotline number (一号对外)."""
    if status == "merged":
        return f"您好，{name}已并入{HOTLINE}。{TO_AGENT}"
    return f"您好，这里是{name}，由{HOTLINE}为您服务。{TO_AGENT}"


def _line_words(line: str) -> tuple[str, str]:
    return spoken_digits(line), _LINE_USE.get(line, "紧急求助")


def emergency_tell(line: str) -> str:
    spoken, use = _line_words(line)
    return (
        f"您拨打的是{HOTLINE}，不受理紧急求助。"
        f"如需{use}，请立即挂机，直接拨打{spoken}。重复一遍，请挂机后拨打{spoken}。"
    )


def emergency_transfer(line: str) -> str:
    spoken, use = _line_words(line)
    return f"{HOTLINE}不受理紧急求助，正在为您转接{spoken}{use}电话，请不要挂机。"


def emergency_after_transfer(line: str) -> str:
    """Heard when the transfer ends, whether or not it connected."""
    spoken, use = _line_words(line)
    return f"如仍需{use}，请挂机后直接拨打{spoken}。"


ASK_REFERENCE = "请输入您的工单号，输入完毕请按井号键。"
REFERENCE_NOT_FOUND = "未查询到与您来电号码对应的工单。请核对工单号后重新输入，输入完毕请按井号键。"
REFERENCE_GIVE_UP = f"仍未查询到您的工单。{TO_AGENT}"
AFTER_PROGRESS = "如需人工服务，请按0。"


def progress(reference: str, status_zh: str, due_month: int | None, due_day: int | None) -> str:
    tail = spoken_digits(reference[-4:])
    text = f"您尾号为{tail}的工单，目前状态为：{status_zh}。"
    if due_month is not None and due_day is not None:
        text += f"承办单位应于{due_month}月{due_day}日前办结。"
    return text


def queue_position(position: int | None, minutes: int | None) -> str:
    parts = ["您好，目前话务繁忙，请耐心等待。"]
    if position:
        parts.append(f"您当前排在第{position}位。")
    if minutes:
        parts.append(f"预计等待约{minutes}分钟。")
    return "".join(parts)


OFFER_CALLBACK = "如需申请回拨，请按1，我们将尽快给您回电；继续等待请不要挂机。"
CALLBACK_BOOKED = "已为您登记回拨，我们将尽快给您回电。感谢您的来电，再见。"
CALLBACK_NO_NUMBER = "抱歉，未能识别您的来电号码，无法登记回拨，请继续等待。"
REQUEUE = "抱歉，系统繁忙，正在为您重新排队，请不要挂机。"
LINES_BUSY = "抱歉，当前话务繁忙。如需申请回拨，请按1。"
GOODBYE = "感谢您的来电，再见。"
CONNECTED = f"您好，{HOTLINE}为您服务。"
AGENT_REFUSED = "您的账号无权接听热线来电，请联系管理员。"

# Words the speech recogniser should expect in the menu.
SPEECH_HINTS = ",".join(
    [word for _, words in _MENU_WORDS for word in words]
    + [word for words in _EMERGENCY_WORDS.values() for word in words]
)


# -- the follow-up visit by keypad (hotline.visits) --------------------------------------


def visit_survey(reference: str) -> str:
    """Asked before the menu of a caller whose ticket awaits its follow-up visit."""
    return (
        f"您好，您尾号为{spoken_digits(reference[-4:])}的工单已办理答复。"
        "请对办理结果进行评价：满意请按1，基本满意请按2，不满意请按3；"
        "跳过评价请按0。"
    )


VISIT_THANKS = "感谢您的评价。"
VISIT_REDO = "已收到您的评价，我们将督促承办单位重新办理。"
