"""Personal data: encryption at rest, keyed lookup hashes, and masking for display."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class _Keys:
    """Process-wide keys, set once by the app factory from `PII_KEY`."""

    cipher: MultiFernet | None = None
    hash_key: bytes | None = None
    audit_key: bytes | None = None


def _derive(secret: str, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(
        secret.encode()
    )


def configure(pii_keys: str, lookup_key: str | None = None, audit_key: str | None = None) -> None:
    """Install the keys. `pii_keys` is comma-separated: newest first, older ones still decrypt.

    Lookup hashes must survive key rotation, so they have their own key
    (`PII_LOOKUP_KEY`); without one it is derived from the oldest PII key, which must
    then be kept in the list. The audit chain's HMAC key likewise (`AUDIT_KEY`).
    """
    secrets = [part.strip() for part in pii_keys.split(",") if part.strip()]
    if not secrets:
        raise ValueError("PII_KEY is empty")
    _Keys.cipher = MultiFernet(
        [Fernet(base64.urlsafe_b64encode(_derive(s, b"hotline-pii-encryption"))) for s in secrets]
    )
    _Keys.hash_key = _derive(lookup_key or secrets[-1], b"hotline-pii-lookup")
    _Keys.audit_key = _derive(audit_key or secrets[-1], b"hotline-audit-chain")


def audit_key() -> bytes:
    if _Keys.audit_key is None:
        raise RuntimeError("personal-data keys are not configured (PII_KEY)")
    return _Keys.audit_key


def _cipher() -> MultiFernet:
    if _Keys.cipher is None:
        raise RuntimeError("personal-data keys are not configured (PII_KEY)")
    return _Keys.cipher


def encrypt(value: str) -> str:
    return _cipher().encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _cipher().decrypt(token.encode()).decode()
    except InvalidToken as exc:  # a wrong key must never look like empty data
        raise RuntimeError("personal data cannot be decrypted with the configured PII_KEY") from exc


def lookup_hash(value: str) -> str:
    """Keyed hash for equality lookups (phone numbers) without storing them in clear."""
    if _Keys.hash_key is None:
        raise RuntimeError("personal-data keys are not configured (PII_KEY)")
    return hmac.new(_Keys.hash_key, value.encode(), hashlib.sha256).hexdigest()


def mask_name(name: str | None) -> str | None:
    """Surname + * (DOMAIN.md "Privacy"): 张三丰 -> 张**."""
    if not name:
        return name
    return name[0] + "*" * max(1, len(name) - 1)


def mask_phone(phone: str | None) -> str | None:
    """3 digits + **** + 4 digits of the national number: +8613812345678 -> 138****5678."""
    if not phone:
        return phone
    digits = re.sub(r"\D", "", phone)
    if digits.startswith("86") and len(digits) > 11:
        digits = digits[2:]
    if len(digits) < 8:
        return "*" * len(digits)
    return digits[:3] + "****" + digits[-4:]


ID_CARD = re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)")
# 13812345678, +8613812345678, +86-138-1234-5678, 138 1234 5678 …
MOBILE = re.compile(r"(?<!\d)((?:\+?86[\s-]?)?1[3-9]\d)[\s-]?\d{4}[\s-]?(\d{4})(?!\d)")


def scrub_text(text: str | None) -> str | None:
    """Remove ID-card numbers and mask mobile numbers inside free text."""
    if not text:
        return text
    text = ID_CARD.sub("[身份证号已删除]", text)
    return MOBILE.sub(r"\1****\2", text)
