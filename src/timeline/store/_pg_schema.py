"""The PostgreSQL store's schema: migrations named like the SQLite store's.

Migrations are append-only: never edit one that has shipped, add the next. They
are applied under the store's advisory lock, each in the transaction that
records it in ``timeline_migrations``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from timeline.store.registrations import COLUMNS as REGISTRATION_COLUMNS
from timeline.store.registrations import backfill

__all__ = ["MIGRATIONS", "MIGRATIONS_TABLE", "SEARCH_DOCUMENT"]

MIGRATIONS_TABLE = "timeline_migrations"

_EVENT_LOG = [
    # positions are set explicitly under the append lock, never by a sequence:
    # a sequence hands out numbers at INSERT time, not at commit, and a reader
    # tailing by position would skip an event committed late
    """
    CREATE TABLE events (
        position BIGINT PRIMARY KEY CHECK (position > 0),
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
        -- the period ends the payload implies (outside the hashed columns)
        occurred_until TEXT NOT NULL,
        reported_until TEXT NOT NULL,
        UNIQUE (story, version)
    )
    """,
    "CREATE INDEX events_by_occurred ON events (occurred_at, position)",
    "CREATE INDEX events_by_reported ON events (reported_at)",
    "CREATE INDEX events_by_type ON events (type)",
    "CREATE INDEX events_by_reported_until ON events (reported_until)",
    """
    CREATE TABLE event_actors (
        position BIGINT NOT NULL REFERENCES events (position),
        actor TEXT NOT NULL,
        role TEXT NOT NULL,
        PRIMARY KEY (actor, position, role)
    )
    """,
    "CREATE INDEX event_actors_by_position ON event_actors (position)",
    """
    CREATE TABLE actors (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        kind TEXT NOT NULL DEFAULT '',
        aliases TEXT NOT NULL DEFAULT '[]'
    )
    """,
    """
    CREATE TABLE actor_aliases (
        alias TEXT NOT NULL,
        actor TEXT NOT NULL REFERENCES actors (id)
    )
    """,
    # SQLite's COLLATE NOCASE
    "CREATE UNIQUE INDEX actor_aliases_by_alias ON actor_aliases (lower(alias))",
    "CREATE TABLE stories (story TEXT PRIMARY KEY, title TEXT)",
    # bumped by every write: what change_marker() reads (SQLite has data_version);
    # reached: the highest position ever appended, so verify() notices a cut-off tail
    "CREATE TABLE store_changes (one BOOLEAN PRIMARY KEY CHECK (one), "
    "changes BIGINT NOT NULL, reached BIGINT NOT NULL)",
    "INSERT INTO store_changes VALUES (TRUE, 0, 0)",
    """
    CREATE FUNCTION timeline_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'timeline: % are append-only', TG_TABLE_NAME;
    END
    $$
    """,
    *(
        f"CREATE TRIGGER {table}_refuse_change BEFORE UPDATE OR DELETE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION timeline_refuse_change()"
        for table in ("events", "event_actors")
    ),
    *(
        f"CREATE TRIGGER {table}_refuse_truncate BEFORE TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION timeline_refuse_change()"
        for table in ("events", "event_actors")
    ),
    """
    CREATE VIEW events_readable AS
    SELECT
        e.position, e.story, e.version, e.id, e.type,
        e.occurred_at, e.precision, e.reported_at, e.recorded_at,
        e.payload::json ->> 'summary' AS summary,
        e.payload::json ->> 'attribution' AS attribution,
        e.payload::json ->> 'quote' AS quote,
        e.payload::json -> 'source' ->> 'publisher' AS source_publisher,
        e.payload::json -> 'source' ->> 'headline' AS source_headline,
        e.payload::json -> 'source' ->> 'url' AS source_url,
        (SELECT string_agg(ea.actor, ', ') FROM event_actors ea
          WHERE ea.position = e.position) AS actors,
        e.payload
    FROM events e
    """,
]

# What search reads per event, weighted as in the SQLite index's columns:
# summary (with a correction's replacement and a retraction's reason) A, quote B,
# attribution, headline and publisher C, the actors' ids, names and aliases D.
# The parameters: the positions after which and up to which rows are indexed (a
# bounded range: the plan prepared for an append then stays a small index scan).
SEARCH_DOCUMENT = """
INSERT INTO events_search (position, document)
SELECT
    e.position,
    setweight(to_tsvector('english', concat_ws(' ',
        p ->> 'summary', p -> 'replacement' ->> 'summary', p ->> 'reason')), 'A') ||
    setweight(to_tsvector('english', concat_ws(' ',
        p ->> 'quote', p -> 'replacement' ->> 'quote')), 'B') ||
    setweight(to_tsvector('english', concat_ws(' ', p ->> 'attribution',
        coalesce((SELECT string_agg(concat_ws(' ', s ->> 'headline', s ->> 'publisher',
                                              s ->> 'origin'), ' ')
                    FROM json_array_elements(CASE WHEN json_typeof(p -> 'sources') = 'array'
                                             THEN p -> 'sources' ELSE '[]'::json END) s),
                 concat_ws(' ', p -> 'source' ->> 'headline', p -> 'source' ->> 'publisher')))),
        'C') ||
    setweight(to_tsvector('english', coalesce((
        SELECT string_agg(a.id || ' ' || a.name || ' ' || a.aliases, ' ' ORDER BY a.id COLLATE "C")
          FROM (SELECT DISTINCT actor FROM event_actors WHERE position = e.position) ea
          JOIN actors a ON a.id = ea.actor), '')), 'D')
FROM events e, LATERAL (SELECT e.payload::json AS p) j
WHERE e.position > %s AND e.position <= %s
ORDER BY e.position
"""

SEARCH_TEXTS = """
INSERT INTO events_search (position, document)
SELECT t.position,
       setweight(to_tsvector('english', t.a), 'A') ||
       setweight(to_tsvector('english', t.b), 'B') ||
       setweight(to_tsvector('english', t.c), 'C') ||
       setweight(to_tsvector('english', t.d), 'D')
  FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[], %s::text[])
       AS t (position, a, b, c, d)
"""
"""The search documents of rows whose searched text the writer sends (positions, then the
texts of weights A to D, as ``search_texts`` spells them: what :data:`SEARCH_DOCUMENT`
reads from the payload and the actors), so that the server only builds the tsvectors.
The one-trip append (``timeline_append``) builds them the same way."""

_SEARCH = [
    """
    CREATE TABLE events_search (
        position BIGINT PRIMARY KEY REFERENCES events (position),
        document TSVECTOR NOT NULL
    )
    """,
    "CREATE INDEX events_search_by_document ON events_search USING GIN (document)",
]


_SNAPSHOTS = [
    # each fact a fold changes, with the fold key (timeline.snapshots.okey) it holds
    # from; NULL fact = removed. See timeline.snapshots.
    'CREATE TABLE fact_versions (key TEXT NOT NULL, okey TEXT COLLATE "C" NOT NULL, '
    "fact TEXT, PRIMARY KEY (key, okey))",
    "CREATE INDEX fact_versions_by_okey ON fact_versions (okey)",
    "CREATE TABLE fact_keys (key TEXT PRIMARY KEY)",
    # unique by digest: a btree entry cannot hold a very long text
    "CREATE TABLE fact_sources (id BIGSERIAL PRIMARY KEY, source TEXT NOT NULL, "
    "digest TEXT GENERATED ALWAYS AS (md5(source)) STORED UNIQUE)",
    """
    CREATE TABLE snapshot_checkpoint (
        scope TEXT PRIMARY KEY,
        position BIGINT NOT NULL,
        okey TEXT NOT NULL,
        max_reported_at TEXT,
        max_recorded_at TEXT,
        signature TEXT NOT NULL,
        complete BOOLEAN NOT NULL
    )
    """,
]


_REGISTRATIONS = [
    # actors, aliases and titles in a chain of their own: see store/registrations.py
    """
    CREATE TABLE registrations (
        seq BIGINT PRIMARY KEY CHECK (seq > 0),
        kind TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
    )
    """,
    "CREATE TRIGGER registrations_refuse_change BEFORE UPDATE OR DELETE ON registrations "
    "FOR EACH ROW EXECUTE FUNCTION timeline_refuse_change()",
    "CREATE TRIGGER registrations_refuse_truncate BEFORE TRUNCATE ON registrations "
    "FOR EACH STATEMENT EXECUTE FUNCTION timeline_refuse_change()",
]


def _backfill_registrations(execute: Callable[..., Any]) -> None:
    # the actors and titles a store holds when it migrates are registered as they stand
    rows = backfill(
        execute("SELECT id, name, kind, aliases FROM actors").fetchall(),
        execute("SELECT story, title FROM stories").fetchall(),
    )
    for row in rows:
        execute(f"INSERT INTO registrations ({REGISTRATION_COLUMNS}) VALUES ({_SIX})", row)


_SIX = ", ".join(["%s"] * 6)

# an INSERT into the event-actor index passes only when the event at that position
# names the actor in that field (the role is the field's path in the payload), as
# the store's own appends always do; UPDATE, DELETE and TRUNCATE were refused already
_EVENT_ACTOR_GUARD = [
    """
    CREATE FUNCTION timeline_check_event_actor() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        named JSONB;
    BEGIN
        SELECT e.payload::jsonb #> string_to_array(NEW.role, '.') INTO named
          FROM events e WHERE e.position = NEW.position;
        IF named IS NULL
           OR NOT (named = to_jsonb(NEW.actor)
                   OR (jsonb_typeof(named) = 'array' AND named @> jsonb_build_array(NEW.actor)))
           OR NOT EXISTS (SELECT 1 FROM actors a WHERE a.id = NEW.actor) THEN
            RAISE EXCEPTION USING MESSAGE = format(
                'timeline: event_actors is derived from events: a row must name an actor '
                || '(in table actors) that its event names in that role '
                || '(position %s, actor %L, role %L)', NEW.position, NEW.actor, NEW.role);
        END IF;
        RETURN NEW;
    END
    $$
    """,
    "CREATE TRIGGER event_actors_refuse_foreign_insert BEFORE INSERT ON event_actors "
    "FOR EACH ROW EXECUTE FUNCTION timeline_check_event_actor()",
]

_FAST_APPEND = [
    # bumped by every change to actors or aliases: a writer's cached actor lookup
    # stays valid across other writers' appends
    "ALTER TABLE store_changes ADD COLUMN actors BIGINT NOT NULL DEFAULT 0",
    # An append's first round trip: take the lock, then read what the batch builds
    # on. A VOLATILE function's statements each read a snapshot taken when they
    # start, so the reads after the lock see every append committed before it.
    """
    CREATE FUNCTION timeline_append_begin(
        p_lock_timeout TEXT, p_story TEXT, p_ids TEXT[],
        OUT o_actors BIGINT, OUT o_version INTEGER, OUT o_now TIMESTAMPTZ,
        OUT o_position BIGINT, OUT o_recorded_at TEXT, OUT o_hash TEXT,
        OUT o_stored_ids TEXT[], OUT o_stored_payloads TEXT[]
    ) VOLATILE LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM set_config('lock_timeout', p_lock_timeout, true);
        PERFORM set_config('idle_in_transaction_session_timeout', '60s', true);
        PERFORM pg_advisory_xact_lock(hashtext('timeline:' || current_schema()));
        UPDATE store_changes SET changes = changes + 1 RETURNING actors INTO o_actors;
        SELECT MAX(e.version) INTO o_version FROM events e WHERE e.story = p_story;
        o_now := clock_timestamp();
        SELECT e.position, e.recorded_at, e.hash INTO o_position, o_recorded_at, o_hash
          FROM events e ORDER BY e.position DESC LIMIT 1;
        SELECT array_agg(e.id), array_agg(e.payload) INTO o_stored_ids, o_stored_payloads
          FROM events e WHERE e.id = ANY(p_ids);
    END
    $$
    """,
    # after an append's events are written (their search rows are the caller's):
    # the actor index, the reached mark, the story, one notification
    """
    CREATE FUNCTION timeline_append_end(
        p_upto BIGINT, p_story TEXT, p_positions BIGINT[], p_actors TEXT[], p_roles TEXT[]
    ) RETURNS VOID VOLATILE LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO event_actors (position, actor, role)
          SELECT * FROM unnest(p_positions, p_actors, p_roles) ON CONFLICT DO NOTHING;
        UPDATE store_changes SET reached = GREATEST(reached, p_upto);
        INSERT INTO stories (story) VALUES (p_story) ON CONFLICT DO NOTHING;
        PERFORM pg_notify('timeline_events', p_upto::text);
    END
    $$
    """,
]


def _search_document_in(first: str, last: str) -> str:
    """:data:`SEARCH_DOCUMENT` inside a plpgsql function, its bounds two variables."""
    return SEARCH_DOCUMENT.replace("%s", first, 1).replace("%s", last, 1)


_ONE_TRIP_APPEND = [
    # The event-actor guard per statement: each event's payload is parsed once per
    # inserting statement, not once per index row; what it refuses is unchanged.
    "DROP TRIGGER event_actors_refuse_foreign_insert ON event_actors",
    # checked at commit, so a row naming no event meets the guard's message first
    "ALTER TABLE event_actors ALTER CONSTRAINT event_actors_position_fkey "
    "DEFERRABLE INITIALLY DEFERRED",
    """
    CREATE FUNCTION timeline_check_event_actors() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        bad RECORD;
    BEGIN
        WITH named AS MATERIALIZED (
            SELECT e.position, e.payload::jsonb AS p FROM events e
             WHERE e.position IN (SELECT DISTINCT n.position FROM timeline_inserted n)
        )
        SELECT n.position, n.actor, n.role INTO bad
          FROM timeline_inserted n LEFT JOIN named ON named.position = n.position
         WHERE NOT EXISTS (SELECT 1 FROM actors a WHERE a.id = n.actor)
            OR NOT coalesce((
                SELECT x = to_jsonb(n.actor)
                       OR (jsonb_typeof(x) = 'array' AND x @> jsonb_build_array(n.actor))
                  FROM (SELECT named.p #> string_to_array(n.role, '.') AS x) y), false)
         LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION USING MESSAGE = format(
                'timeline: event_actors is derived from events: a row must name an actor '
                || '(in table actors) that its event names in that role '
                || '(position %s, actor %L, role %L)', bad.position, bad.actor, bad.role);
        END IF;
        RETURN NULL;
    END
    $$
    """,
    "CREATE TRIGGER event_actors_refuse_foreign_insert AFTER INSERT ON event_actors "
    "REFERENCING NEW TABLE AS timeline_inserted "
    "FOR EACH STATEMENT EXECUTE FUNCTION timeline_check_event_actors()",
    "DROP FUNCTION timeline_check_event_actor()",
    # An append in one round trip (one statement, its own transaction). The caller
    # built the rows on what it last saw: the head (and the stories' versions at
    # it), the actors' counter, and a lower bound of the server's clock. Under the lock the function
    # checks all of it; if anything differs (another writer came first, an id is
    # stored, the clock estimate is off) it writes nothing and returns what it read,
    # and the caller builds again on that. o_ok: the rows were written.
    f"""
    CREATE FUNCTION timeline_append(
        p_lock_timeout TEXT, p_story TEXT, p_ids TEXT[],
        p_head BIGINT, p_head_hash TEXT, p_actors BIGINT,
        p_now TIMESTAMPTZ, p_slack INTERVAL, p_rows TEXT[], p_actor_rows TEXT[],
        OUT o_ok BOOLEAN, OUT o_actors BIGINT, OUT o_version INTEGER, OUT o_now TIMESTAMPTZ,
        OUT o_position BIGINT, OUT o_recorded_at TEXT, OUT o_hash TEXT,
        OUT o_stored_ids TEXT[], OUT o_stored_payloads TEXT[]
    ) VOLATILE LANGUAGE plpgsql AS $$
    -- p_rows: the rows' columns one after another, 14 a row (those of events but
    -- the story); p_actor_rows: (position, actor, role), 3 a row
    DECLARE
        v_first BIGINT := p_rows[1]::bigint - 1;
        v_last BIGINT := p_rows[cardinality(p_rows) - 13]::bigint;
    BEGIN
        PERFORM set_config('lock_timeout', p_lock_timeout, true),
                pg_advisory_xact_lock(hashtext('timeline:' || current_schema()));
        -- after the lock: each statement of a VOLATILE function reads a fresh snapshot
        SELECT c.actors, clock_timestamp(), h.position, h.recorded_at, h.hash
          INTO o_actors, o_now, o_position, o_recorded_at, o_hash
          FROM store_changes c LEFT JOIN LATERAL (
              SELECT e.position, e.recorded_at, e.hash FROM events e
               ORDER BY e.position DESC LIMIT 1) h ON true;
        -- the caller's versions are those at its head: an unchanged head keeps them
        o_ok := o_actors = p_actors
            AND coalesce(o_position, 0) = p_head AND coalesce(o_hash, '') = p_head_hash
            AND (p_slack IS NULL OR p_now BETWEEN o_now - p_slack AND o_now)
            AND v_last IS NOT NULL
            AND NOT EXISTS (SELECT 1 FROM events e WHERE e.id = ANY(p_ids));
        IF NOT coalesce(o_ok, false) THEN
            o_ok := false;
            SELECT MAX(e.version) INTO o_version FROM events e WHERE e.story = p_story;
            SELECT array_agg(e.id), array_agg(e.payload) INTO o_stored_ids, o_stored_payloads
              FROM events e WHERE e.id = ANY(p_ids);
            RETURN;
        END IF;
        UPDATE store_changes SET changes = changes + 1, reached = GREATEST(reached, v_last);
        INSERT INTO events (position, id, story, version, type, schema_version, occurred_at,
                            precision, reported_at, recorded_at, payload, prev_hash, hash,
                            occurred_until, reported_until)
          SELECT p_rows[i]::bigint, p_rows[i + 1], p_story, p_rows[i + 2]::integer,
                 p_rows[i + 3], p_rows[i + 4]::integer, p_rows[i + 5], p_rows[i + 6],
                 p_rows[i + 7], p_rows[i + 8], p_rows[i + 9], p_rows[i + 10],
                 p_rows[i + 11], p_rows[i + 12], p_rows[i + 13]
            FROM generate_series(1, cardinality(p_rows), 14) AS i;
        INSERT INTO event_actors (position, actor, role)
          SELECT p_actor_rows[i]::bigint, p_actor_rows[i + 1], p_actor_rows[i + 2]
            FROM generate_series(1, cardinality(p_actor_rows), 3) AS i
          ON CONFLICT DO NOTHING;
        {_search_document_in("v_first", "v_last")};
        INSERT INTO stories (story) VALUES (p_story) ON CONFLICT DO NOTHING;
        PERFORM pg_notify('timeline_events', v_last::text);
        o_now := clock_timestamp();  -- the caller's next estimate starts from here
    END
    $$
    """,
]


_CHEAPER_ONE_TRIP_APPEND = [
    # The one-trip append, cheaper on the server: the writer sends each event's
    # searched text (what SEARCH_DOCUMENT reads from the payload and the actors,
    # spelled the same: see postgres.search_texts) and the server only builds the
    # tsvector; a stored id meets the events' unique key (the caller then takes the
    # locked path) instead of a look-up before the insert; the stories row is
    # written only by a story's first event. Both functions keep generic plans: a
    # custom plan is planned again at every call, and planning was most of the
    # event-actor guard's time.
    #
    # The guard, each index row checked by index look-ups whatever the estimates
    # (scalar subqueries are never turned into joins), so that one generic plan
    # fits an append of one event and a load of thousands alike.
    """
    CREATE OR REPLACE FUNCTION timeline_check_event_actors() RETURNS trigger
    LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
    DECLARE
        bad RECORD;
    BEGIN
        SELECT n.position, n.actor, n.role INTO bad
          FROM timeline_inserted n
         WHERE (SELECT true FROM actors a WHERE a.id = n.actor) IS NULL
            OR NOT coalesce((
                SELECT x = to_jsonb(n.actor)
                       OR (jsonb_typeof(x) = 'array' AND x @> jsonb_build_array(n.actor))
                  FROM (SELECT e.payload::jsonb #> string_to_array(n.role, '.') AS x
                          FROM events e WHERE e.position = n.position) y), false)
         LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION USING MESSAGE = format(
                'timeline: event_actors is derived from events: a row must name an actor '
                || '(in table actors) that its event names in that role '
                || '(position %s, actor %L, role %L)', bad.position, bad.actor, bad.role);
        END IF;
        RETURN NULL;
    END
    $$
    """,
    "DROP FUNCTION timeline_append(TEXT, TEXT, TEXT[], BIGINT, TEXT, BIGINT, TIMESTAMPTZ, "
    "INTERVAL, TEXT[], TEXT[])",
    """
    CREATE FUNCTION timeline_append(
        p_lock_timeout TEXT, p_story TEXT, p_ids TEXT[],
        p_head BIGINT, p_head_hash TEXT, p_actors BIGINT,
        p_now TIMESTAMPTZ, p_slack INTERVAL, p_rows TEXT[], p_actor_rows TEXT[],
        p_search TEXT[],
        OUT o_ok BOOLEAN, OUT o_actors BIGINT, OUT o_version INTEGER, OUT o_now TIMESTAMPTZ,
        OUT o_position BIGINT, OUT o_recorded_at TEXT, OUT o_hash TEXT,
        OUT o_stored_ids TEXT[], OUT o_stored_payloads TEXT[]
    ) VOLATILE LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
    -- p_rows: the rows' columns one after another, 14 a row (those of events but
    -- the story); p_actor_rows: (position, actor, role), 3 a row; p_search: each
    -- row's searched text, 4 a row (weights A, B, C, D)
    DECLARE
        v_first BIGINT := p_rows[1]::bigint;
        v_last BIGINT := p_rows[cardinality(p_rows) - 13]::bigint;
    BEGIN
        PERFORM set_config('lock_timeout', p_lock_timeout, true),
                pg_advisory_xact_lock(hashtext('timeline:' || current_schema()));
        -- after the lock: each statement of a VOLATILE function reads a fresh snapshot
        SELECT c.actors, clock_timestamp(), h.position, h.recorded_at, h.hash
          INTO o_actors, o_now, o_position, o_recorded_at, o_hash
          FROM store_changes c LEFT JOIN LATERAL (
              SELECT e.position, e.recorded_at, e.hash FROM events e
               ORDER BY e.position DESC LIMIT 1) h ON true;
        -- the caller's versions are those at its head: an unchanged head keeps them
        o_ok := o_actors = p_actors
            AND coalesce(o_position, 0) = p_head AND coalesce(o_hash, '') = p_head_hash
            AND (p_slack IS NULL OR p_now BETWEEN o_now - p_slack AND o_now)
            AND v_last IS NOT NULL AND cardinality(p_search) * 14 = cardinality(p_rows) * 4;
        IF NOT coalesce(o_ok, false) THEN
            o_ok := false;
            SELECT MAX(e.version) INTO o_version FROM events e WHERE e.story = p_story;
            SELECT array_agg(e.id), array_agg(e.payload) INTO o_stored_ids, o_stored_payloads
              FROM events e WHERE e.id = ANY(p_ids);
            RETURN;
        END IF;
        UPDATE store_changes SET changes = changes + 1, reached = GREATEST(reached, v_last);
        -- a stored id: the unique key refuses the row (and the caller takes the locked path)
        INSERT INTO events (position, id, story, version, type, schema_version, occurred_at,
                            precision, reported_at, recorded_at, payload, prev_hash, hash,
                            occurred_until, reported_until)
          SELECT p_rows[i]::bigint, p_rows[i + 1], p_story, p_rows[i + 2]::integer,
                 p_rows[i + 3], p_rows[i + 4]::integer, p_rows[i + 5], p_rows[i + 6],
                 p_rows[i + 7], p_rows[i + 8], p_rows[i + 9], p_rows[i + 10],
                 p_rows[i + 11], p_rows[i + 12], p_rows[i + 13]
            FROM generate_series(1, cardinality(p_rows), 14) AS i;
        INSERT INTO event_actors (position, actor, role)
          SELECT p_actor_rows[i]::bigint, p_actor_rows[i + 1], p_actor_rows[i + 2]
            FROM generate_series(1, cardinality(p_actor_rows), 3) AS i
          ON CONFLICT DO NOTHING;
        INSERT INTO events_search (position, document)
          SELECT v_first + k,
                 setweight(to_tsvector('english', p_search[4 * k + 1]), 'A') ||
                 setweight(to_tsvector('english', p_search[4 * k + 2]), 'B') ||
                 setweight(to_tsvector('english', p_search[4 * k + 3]), 'C') ||
                 setweight(to_tsvector('english', p_search[4 * k + 4]), 'D')
            FROM generate_series(0, v_last - v_first) AS k;
        IF p_rows[3] = '1' THEN  -- the story's first event
            INSERT INTO stories (story) VALUES (p_story) ON CONFLICT DO NOTHING;
        END IF;
        PERFORM pg_notify('timeline_events', v_last::text);
        o_now := clock_timestamp();  -- the caller's next estimate starts from here
    END
    $$
    """,
]


# the readable fold keys (``2025-12-09T03:04:05.123456Z#000000000151``) in the compact
# spelling of timeline.snapshots.okey: UTC microseconds since 0001-01-01 in 15 hex
# digits, then the log position in 10. Whole days and the time of day are counted
# apart, each exactly (an epoch of the whole timestamp as a double would round).
_COMPACT_FOLD_KEY = """
    lpad(to_hex((left({k}, 10)::date - date '0001-01-01')::bigint * 86400000000
                + round(extract(epoch FROM substr({k}, 12, 15)::time) * 1000000)::bigint),
         15, '0')
    || lpad(to_hex(split_part({k}, '#', 2)::bigint), 10, '0')
"""

_COMPACT_FOLD_KEYS = [
    "UPDATE fact_versions SET okey = {} WHERE strpos(okey, '#') > 0".format(
        _COMPACT_FOLD_KEY.format(k="okey")
    ),
    "UPDATE snapshot_checkpoint SET okey = {} WHERE strpos(okey, '#') > 0".format(
        _COMPACT_FOLD_KEY.format(k="okey")
    ),
]


def _backfill_search(execute: Callable[[str, tuple[Any, ...]], Any]) -> None:
    execute(SEARCH_DOCUMENT, (0, 2**62))


# (name, statements, then a callable run after them)
MIGRATIONS: list[tuple[str, list[str], Callable[[Callable[..., Any]], None] | None]] = [
    ("0001_event_log", _EVENT_LOG, None),
    ("0002_search", _SEARCH, _backfill_search),
    ("0003_snapshots", _SNAPSHOTS, None),
    ("0007_chained_registrations", _REGISTRATIONS, _backfill_registrations),
    ("0008_event_actor_insert_guard", _EVENT_ACTOR_GUARD, None),
    ("0010_fast_append", _FAST_APPEND, None),
    ("0013_one_trip_append", _ONE_TRIP_APPEND, None),
    ("0014_cheaper_one_trip_append", _CHEAPER_ONE_TRIP_APPEND, None),
    ("0015_compact_fold_keys", _COMPACT_FOLD_KEYS, None),
]
