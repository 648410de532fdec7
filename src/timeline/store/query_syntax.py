"""The search syntax every backend accepts: words, "phrases", OR, -word, prefix*.

``nvidia h200`` needs both words; ``"grey market"`` the phrase; ``h20 OR h200``
either (OR binds adjacent terms: ``chips h20 OR h200`` is chips AND (h20 OR
h200)); ``-tencent`` leaves out events with the word; ``chip*`` matches words
starting with ``chip``. Each backend turns the parsed query into its own
engine's syntax (FTS5 on SQLite, a ``tsquery`` on PostgreSQL), so both find the
same events. Anything else (``NEAR()``, ``AND`` / ``NOT``, parentheses, column
filters such as ``summary:``) is FTS5 syntax, which only SQLite understands.
"""

from __future__ import annotations

import re

import attrs

from timeline.errors import ValidationError

__all__ = ["FIELDS", "Query", "Term", "is_sqlite_only", "parse", "plain", "to_fts5"]

# the fields a search covers, as FTS5 column filters name them (``summary:``)
FIELDS = ("summary", "quote", "attribution", "headline", "publisher", "actors")
# what only FTS5 reads: parentheses, ^, NEAR, upper-case AND / NOT, column filters
_SQLITE_ONLY = re.compile(
    r"[(){}^]|(?:^|\s)(?:AND|NOT|NEAR)(?:\s|$|\()" rf"|(?:^|\s)-?(?:{'|'.join(FIELDS)})\s*:"
)
_TOKEN = re.compile(r'(-?)"([^"]*)"|(\S+)')
_WORD = re.compile(r"\w+")


@attrs.frozen
class Term:
    """One word, phrase or prefix (``words`` are what the engines tokenize it to)."""

    words: tuple[str, ...]
    prefix: bool = False

    @property
    def is_phrase(self) -> bool:
        """Several words that must appear together, in order."""
        return len(self.words) > 1


@attrs.frozen
class Query:
    """Every group must match (a group: any of its terms); no excluded term may."""

    groups: tuple[tuple[Term, ...], ...]
    excluded: tuple[Term, ...] = ()


def is_sqlite_only(text: str) -> bool:
    """Whether ``text`` uses FTS5 syntax beyond the shared one."""
    return bool(_SQLITE_ONLY.search(text))


def parse(text: str) -> Query:
    """Parse the shared syntax.

    Raises:
        ValidationError: an empty query, an unclosed double quote, or a query
            that only excludes.
    """
    if not text.strip():
        raise ValidationError("query: the search query is empty", field="query")
    if text.count('"') % 2:
        raise ValidationError(
            f"query: {text!r} is not valid search syntax (a double quote is not closed)",
            field="query",
        )
    groups: list[list[Term]] = []
    excluded: list[Term] = []
    join_next = False
    for match in _TOKEN.finditer(text):
        negated, phrase, bare = match.groups()
        if bare is not None and bare == "OR":
            join_next = bool(groups)
            continue
        if bare is not None and bare.startswith("-") and len(bare) > 1:
            negated, bare = "-", bare[1:]
        source = phrase if phrase is not None else bare
        prefix = phrase is None and source.endswith("*")
        words = tuple(_WORD.findall(source))
        if not words:
            join_next = False
            continue
        term = Term(words=words, prefix=prefix)
        if negated:
            excluded.append(term)
        elif join_next:
            groups[-1].append(term)
        else:
            groups.append([term])
        join_next = False
    if not groups:
        raise ValidationError(
            f"query: {text!r} names no word to look for (only excluded words or symbols)",
            field="query",
        )
    return Query(groups=tuple(tuple(g) for g in groups), excluded=tuple(excluded))


def plain(text: str) -> Query:
    """``text`` as plain words (``raw=False``): every whitespace-separated piece must
    appear, as the phrase of the words it holds; no operator means anything.

    Raises:
        ValidationError: an empty query, or one without a word.
    """
    terms = [Term(words=words) for piece in text.split() if (words := tuple(_WORD.findall(piece)))]
    if not terms:
        raise ValidationError(f"query: {text!r} names no word to look for", field="query")
    return Query(groups=tuple((t,) for t in terms))


def to_fts5(query: Query) -> str:
    """The query in FTS5 syntax (SQLite)."""

    def term(t: Term) -> str:
        quoted = '"' + " ".join(t.words) + '"'
        return quoted + "*" if t.prefix else quoted

    def group(g: tuple[Term, ...]) -> str:
        return term(g[0]) if len(g) == 1 else "(" + " OR ".join(term(t) for t in g) + ")"

    text = " AND ".join(group(g) for g in query.groups)
    for t in query.excluded:
        text = f"({text}) NOT {term(t)}"
    return text
