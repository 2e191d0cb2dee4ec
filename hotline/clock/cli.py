"""`hotline calendar import PATH` and `hotline calendar status [--years 2025-2028]`."""

from __future__ import annotations

from datetime import datetime

import click
from flask.cli import with_appcontext

from hotline.errors import HotlineError

MAX_STATUS_YEARS = 50

calendar_cli = click.Group(
    "calendar",
    help="The working-day calendar: statutory holidays and make-up working days (调休).",
)


@calendar_cli.command("import")
@click.argument("path", type=click.Path(dir_okay=False))
@with_appcontext
def calendar_import(path: str) -> None:
    """Import one year's State Council holiday schedule from PATH (.yaml or .json).

    The year's earlier import is replaced, its missing-calendar alert resolved, and
    provisional deadlines of open tickets recomputed. A refused file changes nothing.
    """
    from hotline.cli import fail
    from hotline.clock.service import import_calendar

    try:
        summary = import_calendar(path)
    except HotlineError as exc:
        fail(exc)
        return
    click.echo(
        f"calendar {summary.year} imported ({summary.source}): "
        f"{summary.holidays} day(s) off, {summary.workdays} make-up working day(s)"
    )
    if summary.alerts_resolved:
        click.echo(f"resolved {summary.alerts_resolved} missing-calendar alert(s)")
    click.echo(f"recomputed the deadlines of {summary.tickets_recomputed} provisional ticket(s)")
    if summary.tickets_still_provisional:
        click.secho(
            f"{summary.tickets_still_provisional} ticket(s) still have provisional deadlines "
            f"(another year is missing: see `hotline calendar status`)",
            fg="yellow",
        )


def parse_years(text: str) -> list[int]:
    """'2027' or '2025-2028' (inclusive) as a list of years."""
    first_text, _, last_text = text.strip().partition("-")
    try:
        first = int(first_text)
        last = int(last_text) if last_text else first
    except ValueError:
        raise click.BadParameter(
            f"expected a year or a range like 2025-2028, got {text!r}"
        ) from None
    if not 1900 <= first <= last <= 2999:
        raise click.BadParameter(f"expected years between 1900 and 2999, first <= last: {text!r}")
    if last - first >= MAX_STATUS_YEARS:
        raise click.BadParameter(f"at most {MAX_STATUS_YEARS} years at once, got {text!r}")
    return list(range(first, last + 1))


@calendar_cli.command("status")
@click.option("--years", help="a year or a range like 2025-2028 (default: this year and next)")
@with_appcontext
def calendar_status_command(years: str | None) -> None:
    """Show, for each year, whether an import, the package or nothing covers it."""
    from hotline.clock.service import calendar_status, clock_settings

    if years is None:
        this_year = datetime.now(clock_settings().zone).year
        wanted = [this_year, this_year + 1]
    else:
        wanted = parse_years(years)
    for status in calendar_status(wanted):
        alert = "  (alert open)" if status.open_alert else ""
        if status.covered_by == "import":
            imported = status.imported_at.date().isoformat() if status.imported_at else "?"
            click.echo(f"{status.year}  imported   {status.source} (on {imported}){alert}")
        elif status.covered_by == "package":
            click.echo(f"{status.year}  package    {status.source}{alert}")
        else:
            click.secho(
                f"{status.year}  MISSING    deadlines reaching {status.year} are provisional; "
                f"run `hotline calendar import PATH`{alert}",
                fg="red",
            )
