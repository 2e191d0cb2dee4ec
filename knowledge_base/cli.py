"""`hotline kb import|export PATH`, `hotline kb synonyms`, `hotline kb reindex`."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
from flask.cli import with_appcontext

from hotline.errors import HotlineError

kb_cli = click.Group("kb", help="The knowledge base (统一知识库).")
# Files with more articles than this show a progress bar on stderr.
PROGRESS_FROM = 200


def _progress(items: list[Any], label: str) -> Iterator[Any]:
    if len(items) < PROGRESS_FROM:
        yield from items
        return
    with click.progressbar(items, label=f"{label} {len(items)} articles", file=sys.stderr) as bar:
        yield from bar


@kb_cli.command("import")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--review", is_flag=True, help="leave imported changes waiting for review")
@with_appcontext
def kb_import(path: Path, review: bool) -> None:
    """Import PATH (.yaml, .csv, .xlsx); articles are updated by id."""
    from hotline.cli import fail
    from knowledge_base.io import import_knowledge_base

    try:
        summary = import_knowledge_base(path, publish=not review, progress=_progress)
    except HotlineError as exc:
        fail(exc)
    click.echo(
        f"{path.name}: {summary.created} created, {summary.updated} updated, "
        f"{summary.unchanged} unchanged"
        + (" (waiting for review)" if review and summary.created + summary.updated else "")
    )


@kb_cli.command("export")
@click.argument("path", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@click.option("--all", "include_unpublished", is_flag=True, help="include never-published drafts")
@with_appcontext
def kb_export(path: Path, include_unpublished: bool) -> None:
    """Write the knowledge base to PATH (.yaml, .csv, .xlsx) in the import format."""
    from hotline.cli import fail
    from knowledge_base.io import export_knowledge_base

    try:
        count = export_knowledge_base(path, include_unpublished=include_unpublished)
    except HotlineError as exc:
        fail(exc)
    click.echo(f"{count} articles written to {path}")


@kb_cli.command("synonyms")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path), required=False)
@with_appcontext
def kb_synonyms(path: Path | None) -> None:
    """Replace the search synonyms from PATH (YAML `groups:`; default: the bundled list)."""
    from hotline.cli import fail
    from knowledge_base.synonyms import DEFAULT_FILE, load_file, replace_synonyms

    try:
        count = replace_synonyms(load_file(path or DEFAULT_FILE), actor=None)
    except HotlineError as exc:
        fail(exc)
    click.echo(f"{count} synonym groups loaded; published articles re-indexed")


@kb_cli.command("reindex")
@with_appcontext
def kb_reindex() -> None:
    """Rebuild the search index of every published article."""
    from hotline.extensions import db
    from knowledge_base.reindex import REINDEX_BATCH, reindex_all

    count = reindex_all(batch=REINDEX_BATCH)
    db.session.commit()
    click.echo(f"{count} articles re-indexed")


@kb_cli.command("check-publication")
@with_appcontext
def kb_check_publication() -> None:
    """Alert on approved service guides not published within their deadline."""
    from knowledge_base.articles import flag_late_publications

    click.echo(f"{flag_late_publications()} late publication(s) flagged")
