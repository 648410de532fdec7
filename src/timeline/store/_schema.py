"""The store's schema, versioned with ``sqlite_utils.Migrations``.

Migrations are append-only: never edit one that has shipped, add the next.
"""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

__all__ = ["MIGRATION_SET", "migrations"]

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
