"""The ``timeline`` command line (click). Thin: it parses, calls the library, prints.

Only this module turns errors into exit codes and one-line messages.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from tabulate import tabulate

from timeline.errors import TimelineError
from timeline.query import Timeline

F = TypeVar("F", bound=Callable[..., Any])


def _errors_as_messages(fn: F) -> F:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except TimelineError as exc:
            raise click.ClickException(str(exc)) from exc

    return wrapper  # type: ignore[return-value]


def _open(db: str, *, create: bool = False) -> Timeline:
    return Timeline.open(db, create=create, readonly=False)


@click.group()
@click.version_option(package_name="timeline")
def cli() -> None:
    """Event-sourced news timelines in a SQLite file."""


@cli.command()
@click.argument("db", type=click.Path(dir_okay=False))
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@_errors_as_messages
def load(db: str, files: tuple[str, ...]) -> None:
    """Load fixture FILES into the store DB (created if missing)."""
    with _open(db, create=True) as store:
        for file in files:
            report = store.load(file)
            click.echo(
                f"{file}: story {report.story!r}: {report.appended} appended, "
                f"{report.skipped} already stored"
            )


@cli.command()
@click.argument("db", type=click.Path(dir_okay=False))
@_errors_as_messages
def replay(db: str) -> None:
    """Print the timeline of DB in the order events occurred."""
    with _open(db) as store:
        rows = [
            [
                r.event.occurred_at.date().isoformat(),
                store.type_name(r.event),
                ", ".join(a for _, a in r.event.actor_refs()),
                r.event.summary,
            ]
            for r in store.events(order="occurred")
        ]
    click.echo(tabulate(rows, headers=["occurred", "type", "actors", "summary"]))


def main() -> None:
    """Console-script entry point."""
    cli(prog_name=Path(sys.argv[0]).name if sys.argv else "timeline")
