"""Personal data: encrypted at rest, found by a keyed phone hash, keys rotated, and masked or
scrubbed for display and publication (DOMAIN.md "Privacy and publication")."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select, text

from hotline import privacy
from hotline.extensions import db
from hotline.models import Contact
from hotline.tickets.intake import NewTicket, find_contact, normalise_phone, open_ticket
from tests.conftest import TEST_PII_KEY

E164 = "+8613812345678"


@pytest.fixture
def restore_keys() -> Iterator[None]:
    """Key changes are process-wide: put the suite's key back whatever happens."""
    yield
    privacy.configure(TEST_PII_KEY)


def accept(phone: str | None = "138 1234 5678", name: str | None = "张三丰", **extra: Any):  # type: ignore[no-untyped-def]
    ticket, created = open_ticket(
        NewTicket(
            channel="phone",
            type="consult",
            urgency="general",
            content="咨询社保",
            phone=phone,
            name=name,
            **extra,
        ),
        actor=None,
    )
    assert created
    return ticket


def raw_contacts() -> list[Any]:
    return list(db.session.execute(text("SELECT id, phone, name, phone_hash FROM contact")))


def test_phone_and_name_are_encrypted_at_rest(app):
    ticket = accept()
    [row] = raw_contacts()
    for stored, clear in ((row.phone, E164), (row.name, "张三丰")):
        assert stored and stored != clear
        assert clear not in stored
        assert "13812345678" not in stored and "5678" not in stored
    assert "13812345678" not in row.phone_hash
    assert row.phone_hash == privacy.lookup_hash(E164)

    db.session.expire_all()
    contact = db.session.get(Contact, row.id)
    assert (contact.phone, contact.name) == (E164, "张三丰")
    assert ticket.contact_id == row.id


def test_encryption_is_not_deterministic(app):
    # equal values must not be recognisable as equal in the table
    assert privacy.encrypt(E164) != privacy.encrypt(E164)
    assert privacy.decrypt(privacy.encrypt("李四")) == "李四"


@pytest.mark.parametrize(
    "typed",
    ["13812345678", "138 1234 5678", "+86 138-1234-5678", "+8613812345678", "(+86) 138.1234.5678"],
)
def test_lookup_finds_the_contact_however_the_number_is_written(app, typed):
    contact = accept().contact
    assert find_contact(normalise_phone(typed)) is contact
    assert find_contact(normalise_phone("13812345679")) is None


def test_a_second_call_from_the_same_number_reuses_the_contact(app):
    first = accept("13812345678")
    second = accept("+86 138-1234-5678", name=None)
    assert second.contact_id == first.contact_id
    assert db.session.scalar(select(func.count()).select_from(Contact)) == 1
    assert second.contact.name == "张三丰"


def test_a_later_callers_name_does_not_rewrite_earlier_tickets(app):
    first = accept("13812345678", name="张三丰")
    second = accept("13812345678", name="李四")
    db.session.expire_all()
    assert (first.caller_name, second.caller_name) == ("张三丰", "李四")
    assert first.contact_id == second.contact_id  # one phone, one contact: history by phone
    raw = db.session.execute(text("SELECT caller_name FROM ticket")).scalars().all()
    assert all(value and "张" not in value and "李" not in value for value in raw)


def test_anonymous_caller_keeps_no_contact(app):
    ticket = accept(anonymous=True)
    assert ticket.contact is None
    assert raw_contacts() == []


def test_key_rotation_keeps_old_data_readable(app, restore_keys):
    privacy.configure("old-key")
    old_hash = privacy.lookup_hash(E164)
    contact_id = accept().contact_id
    db.session.expunge_all()

    privacy.configure("new-key,old-key")
    contact = db.session.get(Contact, contact_id)
    assert (contact.phone, contact.name) == (E164, "张三丰")
    assert privacy.lookup_hash(E164) == old_hash  # lookups survive the rotation
    assert find_contact(normalise_phone("138 1234 5678")) is contact

    # new writes use the newest key: the old key alone cannot read them, the new one can
    fresh = privacy.encrypt("王五")
    privacy.configure("old-key")
    with pytest.raises(RuntimeError, match="cannot be decrypted"):
        privacy.decrypt(fresh)
    privacy.configure("new-key")
    assert privacy.decrypt(fresh) == "王五"
    db.session.expunge_all()
    with pytest.raises(RuntimeError, match="cannot be decrypted"):
        db.session.get(Contact, contact_id)  # a missing key is an error, never empty data


def test_retiring_the_oldest_key_keeps_lookups_with_their_own_key(restore_keys):
    privacy.configure("old-key", lookup_key="lookup-key")
    before = privacy.lookup_hash(E164)
    privacy.configure("new-key,old-key", lookup_key="lookup-key")
    privacy.configure("new-key", lookup_key="lookup-key")  # data re-encrypted, old key retired
    assert privacy.lookup_hash(E164) == before


def test_without_a_lookup_key_the_oldest_pii_key_keeps_lookups_stable(restore_keys):
    privacy.configure("old-key")
    before = privacy.lookup_hash(E164)
    privacy.configure("new-key,old-key")
    assert privacy.lookup_hash(E164) == before


def test_empty_key_is_refused(restore_keys):
    with pytest.raises(ValueError):
        privacy.configure(" , ")


def test_lookup_hash_is_keyed(restore_keys):
    privacy.configure("key-one")
    one = privacy.lookup_hash(E164)
    privacy.configure("key-two")
    assert privacy.lookup_hash(E164) != one  # not a plain hash anyone can recompute
    assert len(one) == 64


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("张三丰", "张**"),
        ("张三", "张*"),
        ("张", "张*"),
        ("欧阳娜娜", "欧***"),
        (None, None),
        ("", ""),
    ],
)
def test_mask_name(name, masked):
    assert privacy.mask_name(name) == masked


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("+8613812345678", "138****5678"),
        ("13812345678", "138****5678"),
        ("138-1234-5678", "138****5678"),
        ("+86 138 1234 5678", "138****5678"),
        ("+867503201234", "750****1234"),
        ("12345", "*****"),
        (None, None),
        ("", ""),
    ],
)
def test_mask_phone(phone, masked):
    assert privacy.mask_phone(phone) == masked


@pytest.mark.parametrize(
    ("text_", "scrubbed"),
    [
        ("身份证号44070319900101123X，请核实", "身份证号[身份证号已删除]，请核实"),
        ("身份证440703199001011234", "身份证[身份证号已删除]"),
        ("证件号44070319900101123x。", "证件号[身份证号已删除]。"),
        ("电话13812345678，联系张先生", "电话138****5678，联系张先生"),
        ("打 13812345678 或 15900001111 都行", "打 138****5678 或 159****1111 都行"),
        ("+86 13812345678", "+86 138****5678"),
        ("身份证44070319900101123X电话13812345678", "身份证[身份证号已删除]电话138****5678"),
        # not personal data: order numbers, amounts, a landline-length number, 12345 itself
        ("订单号1234567890123456789已退款", "订单号1234567890123456789已退款"),
        ("拨打12345反映，金额2000元", "拨打12345反映，金额2000元"),
        ("座机号码12812345678不是手机", "座机号码12812345678不是手机"),
        (None, None),
        ("", ""),
    ],
)
def test_scrub_text(text_, scrubbed):
    assert privacy.scrub_text(text_) == scrubbed


@pytest.mark.parametrize(
    "written", ["+8613812345678", "+86-138-1234-5678", "138 1234 5678", "138-1234-5678"]
)
def test_scrub_text_masks_mobiles_however_written(written):
    scrubbed = privacy.scrub_text(f"来电人手机{written}，请回电")
    assert "1234" not in scrubbed
    assert "5678" in scrubbed  # the last four stay, as elsewhere
