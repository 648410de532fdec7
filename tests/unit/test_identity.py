"""Actor identity rules: one comparison key, invisible characters and look-alikes refused."""

from __future__ import annotations

import unicodedata

import pytest

import timeline as tl
from timeline.identity import (
    existing_problems,
    fold,
    identity_problem,
    invisible_character,
    skeleton,
)


def actor(id: str, name: str = "", aliases: tuple[str, ...] = ()) -> tl.Actor:
    return tl.Actor(id=id, name=name or id, aliases=aliases)


def test_fold_joins_nfc_nfd_full_width_and_case() -> None:
    nfc = unicodedata.normalize("NFC", "Café")
    nfd = unicodedata.normalize("NFD", "Café")
    assert nfc != nfd
    assert fold(nfc) == fold(nfd) == fold("CAFÉ") == fold("\uff23\uff41\uff46é") == "café"
    assert fold("Straße") == fold("STRASSE") == "strasse"


def test_skeleton_maps_cyrillic_and_greek_look_alikes_to_latin() -> None:
    assert skeleton("nv\u0456dia") == skeleton("NVIDIA") == "nvidia"
    assert skeleton("\u03a4\u039f\u03a1") == "top"  # Greek capitals tau, omicron, rho
    assert fold("nv\u0456dia") != fold("nvidia")


@pytest.mark.parametrize(
    "char", ["\u200b", "\u200c", "\u200d", "\u200e", "\u200f", "\u202a", "\u202e", "\u2066",
             "\u2069", "\ufeff", "\u00ad"]
)  # fmt: skip
def test_every_invisible_or_bidi_character_is_found(char: str) -> None:
    assert invisible_character(f"nv{char}idia") == char


def test_plain_text_has_no_invisible_character() -> None:
    assert invisible_character("Nvidia Corp. (US)") is None


def _problem(*actors: tl.Actor, existing: dict[str, str] | None = None) -> tuple[str, str, str]:
    problem = identity_problem(actors, existing)
    assert problem is not None
    return problem


def test_an_invisible_character_is_named_with_its_code_point_and_field() -> None:
    owner, field, message = _problem(actor(id="nvidia", aliases=("Nv", "NV\u200bDA")))
    assert (owner, field) == ("nvidia", "aliases[1]")
    assert "U+200B ZERO WIDTH SPACE" in message
    assert "'nvidia'" in message


def test_a_right_to_left_override_in_an_id_is_refused() -> None:
    owner, field, message = _problem(actor(id="\u202eaidivn"))
    assert (owner, field) == ("\u202eaidivn", "id")
    assert "U+202E" in message


def test_a_confusable_id_beside_an_existing_one_is_refused() -> None:
    owner, field, message = _problem(
        actor(id="nv\u0456dia", name="Nvidia"), existing={"nvidia": "nvidia"}
    )
    assert (owner, field) == ("nv\u0456dia", "id")
    assert "looks like 'nvidia' of actor 'nvidia'" in message


def test_a_confusable_id_imitating_a_display_name_in_the_same_file_is_refused() -> None:
    problem = identity_problem([actor(id="nvidia", name="Nvidia"), actor(id="nv\u0456dia")])
    assert problem is not None
    assert problem[0] == "nv\u0456dia"


def test_the_b9_file_keeps_only_the_first_nvidia() -> None:
    spellings = [
        "nv\u0456dia",
        "nvidia\u200b",
        "\u202eaidivn",
        "\uff4e\uff56\uff49\uff44\uff49\uff41",
    ]
    for spelling in spellings:
        problem = identity_problem(
            [actor(id="nvidia", name="Nvidia"), actor(id=spelling, name="Nvidia")]
        )
        assert problem is not None, spelling
        assert problem[0] == spelling


def test_an_id_equal_to_another_actors_alias_after_normalisation_is_a_takeover() -> None:
    owner, field, message = _problem(actor(id="china"), existing={"China": "beijing"})
    assert (owner, field) == ("china", "id")
    assert message == "id 'china' of actor 'china' already names actor 'beijing'"


def test_aliases_strasse_and_strasse_with_eszett_cannot_name_two_actors() -> None:
    problem = identity_problem(
        [actor(id="a", aliases=("Straße",)), actor(id="b", aliases=("STRASSE",))]
    )
    assert problem is not None
    assert problem[:2] == ("b", "aliases[0]")


def test_distinct_names_and_the_same_actor_redeclared_pass() -> None:
    existing = {"nvidia": "nvidia", "Nvidia Corp": "nvidia"}
    assert identity_problem([actor(id="nvidia", aliases=("NVIDIA CORP",))], existing) is None
    assert identity_problem([actor(id="amd"), actor(id="intel")], existing) is None
    assert identity_problem([actor(id="\u5317\u4eac", aliases=("Пекин",))]) is None


@pytest.mark.parametrize(("one", "other"), [("g1", "gl"), ("b0b", "bob"), ("f1", "FL")])
def test_two_ascii_spellings_are_never_look_alikes(one: str, other: str) -> None:
    assert skeleton(one) == skeleton(other)  # the digits do map ...
    assert identity_problem([actor(id=one), actor(id=other)]) is None  # ... but not here
    assert existing_problems([actor(id=one), actor(id=other)]) == []


def test_a_digit_still_counts_beside_a_character_outside_ascii() -> None:
    problem = identity_problem([actor(id="go1d"), actor(id="g\u043eld")])  # Cyrillic o
    assert problem is not None
    assert problem[:2] == ("g\u043eld", "id")
    assert "looks like 'go1d' of actor 'go1d'" in problem[2]


def test_existing_problems_names_what_a_store_from_before_the_rules_holds() -> None:
    nfc, nfd = unicodedata.normalize("NFC", "café"), unicodedata.normalize("NFD", "café")
    found = existing_problems(
        [
            actor(id="nvidia"),
            actor(id="nv\u0456dia"),
            actor(id=nfc),
            actor(id="cafe-2", aliases=(nfd,)),
            actor(id="x", aliases=("X\u200b",)),
            actor(id="amd"),
        ]
    )
    assert found == [
        "actor 'x': 'X\\u200b' contains the invisible or bidirectional control character "
        "U+200B ZERO WIDTH SPACE",
        f"{nfc!r} (actor {nfc!r}), {nfd!r} (actor 'cafe-2') are one key after NFKC and "
        "case folding",
        "'nvidia' (actor 'nvidia') looks like 'nv\u0456dia' (actor 'nv\u0456dia')",
    ]
