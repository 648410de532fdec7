"""A fixture whose header the streaming reader cannot take is read whole instead, and
its error is worded as the whole-file reader words it: file, line and column, or
field; nothing is written."""

from __future__ import annotations

from pathlib import Path

import pytest

import timeline as tl

FORMAT = '"format": "timeline-fixture/1"'

CASES = {
    "a key not in double quotes": (
        "{1: 2}",
        None,
        "invalid JSON at line 1 column 2: Expecting property name enclosed in double quotes",
    ),
    "a bad escape in a key": (
        '{"story\\x": 1, "events": []}',
        None,
        "invalid JSON at line 1 column 8: Invalid \\escape",
    ),
    "a key without a colon": (
        '{"story" "x", "events": []}',
        None,
        "invalid JSON at line 1 column 10: Expecting ':' delimiter",
    ),
    "a key given twice": (
        f'{{"story": "a", "story": "b", {FORMAT}, "events": []}}',
        "story",
        "field story: key 'story' appears twice in one JSON object",
    ),
    "a value that is not JSON": (
        '{"story": tru, "events": []}',
        None,
        "invalid JSON at line 1 column 11: Expecting value",
    ),
    "a missing comma": (
        f'{{{FORMAT} "story": "x", "events": []}}',
        None,
        "invalid JSON at line 1 column 33: Expecting ',' delimiter",
    ),
    "no events": (
        f'{{{FORMAT}, "story": "x"}}',
        "events",
        "field events: expected a list, got null",
    ),
    "events not a list": (
        f'{{{FORMAT}, "story": "x", "events": {{}}}}',
        "events",
        "field events: expected a list, got an object",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_header_the_stream_cannot_take_is_refused_as_the_whole_file_reader_says(
    store: tl.Timeline, tmp_path: Path, case: str
) -> None:
    text, field, message = CASES[case]
    path = tmp_path / "story.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(tl.FixtureError) as caught:
        store.load(path)
    assert str(caught.value) == f"{path}: {message}"
    assert caught.value.field == field
    assert caught.value.path == str(path)
    assert store.store.head() == 0
