"""The ``Timeline`` facade's writing side: appends, fixture loading, JSON Lines import."""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from pathlib import Path

import attrs

from timeline import events as ev
from timeline._gc import collector_paused
from timeline.errors import (
    DuplicateEventError,
    FixtureError,
    TimelineError,
    UnknownActorError,
    ValidationError,
)
from timeline.facade_core import TimelineCore
from timeline.fixtures import (
    STREAM_CHUNK,
    Fixture,
    FixtureStream,
    WholeFileNeeded,
    fixture_error,
    fixture_error_at,
    read_fixture,
    too_large_to_read_whole,
)
from timeline.output.export import iter_jsonl, read_jsonl
from timeline.store.recorded import Actor, AppendResult
from timeline.store.sqlite import EventStore
from timeline.suggest import suggest

__all__ = ["LoadReport", "TimelineWriting"]


@attrs.frozen(kw_only=True)
class LoadReport:
    """What loading one fixture file did."""

    path: str
    story: str
    appended: int
    skipped: int
    # restrictions that, as loaded, can block no one (a product or an applies_to
    # entry that matches nothing known): almost always a misspelling
    warnings: tuple[str, ...] = ()


class TimelineWriting(TimelineCore):
    """Appending events and loading files (fixtures, JSON Lines exports)."""

    def append(
        self,
        events: Iterable[ev.Event],
        *,
        story: str | None = None,
        expected_version: int | None = None,
    ) -> AppendResult:
        """Append a batch of events to one story, atomically.

        Unknown actor ids are registered as they are met (use fixtures to
        declare names and aliases); known aliases resolve to actor ids.

        Args:
            events: records; their ``story`` may be unset (``story`` is used).
            story: the story slug, if the records don't carry it.
            expected_version: the story version the caller last saw; a mismatch
                raises ``ConcurrencyError`` and writes nothing.

        Returns:
            The recorded events and the ids skipped as already stored.

        Raises:
            ConcurrencyError: ``expected_version`` is stale.
            DuplicateEventError: an id is stored with different content.
            ValidationError: a correction or retraction points nowhere, etc.
        """
        store = self._store
        with collector_paused():
            if not isinstance(store, EventStore):
                result = store.append(events, story=story, expected_version=expected_version)
                if result.appended:
                    self._keep_snapshots(len(result.appended))
                return result
            try:
                result = store.append(
                    events, story=story, expected_version=expected_version, then=self._upkeep
                )
            except BaseException:
                self._snapshots = None  # its in-memory fold may hold what was rolled back
                raise
        if self._snapshots is not None:
            self._snapshots.committed()
        return result

    def register_actor(
        self, actor_id: str, *, name: str | None = None, kind: str = "", aliases: Sequence[str] = ()
    ) -> Actor:
        """Declare (or update) an actor with a display name, kind and aliases."""
        actor = Actor(id=actor_id, name=name or actor_id, kind=kind, aliases=tuple(aliases))
        self._store.register_actors([actor])
        return actor

    def load(
        self,
        path: str | os.PathLike[str],
        *,
        expected_version: int | None = None,
        progress: Callable[[int], None] | None = None,
        progress_bytes: Callable[[int], None] | None = None,
    ) -> LoadReport:
        """Load one fixture file: all of it, or nothing; reloading appends nothing.

        The file is read as it is appended, a chunk of events at a time, in one
        transaction (memory stays bounded whatever its size); a file the streaming
        reader cannot take (its keys in another order, or a problem to report with
        every other one of the file) is read whole instead.

        A failed load into a store file this ``Timeline`` created when it was
        opened, and which still holds nothing, removes that file (with its
        ``-wal`` and ``-shm``): no empty store is left behind. A file that existed
        before is never removed. The ``Timeline`` stays usable; using it again
        creates the file again.

        Args:
            progress: called with the number of events appended since its last call.
            progress_bytes: called with the number of the file's bytes read since its
                last call; they add up to the file's size (a progress bar over the
                file, whose number of events is not known before it is read).

        Raises:
            FixtureError: any problem, naming the file, the event and the field.
        """
        reported = 0

        def read(n: int) -> None:
            nonlocal reported
            reported += n
            if progress_bytes is not None:
                progress_bytes(n)

        with self._removing_new_store_on_failure():
            try:
                return self._load_streaming(
                    path, expected_version, progress, read if progress_bytes else None
                )
            except WholeFileNeeded as exc:
                # nothing was written; the whole-file reader handles (or words) it, if
                # the file is small enough for it
                too_large = too_large_to_read_whole(path)
                if too_large is not None:
                    found = exc.__context__
                    if isinstance(found, FixtureError):
                        raise found from None  # the first problem (the others unread)
                    raise FixtureError(
                        f"{too_large} for a fixture read whole; a larger one is read as "
                        'it is loaded, which needs its "events" last, after "format", '
                        '"story" and the other keys, and nothing after them',
                        path=str(path),
                    ) from None
            fixture = self.read_fixture(path)
            report = self.load_fixture(
                fixture, expected_version=expected_version, progress=progress
            )
            if progress_bytes is not None:
                size = Path(path).stat().st_size
                if size > reported:
                    progress_bytes(size - reported)
            return report

    @contextlib.contextmanager
    def _removing_new_store_on_failure(self) -> Iterator[None]:
        """On any failure inside, remove the store file if this object created it and
        it holds nothing yet (see :meth:`load`); then let the failure propagate."""
        try:
            yield
        except BaseException:
            # an optional capability of a backend (an SQLite file has it)
            discard: Callable[[], bool] | None = getattr(self._store, "discard_if_new", None)
            if discard is not None:
                # the load's own error is what the caller needs to see: a file that
                # cannot be removed stays, as it would have without this
                with contextlib.suppress(TimelineError, OSError):
                    discard()
            raise

    def _load_streaming(
        self,
        path: str | os.PathLike[str],
        expected_version: int | None,
        progress: Callable[[int], None] | None,
        progress_bytes: Callable[[int], None] | None = None,
    ) -> LoadReport:
        """Read and append a fixture chunk by chunk in one transaction (bounded memory)."""
        store = self._store
        # an optional capability of a backend (SQLite has it): without it, read whole
        append_chunks: Callable[..., tuple[int, int]] | None = getattr(store, "append_chunks", None)
        if append_chunks is None:
            raise WholeFileNeeded

        def stored_type(event_id: str) -> str | None:
            found = store.get(event_id)
            return None if found is None else store.codec.registry.of(found.event).name

        with FixtureStream(
            path,
            codec=store.codec,
            known_actors=store.actor_lookup(),
            stored_type=stored_type,
            known_source=getattr(store, "stored_source", None),
        ) as stream:
            where: dict[int, str] = {}  # index -> id, for the chunk being appended
            restrictions: list[ev.PolicyChange] = []
            traded: set[str] = set()  # products and suppliers of the file's trading events

            def chunks() -> Iterator[list[ev.Event]]:
                offset = read = 0
                for chunk in stream.chunks():
                    restrictions.extend(_restrictions_in(chunk))
                    traded.update(self._traded_in(chunk))
                    where.clear()
                    where.update((offset + i, e.id) for i, e in enumerate(chunk))
                    yield chunk
                    offset += len(chunk)
                    if progress is not None:
                        progress(len(chunk))
                    if progress_bytes is not None and stream.bytes_read > read:
                        progress_bytes(stream.bytes_read - read)
                        read = stream.bytes_read
                if progress_bytes is not None and stream.bytes_read > read:
                    progress_bytes(stream.bytes_read - read)  # the file's closing bytes

            try:
                appended, skipped = append_chunks(
                    chunks(),
                    story=stream.story,
                    expected_version=expected_version,
                    actors=stream.actors,
                    register_actors=False,
                    title=stream.title,
                )
            except FixtureError:
                raise  # the reader's own, already naming file, event and field
            except (DuplicateEventError, UnknownActorError, ValidationError) as exc:
                index = getattr(exc, "batch_index", None)
                event_id = where.get(index) if index is not None else None
                raise fixture_error_at(stream.path, index, event_id, exc) from exc
        if appended:
            self._keep_snapshots()
        return LoadReport(
            path=stream.path,
            story=stream.story,
            appended=appended,
            skipped=skipped,
            warnings=self._restriction_warnings(restrictions, traded),
        )

    def read_fixture(self, path: str | os.PathLike[str]) -> Fixture:
        """Parse and validate a fixture file against this store, without writing."""
        return read_fixture(
            path,
            codec=self._store.codec,
            known_actors=self._store.actor_lookup(),
            known_ids=self._store.known_ids(),
            known_source=getattr(self._store, "stored_source", None),
        )

    def load_fixture(
        self,
        fixture: Fixture,
        *,
        expected_version: int | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> LoadReport:
        """Append a parsed fixture in one transaction (a failure removes a store
        this ``Timeline`` created and that holds nothing, as :meth:`load` does)."""
        try:
            with self._removing_new_store_on_failure():
                result = self._store.append(
                    fixture.events,
                    story=fixture.story,
                    expected_version=expected_version,
                    actors=fixture.actors,
                    register_actors=False,
                    title=fixture.title,
                )
        except (DuplicateEventError, UnknownActorError, ValidationError) as exc:
            raise fixture_error(fixture, exc) from exc
        if progress is not None:
            progress(len(fixture.events))
        if result.appended:
            self._keep_snapshots()
        return LoadReport(
            path=fixture.path,
            story=fixture.story,
            appended=len(result.appended),
            skipped=len(result.skipped),
            warnings=self._restriction_warnings(
                _restrictions_in(fixture.events), self._traded_in(fixture.events)
            ),
        )

    def _traded_in(self, events: Iterable[ev.Event]) -> set[str]:
        """The products and suppliers (casefolded) that ``events`` of the stored trading
        types name: what :meth:`_restriction_warnings` reads from the store, for events
        in hand."""
        registry = self._store.codec.registry
        return _traded(e for e in events if registry.of(e).name in _TRADING)

    def _restriction_warnings(
        self, restrictions: Sequence[ev.PolicyChange], in_hand: AbstractSet[str] = frozenset()
    ) -> tuple[str, ...]:
        """Bans and restrictions that match nothing known, so block no one.

        ``in_hand``: products and suppliers that trading events just stored name
        (:meth:`_traded_in`). When every ban's product is among them, the stored trading
        events are not read back (a load of 100,000 events read 23,000 of them whole);
        otherwise they are, since events stored before may name it."""
        if not restrictions:
            return ()
        actors = self._store.actors()
        ids = {a.id for a in actors}
        kinds = {a.kind.strip().casefold() for a in actors if a.kind.strip()}
        traded = set(in_hand)
        if any(e.product and e.product.casefold() not in traded for e in restrictions):
            traded |= _traded(record.event for record in self.events(type=list(_TRADING)))
        out: list[str] = []
        names = [n for a in actors for n in (a.id, a.name, *a.aliases)]
        for event in restrictions:
            reasons = []
            if event.product and event.product.casefold() not in traded:
                reasons.append(
                    f"product {event.product!r} is no product or supplier of any inquiry or order"
                )
            targets = [
                entry
                for entry in event.applies_to
                if entry in ids
                or (entry[:5].casefold() == "kind:" and entry[5:].strip().casefold() in kinds)
            ]
            if event.applies_to and not targets:
                described = []
                for entry in event.applies_to:
                    close = suggest(entry, names, limit=1, cutoff=0.85)
                    described.append(
                        f"{entry!r} (did you mean {close[0]!r}?)" if close else repr(entry)
                    )
                reasons.append(
                    f"applies_to names no known actor or kind, only descriptions: "
                    f"{', '.join(described)}"
                )
            if reasons:
                out.append(
                    f"{event.id}: the {event.measure.value} blocks no one: {'; '.join(reasons)}"
                )
        return tuple(out)

    def import_jsonl(
        self, path: str | os.PathLike[str], *, progress: Callable[[int], None] | None = None
    ) -> list[LoadReport]:
        """Load a JSON Lines export (see :meth:`export`); reloading appends nothing.

        The whole file is one transaction, read and appended a chunk at a time (memory
        stays bounded whatever its size): a bad line or a refused event anywhere
        writes nothing. Runs of consecutive events of one story go to that story, in
        file order, so positions keep their order and ``state()`` comes out the same.

        Returns:
            One report per story, in order of first appearance.

        Raises:
            FixtureError: a bad line or event, naming the file, the event and the field
                (a store this ``Timeline`` created and that holds nothing is removed,
                as :meth:`load` does).
        """
        with self._removing_new_store_on_failure():
            append_stories: Callable[..., dict[str, tuple[int, int]]] | None = getattr(
                self._store, "append_stories", None
            )
            if append_stories is None:  # a backend without it: the file read whole
                return self._import_jsonl_whole(path, progress)
            name = str(path)
            restrictions: dict[str, list[ev.PolicyChange]] = {}
            traded: dict[str, set[str]] = {}
            where: dict[int, str] = {}  # index -> id, for the chunk being appended

            def chunks() -> Iterator[tuple[str, list[ev.Event], list[Actor]]]:
                batch: list[ev.Event] = []
                story = ""
                offset = 0
                for index, event in enumerate(iter_jsonl(path, self._store.codec)):
                    if not event.story:
                        raise _storyless(name, index, event.id)
                    if batch and (event.story != story or len(batch) >= STREAM_CHUNK):
                        yield self._jsonl_chunk(story, batch, offset, where, restrictions, traded)
                        offset += len(batch)
                        if progress is not None:
                            progress(len(batch))
                        batch = []
                    story = event.story
                    batch.append(event)
                if batch:
                    yield self._jsonl_chunk(story, batch, offset, where, restrictions, traded)
                    if progress is not None:
                        progress(len(batch))

            try:
                counts = append_stories(chunks())
            except FixtureError:
                raise  # the reader's own, naming file, event, field and line
            except (DuplicateEventError, UnknownActorError, ValidationError) as exc:
                index = getattr(exc, "batch_index", None)
                event_id = where.get(index) if index is not None else None
                raise fixture_error_at(name, index, event_id, exc) from exc
            if any(appended for appended, _ in counts.values()):
                self._keep_snapshots()
            return [
                LoadReport(
                    path=name,
                    story=story,
                    appended=appended,
                    skipped=skipped,
                    warnings=self._restriction_warnings(restrictions[story], traded[story]),
                )
                for story, (appended, skipped) in counts.items()
            ]

    def _jsonl_chunk(
        self,
        story: str,
        batch: list[ev.Event],
        offset: int,
        where: dict[int, str],
        restrictions: dict[str, list[ev.PolicyChange]],
        traded: dict[str, set[str]],
    ) -> tuple[str, list[ev.Event], list[Actor]]:
        """One chunk of a JSON Lines import, as :meth:`EventStore.append_stories` takes
        it: the actors its events name declared by id (as a store registers actors it
        meets), what the restriction warnings need noted, its ids kept for errors."""
        restrictions.setdefault(story, []).extend(_restrictions_in(batch))
        traded.setdefault(story, set()).update(self._traded_in(batch))
        where.clear()
        where.update((offset + i, e.id) for i, e in enumerate(batch))
        actors = {a: Actor(id=a, name=a) for e in batch for _, a in e.actor_refs()}
        return story, batch, list(actors.values())

    def _import_jsonl_whole(
        self, path: str | os.PathLike[str], progress: Callable[[int], None] | None
    ) -> list[LoadReport]:
        """:meth:`import_jsonl` on a backend that cannot append in chunks: the file is
        read and validated whole, then each run of one story's events is appended in
        one transaction."""
        name = str(path)
        events = read_jsonl(path, self._store.codec)
        reports: dict[str, LoadReport] = {}
        offset = 0
        for story, run in itertools.groupby(events, key=lambda e: e.story or ""):
            batch = tuple(run)
            if not story:
                raise _storyless(name, offset, batch[0].id)
            start, offset = offset, offset + len(batch)
            actors = {a: Actor(id=a, name=a) for e in batch for _, a in e.actor_refs()}
            fixture = Fixture(
                path=name, story=story, title=None, actors=tuple(actors.values()), events=batch
            )
            try:
                report = self.load_fixture(fixture, progress=progress)
            except FixtureError as exc:
                cause = exc.__cause__
                if exc.index is None or not isinstance(cause, TimelineError):
                    raise
                # the refused event's index in the file, not in its story's run
                raise fixture_error_at(name, start + exc.index, exc.event_id, cause) from cause
            seen = reports.get(story)
            if seen is not None:
                report = attrs.evolve(
                    seen,
                    appended=seen.appended + report.appended,
                    skipped=seen.skipped + report.skipped,
                    warnings=seen.warnings + report.warnings,
                )
            reports[story] = report
        return list(reports.values())


def _storyless(path: str, index: int, event_id: str) -> FixtureError:
    """A JSON Lines record without a story (an export always writes one)."""
    return FixtureError(
        "every line needs a story", path=path, index=index, event_id=event_id, field="story"
    )


_TRADING = ("inquiry", "order_placed", "order_cancelled", "order_delivered")
"""The stored types whose products and suppliers a ban may name."""


def _traded(events: Iterable[ev.Event]) -> set[str]:
    """The products and suppliers (casefolded) that ``events`` name."""
    traded: set[str] = set()
    for event in events:
        for name in ("product", "supplier"):
            value = getattr(event, name, None)
            if isinstance(value, str):
                traded.add(value.casefold())
    return traded


def _restrictions_in(events: Iterable[ev.Event]) -> list[ev.PolicyChange]:
    return [
        e
        for e in events
        if isinstance(e, ev.PolicyChange) and e.measure.value in ("ban", "restrict")
    ]
