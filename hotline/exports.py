"""Tables out to XLSX and CSV, de-identified unless the viewer may have the full data.

De-identified (DOMAIN.md "Privacy"): names become surname + *, phones 3 + **** + 4,
ID-card numbers inside text are removed (mobiles in text masked), and addresses are cut
to their community or street. Only an admin may ask for the full data, and then a
confidential caller's identity is still what the admin may see. Every export is an
event in the audit log (who, which table, how many rows, whether full).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import select

from hotline import privacy
from hotline.audit import record_event
from hotline.errors import InvalidInput, PermissionDenied
from hotline.extensions import db
from hotline.models import Role, Ticket, User
from hotline.tickets.access import identity_mode, visible_clause

FORMATS = ("csv", "xlsx")
FULL_DATA_ROLES = frozenset({Role.ADMIN})
ROW_LIMIT = 200_000
TICKET_COLUMNS: tuple[tuple[str, str], ...] = (
    ("reference", "工单编号"),
    ("received_at", "受理时间"),
    ("channel", "渠道"),
    ("type", "诉求类型"),
    ("status", "状态"),
    ("title", "标题"),
    ("content", "诉求内容"),
    ("category", "诉求分类"),
    ("department", "承办单位"),
    ("territory", "属地"),
    ("address", "地址"),
    ("caller_name", "来电人"),
    ("caller_phone", "联系电话"),
    ("due_at", "办理时限"),
    ("replied_at", "答复时间"),
    ("closed_at", "办结时间"),
)
# The last community-or-street word of an address, and what comes before it.
_TO_STREET = re.compile(r"^.*(?:社区|居委会|村委会|村|街道|镇|乡)")
_TO_DISTRICT = re.compile(r"^.*(?:区|县|市)")


def generalize_address(address: str | None) -> str | None:
    """蓬江区白沙街道建设路32号 -> 蓬江区白沙街道; without a street word, the district."""
    if not address:
        return address
    for pattern in (_TO_STREET, _TO_DISTRICT):
        found = pattern.match(address)
        if found:
            return found.group()
    return ""


def check_request(viewer: User, fmt: str, full: bool) -> None:
    if fmt not in FORMATS:
        raise InvalidInput(
            f"format must be one of {', '.join(FORMATS)}",
            "导出格式须为 csv 或 xlsx",
            field="format",
        )
    if full and viewer.role not in FULL_DATA_ROLES:
        raise PermissionDenied(
            "only an admin may export the full data", "仅管理员可以导出未脱敏的完整数据"
        )


def _local(value: datetime | None) -> str:
    if value is None:
        return ""
    zone = ZoneInfo(current_app.config["TIMEZONE"])
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def ticket_rows(
    viewer: User,
    *,
    full: bool = False,
    status: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[list[Any]]:
    """The tickets `viewer` may see (filtered), newest first, as export rows."""
    query = select(Ticket).where(visible_clause(viewer))
    if status:
        query = query.where(Ticket.status == status)
    if start is not None:
        query = query.where(Ticket.received_at >= start)
    if end is not None:
        query = query.where(Ticket.received_at < end)
    rows = []
    for ticket in db.session.scalars(
        query.order_by(Ticket.received_at.desc(), Ticket.id.desc()).limit(ROW_LIMIT)
    ):
        mode = identity_mode(viewer, ticket)
        contact = ticket.contact
        name = ticket.caller_name
        phone = contact.phone if contact is not None else ticket.caller_phone_raw
        if mode == "hidden":
            name = phone = None
        elif not full or mode != "full":
            name, phone = privacy.mask_name(name), privacy.mask_phone(phone)
        text = (lambda v: v) if full else privacy.scrub_text
        rows.append(
            [
                ticket.reference,
                _local(ticket.received_at),
                ticket.channel,
                ticket.type,
                ticket.status,
                text(ticket.title),
                text(ticket.content),
                ticket.category.name if ticket.category else "",
                ticket.department.name if ticket.department else "",
                ticket.territory.name if ticket.territory else "",
                ticket.address if full else generalize_address(ticket.address),
                name or "",
                phone or "",
                _local(ticket.due_at),
                _local(ticket.replied_at),
                _local(ticket.closed_at),
            ]
        )
    return rows


def kpi_rows(found: Any) -> tuple[list[str], list[list[Any]]]:
    """A hotline.kpi.Report as a table: one row per group and the total."""
    names = list(found.total["metrics"])
    header = ["key", "name", *names]
    rows = [[row["key"], row["name"], *(row["metrics"][n] for n in names)] for row in found.rows]
    rows.append(["total", "合计", *(found.total["metrics"][n] for n in names)])
    return header, rows


def to_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """UTF-8 with a byte-order mark, so Excel opens the Chinese right."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([["" if v is None else v for v in row] for row in rows])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def to_xlsx(title: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title[:31])
    sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def render(fmt: str, title: str, header: Sequence[str], rows: list[list[Any]]) -> bytes:
    return to_csv(header, rows) if fmt == "csv" else to_xlsx(title, header, rows)


def record_export(viewer: User, table: str, rows: int, fmt: str, full: bool) -> None:
    """The export in the audit log (hash-chained with every other event)."""
    record_event(
        "export",
        actor=viewer,
        department_id=viewer.department_id,
        data={"table": table, "rows": rows, "format": fmt, "full": full},
    )
    db.session.commit()
