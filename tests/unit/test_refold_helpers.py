"""Helpers of the per-fact refold: where a rebuilt history agrees with the stored one."""

from __future__ import annotations

from timeline.snapshots import _MAX, _settled_after


def test_histories_that_never_differ_are_settled_from_the_start() -> None:
    assert _settled_after("a", [("k1", "b")], [("k1", "b")]) == ""
    assert _settled_after(None, [], []) == ""


def test_histories_agree_again_from_the_key_where_they_meet() -> None:
    # new holds "x" from k2 to k4 where the old history held "a": they meet at k4
    old = [("k1", "a"), ("k5", "c")]
    new = [("k1", "a"), ("k2", "x"), ("k4", "a"), ("k5", "c")]
    assert _settled_after(None, old, new) == "k4"


def test_histories_that_still_differ_at_their_end_never_settle() -> None:
    # a backdated ban: a restriction that was not there before stays
    assert _settled_after(None, [], [("k3", "ban")]) == _MAX
    assert _settled_after("a", [("k1", "b")], [("k1", "b"), ("k2", "c")]) == _MAX


def test_a_value_that_moves_settles_after_its_later_place() -> None:
    # a correction moves a change from k3 to k1: they differ from k1 to k3
    assert _settled_after("a", [("k3", "b")], [("k1", "b")]) == "k3"
