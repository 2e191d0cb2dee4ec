"""Every phone number goes through here (phonenumbers): E.164 for storage, where the
number is from, the carrier, and short service or emergency numbers."""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneNumberType, carrier, geocoder, shortnumberinfo

EMERGENCY_LINES = ("110", "119", "120", "122")  # 122 is not in libphonenumber's list


@dataclass(frozen=True)
class PhoneInfo:
    raw: str
    e164: str | None  # None unless the number is a valid regular number
    kind: str  # mobile | landline | voip | short | invalid
    area_code: str | None  # "0750" for a Jiangmen landline
    region: str | None  # "广东省江门市" (landlines and mobiles)
    carrier: str | None  # "中国移动"
    short_number: str | None  # "12345", "110" … for service/emergency short numbers

    @property
    def valid(self) -> bool:
        return self.e164 is not None


def _digits(raw: str) -> str:
    return re.sub(r"\D", "", raw)


def parse_phone(raw: str, region: str = "CN") -> PhoneInfo:
    """Describe a number as given; never raises (an unparseable one is kind "invalid")."""
    text = (raw or "").strip()
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return PhoneInfo(text, None, "invalid", None, None, None, None)
    national = str(number.national_number)
    if phonenumbers.is_valid_number(number):
        kind = {
            PhoneNumberType.MOBILE: "mobile",
            PhoneNumberType.FIXED_LINE: "landline",
            PhoneNumberType.FIXED_LINE_OR_MOBILE: "landline",
            PhoneNumberType.VOIP: "voip",
        }.get(phonenumbers.number_type(number), "landline")
        area = None
        if kind == "landline":
            length = phonenumbers.length_of_geographical_area_code(number)
            area = "0" + national[:length] if length else None
        return PhoneInfo(
            raw=text,
            e164=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
            kind=kind,
            area_code=area,
            region=geocoder.description_for_number(number, "zh") or None,
            carrier=carrier.name_for_number(number, "zh") or None,
            short_number=None,
        )
    if shortnumberinfo.is_valid_short_number(number) or national in EMERGENCY_LINES:
        return PhoneInfo(text, None, "short", None, None, None, national)
    return PhoneInfo(text, None, "invalid", None, None, None, None)


def emergency_line(raw: str, region: str = "CN") -> str | None:
    """ "110", "119", "120" or "122" when `raw` is one of the emergency numbers."""
    digits = _digits(raw)
    if digits.startswith("86") and len(digits) in (5, 6):
        digits = digits[2:]
    if digits in EMERGENCY_LINES:
        return digits
    try:
        if shortnumberinfo.is_emergency_number(raw, region):
            return digits
    except phonenumbers.NumberParseException:
        return None
    return None


def same_line(a: str | None, b: str | None) -> bool:
    """Whether two spellings name one line: "+8612315" and "12315", "0750-0000000" and
    "+8675000000000"."""
    if not a or not b:
        return False
    return _national_digits(a) == _national_digits(b)


def _national_digits(raw: str) -> str:
    digits = _digits(raw)
    if raw.strip().startswith("+86") or (digits.startswith("86") and len(digits) > 11):
        digits = digits[2:]
        if len(digits) >= 9 and not digits.startswith("1"):
            digits = "0" + digits  # landline trunk prefix dropped in E.164
    return digits
