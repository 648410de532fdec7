"""Metadata that makes Datasette read a timeline store well.

Datasette cannot tell that ``events_fts`` indexes ``events`` (its search box then
returns every row), shows the internal tables next to the useful ones, and knows
nothing of what the columns mean. ``metadata()`` says all three and adds canned
queries: a fact's history, who is blocked by what, what was reported on a day.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from timeline.store._schema import SEARCH_TABLE

__all__ = ["metadata"]

_COLUMNS = {
    "position": "place in the store's log (global, strictly increasing)",
    "story": "the story (stream) the event belongs to",
    "version": "the event's number within its story (1, 2, 3 ...)",
    "id": "the event id",
    "type": "event type (announcement, statement, inquiry, policy_change, ...)",
    "occurred_at": "when it happened in the world (UTC; the start of the period)",
    "precision": "how precisely occurred_at is known: exact, day, month or year",
    "reported_at": "when it became public (UTC)",
    "recorded_at": "when this store learned it (UTC)",
    "summary": "what happened, in a sentence or two",
    "attribution": "who the report relies on",
    "payload": "the whole record as JSON",
}

_ACTOR_ID = """(SELECT coalesce(
      (SELECT actor FROM actor_aliases WHERE alias = :actor COLLATE NOCASE),
      (SELECT id FROM actors WHERE id = :actor COLLATE NOCASE),
      (SELECT min(id) FROM actors WHERE name = :actor COLLATE NOCASE),
      :actor))"""

_QUERIES: dict[str, dict[str, Any]] = {
    "fact_history": {
        "title": "A fact's history",
        "description": (
            "Every event naming an actor (id, alias or display name), on one topic "
            "if you give one, in the order it happened, with the corrections and "
            "retractions of those events."
        ),
        "sql": f"""
SELECT e.occurred_at, e.precision, e.reported_at, e.id, e.type,
       coalesce(json_extract(e.payload, '$.topic'),
                json_extract(e.payload, '$.replacement.topic')) AS topic,
       json_extract(e.payload, '$.position') AS stance,
       coalesce(json_extract(e.payload, '$.retracts'),
                json_extract(e.payload, '$.corrects')) AS amends,
       json_extract(e.payload, '$.summary') AS summary
FROM events e
WHERE (e.position IN (SELECT position FROM event_actors WHERE actor = {_ACTOR_ID})
       OR coalesce(json_extract(e.payload, '$.retracts'),
                   json_extract(e.payload, '$.corrects')) IN (
           SELECT ev.id FROM events ev JOIN event_actors ea ON ea.position = ev.position
           WHERE ea.actor = {_ACTOR_ID}))
  AND (:topic = '' OR coalesce(json_extract(e.payload, '$.topic'),
                                json_extract(e.payload, '$.replacement.topic')) = :topic
       OR json_extract(e.payload, '$.retracts') IS NOT NULL)
ORDER BY e.occurred_at, e.position
""",
    },
    "blocked_by": {
        "title": "Who is blocked by what",
        "description": (
            "Bans and restrictions not lifted (by a later permit or lift of the same "
            "authority on the same product) nor retracted, one row per actor or "
            "description they apply to."
        ),
        "sql": """
SELECT e.occurred_at, e.id AS restriction,
       json_extract(e.payload, '$.authority') AS authority,
       json_extract(e.payload, '$.measure') AS measure,
       json_extract(e.payload, '$.product') AS product,
       target.value AS applies_to, a.name AS actor_name,
       json_extract(e.payload, '$.summary') AS summary
FROM events e, json_each(e.payload, '$.applies_to') target
LEFT JOIN actors a ON a.id = target.value
WHERE e.type = 'policy_change'
  AND json_extract(e.payload, '$.measure') IN ('ban', 'restrict')
  AND e.id NOT IN (SELECT json_extract(payload, '$.retracts') FROM events
                   WHERE type = 'retraction')
  AND NOT EXISTS (
      SELECT 1 FROM events lift
      WHERE lift.type = 'policy_change'
        AND json_extract(lift.payload, '$.measure') IN ('permit', 'lift')
        AND json_extract(lift.payload, '$.authority') = json_extract(e.payload, '$.authority')
        AND lower(json_extract(lift.payload, '$.product'))
            = lower(json_extract(e.payload, '$.product'))
        AND (lift.occurred_at, lift.position) > (e.occurred_at, e.position))
ORDER BY e.occurred_at, e.position, target.key
""",
    },
    "reported_on_day": {
        "title": "What was reported on a day",
        "description": "Events that became public on a UTC day (YYYY-MM-DD).",
        "sql": """
SELECT e.reported_at, e.occurred_at, e.id, e.type,
       json_extract(e.payload, '$.summary') AS summary
FROM events e
WHERE substr(e.reported_at, 1, 10) = :day
ORDER BY e.reported_at, e.position
""",
    },
}


def _is_internal(name: str) -> bool:
    return name.startswith((SEARCH_TABLE, "fact_", "_sqlite", "sqlite_")) or name in (
        "snapshot_checkpoint",
        "store_changes",
        "actor_aliases",
        "registrations",
    )


def metadata(conn: sqlite3.Connection, database: str) -> dict[str, Any]:
    """Datasette metadata for the store open on ``conn``, served as ``database``.

    Args:
        conn: a connection to the store.
        database: the name Datasette gives the file (its name without ``.db``).
    """
    names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    tables: dict[str, Any] = {
        name: {"hidden": True} for name in sorted(names) if _is_internal(name)
    }
    search = {"fts_table": SEARCH_TABLE, "fts_pk": "position"}
    tables["events"] = {
        **search,
        "label_column": "id",
        "description": "The append-only event log: one row per event, the record in payload.",
        "sort": "position",
        "facets": ["type", "story"],
        "columns": {k: v for k, v in _COLUMNS.items() if k not in ("summary", "attribution")},
    }
    tables["events_readable"] = {
        **search,
        "label_column": "id",
        "description": "The event log with the record's text in columns.",
        "facets": ["type", "source_publisher"],
        "columns": _COLUMNS,
    }
    tables["actors"] = {
        "label_column": "name",
        "description": "Actors: id, display name, kind and aliases (JSON list).",
    }
    tables["event_actors"] = {
        "description": "Which actor takes which role (field) in which event.",
        "facets": ["actor", "role"],
    }
    return {
        "title": "timeline store",
        "description": (
            "An event-sourced news timeline. Stances and order intents are folds of "
            "these events: ask `timeline state` for them."
        ),
        "databases": {database: {"tables": tables, "queries": _QUERIES}},
    }
