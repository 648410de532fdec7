"""Escaping for the text exports: what a story holds is shown, never run or obeyed.

Stored text comes from fixtures and sources that anyone may write. Each export
writes it so that its reader (a Markdown renderer, a spreadsheet, TimelineJS,
a JSON Lines reader) shows it as text:

- Markdown: ``&``, ``<`` and ``>`` become entities (no HTML reaches the page, in
  CommonMark or Python-Markdown), Markdown punctuation is backslash-escaped or
  written as an entity, and line breaks become spaces, so text cannot forge a
  heading, a list item, a link or an emphasis. Only ``http``/``https`` URLs
  become links; any other (``javascript:``, ``data:``) is shown as text.
- CSV: a cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return
  is prefixed with ``'`` (OWASP's rule against formula injection), so a
  spreadsheet shows it as text instead of evaluating it.
- JSON Lines: U+2028, U+2029 and U+0085 are written as ``\\u`` escapes, so every
  record stays on one line for any reader that splits lines on them.
"""

from __future__ import annotations

import re
from html import escape as html_escape
from urllib.parse import urlsplit

__all__ = ["csv_cell", "jsonl_line", "md_code", "md_line", "md_link", "md_text", "safe_url"]

# every vertical break a renderer or an editor may take for a new line
_BREAKS = re.compile("[\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]+")
# inline syntax (text never starts a line: block syntax needs a line start), as
# punctuation CommonMark and Python-Markdown both unescape after a backslash
_MD_PUNCT = re.compile(r"([\\`*_\[\]#])")
# syntax only some dialects know (GFM strikethrough): an entity is text everywhere
_MD_ENTITIES = {"~": "&#126;"}
_MD_ENTITY = re.compile("[~]")


def md_text(text: object) -> str:
    """``text`` as inline Markdown that renders as exactly that text, on one line."""
    flat = _BREAKS.sub(" ", str(text))
    escaped = _MD_PUNCT.sub(r"\\\1", flat)
    # then & < > " ' as entities (no HTML at all), whose own "#" stays as it is
    escaped = html_escape(escaped, quote=True)
    return _MD_ENTITY.sub(lambda m: _MD_ENTITIES[m.group(0)], escaped)


# a list marker where a line's text begins ("- ", "+ ", "1. ", "1) ")
_LIST_MARKER = re.compile(r"^(?:(\d{1,9})([.)])|([-+]))")


def md_line(text: object) -> str:
    """:func:`md_text` for text that begins a line (a block quote's): without leading
    spaces or tabs (four would start a code block) and with a list marker escaped."""
    escaped = md_text(text).lstrip(" \t")
    return _LIST_MARKER.sub(
        lambda m: f"{m.group(1)}\\{m.group(2)}" if m.group(1) else f"\\{m.group(3)}",
        escaped,
        count=1,
    )


def md_code(text: object) -> str:
    """``text`` as an inline code span (one line; any backticks inside are fenced)."""
    flat = _BREAKS.sub(" ", str(text))
    longest = max((len(run) for run in re.findall("`+", flat)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") or not flat.strip() else ""
    return f"{fence}{pad}{flat}{pad}{fence}"


def safe_url(url: str) -> str | None:
    """``url`` if it is an ``http``/``https`` URL that can be linked as it is, else ``None``."""
    if any(c.isspace() or c in '<>"`\\' or ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return url


def md_link(url: str) -> str:
    """An autolink for a safe ``http(s)`` URL; any other URL as plain text."""
    safe = safe_url(url)
    return f"<{safe}>" if safe is not None else md_text(url)


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> str:
    """A CSV cell a spreadsheet shows as text: a leading formula character gets a ``'``."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def jsonl_line(json_text: str) -> str:
    """One JSON record with the characters some readers take for line breaks escaped.

    ``json_text`` is valid JSON, in which these characters can only occur inside
    strings, where ``\\u2028`` means the same.
    """
    return (
        json_text.replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
        .replace("\x85", "\\u0085")
    )
