"""The ``timeline`` command line (click). Thin: it parses, calls the library, prints.

The store file is the first argument of every command. Read commands never
create a store: a missing file is an error. Only this module turns errors into
exit codes and one-line messages (``Error: ...`` on stderr, exit status 1).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO, TypeVar

import click
from tabulate import tabulate

from timeline.bitemporal import Bounds
from timeline.errors import FixtureError, StoreError, TimelineError
from timeline.facade import LoadReport, Timeline
from timeline.fixtures import check_regular_file
from timeline.output import tables as render
from timeline.output.corrections import amendments
from timeline.output.export import FORMATS
from timeline.output.labels import (
    bounds_dict,
    change_dict,
    claim_labels,
    plain,
    with_amending_ids,
)
from timeline.replay import ORDERS, ReplayStep
from timeline.times import parse_bound

F = TypeVar("F", bound=Callable[..., Any])

# a fixture this large gets a progress bar on a terminal without --progress
_PROGRESS_THRESHOLD = 1000
_BYTES_PER_EVENT = 800  # about, in a fixture file (the bench story's: 787)


class _Group(click.Group):
    """Turns library and file errors into one line on stderr and exit status 1."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        # bytes that are not UTF-8 reach Python as lone surrogates, which no store,
        # search or path can take: say which argument, in one line
        for position, arg in enumerate(args, start=1):
            try:
                arg.encode("utf-8")
            except UnicodeEncodeError:
                shown = arg.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
                raise click.ClickException(
                    f"argument {position} ({shown!r}) is not valid UTF-8 text"
                ) from None
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            # the reader has gone (`timeline replay DB | head`): that is no error
            _silence_stdout()
            ctx.exit(0)
        except FixtureError as exc:
            if len(exc.problems) > 1:  # one line per problem
                lines = map(_one_line, str(exc).splitlines())
                raise click.ClickException("\n".join(lines)) from exc
            raise click.ClickException(_one_line(str(exc))) from exc
        except TimelineError as exc:
            raise click.ClickException(_one_line(str(exc))) from exc
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename else ""
            raise click.ClickException(_one_line(f"{where}{exc.strerror or exc}")) from exc


def _silence_stdout() -> None:
    """Point stdout at /dev/null so flushing it at exit cannot fail again."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, ValueError, OSError):
        return  # not a real file (a test runner's buffer)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


def _one_line(text: str) -> str:
    return " ".join(text.split())


_db = click.argument("db", type=click.Path(dir_okay=False))
_json = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
_progress_option = click.option(
    "--progress/--no-progress",
    default=None,
    help=f"Show a progress bar on stderr (default: on a terminal, for more than "
    f"{_PROGRESS_THRESHOLD} events).",
)
_story = click.option("--story", help="Only this story (slug).")
_certain = click.option(
    "--certain",
    is_flag=True,
    help="Only what certainly happened (and was public) by then, not what possibly did.",
)


def _bounds(fn: F) -> F:
    for option in reversed(
        [
            click.option("--at", help="Valid time: only what had happened by then."),
            click.option("--known-at", help="Knowledge time: only what had been reported by then."),
            click.option("--recorded-by", help="Audit: only what this store had recorded by then."),
            _certain,
        ]
    ):
        fn = option(fn)
    return fn


def _read(db: str) -> Timeline:
    """Open an existing store; never creates one (older stores are upgraded in place)."""
    return Timeline.open(db, create=False)


def _echo_json(data: Any) -> None:
    click.echo(render.to_json(data))


def _echo_steps(
    store: Timeline,
    steps: Iterable[ReplayStep],
    order: str,
    amended: dict[str, tuple[str, str]],
    *,
    as_json: bool,
) -> None:
    """A replay's steps, written as they are folded (never all held): a JSON list, or
    tables of at most ``render.STEPS_PER_TABLE`` steps separated by a blank line."""
    if as_json:
        codec = store.store.codec
        items = (render.step_dict(s, order, codec, amended) for s in steps)
        for piece in render.to_json_list(items):
            click.echo(piece, nl=False)
        click.echo()
        return
    for i, table in enumerate(render.steps_tables(steps, order, store.type_name, amended)):
        click.echo(("\n" if i else "") + table)


@click.group(cls=_Group)
@click.version_option(package_name="timeline", prog_name="timeline")
def cli() -> None:
    """Event-sourced news timelines in a SQLite file.

    Every command takes the store file first: timeline state news.db --at 2025-12-10
    """


# --- writing ------------------------------------------------------------------------


@contextlib.contextmanager
def _progress(
    show: bool, length: int, label: str, *, fill: bool = False
) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr (never stdout) fed with increments, or nothing.

    ``fill``: ``length`` is an upper bound (an export counts the log's events,
    and writes those its bounds select): the bar is filled once the work is done.
    """
    if not show:
        yield lambda _n: None
        return
    with click.progressbar(length=length, label=label, file=sys.stderr) as bar:
        yield bar.update
        if fill and bar.pos < length:
            bar.update(length - bar.pos)


def _show_progress(option: bool | None, count: int) -> bool:
    if option is not None:
        return option
    return count > _PROGRESS_THRESHOLD and sys.stderr.isatty()


def _report(report: LoadReport) -> None:
    for warning in report.warnings:
        click.echo(f"Warning: {report.path}: {_one_line(warning)}", err=True)
    click.echo(
        f"{report.path}: story {report.story!r}: {report.appended} appended, "
        f"{report.skipped} already stored"
    )


@cli.command()
@_db
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option(
    "--progress/--no-progress",
    default=None,
    help=f"Show a progress bar (default: on a terminal, for files of more than "
    f"{_PROGRESS_THRESHOLD} events; a fixture's bar follows the bytes read, and shows "
    f"from {_PROGRESS_THRESHOLD * _BYTES_PER_EVENT // 1000} KB).",
)
def load(db: str, files: tuple[str, ...], progress: bool | None) -> None:
    """Load fixture FILES (JSON) or JSON Lines exports (*.jsonl) into DB.

    DB is created if missing. Each fixture loads all or nothing; loading a file
    again appends nothing.
    """
    created = not Path(db).exists()
    appended: list[int] = []
    try:
        _load(db, files, progress, appended)
    except (TimelineError, OSError):
        if created and not sum(appended):  # a refused load leaves no empty store behind
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(db + suffix).unlink(missing_ok=True)
        raise


def _load(db: str, files: tuple[str, ...], progress: bool | None, appended: list[int]) -> None:
    with Timeline.open(db) as store:
        for file in files:
            if file.endswith(".jsonl"):
                check_regular_file(file)  # a FIFO would block the count below
                with Path(file).open(encoding="utf-8", errors="replace") as handle:
                    count = sum(1 for line in handle if line.strip())
                with _progress(_show_progress(progress, count), count, file) as tick:
                    reports = store.import_jsonl(file, progress=tick)
                for report in reports:
                    appended.append(report.appended)
                    _report(report)
                continue
            # read as it is appended (bounded memory): the bar follows the file's bytes
            check_regular_file(file)  # (before its size is asked)
            size = Path(file).stat().st_size
            show = _show_progress(progress, size // _BYTES_PER_EVENT)
            with _progress(show, size, file) as tick:
                report = store.load(file, progress_bytes=tick)
            appended.append(report.appended)
            _report(report)
        if sum(appended):
            _catch_up(store, progress, sum(appended))


def _catch_up(store: Timeline, progress: bool | None, appended: int) -> None:
    """After a load or a copy: the snapshots brought up to the log, so that the next
    query answers at once (an append's own upkeep leaves a large load's refold to the
    next query; a copy writes none). The events are committed: a store that cannot keep
    them now only says so."""
    total = store.store.head()
    try:
        with _progress(_show_progress(progress, appended), total, "snapshots", fill=True) as tick:
            store.catch_up(progress=tick)
    except StoreError as exc:
        click.echo(f"Warning: {_one_line(str(exc))} (the next query folds what is new)", err=True)


@cli.command()
@_db
@click.argument("out", type=click.Path(dir_okay=False))
def backup(db: str, out: str) -> None:
    """Write a consistent copy of DB to OUT (which must not exist)."""
    with _read(db) as store:
        store.backup(out)
    click.echo(f"{db}: backed up to {out}")


# --- reading ----------------------------------------------------------------------------


@cli.command()
@_db
@click.option(
    "--order",
    type=click.Choice(ORDERS),
    default="occurred",
    show_default=True,
    help="As it happened, as it was reported, or as this store recorded it.",
)
@click.option("--start", help="Skip steps before this time (in the order's time).")
@click.option("--until", help="Stop after this time (in the order's time).")
@_story
@click.option("--actor", help="Only steps naming this actor or changing its facts.")
@_bounds
@_json
def replay(
    db: str,
    order: str,
    start: str | None,
    until: str | None,
    story: str | None,
    actor: str | None,
    at: str | None,
    known_at: str | None,
    recorded_by: str | None,
    certain: bool,
    as_json: bool,
) -> None:
    """Replay DB step by step: each event and the facts it changed (before -> after)."""
    with _read(db) as store:
        steps = store.replay(
            order,
            start=start,
            until=until,
            story=story,
            actor=actor,
            at=at,
            known_at=known_at,
            recorded_by=recorded_by,
            certain=certain,
        )
        bounds = Bounds.parse(at=at, known_at=known_at, recorded_by=recorded_by, story=story)
        # in occurred order the facts are as corrected; in reported or recorded order
        # a step is labelled only when it is itself the correction or retraction
        amended = (
            amendments(store, known_until=bounds.known_at, story=story)
            if order == "occurred"
            else {}
        )
        _echo_steps(store, steps, order, amended, as_json=as_json)


@cli.command()
@_db
@_bounds
@click.option("--actor", help="Only this actor's stances, and intents where it buys or supplies.")
@click.option("--topic", help="Only stances on this topic.")
@_story
@_json
def state(
    db: str,
    at: str | None,
    known_at: str | None,
    recorded_by: str | None,
    certain: bool,
    actor: str | None,
    topic: str | None,
    story: str | None,
    as_json: bool,
) -> None:
    """Stances and order intents at a point in time, as known at a point in time.

    A fact only possibly true by then (its events' periods reach past the bounds)
    is marked "possibly"; --certain leaves out what only possibly happened.
    """
    with _read(db) as store:
        facts = store.state(
            at=at, known_at=known_at, recorded_by=recorded_by, story=story, certain=certain
        )
        who = store.resolve_actor(actor) if actor is not None else None
        stances = facts.stances(actor=who, topic=topic)
        intents = [i for i in facts.order_intents() if who is None or who in (i.buyer, i.supplier)]
        restrictions = facts.restrictions()
        claims = claim_labels(store, [*stances, *intents, *restrictions])
        bounds = Bounds.parse(
            at=at, known_at=known_at, recorded_by=recorded_by, story=story, certain=certain
        )
        # a fact folded from a corrected event names the correction in its evidence
        amended = amendments(store, known_until=bounds.known_at, story=story)
        stances = [with_amending_ids(f, amended) for f in stances]
        intents = [with_amending_ids(f, amended) for f in intents]
        restrictions = [with_amending_ids(f, amended) for f in restrictions]
    if as_json:
        _echo_json(
            {
                "bounds": bounds_dict(bounds),
                "stances": plain(stances),
                "order_intents": plain(intents),
                "restrictions": plain(restrictions),
            }
        )
        return
    click.echo(f"Stances\n{render.stances_table(stances, claims)}\n")
    click.echo(f"Order intents\n{render.intents_table(intents, claims)}\n")
    click.echo(f"Restrictions in force\n{render.restrictions_table(restrictions, claims)}")


@cli.command()
@_db
@click.argument("a")
@click.argument("b")
@click.option(
    "--known", is_flag=True, help="A and B are knowledge times: what we learned in between."
)
@_story
@_certain
@_json
def diff(
    db: str, a: str, b: str, known: bool, story: str | None, certain: bool, as_json: bool
) -> None:
    """Facts that changed between valid times A and B (or knowledge times, with --known)."""
    with _read(db) as store:
        changes = store.diff(a, b, known=known, story=story, certain=certain)
        claims = claim_labels(store, [f for c in changes for f in (c.before, c.after)])
        if known:  # what was corrected or retracted in between
            amended = amendments(
                store,
                known_since=parse_bound(a, field="a"),
                known_until=parse_bound(b, field="b"),
                story=story,
            )
        else:
            amended = amendments(store, story=story)
        codec = store.store.codec
    if as_json:
        data = [change_dict(c, codec, amended) for c in changes]
        _echo_json(
            {"a": a, "b": b, "known": known, "certain": certain, "story": story, "changes": data}
        )
    else:
        click.echo(render.changes_table(changes, claims, amended))


@cli.command()
@_db
@click.argument("actor")
@_story
@_bounds
@_json
def history(
    db: str,
    actor: str,
    story: str | None,
    at: str | None,
    known_at: str | None,
    recorded_by: str | None,
    certain: bool,
    as_json: bool,
) -> None:
    """Every step, in occurred order, that names ACTOR or changes one of its facts."""
    with _read(db) as store:
        steps = store.replay(
            "occurred",
            actor=actor,
            story=story,
            at=at,
            known_at=known_at,
            recorded_by=recorded_by,
            certain=certain,
        )
        _echo_steps(store, steps, "occurred", amendments(store, story=story), as_json=as_json)


@cli.command()
@_db
@click.option("--after", type=int, default=0, show_default=True, help="Last position seen.")
@_story
@click.option(
    "--timeout",
    type=float,
    default=None,
    help="Stop after this many seconds without a new event (default: follow until Ctrl-C).",
)
@_json
def follow(db: str, after: int, story: str | None, timeout: float | None, as_json: bool) -> None:
    """Print DB's events as they are appended (one line each), from --after on."""
    with _read(db) as store:
        try:
            for record in store.follow(after, story=story, timeout=timeout):
                if as_json:
                    line = {
                        "position": record.position,
                        "story": record.story,
                        "version": record.version,
                        "recorded_at": record.recorded_at.isoformat(),
                        "id": record.id,
                        "type": store.type_name(record.event),
                        "summary": record.event.summary,
                    }
                    click.echo(json.dumps(line, ensure_ascii=False))
                else:
                    click.echo(
                        f"{record.position}\t{record.story}\t{record.id}\t"
                        f"{store.type_name(record.event)}\t{_one_line(record.event.summary)}"
                    )
        except KeyboardInterrupt:
            return


@cli.command()
@click.argument("source", metavar="DB", type=click.Path(dir_okay=False))
@click.argument("target", type=click.Path(dir_okay=False))
@click.option("--chunk", type=int, default=2000, show_default=True, help="Events per transaction.")
@_progress_option
def copy(source: str, target: str, chunk: int, progress: bool | None) -> None:
    """Copy the store DB into TARGET (an SQLite file or a postgresql:// URL).

    Positions, versions, recorded times and hashes stay intact and both ends are
    verified; run it again after an interruption and it resumes. TARGET's snapshots
    are then brought up to its log, so that its first query answers at once.
    """
    with _read(source) as src, Timeline.open(target) as dst:
        total = src.store.head() - dst.store.head()
        with _progress(_show_progress(progress, total), max(total, 0), "Copying") as tick:
            done = [0]

            def step(copied: int, _total: int) -> None:
                tick(copied - done[0])
                done[0] = copied

            report = src.copy_to(dst, chunk=chunk, progress=step)
        click.echo(
            f"{target}: {report.copied} events copied"
            + (f" after the {report.resumed_from} already there" if report.resumed_from else "")
            + f"; both ends verified ({report.verified} events, head hash {report.head_hash})"
        )
        if report.verified:
            # a copy writes rows, not snapshots: without this the first query on the
            # target would fold its whole log (a current target costs one read)
            _catch_up(dst, progress, report.copied)


@cli.command()
@_db
@click.option(
    "--deep",
    is_flag=True,
    help="Also check what is derived from the log (snapshots, search index, event-actor "
    "index) against it, naming what differs.",
)
@_progress_option
@_json
def verify(db: str, deep: bool, progress: bool | None, as_json: bool) -> None:
    """Check the sha256 hash chain of DB; exit 1 naming the first bad position."""
    with _read(db) as store:
        total = store.store.head()
        with _progress(_show_progress(progress, total), total, "Verifying") as tick:
            count = store.verify(deep=deep, progress=tick)
    if as_json:
        _echo_json({"ok": True, "events": count, **({"deep": True} if deep else {})})
    else:
        extra = "; snapshots, search and actor indexes match the log" if deep else ""
        click.echo(f"{db}: ok, {count} events, hash chain intact{extra}")


@cli.command()
@_db
def repair(db: str) -> None:
    """Rebuild everything DB derives from its log: snapshots, search and actor indexes."""
    with _read(db) as store:
        store.verify()  # never rebuild from a log that does not verify
        before = store.repair()
    if before:
        click.echo(f"{db}: rebuilt from the log; it differed: " + "; ".join(before))
    else:
        click.echo(f"{db}: rebuilt from the log (it already matched)")


@cli.command()
@_db
@click.argument("query")
@_story
@click.option("--actor", help="Only events naming this actor.")
@click.option("--type", "types", multiple=True, help="Only this event type (repeatable).")
@click.option("--since", help="Only events that occurred at or after this time.")
@click.option("--until", help="Only events that occurred by this time.")
@click.option("--limit", type=int, default=20, show_default=True, help="At most this many.")
@click.option("--at", help="Only events that occurred by then.")
@click.option("--known-at", help="Only events reported by then (and corrections known by then).")
@click.option("--current", is_flag=True, help="Leave out retracted and corrected events.")
@click.option(
    "--raw/--plain",
    default=None,
    help="Read QUERY as FTS5 syntax, or as plain words (default: FTS5 syntax when it uses "
    "double quotes, *, parentheses or AND / OR / NOT / NEAR).",
)
@_json
def search(
    db: str,
    query: str,
    story: str | None,
    actor: str | None,
    types: tuple[str, ...],
    since: str | None,
    until: str | None,
    limit: int,
    at: str | None,
    known_at: str | None,
    current: bool,
    raw: bool | None,
    as_json: bool,
) -> None:
    """Full-text search of summaries, quotes, attributions, sources and actor names.

    Plain words must all appear (grey market); "quoted phrases", AND / OR / NOT,
    prefix* and column filters (summary: tender) are FTS5 syntax. Retracted and
    corrected events are marked in the status column (--current leaves them out).
    """
    with _read(db) as store:
        hits = store.search(
            query,
            story=story,
            actor=actor,
            type=list(types) or None,
            since=since,
            until=until,
            limit=limit,
            raw=raw,
            at=at,
            known_at=known_at,
            current=current,
        )
        if as_json:
            _echo_json(plain(hits))
        else:
            click.echo(render.hits_table(hits, store.type_name))


@cli.command()
@_db
@click.option(
    "--format", "fmt", type=click.Choice(FORMATS), required=True, help="The export format."
)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, allow_dash=True),
    help="The file to write (overwritten), or - for standard output.",
)
@_bounds
@_story
@_progress_option
def export(
    db: str,
    fmt: str,
    output: str,
    at: str | None,
    known_at: str | None,
    recorded_by: str | None,
    certain: bool,
    story: str | None,
    progress: bool | None,
) -> None:
    """Export the events a state with these bounds sees.

    jsonl: records to load again (timeline load NEW.db OUT.jsonl); csv: one row per
    event; markdown: a dated timeline with sources; timelinejs: Knight Lab's
    TimelineJS JSON; html: a self-contained page with a stance lane per actor.
    """
    with _read(db) as store:
        # the bar counts against the log's events: an export writes those its bounds select
        total = store.store.count_events()
        label = f"Exporting {fmt}"
        with _progress(_show_progress(progress, total), total, label, fill=True) as tick:
            target: str | TextIO = sys.stdout if output == "-" else output
            count = store.export(
                fmt,
                target,
                at=at,
                known_at=known_at,
                recorded_by=recorded_by,
                story=story,
                certain=certain,
                progress=tick,
            )
    if output != "-":
        click.echo(f"{output}: {count} events ({fmt})")


@cli.command()
@_db
@_json
def actors(db: str, as_json: bool) -> None:
    """List the actors in DB: id, name, kind, aliases."""
    with _read(db) as store:
        found = store.actors()
    if as_json:
        _echo_json(plain(found))
    else:
        click.echo(render.actors_table(found))


@cli.command("datasette-metadata")
@_db
def datasette_metadata(db: str) -> None:
    """Print Datasette metadata for DB: search that works, internal tables hidden,
    labelled columns and canned queries.

    timeline datasette-metadata news.db > metadata.json && datasette news.db -m metadata.json
    """
    with _read(db) as store:
        _echo_json(store.datasette_metadata())


@cli.command()
@_db
@_json
def topics(db: str, as_json: bool) -> None:
    """List the topics events in DB name: topic, events, actors taking part."""
    with _read(db) as store:
        found = store.topics()
    if as_json:
        _echo_json(plain(found))
    else:
        rows = [[t.topic, t.events, ", ".join(t.actors)] for t in found]
        click.echo(tabulate(rows, headers=["topic", "events", "actors"]) if rows else "(none)")


@cli.command()
@_db
@_json
def stories(db: str, as_json: bool) -> None:
    """List the stories in DB: slug, title, events."""
    with _read(db) as store:
        found = store.stories()
    if as_json:
        _echo_json([{"story": s, "title": t, "events": n} for s, t, n in found])
    else:
        click.echo(tabulate(found, headers=["story", "title", "events"]) if found else "(none)")


@cli.command()
@_db
@_json
def info(db: str, as_json: bool) -> None:
    """Summarise DB: file, schema, events, stories, actors, head position."""
    with _read(db) as store:
        summary = store.info()
    if as_json:
        _echo_json(plain(summary))
    else:
        rows = [[k, ", ".join(v) if isinstance(v, list) else v] for k, v in summary.items()]
        click.echo(tabulate(rows, tablefmt="plain"))


def main() -> None:
    """Console-script entry point (also ``python -m timeline``)."""
    name = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "timeline"
    cli(prog_name="python -m timeline" if name == "__main__.py" else name)


__all__ = ["cli", "main"]
