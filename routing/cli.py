"""`hotline catalogue import|export PATH`: load and dump the responsibility catalogue."""

from __future__ import annotations

import getpass
from pathlib import Path

import click
from flask.cli import with_appcontext

from hotline.errors import HotlineError

catalogue_cli = click.Group("catalogue", help="The responsibility catalogue (权责清单).")


def _operator() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name in some containers
        return None


@catalogue_cli.command("import")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def catalogue_import(path: Path) -> None:
    """Validate PATH and store it as the new current catalogue version."""
    from hotline.cli import fail
    from routing.catalogue import catalogue_counts, import_catalogue

    try:
        version = import_catalogue(path, imported_by=_operator())
    except HotlineError as exc:
        fail(exc)
    counts = ", ".join(f"{n} {what}" for what, n in catalogue_counts(version.document).items())
    click.echo(f"catalogue version {version.number} imported from {version.source}: {counts}")


@catalogue_cli.command("export")
@click.argument("path", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@click.option("--version", "version_number", type=int, help="version number (default: current)")
@with_appcontext
def catalogue_export(path: Path, version_number: int | None) -> None:
    """Write a catalogue version to PATH as YAML."""
    from hotline.cli import fail
    from routing.catalogue import export_catalogue

    try:
        version = export_catalogue(path, version_number)
    except HotlineError as exc:
        fail(exc)
    click.echo(f"catalogue version {version.number} written to {path}")
