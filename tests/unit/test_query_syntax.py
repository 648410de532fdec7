"""The search syntax every backend shares, parsed, and its FTS5 translation.

Each form (word, phrase, prefix, OR, -word) parses to the terms both engines
search for; the FTS5 text is checked whole, and a bad query names what is wrong.
How PostgreSQL finds the same events is checked on a server in
``tests/integration/test_postgres.py``.
"""

from __future__ import annotations

import pytest

import timeline as tl
from timeline.store.query_syntax import Query, Term, is_sqlite_only, parse, to_fts5
from timeline.store.search import fts_query


def test_words_are_each_a_group_that_must_match() -> None:
    query = parse("nvidia h200")
    assert query == Query(groups=((Term(("nvidia",)),), (Term(("h200",)),)))
    assert to_fts5(query) == '"nvidia" AND "h200"'


def test_a_quoted_phrase_is_one_term_of_several_words_in_order() -> None:
    query = parse('"grey market" chips')
    phrase = query.groups[0][0]
    assert phrase == Term(("grey", "market"))
    assert phrase.is_phrase
    assert not query.groups[1][0].is_phrase
    assert to_fts5(query) == '"grey market" AND "chips"'


def test_a_hyphenated_word_is_the_phrase_of_its_parts() -> None:
    assert parse("grey-market") == Query(groups=((Term(("grey", "market")),),))
    assert to_fts5(parse("grey-market")) == '"grey market"'


def test_a_trailing_star_is_a_prefix_outside_quotes_only() -> None:
    assert parse("procur*") == Query(groups=((Term(("procur",), prefix=True),),))
    assert to_fts5(parse("procur*")) == '"procur"*'
    # inside quotes the star is punctuation, not a prefix
    assert parse('"procur*"') == Query(groups=((Term(("procur",)),),))


def test_or_joins_the_terms_on_either_side_into_one_group() -> None:
    query = parse("chips h20 OR h200")
    assert query.groups == ((Term(("chips",)),), (Term(("h20",)), Term(("h200",))))
    assert to_fts5(query) == '"chips" AND ("h20" OR "h200")'
    chained = parse('h20 OR h200 OR "b30a chip"')
    assert to_fts5(chained) == '("h20" OR "h200" OR "b30a chip")'


def test_a_leading_or_joins_nothing() -> None:
    assert parse("OR nvidia") == Query(groups=((Term(("nvidia",)),),))


def test_a_minus_excludes_a_word_or_a_phrase() -> None:
    query = parse('ministry -commerce -"grey market"')
    assert query.groups == ((Term(("ministry",)),),)
    assert query.excluded == (Term(("commerce",)), Term(("grey", "market")))
    assert to_fts5(query) == '(("ministry") NOT "commerce") NOT "grey market"'


def test_a_lone_minus_is_no_exclusion() -> None:
    assert parse("nvidia - h200") == Query(groups=((Term(("nvidia",)),), (Term(("h200",)),)))


def test_tokens_without_a_word_are_dropped_and_end_an_or() -> None:
    # "!!" holds no word: it is skipped and the OR before it joins nothing
    assert parse("nvidia OR !! h200") == Query(groups=((Term(("nvidia",)),), (Term(("h200",)),)))


def test_an_empty_query_is_refused() -> None:
    with pytest.raises(tl.ValidationError, match="the search query is empty") as caught:
        parse("   ")
    assert caught.value.field == "query"


def test_an_unclosed_double_quote_is_refused_quoting_the_query() -> None:
    with pytest.raises(tl.ValidationError) as caught:
        parse('"grey market')
    assert str(caught.value) == (
        "query: '\"grey market' is not valid search syntax (a double quote is not closed)"
    )


@pytest.mark.parametrize("text", ["-tencent", "-tencent -nvidia", "!! ??", '""'])
def test_a_query_that_only_excludes_or_holds_no_word_is_refused(text: str) -> None:
    with pytest.raises(tl.ValidationError, match="names no word to look for") as caught:
        parse(text)
    assert repr(text) in str(caught.value)


@pytest.mark.parametrize(
    "text",
    [
        "nvidia NEAR(h200 chips)",
        "grey AND market",
        "nvidia NOT tencent",
        "(h20 OR h200)",
        "summary: tender",
        "-quote:tariff nvidia",
        "^nvidia",
    ],
)
def test_fts5_only_forms_are_recognised(text: str) -> None:
    assert is_sqlite_only(text)


@pytest.mark.parametrize(
    "text", ["nvidia h200", '"grey market"', "h20 OR h200", "-tencent chips", "procur*", "and not"]
)
def test_the_shared_forms_are_not_fts5_only(text: str) -> None:
    assert not is_sqlite_only(text)


def test_sqlite_reads_the_shared_syntax_through_the_translation_and_fts5_as_is() -> None:
    assert fts_query("h20 OR h200 -tencent") == '(("h20" OR "h200")) NOT "tencent"'
    assert fts_query("grey AND market") == "grey AND market"  # FTS5 syntax, used as is
    assert fts_query("grey market", raw=True) == "grey market"
    assert fts_query('say "no" OR', raw=False) == '"say" """no""" "OR"'
    with pytest.raises(tl.ValidationError, match="the search query is empty"):
        fts_query("", raw=True)
