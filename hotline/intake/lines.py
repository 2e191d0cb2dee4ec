"""The legacy hotlines (一号对外): which old number maps where, and how a call to it is handled.

Read from the catalogue's `hotline` rows, so the page, the command and the voice and SMS
intake all describe the same thing.
"""

from __future__ import annotations

from typing import TypedDict

from sqlalchemy import case, select
from sqlalchemy.orm import selectinload

from hotline.extensions import db
from hotline.models import Hotline
from hotline.models.enums import HotlineStatus

STATUS_ZH: dict[str, str] = {
    HotlineStatus.MERGED: "已并入",
    HotlineStatus.KEPT: "双号并行",
    HotlineStatus.EMERGENCY: "紧急热线",
}
_ORDER = case(
    {HotlineStatus.MERGED: 0, HotlineStatus.KEPT: 1, HotlineStatus.EMERGENCY: 2},
    value=Hotline.status,
    else_=3,
)


class LegacyLine(TypedDict):
    number: str
    name: str
    status: str  # merged | kept | emergency
    status_zh: str
    department: str | None  # unit code
    department_name: str | None
    category: str | None  # second-level category code
    category_name: str | None
    handling: str  # how a call to the number is handled, in Chinese


def legacy_lines(*, include_inactive: bool = False) -> list[LegacyLine]:
    """Every legacy line of the current catalogue: merged first, then kept, then emergency."""
    query = select(Hotline).options(
        selectinload(Hotline.department), selectinload(Hotline.default_category)
    )
    if not include_inactive:
        query = query.where(Hotline.active.is_(True))
    rows = db.session.scalars(query.order_by(_ORDER, Hotline.id)).all()
    return [_describe(row) for row in rows]


def _describe(line: Hotline) -> LegacyLine:
    unit = line.department
    category = line.default_category
    return {
        "number": line.number,
        "name": line.name,
        "status": line.status,
        "status_zh": STATUS_ZH.get(line.status, line.status),
        "department": unit.code if unit else None,
        "department_name": unit.name if unit else None,
        "category": category.code if category else None,
        "category_name": category.name if category else None,
        "handling": handling_zh(line),
    }


def handling_zh(line: Hotline) -> str:
    """One sentence for the operator: what happens to a call to this number."""
    presets = "、".join(
        part
        for part in (
            f"诉求分类“{line.default_category.name}”" if line.default_category else "",
            f"承办单位“{line.department.short_name}”" if line.department else "",
        )
        if part
    )
    preset = f"，预置{presets}" if presets else ""
    if line.status == HotlineStatus.MERGED:
        return f"号码已并入 12345：呼入即由 12345 受理{preset}"
    if line.status == HotlineStatus.KEPT:
        return f"双号并行：原号码继续接听，转入 12345 的来电由 12345 受理{preset}"
    if line.status == HotlineStatus.EMERGENCY:
        return f"紧急热线，12345 不受理：请来电人直拨 {line.number}，或一键转接，并记录转接"
    return "未知归并方式"
