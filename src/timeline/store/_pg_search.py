"""The text a PostgreSQL store searches, spelled on the client.

The one-trip append sends each event's searched text, built here exactly as the
server's ``SEARCH_DOCUMENT`` spells it from the stored payload and the actors' rows,
and its arrays as quoted ``text[]`` literals; searches turn the query syntax into a
``tsquery`` expression.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from timeline.store.query_syntax import Query, Term

__all__ = ["search_texts", "text_array", "as_tsquery"]


def text_array(values: Iterable[str]) -> str:
    """A ``text[]`` literal of ``values``, each quoted: one string for the driver to
    pass as it is (adapting a list element by element costs the writer more)."""
    return (
        "{"
        + ",".join(['"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values])
        + "}"
    )


def as_tsquery(query: Query) -> tuple[str, list[str]]:
    """The query as a ``tsquery`` SQL expression and its parameters."""
    params: list[str] = []

    def term(t: Term) -> str:
        if t.prefix:
            params.append(" <-> ".join([*t.words[:-1], t.words[-1] + ":*"]))
            return "to_tsquery('english', %s)"
        params.append(" ".join(t.words))
        return "phraseto_tsquery('english', %s)"

    parts = ["(" + " || ".join(term(t) for t in group) + ")" for group in query.groups]
    parts += ["!!" + term(t) for t in query.excluded]
    return " && ".join(parts), params


class _NotPlain(Exception):
    """A searched field holds something other than a string: the server spells it."""


def _field(obj: object, key: str) -> str | None:
    """``obj ->> key`` on a JSON value, for an absent, null or string value."""
    value = obj.get(key) if isinstance(obj, Mapping) else None
    if value is None or isinstance(value, str):
        return value
    raise _NotPlain


def _ws(*parts: str | None) -> str:
    """``concat_ws(' ', ...)``: the parts that are not null, a space apart."""
    return " ".join(p for p in parts if p is not None)


def search_texts(
    data: Mapping[str, Any], actors: Sequence[str], actor_texts: Mapping[str, str]
) -> tuple[str, str, str, str] | None:
    """An event's searched text, weights A to D, spelled exactly as
    :data:`SEARCH_DOCUMENT` spells it from the stored payload and the actors'
    rows, so that the append sends it and the server only builds the tsvector.
    ``None``: a field holds another JSON type (the server then reads the payload)."""
    try:
        replacement = data.get("replacement")
        summary = _ws(
            _field(data, "summary"), _field(replacement, "summary"), _field(data, "reason")
        )
        quote = _ws(_field(data, "quote"), _field(replacement, "quote"))
        sources = data.get("sources")
        cited = None
        if isinstance(sources, list) and sources:
            cited = " ".join(
                _ws(_field(s, "headline"), _field(s, "publisher"), _field(s, "origin"))
                for s in sources
            )
        if cited is None:
            source = data.get("source")
            cited = _ws(_field(source, "headline"), _field(source, "publisher"))
        attributed = _ws(_field(data, "attribution"), cited)
    except _NotPlain:
        return None
    if not all(a in actor_texts for a in actors):
        return None
    return summary, quote, attributed, " ".join(actor_texts[a] for a in actors)
