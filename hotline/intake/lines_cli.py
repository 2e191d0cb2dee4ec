"""`hotline lines`: which legacy number maps where (一号对外), as a table or CSV."""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Mapping

import click
from flask.cli import with_appcontext

from hotline.intake.lines import LegacyLine, legacy_lines

CSV_COLUMNS = (
    "number",
    "name",
    "status",
    "status_zh",
    "department",
    "department_name",
    "category",
    "category_name",
    "handling",
)
TABLE_COLUMNS = (
    ("number", "号码"),
    ("name", "名称"),
    ("status_zh", "归并方式"),
    ("department_name", "承办单位"),
    ("category_name", "预置分类"),
    ("handling", "来电处理"),
)


@click.command("lines")
@click.option(
    "--format",
    "output",
    type=click.Choice(["table", "csv"]),
    default="table",
    show_default=True,
    help="a table to read, or CSV with every field",
)
@click.option("--all", "include_inactive", is_flag=True, help="also lines no longer in use")
@with_appcontext
def lines_command(output: str, include_inactive: bool) -> None:
    """List the legacy hotlines and how calls to them are handled."""
    lines = legacy_lines(include_inactive=include_inactive)
    if output == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(lines)
        click.echo(buffer.getvalue(), nl=False)
        return
    click.echo(render_table(lines))
    click.echo(f"\n共 {len(lines)} 条热线")


def render_table(lines: list[LegacyLine]) -> str:
    rows = [[header for _, header in TABLE_COLUMNS]]
    records: list[Mapping[str, object]] = list(lines)
    rows += [[str(record[key] or "—") for key, _ in TABLE_COLUMNS] for record in records]
    widths = [max(_width(row[i]) for row in rows) for i in range(len(TABLE_COLUMNS))]
    return "\n".join(
        "  ".join(_pad(cell, width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def _width(text: str) -> int:
    """Columns a terminal gives the text: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))
