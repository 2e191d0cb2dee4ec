"""`hotline catalogue import|export PATH` and `hotline routing train|evaluate PATH`."""

from __future__ import annotations

import getpass
from pathlib import Path

import click
from flask.cli import with_appcontext

from hotline.errors import HotlineError, InvalidInput

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


routing_cli = click.Group("routing", help="Routing suggestions: the learned model.")


@routing_cli.command("train")
@with_appcontext
def routing_train() -> None:
    """Learn from closed tickets and overrides; store and use a new model version."""
    from hotline.cli import fail
    from routing.model import ModelError, train_from_history

    try:
        row = train_from_history(trained_by=_operator())
    except ModelError as exc:
        fail(InvalidInput(str(exc), f"无法训练派单模型：{exc}"))
    metrics = row.metrics
    click.echo(
        f"routing model version {row.version} trained on {row.samples} tickets "
        f"({metrics.get('overrides', 0)} overrides, {metrics.get('classes')} categories); "
        f"held-out accuracy {metrics.get('holdout_accuracy', 'n/a')}, "
        f"blend weight {metrics.get('blend')}"
    )
    for reason, count in sorted(metrics.get("skipped", {}).items()):
        click.echo(f"  skipped {count}: {reason}")


@routing_cli.command("evaluate")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--misses", is_flag=True, help="list every item whose top unit is wrong")
@with_appcontext
def routing_evaluate(path: Path, misses: bool) -> None:
    """Print accuracy and latency of the current routing on a labelled YAML file."""
    from hotline.cli import fail
    from routing.model import ModelError, evaluate, read_labelled
    from routing.suggest import current_engine

    try:
        items = read_labelled(path.read_bytes(), path.name)
    except (OSError, ModelError) as exc:
        fail(InvalidInput(str(exc), f"评测文件无效：{exc}"))
    engine = current_engine()
    if engine is None:
        fail(InvalidInput("no catalogue imported yet", "尚未导入权责清单"))
    assert engine is not None

    def classify(text: str) -> list[str]:
        normalised, tokens = engine.tokens(text)
        features = engine.featurise(text) if engine.learned else None
        ranked, _ = engine.classifier.classify(normalised, tokens, features, top=3)
        return [c.code for c in ranked]

    result = evaluate(items, engine.suggest, classify, engine.locate)
    wrong = result.pop("misses")
    model = engine.learned.version if engine.learned else None
    click.echo(
        f"{path.name}: {result['items']} items, catalogue version "
        f"{engine.data.catalogue_version}, model version {model or 'none (catalogue only)'}"
    )
    for name in ("unit_top1", "unit_top3", "category_top1", "category_top3", "territory"):
        click.echo(f"  {name:<14} {result.get(name, 0):.3f}")
    click.echo(f"  latency        p50 {result['p50_ms']:.2f} ms, p95 {result['p95_ms']:.2f} ms")
    if misses:
        for miss in wrong:
            click.echo(f"  miss {miss['id']}: want {miss['want']}, got {miss['got']}")
