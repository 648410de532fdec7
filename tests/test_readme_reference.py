"""The README's list of event fields and allowed values is the one the code gives."""

from __future__ import annotations

from tests.conftest import ROOT
from timeline.reference import END, START, fields_markdown


def test_the_readme_lists_every_event_types_fields_as_the_code_defines_them() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start, end = readme.index(START), readme.index(END) + len(END)
    assert readme[start:end] == fields_markdown(), (
        "README.md's field reference is out of date: replace it with the output of "
        "python -m timeline.reference"
    )


def test_every_registered_type_and_allowed_value_appears() -> None:
    text = fields_markdown()
    for name in ("announcement", "policy_change", "retraction", "denial", "report"):
        assert f"| `{name}` |" in text
    for value in ("supports", "opposes", "undecided", "neutral", "permit", "ban", "lift"):
        assert f"`{value}`" in text
    for value in ("exact", "day", "month", "year", "official", "anonymous"):
        assert f"`{value}`" in text
