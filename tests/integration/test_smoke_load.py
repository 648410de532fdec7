from __future__ import annotations

from pathlib import Path

import timeline as tl
from tests.conftest import H200


def test_loading_the_h200_fixture_twice_appends_nothing_the_second_time(db_path: Path) -> None:
    with tl.Timeline.open(db_path) as store:
        first = store.load(H200)
        second = store.load(H200)
    assert first.appended > 15
    assert (second.appended, second.skipped) == (0, first.appended)
