"""The store's schema, versioned with ``sqlite_utils.Migrations``.

Migrations are append-only: never edit one that has shipped, add the next.
"""

from __future__ import annotations

import hashlib
import sqlite3
import zlib
from datetime import UTC, datetime, timedelta

import orjson
from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from timeline.store.registrations import COLUMNS as REGISTRATION_COLUMNS
from timeline.store.registrations import backfill
from timeline.times import Precision, from_text, period_end, to_text

__all__ = [
    "EVENT_ACTOR_GUARD",
    "REGISTRATIONS_TABLE",
    "MIGRATION_SET",
    "SEARCH_COLUMNS",
    "SEARCH_TABLE",
    "SEARCH_VIEW",
    "index_for_search",
    "migrations",
]

MIGRATION_SET = "timeline"
migrations = Migrations(MIGRATION_SET)


@migrations(name="0001_event_log")
def _event_log(db: Database) -> None:
    db.execute(
        """
        CREATE TABLE events (
            position INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            story TEXT NOT NULL,
            version INTEGER NOT NULL,
            type TEXT NOT NULL,
            schema_version INTEGER NOT NULL,
            occurred_at TEXT NOT NULL,
            precision TEXT NOT NULL,
            reported_at TEXT NOT NULL,
            recorded_at TEXT NOT NULL,
            payload TEXT NOT NULL,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL,
            UNIQUE (story, version)
        )
        """
    )
    db.execute("CREATE INDEX events_by_occurred ON events (occurred_at, position)")
    db.execute("CREATE INDEX events_by_reported ON events (reported_at)")
    db.execute("CREATE INDEX events_by_type ON events (type)")
    db.execute(
        """
        CREATE TABLE event_actors (
            position INTEGER NOT NULL REFERENCES events (position),
            actor TEXT NOT NULL,
            role TEXT NOT NULL,
            PRIMARY KEY (actor, position, role)
        ) WITHOUT ROWID
        """
    )
    db.execute("CREATE INDEX event_actors_by_position ON event_actors (position)")
    db.execute(
        """
        CREATE TABLE actors (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            kind TEXT NOT NULL DEFAULT '',
            aliases TEXT NOT NULL DEFAULT '[]'
        )
        """
    )
    db.execute(
        """
        CREATE TABLE actor_aliases (
            alias TEXT PRIMARY KEY COLLATE NOCASE,
            actor TEXT NOT NULL REFERENCES actors (id)
        )
        """
    )
    db.execute("CREATE TABLE stories (story TEXT PRIMARY KEY, title TEXT)")
    for table in ("events", "event_actors"):
        for action in ("UPDATE", "DELETE"):
            db.execute(
                f"""
                CREATE TRIGGER {table}_refuse_{action.lower()} BEFORE {action} ON {table}
                BEGIN SELECT RAISE(ABORT, 'timeline: {table} are append-only'); END
                """
            )
    db.execute(
        """
        CREATE VIEW events_readable AS
        SELECT
            e.position, e.story, e.version, e.id, e.type,
            e.occurred_at, e.precision, e.reported_at, e.recorded_at,
            json_extract(e.payload, '$.summary') AS summary,
            json_extract(e.payload, '$.attribution') AS attribution,
            json_extract(e.payload, '$.quote') AS quote,
            json_extract(e.payload, '$.source.publisher') AS source_publisher,
            json_extract(e.payload, '$.source.headline') AS source_headline,
            json_extract(e.payload, '$.source.url') AS source_url,
            (SELECT group_concat(ea.actor, ', ') FROM event_actors ea
              WHERE ea.position = e.position) AS actors,
            e.payload
        FROM events e
        """
    )


# --- 0002: full-text search and browsing views --------------------------------

SEARCH_TABLE = "events_fts"
SEARCH_COLUMNS = ("summary", "quote", "attribution", "headline", "publisher", "actors")

# One search row per event, keyed by rowid = the event's log position. The text
# is taken from the payload (sqlite-utils' `<table>_fts` naming; the searched
# fields live inside JSON, not in columns of `events`). A correction is found by
# its own text and by its replacement's; actors by id, name and aliases.
_SEARCH_TEXT = """
SELECT
    e.position AS position,
    trim(
        coalesce(json_extract(e.payload, '$.summary'), '') || ' ' ||
        coalesce(json_extract(e.payload, '$.replacement.summary'), '') || ' ' ||
        coalesce(json_extract(e.payload, '$.reason'), '')
    ) AS summary,
    trim(
        coalesce(json_extract(e.payload, '$.quote'), '') || ' ' ||
        coalesce(json_extract(e.payload, '$.replacement.quote'), '')
    ) AS quote,
    json_extract(e.payload, '$.attribution') AS attribution,
    coalesce(
        (SELECT group_concat(json_extract(s.value, '$.headline'), ' ')
           FROM json_each(e.payload, '$.sources') s),
        json_extract(e.payload, '$.source.headline')
    ) AS headline,
    coalesce(
        (SELECT group_concat(
                    json_extract(s.value, '$.publisher')
                    || coalesce(' ' || json_extract(s.value, '$.origin'), ''), ' ')
           FROM json_each(e.payload, '$.sources') s),
        json_extract(e.payload, '$.source.publisher')
    ) AS publisher,
    (SELECT group_concat(a.id || ' ' || a.name || ' ' || a.aliases, ' ')
       FROM (SELECT DISTINCT actor FROM event_actors WHERE position = e.position) ea
       JOIN actors a ON a.id = ea.actor) AS actors
FROM events e
"""
_SEARCH_ROWS_0002 = f"""
INSERT INTO {SEARCH_TABLE} (rowid, {", ".join(SEARCH_COLUMNS)})
SELECT * FROM ({_SEARCH_TEXT}) WHERE position > ? ORDER BY position
"""
# From 0005 on the index keeps no copy of the text: its content is the view
# `events_search` (external content), which snippet() reads back by position.
SEARCH_VIEW = "events_search"
_SEARCH_ROWS = f"""
INSERT INTO {SEARCH_TABLE} (rowid, {", ".join(SEARCH_COLUMNS)})
SELECT position, {", ".join(SEARCH_COLUMNS)} FROM {SEARCH_VIEW}
WHERE position > ? ORDER BY position
"""


def index_for_search(db: Database | sqlite3.Connection, after_position: int) -> None:
    """Add the search rows of every event after ``after_position``.

    Runs inside the caller's transaction: the append that writes the events.
    """
    db.execute(_SEARCH_ROWS, (after_position,))


@migrations(name="0002_search")
def _search(db: Database) -> None:
    columns = ", ".join(SEARCH_COLUMNS)
    db.execute(
        f"CREATE VIRTUAL TABLE {SEARCH_TABLE} USING fts5("
        f"{columns}, tokenize = 'porter unicode61 remove_diacritics 2')"
    )
    db.execute(_SEARCH_ROWS_0002, (0,))
    db.execute(
        """
        CREATE VIEW event_actor_roles AS
        SELECT
            ea.position, e.id AS event_id, e.story, e.type, e.occurred_at, e.precision,
            e.reported_at, ea.actor, a.name AS actor_name, a.kind AS actor_kind, ea.role,
            json_extract(e.payload, '$.summary') AS summary
        FROM event_actors ea
        JOIN events e ON e.position = ea.position
        LEFT JOIN actors a ON a.id = ea.actor
        """
    )
    db.execute(
        """
        CREATE VIEW sources AS
        SELECT
            json_extract(payload, '$.source.id') AS source_id,
            json_extract(payload, '$.source.publisher') AS publisher,
            json_extract(payload, '$.source.headline') AS headline,
            json_extract(payload, '$.source.url') AS url,
            json_extract(payload, '$.source.published_at') AS published_at,
            COUNT(*) AS events,
            MIN(reported_at) AS first_reported_at,
            MAX(reported_at) AS last_reported_at,
            group_concat(DISTINCT story) AS stories
        FROM events
        WHERE json_extract(payload, '$.source.publisher') IS NOT NULL
        GROUP BY source_id, publisher, headline, url, published_at
        """
    )


# --- 0003: snapshots of the built-in projections (derived, rebuildable) ---------


@migrations(name="0003_snapshots")
def _snapshots(db: Database) -> None:
    # Each fact a fold changes, with the fold key (occurred_at#position) it holds
    # from; NULL fact = removed. See timeline.snapshots.
    db.execute(
        """
        CREATE TABLE fact_versions (
            key TEXT NOT NULL,
            okey TEXT NOT NULL,
            fact TEXT,
            PRIMARY KEY (key, okey)
        ) WITHOUT ROWID
        """
    )
    db.execute("CREATE INDEX fact_versions_by_okey ON fact_versions (okey)")
    db.execute("CREATE TABLE fact_keys (key TEXT PRIMARY KEY) WITHOUT ROWID")
    db.execute("CREATE TABLE fact_sources (id INTEGER PRIMARY KEY, source TEXT NOT NULL UNIQUE)")
    db.execute(
        """
        CREATE TABLE snapshot_checkpoint (
            scope TEXT PRIMARY KEY,
            position INTEGER NOT NULL,
            okey TEXT NOT NULL,
            max_reported_at TEXT,
            max_recorded_at TEXT,
            signature TEXT NOT NULL,
            complete INTEGER NOT NULL
        )
        """
    )


# --- 0004: several sources per event (event schema v2) ----------------------------


@migrations(name="0004_several_sources")
def _several_sources(db: Database) -> None:
    # One row per source as cited by events: every entry of "sources" (schema v2),
    # or the single "source" of rows stored before it. Events stay append-only:
    # older payloads are read as they are and upcast when decoded.
    db.execute("DROP VIEW IF EXISTS sources")
    db.execute(
        """
        CREATE VIEW sources AS
        WITH cited AS (
            SELECT e.story, e.reported_at, s.value AS source
              FROM events e, json_each(e.payload, '$.sources') s
            UNION ALL
            SELECT story, reported_at, json_extract(payload, '$.source')
              FROM events
             WHERE json_type(payload, '$.sources') IS NULL
               AND json_extract(payload, '$.source.publisher') IS NOT NULL
        )
        SELECT
            json_extract(source, '$.id') AS source_id,
            json_extract(source, '$.publisher') AS publisher,
            json_extract(source, '$.headline') AS headline,
            json_extract(source, '$.url') AS url,
            json_extract(source, '$.published_at') AS published_at,
            json_extract(source, '$.via') AS via,
            coalesce(json_extract(source, '$.origin'), json_extract(source, '$.publisher'))
                AS origin,
            COUNT(*) AS events,
            MIN(reported_at) AS first_reported_at,
            MAX(reported_at) AS last_reported_at,
            group_concat(DISTINCT story) AS stories
        FROM cited
        GROUP BY source_id, publisher, headline, url, published_at, via, origin
        """
    )


# --- 0005: a compact search index (no second copy of the text) -------------------


@migrations(name="0005_compact_search")
def _compact_search(db: Database) -> None:
    # The FTS5 table of 0002 stored every searched field again (a fifth of the
    # file). An external-content table indexes the same text, read from a view
    # over the payloads; snippet() and highlight() read it back by rowid.
    db.execute(f"CREATE VIEW {SEARCH_VIEW} AS {_SEARCH_TEXT}")
    db.execute(f"DROP TABLE {SEARCH_TABLE}")
    columns = ", ".join(SEARCH_COLUMNS)
    db.execute(
        f"CREATE VIRTUAL TABLE {SEARCH_TABLE} USING fts5("
        f"{columns}, content = '{SEARCH_VIEW}', content_rowid = 'position', "
        "tokenize = 'porter unicode61 remove_diacritics 2')"
    )
    # (FTS5's own 'rebuild' cannot read a view whose columns use json_each)
    index_for_search(db, 0)


# --- 0006: periods (occurred_until, reported_until) ------------------------------


@migrations(name="0006_periods")
def _periods(db: Database) -> None:
    # Every time is a period: the last instant it may have happened / become
    # public sits beside the first. Rows written before hold their defaults:
    # the end of the precision period, and reported_at itself.
    db.execute("ALTER TABLE events ADD COLUMN occurred_until TEXT NOT NULL DEFAULT ''")
    db.execute("ALTER TABLE events ADD COLUMN reported_until TEXT NOT NULL DEFAULT ''")
    # the backfill is the one update the log ever takes, inside this migration
    db.execute("DROP TRIGGER events_refuse_update")
    db.execute("UPDATE events SET occurred_until = occurred_at, reported_until = reported_at")
    # the end of a day, month or year in the offset the author wrote, as the
    # records' own default (and the schema 1 -> 2 upcaster) computes it
    vague = db.execute(
        "SELECT position, json_extract(payload, '$.occurred_at'), precision FROM events "
        "WHERE precision != 'exact'"
    ).fetchall()
    db.conn.executemany(
        "UPDATE events SET occurred_until = ? WHERE position = ?",
        [
            (to_text(period_end(from_text(at), Precision(precision))), position)
            for position, at, precision in vague
        ],
    )
    db.execute(
        """
        CREATE TRIGGER events_refuse_update BEFORE UPDATE ON events
        BEGIN SELECT RAISE(ABORT, 'timeline: events are append-only'); END
        """
    )
    # certain answers bound the *_until columns; vague events are found by the
    # partial indexes (exact ones, most of a log, are not in them)
    db.execute("CREATE INDEX events_by_reported_until ON events (reported_until)")
    db.execute(
        "CREATE INDEX events_vaguely_occurred ON events (occurred_at) "
        "WHERE occurred_until > occurred_at"
    )
    db.execute(
        "CREATE INDEX events_vaguely_reported ON events (reported_at) "
        "WHERE reported_until > reported_at"
    )
    db.execute("DROP VIEW events_readable")
    db.execute(
        """
        CREATE VIEW events_readable AS
        SELECT
            e.position, e.story, e.version, e.id, e.type,
            e.occurred_at, e.occurred_until, e.precision, e.reported_at, e.reported_until,
            e.recorded_at,
            json_extract(e.payload, '$.summary') AS summary,
            json_extract(e.payload, '$.attribution') AS attribution,
            json_extract(e.payload, '$.quote') AS quote,
            json_extract(e.payload, '$.source.publisher') AS source_publisher,
            json_extract(e.payload, '$.source.headline') AS source_headline,
            json_extract(e.payload, '$.source.url') AS source_url,
            (SELECT group_concat(ea.actor, ', ') FROM event_actors ea
              WHERE ea.position = e.position) AS actors,
            e.payload
        FROM events e
        """
    )


# --- 0007: actors, aliases and titles in a hash chain (see store/registrations.py) ---

REGISTRATIONS_TABLE = """
CREATE TABLE registrations (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
)
"""


@migrations(name="0007_chained_registrations")
def _chained_registrations(db: Database) -> None:
    # The actors, aliases and titles a store holds when it migrates are
    # registered as they stand (actors by id, then titles by story): from then
    # on verify() checks the tables against the chain.
    db.execute(REGISTRATIONS_TABLE)
    for action in ("UPDATE", "DELETE"):
        db.execute(
            f"""
            CREATE TRIGGER registrations_refuse_{action.lower()} BEFORE {action}
            ON registrations
            BEGIN SELECT RAISE(ABORT, 'timeline: registrations are append-only'); END
            """
        )
    rows = backfill(
        db.execute("SELECT id, name, kind, aliases FROM actors").fetchall(),
        db.execute("SELECT story, title FROM stories").fetchall(),
    )
    db.conn.executemany(
        f"INSERT INTO registrations ({REGISTRATION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)", rows
    )


# --- 0008: the event-actor index takes only rows that follow from the log -----------

EVENT_ACTOR_GUARD = (
    "timeline: event_actors is derived from events: a row must name an actor "
    "(in table actors) that its event names in that role"
)


@migrations(name="0008_event_actor_insert_guard")
def _event_actor_insert_guard(db: Database) -> None:
    # UPDATE and DELETE were refused from the start; an INSERT passes only when
    # the event at that position names the actor in that field (the role is the
    # field's path in the payload), as the store's own appends always do.
    db.execute(
        f"""
        CREATE TRIGGER event_actors_refuse_foreign_insert BEFORE INSERT ON event_actors
        WHEN NOT EXISTS (
            SELECT 1 FROM events e, json_each(e.payload, '$.' || NEW.role) j
            WHERE e.position = NEW.position AND j.type = 'text' AND j.value = NEW.actor
        ) OR NOT EXISTS (SELECT 1 FROM actors a WHERE a.id = NEW.actor)
        BEGIN SELECT RAISE(ABORT, '{EVENT_ACTOR_GUARD}'); END
        """
    )


# --- 0009: compact snapshot tables (fact keys by number, sources by digest) ---------


def source_digest(text: str) -> int:
    """A signed 64-bit digest of an interned source's text: its lookup key."""
    raw = hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(raw[:8], "big", signed=True)


@migrations(name="0009_compact_snapshots")
def _compact_snapshots(db: Database) -> None:
    # Every fact version named its fact by the key's text (about 40 bytes, again in
    # the okey index); it now names it by number, the text kept once in fact_keys.
    # Interned sources are found by a 64-bit digest instead of a unique index that
    # held a second copy of each text. Derived data, converted as it is.
    db.execute("CREATE TABLE fact_keys_new (id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE)")
    db.execute(
        "INSERT INTO fact_keys_new (key) SELECT key FROM fact_keys "
        "UNION SELECT key FROM fact_versions ORDER BY 1"
    )
    db.execute(
        """
        CREATE TABLE fact_versions_new (
            key_id INTEGER NOT NULL,
            okey TEXT NOT NULL,
            fact TEXT,
            PRIMARY KEY (key_id, okey)
        ) WITHOUT ROWID
        """
    )
    db.execute(
        "INSERT INTO fact_versions_new (key_id, okey, fact) "
        "SELECT k.id, v.okey, v.fact FROM fact_versions v JOIN fact_keys_new k ON k.key = v.key"
    )
    db.execute(
        "CREATE TABLE fact_sources_new (id INTEGER PRIMARY KEY, digest INTEGER NOT NULL, "
        "source TEXT NOT NULL)"
    )
    db.conn.executemany(
        "INSERT INTO fact_sources_new (id, digest, source) VALUES (?, ?, ?)",
        [
            (ref, source_digest(text), text)
            for ref, text in db.execute("SELECT id, source FROM fact_sources").fetchall()
        ],
    )
    for table in ("fact_versions", "fact_keys", "fact_sources"):
        db.execute(f"DROP TABLE {table}")
        db.execute(f"ALTER TABLE {table}_new RENAME TO {table}")
    db.execute("CREATE INDEX fact_versions_by_okey ON fact_versions (okey)")
    db.execute("CREATE INDEX fact_sources_by_digest ON fact_sources (digest)")


# --- 0010: large fact versions compressed ---------------------------------------------

_PACK_FROM = 256  # characters: stances stay text; intents and index lists compress


def pack_fact(text: str | None) -> str | bytes | None:
    """A fact version as stored: zlib-compressed (a BLOB) when that saves a fifth or more.

    Order intents repeat their evidence, sources and blocking lists in every
    version (about 600 bytes each; half of the snapshot text), which compress to
    under half; short facts stay JSON text, readable as they are.
    """
    if text is None or len(text) < _PACK_FROM:
        return text
    raw = text.encode("utf-8")
    packed = zlib.compress(raw)
    return packed if len(packed) * 5 <= len(raw) * 4 else text


def unpack_fact(value: str | bytes) -> str:
    """Inverse of :func:`pack_fact` (text is returned as it is)."""
    if isinstance(value, bytes):
        return zlib.decompress(value).decode("utf-8")
    return value


@migrations(name="0010_packed_facts")
def _packed_facts(db: Database) -> None:
    # derived data, converted as it is: large versions of existing stores compressed
    rows = db.execute(
        f"SELECT key_id, okey, fact FROM fact_versions WHERE length(fact) >= {_PACK_FROM}"
    ).fetchall()
    updates = []
    for key_id, okey, fact in rows:
        packed = pack_fact(fact)
        if isinstance(packed, bytes):
            updates.append((packed, key_id, okey))
    db.conn.executemany("UPDATE fact_versions SET fact = ? WHERE key_id = ? AND okey = ?", updates)


# --- 0011: full-state checkpoints of the snapshots --------------------------------------


@migrations(name="0011_state_checkpoints")
def _state_checkpoints(db: Database) -> None:
    # Every so many fact versions, the whole state at one fold key (``facts``:
    # zlib-compressed JSON {fact key text: fact text}; ``size``: how many facts). A
    # state at T is the nearest one at or before T plus the versions after it.
    # Derived data: an old store starts without any (it answers from the versions
    # alone) and its writer adds them as it goes.
    db.execute(
        "CREATE TABLE fact_checkpoints (id INTEGER PRIMARY KEY, okey TEXT NOT NULL UNIQUE, "
        "size INTEGER NOT NULL, facts BLOB NOT NULL)"
    )


# --- 0012: an index of the corrections' replacement periods ----------------------------


@migrations(name="0012_correction_periods_index")
def _correction_periods_index(db: Database) -> None:
    # A single-fact lookup asks when some correction's replacement only possibly
    # happened: read from this small index (corrections only) instead of every
    # correction's payload (the first lookup of a newly opened store read them all).
    # (Replaced by 0014's, which holds only the replacements that are periods.)
    db.execute(
        "CREATE INDEX events_correction_periods ON events "
        "(json_extract(payload, '$.replacement.occurred_at'), "
        "json_extract(payload, '$.replacement.occurred_until')) WHERE type = 'correction'"
    )


# --- 0013: facts a backdated refold made stale in the full-state checkpoints ------------


@migrations(name="0013_checkpoint_stale_facts")
def _checkpoint_stale_facts(db: Database) -> None:
    # A backdated event rewrites a few facts' versions from its time on: the full-state
    # checkpoints after that time are then wrong for those facts only. Instead of
    # dropping the checkpoints, the writer lists here which facts each one no longer
    # holds; a reader takes those from the versions (one seek each), and the writer
    # rewrites a checkpoint whose list grew long. Derived data, like the checkpoints.
    db.execute(
        "CREATE TABLE fact_checkpoint_stale (checkpoint TEXT NOT NULL, key_id INTEGER NOT NULL, "
        "PRIMARY KEY (checkpoint, key_id)) WITHOUT ROWID"
    )


# --- 0014: only the corrections whose replacement is a period, indexed ------------------

VAGUE_REPLACEMENTS_INDEX = "events_vague_replacements"
VAGUE_REPLACEMENT = (
    "type = 'correction' AND json_extract(payload, '$.replacement.occurred_until') "
    "!= json_extract(payload, '$.replacement.occurred_at')"
)
"""The corrections whose replacement only possibly happened at one instant: the rows
of :data:`VAGUE_REPLACEMENTS_INDEX` (a query must spell its condition so to use it)."""


@migrations(name="0014_vague_replacements_index")
def _vague_replacements_index(db: Database) -> None:
    # 0012's index held every correction, so the first lookup of a newly opened store
    # read all of them (5,000 at 1M events) to find the few whose replacement is a
    # period; this one holds only those.
    db.execute("DROP INDEX IF EXISTS events_correction_periods")
    db.execute(
        f"CREATE INDEX {VAGUE_REPLACEMENTS_INDEX} ON events "
        "(json_extract(payload, '$.replacement.occurred_at'), "
        f"json_extract(payload, '$.replacement.occurred_until')) WHERE {VAGUE_REPLACEMENT}"
    )


# --- 0015: a counter of committed writes ---------------------------------------------

CHANGE_COUNTER = "store_changes"
"""One row: how many write transactions have committed (bumped by each, in it)."""


@migrations(name="0015_change_counter")
def _change_counter(db: Database) -> None:
    # Every write transaction bumps it before it commits, so one SELECT can read it
    # beside what it looks up: both come from the same snapshot of the file, and an
    # unchanged count says nothing was committed since it was last read. (A single-fact
    # lookup asked ``PRAGMA data_version`` in a read transaction of its own first.)
    db.execute(
        f"CREATE TABLE {CHANGE_COUNTER} (id INTEGER PRIMARY KEY CHECK (id = 1), n INTEGER NOT NULL)"
    )
    db.execute(f"INSERT INTO {CHANGE_COUNTER} (id, n) VALUES (1, 0)")


# --- 0016: full-state checkpoints stored as changes of the one before -------------------

CHECKPOINT_CHAIN = 4
"""Full-state checkpoints come in runs of at most this many: the first stored whole,
each other as the change from the one before it. Reading one decodes a whole state and
at most ``CHECKPOINT_CHAIN - 1`` changes. At 1M events a whole state took ~55 ms to
decode and a change ~8 ms (a fifth of its size); runs of 16 made the checkpoints 56 MiB
instead of 209 but added up to ~200 ms to a state at T, runs of 4 at most ~25 ms. The
writer (``timeline.store.facts``) keeps the same runs."""


def checkpoint_change(before: dict[str, str], after: dict[str, str]) -> bytes:
    """A checkpoint's ``facts`` as a change of the state ``before`` (its base's, as
    stored): zlib of ``[{key: fact} set or changed, [keys] removed]``."""
    changed = {k: v for k, v in after.items() if before.get(k) != v}
    removed = [k for k in before if k not in after]
    return zlib.compress(orjson.dumps([changed, removed]), 6)


@migrations(name="0016_checkpoint_changes")
def _checkpoint_changes(db: Database) -> None:
    # Consecutive full-state checkpoints share most of their facts (at 1M events each
    # held ~14,000, of which a fifth changed from one to the next; 209 MiB in all):
    # a checkpoint may now store only what changed since the one before it (``base``,
    # its fold key; NULL: the whole state, as before). ``base`` sits before the blob so
    # that following a run reads no blob it does not need. Existing checkpoints are
    # converted into runs of at most CHECKPOINT_CHAIN; derived data either way.
    db.execute(
        "CREATE TABLE fact_checkpoints_new (id INTEGER PRIMARY KEY, okey TEXT NOT NULL UNIQUE, "
        "size INTEGER NOT NULL, base TEXT, facts BLOB NOT NULL)"
    )
    before: dict[str, str] | None = None
    previous = ""
    run = 0
    for okey, size, blob in db.conn.execute(  # one at a time (209 MiB at 1M events)
        "SELECT okey, size, facts FROM fact_checkpoints ORDER BY okey"
    ):
        state: dict[str, str] = orjson.loads(zlib.decompress(blob))
        base: str | None = None
        if before is not None and run + 1 < CHECKPOINT_CHAIN:
            base, blob, run = previous, checkpoint_change(before, state), run + 1
        else:
            run = 0
        db.execute(
            "INSERT INTO fact_checkpoints_new (okey, size, base, facts) VALUES (?, ?, ?, ?)",
            (okey, size, base, blob),
        )
        before, previous = state, okey
    db.execute("DROP TABLE fact_checkpoints")
    db.execute("ALTER TABLE fact_checkpoints_new RENAME TO fact_checkpoints")


# --- 0017: fold keys in 25 characters ------------------------------------------------

_YEAR_ONE = datetime(1, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def compact_fold_key(key: str | None) -> str | None:
    """A fold key of the readable spelling (``2025-12-09T03:04:05.123456Z#000000000151``)
    in the compact one of ``timeline.snapshots.okey`` (UTC microseconds since 0001-01-01
    in 15 hex digits, then the log position in 10); any other text as it is. Spelled out
    here, not imported: a migration keeps converting to the spelling of its day."""
    if key is None or "#" not in key:
        return key
    stamp, position = key.rsplit("#", 1)
    at = from_text(stamp)
    return f"{(at - _YEAR_ONE) // _MICROSECOND:015x}{int(position):010x}"


@migrations(name="0017_compact_fold_keys")
def _compact_fold_keys(db: Database) -> None:
    # The fold keys of the snapshots were 40 characters of readable text; each fact
    # version holds its key twice (its primary key and the index in fold order). The
    # stored ones are converted in place, in fold order as before, so that nothing is
    # rebuilt (the snapshots' rules version is unchanged). In place rather than copied
    # into a new table: at 1M events a copy took half the time (17 s against 38 s) but
    # left the old table's 500 MB free in the file; in place it grows by about 40 MB.
    db.conn.create_function("timeline_compact_fold_key", 1, compact_fold_key, deterministic=True)
    convert = "timeline_compact_fold_key"
    db.execute(f"UPDATE fact_versions SET okey = {convert}(okey) WHERE instr(okey, '#') > 0")
    db.execute(
        f"UPDATE fact_checkpoints SET okey = {convert}(okey), base = {convert}(base) "
        "WHERE instr(okey, '#') > 0 OR instr(base, '#') > 0"
    )
    db.execute(
        f"UPDATE fact_checkpoint_stale SET checkpoint = {convert}(checkpoint) "
        "WHERE instr(checkpoint, '#') > 0"
    )
    db.execute(f"UPDATE snapshot_checkpoint SET okey = {convert}(okey) WHERE instr(okey, '#') > 0")


# --- 0018: what a per-fact refold lists of the whole log, indexed ----------------------

POLICY_CHANGES_INDEX = "events_policy_changes"
POLICY_CHANGE_TYPE = "policy_change"
POLICY_CHANGE = f"type = '{POLICY_CHANGE_TYPE}'"
"""The rows of :data:`POLICY_CHANGES_INDEX` (a query must spell its condition so to use
it): the built-in policy change type, whose stored name never changes."""
POLICY_CHANGE_FIELDS = ("product", "schema_version")
"""The payload fields the index holds, in its order (after ``occurred_at`` and ``id``)."""
TARGET_INDEXES = {
    ("correction", "corrects"): "events_correction_targets",
    ("retraction", "retracts"): "events_retraction_targets",
}
"""``(type name, target field)`` of the built-in corrections and retractions -> the index
of their ids and targets (a query must spell ``type = '<name>'`` to use it)."""


@migrations(name="0018_refold_indexes")
def _refold_indexes(db: Database) -> None:
    # A writer's per-fact refold lists, from the whole log, every policy change from
    # its time on with its product (``policy_change_rows``; once per writer), and what
    # every correction and retraction names (``target_links``; once per append that
    # refolds). Read from the payloads, each row cost a page of the log: at 1M events
    # 20,000 policy changes took 0.16-0.31 s, 10,000 corrections and retractions
    # 0.06-0.39 s (a warm or a cold cache). From these indexes, which hold what the
    # lists need and nothing else (2.5 MiB at 1M), 0.03 s and 0.006 s.
    fields = ", ".join(f"json_extract(payload, '$.{f}')" for f in POLICY_CHANGE_FIELDS)
    db.execute(
        f"CREATE INDEX IF NOT EXISTS {POLICY_CHANGES_INDEX} ON events "
        f"(occurred_at, id, {fields}) WHERE {POLICY_CHANGE}"
    )
    for (type_name, field), name in TARGET_INDEXES.items():
        db.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON events "
            f"(id, json_extract(payload, '$.{field}')) WHERE type = '{type_name}'"
        )
