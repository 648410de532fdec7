"""Full-state checkpoints: a state at T from the nearest checkpoint and the versions
after it equals a full fold of the log, whatever was appended, backdated, corrected
or retracted; an old store without checkpoints migrates, answers, and gets them.

The checkpoint spacing is lowered to a few versions so that small random histories
hold many checkpoints and every state at T reads one.
"""

from __future__ import annotations

import itertools
import shutil
import sqlite3
import tempfile
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import timeline as tl
from tests.conftest import StepClock
from timeline.projections.fold import LazyFacts
from timeline.snapshots import _key_text, okey
from timeline.store import facts
from timeline.store._schema import CHECKPOINT_CHAIN
from timeline.store.facts import SQLiteSnapshotStore, stored_state

from .test_state_properties import BASE, history

DATA = Path(__file__).resolve().parent.parent / "data"
SCHEMA_0003_STORE = DATA / "store-schema-0003.db"

# random valid times around the histories' events (days 0-20, any hour), and unbounded
ats = st.lists(
    st.builds(
        lambda d, h: BASE + timedelta(days=d, hours=h), st.integers(-1, 22), st.integers(0, 23)
    ),
    min_size=1,
    max_size=4,
)


def _dense(mp: pytest.MonkeyPatch, every: int) -> None:
    """A full-state checkpoint every ``every`` versions, looked for after every write:
    a few events make many checkpoints."""
    mp.setattr(facts, "CHECKPOINT_EVERY", every)
    mp.setattr(facts, "_CHECK_AFTER", 1)


def _checkpoints(path: Path) -> list[tuple[str, int]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT okey, size FROM fact_checkpoints ORDER BY okey").fetchall()
    finally:
        conn.close()


def _checkpoints_hold(path: Path) -> dict[str, dict[str, str]]:
    """Every stored checkpoint, asserted equal to the state its versions give at its key
    but for the facts it lists as stale (which a reader takes from the versions);
    returned as a reader sees it (stale facts from the versions)."""
    conn = sqlite3.connect(path)
    try:
        held = {}
        for okey, size in conn.execute("SELECT okey, size FROM fact_checkpoints").fetchall():
            state, _ = stored_state(conn, okey)
            assert size == len(state)
            stale = {
                key
                for (key,) in conn.execute(
                    "SELECT k.key FROM fact_checkpoint_stale s "
                    "JOIN fact_keys k ON k.id = s.key_id WHERE s.checkpoint = ?",
                    (okey,),
                )
            }
            versions = dict(SQLiteSnapshotStore._scan(conn, okey, "<="))
            kept = {k: v for k, v in state.items() if k not in stale}
            assert kept == {k: v for k, v in versions.items() if k not in stale}, okey
            read = SQLiteSnapshotStore._state_texts(conn, okey, inclusive=True)
            assert read == versions, okey
            held[okey] = read
        return held
    finally:
        conn.close()


def _stale(path: Path) -> list[tuple[str, str]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(
            "SELECT s.checkpoint, k.key FROM fact_checkpoint_stale s "
            "JOIN fact_keys k ON k.id = s.key_id ORDER BY s.checkpoint, k.key"
        ).fetchall()
    finally:
        conn.close()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches=history(), times=ats)
def test_a_state_at_t_from_checkpoints_equals_a_full_fold(
    batches: list[list[tl.Event]], times: list[object]
) -> None:
    with pytest.MonkeyPatch.context() as mp, tempfile.TemporaryDirectory() as tmp:
        _dense(mp, 2)
        mp.setattr(facts, "CHECKPOINT_CHAIN", 3)  # whole checkpoints and changes both
        path = Path(tmp) / "c.db"
        with tl.Timeline.open(path, clock=StepClock()) as live:
            for batch in batches:
                live.append(batch, story="s")
                # a read-only store keeps no snapshots: it folds the log (the reference)
                with (
                    tl.Timeline.open(path, readonly=True) as reader,
                    tl.Timeline.open(path) as fresh,
                ):
                    for at in [*times, None]:
                        expected = reader.state(at=at)
                        got = fresh.state(at=at)
                        assert got == expected, at
                        assert got.stances() == expected.stances(), at
                        assert got.order_intents() == expected.order_intents(), at
                        assert got.restrictions() == expected.restrictions(), at
        _checkpoints_hold(path)


def test_checkpoints_after_a_backdated_change_stay_listing_rewritten_facts(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    day = [BASE + timedelta(days=d) for d in range(40)]

    def said(n: int, at: int, position: str) -> tl.Event:
        return tl.Statement(
            id=f"s{n}", occurred_at=day[at], actor=f"a{n % 3}", topic="t", position=position
        )

    with pytest.MonkeyPatch.context() as mp:
        _dense(mp, 3)
        with tl.Timeline.open(path, clock=StepClock()) as store:
            for n in range(20):
                store.append([said(n, 10 + n, "supports" if n % 2 else "opposes")], story="s")
            written = _checkpoints(path)
            assert len(written) >= 4
            old = _checkpoints_hold(path)
            assert [s for _, s in written] == sorted(s for _, s in written)  # facts only grow
            state = store.state(at=day[25])
            # read from a checkpoint: facts decoded when asked for
            assert isinstance(state._facts["stance"], LazyFacts)
            before = {(s.actor, s.position.value) for s in state.stances()}
            assert before == {("a0", "supports"), ("a1", "supports"), ("a2", "opposes")}
            # a backdated statement at day 12 rewrites a0's history from there on
            store.append([said(99, 12, "undecided")], story="s")
            new = _checkpoints_hold(path)
            cut = okey(day[12], 0)  # before every event of that time
            assert all(new[k] == old[k] for k in old if k < cut)
            # the checkpoints after it are kept, each listing a0's stance as stale
            assert set(old) <= set(new)
            a0 = _key_text("stance", ("a0", "t"))
            late = store.get("s99")
            assert late is not None
            at = okey(day[12], late.position)  # where it sorts in the fold
            assert _stale(path) == [(k, a0) for k in sorted(old) if k > at]
            with tl.Timeline.open(path, readonly=True) as reader:
                for d in range(9, 32):
                    assert store.state(at=day[d]) == reader.state(at=day[d]), d


def test_a_checkpoint_listing_many_stale_facts_is_rewritten(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    day = [BASE + timedelta(days=d) for d in range(40)]

    def said(n: int, at: int, actor: str) -> tl.Event:
        return tl.Statement(id=f"s{n}", occurred_at=day[at], actor=actor, topic="t")

    with pytest.MonkeyPatch.context() as mp:
        _dense(mp, 3)
        mp.setattr(facts, "STALE_SHARE", 1_000)  # the threshold: more than 1 stale fact
        with tl.Timeline.open(path, clock=StepClock()) as store:
            store.append([said(n, 10 + n, f"a{n % 4}") for n in range(24)], story="s")
            old = _checkpoints_hold(path)
            assert len(old) >= 4
            assert _stale(path) == []
            # one backdated fact: listed stale in every checkpoint after it
            store.append([said(90, 11, "a0")], story="s")
            assert len(_stale(path)) == len([k for k in old if k >= okey(day[11], 0)])
            # two facts in the last checkpoint: past the threshold, that one is rewritten
            store.append([said(91, 12, "a1"), said(92, 12, "a2")], story="s")
            latest = max(old)
            assert latest not in {cp for cp, _ in _stale(path)}
            held = _checkpoints_hold(path)
            assert set(held) == set(old)
            conn = sqlite3.connect(path)
            try:
                assert stored_state(conn, latest)[0] == held[latest]  # no stale fact left
            finally:
                conn.close()
            with tl.Timeline.open(path, readonly=True) as reader:
                for d in range(9, 36):
                    assert store.state(at=day[d]) == reader.state(at=day[d]), d


def test_a_store_without_checkpoints_migrates_answers_and_gets_them(tmp_path: Path) -> None:
    copy = tmp_path / SCHEMA_0003_STORE.name
    shutil.copyfile(SCHEMA_0003_STORE, copy)
    with pytest.MonkeyPatch.context() as mp:
        _dense(mp, 2)
        with tl.Timeline.open(copy) as store, tl.Timeline.open(copy, readonly=True) as reader:
            assert "0011_state_checkpoints" in store.store.schema_names()
            assert "0012_correction_periods_index" in store.store.schema_names()
            assert _checkpoints(copy) == []
            times = ["2025-09-01", "2025-12-09", None]
            for at in times:  # answered from the versions alone
                assert store.state(at=at) == reader.state(at=at)
            store.append(
                [
                    tl.Statement(
                        id="late-1",
                        occurred_at=datetime(2025, 12, 20, 10, tzinfo=UTC),
                        actor="beijing",
                        topic="h200-imports",
                        position="supports",
                    )
                ],
                story="h200-china",
            )
            assert _checkpoints(copy) != []  # the writer added them
            for at in [*times, "2025-12-21"]:
                assert store.state(at=at) == reader.state(at=at)
            assert store.verify() == 22


def _runs(path: Path) -> list[tuple[str, str | None]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT okey, base FROM fact_checkpoints ORDER BY okey").fetchall()
    finally:
        conn.close()


def _stored(path: Path) -> dict[str, dict[str, str]]:
    conn = sqlite3.connect(path)
    try:
        keys = [k for (k,) in conn.execute("SELECT okey FROM fact_checkpoints")]
        return {k: stored_state(conn, k)[0] for k in keys}
    finally:
        conn.close()


def _said(n: int, at: int, position: str = "supports") -> tl.Event:
    return tl.Statement(
        id=f"s{n}",
        occurred_at=BASE + timedelta(days=at),
        actor=f"a{n % 3}",
        topic="t",
        position=position,
    )


def test_checkpoints_are_stored_in_runs_of_changes(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    with pytest.MonkeyPatch.context() as mp:
        _dense(mp, 2)
        mp.setattr(facts, "CHECKPOINT_CHAIN", 3)
        with tl.Timeline.open(path, clock=StepClock()) as store:
            for n in range(30):
                store.append([_said(n, 10 + n, "supports" if n % 2 else "opposes")], story="s")
            runs = _runs(path)
            assert len(runs) >= 7
            # each run: a whole state, then changes of the one before, at most 3 in all
            assert runs[0][1] is None
            for (before, _), (okey, base) in itertools.pairwise(runs):
                assert base in (None, before), okey
            conn = sqlite3.connect(path)
            try:
                chains = [stored_state(conn, k)[1] for k, _ in runs]
            finally:
                conn.close()
            assert max(chains) == 2
            assert chains[:6] == [0, 1, 2, 0, 1, 2]
            _checkpoints_hold(path)
            with tl.Timeline.open(path, readonly=True) as reader:
                for d in range(9, 42):
                    at = BASE + timedelta(days=d)
                    assert store.state(at=at) == reader.state(at=at), d


def test_a_rewritten_checkpoint_leaves_the_ones_stored_as_its_changes_as_they_were(
    tmp_path: Path,
) -> None:
    path = tmp_path / "c.db"
    with pytest.MonkeyPatch.context() as mp:
        _dense(mp, 3)
        with tl.Timeline.open(path, clock=StepClock()) as store:
            for n in range(24):
                store.append([_said(n, 10 + n, "supports" if n % 2 else "opposes")], story="s")
            # a new fact, backdated: missing from (stale in) every checkpoint after day 12
            late = tl.Statement(
                id="late", occurred_at=BASE + timedelta(days=12), actor="a9", topic="t"
            )
            store.append([late], story="s")
            before = _stored(path)
            runs = _runs(path)
            bases = {base: okey for okey, base in runs if base is not None}
            middle = next(okey for okey, _ in runs if _stale_in(path, okey) and okey in bases)
            dependent = bases[middle]
            snapshot_store = SQLiteSnapshotStore(store.store)
            with store.store.write() as conn:
                snapshot_store._rewrite_checkpoint(conn, middle)
            after = _stored(path)
            assert after[middle] != before[middle]  # its stale fact taken from the versions
            assert not _stale_in(path, middle)
            assert after[dependent] == before[dependent]
            assert {k: v for k, v in after.items() if k != middle} == {
                k: v for k, v in before.items() if k != middle
            }
            _checkpoints_hold(path)
            with tl.Timeline.open(path, readonly=True) as reader:
                for d in range(9, 36):
                    at = BASE + timedelta(days=d)
                    assert store.state(at=at) == reader.state(at=at), d


def _stale_in(path: Path, okey: str) -> bool:
    return any(cp == okey for cp, _ in _stale(path))


def test_whole_checkpoints_of_an_older_store_migrate_into_runs(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    with pytest.MonkeyPatch.context() as mp:
        _dense(mp, 2)
        with tl.Timeline.open(path, clock=StepClock()) as store:
            for n in range(40):
                store.append([_said(n, 10 + n, "supports" if n % 3 else "opposes")], story="s")
            expected = _stored(path)
    assert len(expected) >= 2 * CHECKPOINT_CHAIN + 1
    # the table as 0011 made it, every checkpoint whole, and 0016 not applied yet
    conn = sqlite3.connect(path)
    try:
        conn.execute("DROP TABLE fact_checkpoints")
        conn.execute(
            "CREATE TABLE fact_checkpoints (id INTEGER PRIMARY KEY, okey TEXT NOT NULL UNIQUE, "
            "size INTEGER NOT NULL, facts BLOB NOT NULL)"
        )
        conn.executemany(
            "INSERT INTO fact_checkpoints (okey, size, facts) VALUES (?, ?, ?)",
            [(k, len(v), zlib.compress(orjson.dumps(v))) for k, v in sorted(expected.items())],
        )
        conn.execute("DELETE FROM _sqlite_migrations WHERE name = '0016_checkpoint_changes'")
        conn.commit()
    finally:
        conn.close()
    with tl.Timeline.open(path) as store:
        assert "0016_checkpoint_changes" in store.store.schema_names()
        assert _stored(path) == expected
        runs = _runs(path)
        chain = CHECKPOINT_CHAIN
        assert [base for _, base in runs] == [
            None if i % chain == 0 else runs[i - 1][0] for i in range(len(runs))
        ]
        assert store.verify() == 40
        _checkpoints_hold(path)
        with tl.Timeline.open(path, readonly=True) as reader:
            for d in range(9, 52, 3):
                at = BASE + timedelta(days=d)
                assert store.state(at=at) == reader.state(at=at), d


def test_a_writers_memo_of_a_checkpoint_answers_only_for_the_same_stored_blobs(
    tmp_path: Path,
) -> None:
    path = tmp_path / "m.db"
    with pytest.MonkeyPatch.context() as mp:
        _dense(mp, 2)
        with tl.Timeline.open(path, clock=StepClock()) as store:
            for n in range(12):
                store.append([_said(n, n)], story="s")
    last = _checkpoints(path)[-1][0]
    conn = sqlite3.connect(path)
    try:
        memo = facts.StateMemo()
        state, chain = stored_state(conn, last, memo)
        assert chain > 0  # a run of changes: the memo holds every blob of it
        assert len(memo.blobs) == chain + 1
        assert memo.state == state == stored_state(conn, last)[0]
        state["mine"] = "the caller's own copy"
        assert "mine" not in memo.state
        # the same stored blobs: the memo answers (not decoded again)
        memo.state = {"from": "memo"}
        assert stored_state(conn, last, memo) == ({"from": "memo"}, chain)
        # the checkpoint stored again with other content (as another writer, or a
        # write that rolled back and was done again differently, would leave it)
        conn.execute(
            "UPDATE fact_checkpoints SET base = NULL, facts = ? WHERE okey = ?",
            (zlib.compress(orjson.dumps({"k": "v"})), last),
        )
        assert stored_state(conn, last, memo) == ({"k": "v"}, 0)
        assert memo.state == {"k": "v"}
    finally:
        conn.close()


def test_checkpoints_after_an_upkeep_rolled_back_hold_what_the_store_holds(
    tmp_path: Path,
) -> None:
    """The upkeep of an append adds a checkpoint and then fails: it is rolled back (the
    append keeps its events). The writer's next checkpoints start from what the store
    holds, not from what it wrote in the upkeep that was rolled back."""
    path = tmp_path / "r.db"
    written = facts.SQLiteSnapshotStore._checkpoints
    calls: list[int] = []

    def then_fail(self: facts.SQLiteSnapshotStore, conn: sqlite3.Connection, *args: Any) -> None:
        before = conn.execute("SELECT count(*) FROM fact_checkpoints").fetchone()[0]
        written(self, conn, *args)
        calls.append(conn.execute("SELECT count(*) FROM fact_checkpoints").fetchone()[0] - before)
        raise sqlite3.OperationalError("disk I/O error")

    with pytest.MonkeyPatch.context() as mp:
        _dense(mp, 2)
        with tl.Timeline.open(path, clock=StepClock()) as store:
            for n in range(6):
                store.append([_said(n, n)], story="s")
            before = _checkpoints(path)
            with mp.context() as broken:
                broken.setattr(facts.SQLiteSnapshotStore, "_checkpoints", then_fail)
                store.append([_said(n, n, "opposes") for n in range(6, 10)], story="s")
            assert len(calls) == 1  # one upkeep
            assert calls[0] >= 1  # it added checkpoints, then failed
            assert _checkpoints(path) == before  # rolled back with the upkeep
            assert store.get("s9") is not None  # the append kept its events
            for n in range(10, 16):
                store.append([_said(n, n, "undecided")], story="s")
            assert len(_checkpoints(path)) > len(before)
            _checkpoints_hold(path)
            with tl.Timeline.open(path, readonly=True) as reader:
                for day in range(17):
                    at = BASE + timedelta(days=day, hours=1)
                    assert store.state(at=at) == reader.state(at=at), day
                at_nine = reader.state(at=BASE + timedelta(days=9, hours=1))
                assert at_nine.stance("a0", "t").position.value == "opposes"
                assert reader.state().stance("a0", "t").position.value == "undecided"
