"""Actor identity: how ids, aliases and names are compared, and which are refused.

Two spellings name the same actor when they are equal after Unicode NFKC
normalisation and case folding (:func:`fold`): ``Café`` (NFC or NFD), ``CAFÉ`` and
full-width ``Ｃａｆé`` are one key. An id or alias is refused when it contains an
invisible or bidirectional formatting character (Unicode category ``Cf``: zero-width
spaces and joiners, ``U+200E``/``U+200F`` marks, ``U+202A``..``U+202E`` and
``U+2066``..``U+2069`` embeddings and isolates, ``U+FEFF``, the soft hyphen), or when
its confusable skeleton (:func:`skeleton`, after the idea of Unicode UTS #39) equals
that of another actor's id, alias or display name while the two are different keys:
``nv\u0456dia`` with a Cyrillic ``\u0456`` cannot sit beside ``nvidia``. Two
spellings made only of ASCII characters are never taken for look-alikes: ``g1`` and
``gl``, or ``b0b`` and ``bob``, are what their author typed, and may name two actors.

A store written before these rules may hold keys they refuse;
:func:`existing_problems` names them (``verify(deep=True)`` reports them).
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Protocol

__all__ = [
    "IdentityIndex",
    "existing_problems",
    "fold",
    "identity_problem",
    "invisible_character",
    "skeleton",
]


class NamedActor(Protocol):
    """What identity checks read of an actor (``store.recorded.Actor`` has it; naming
    that class here would make a cycle: records -> identity -> store -> records)."""

    @property
    def id(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def aliases(self) -> tuple[str, ...]: ...


# A subset of Unicode's confusables.txt (UTS #39): Cyrillic and Greek lower-case
# letters (after case folding) that look like Latin letters, mapped to those letters.
# It covers the look-alikes of Latin letters; it is not the whole table.
_CONFUSABLES = str.maketrans(
    {
        # Cyrillic
        "\u0430": "a",  # cyrillic small letter a
        "\u0432": "b",  # cyrillic small letter ve
        "\u0435": "e",  # cyrillic small letter ie
        "\u0451": "e",  # cyrillic small letter io
        "\u04bb": "h",  # cyrillic small letter shha
        "\u0456": "i",  # cyrillic small letter byelorussian-ukrainian i
        "\u0457": "i",  # cyrillic small letter yi
        "\u0458": "j",  # cyrillic small letter je
        "\u043a": "k",  # cyrillic small letter ka
        "\u043c": "m",  # cyrillic small letter em
        "\u043d": "h",  # cyrillic small letter en
        "\u043e": "o",  # cyrillic small letter o
        "\u0440": "p",  # cyrillic small letter er
        "\u0441": "c",  # cyrillic small letter es
        "\u0455": "s",  # cyrillic small letter dze
        "\u0442": "t",  # cyrillic small letter te
        "\u0443": "y",  # cyrillic small letter u
        "\u0445": "x",  # cyrillic small letter ha
        "\u0501": "d",  # cyrillic small letter komi de
        "\u051b": "q",  # cyrillic small letter qa
        "\u051d": "w",  # cyrillic small letter we
        "\u04cf": "l",  # cyrillic small letter palochka
        "\u0261": "g",  # latin small letter script g
        # Greek
        "\u03b1": "a",  # greek small letter alpha
        "\u03b2": "b",  # greek small letter beta
        "\u03b5": "e",  # greek small letter epsilon
        "\u03b7": "n",  # greek small letter eta
        "\u03b9": "i",  # greek small letter iota
        "\u03ba": "k",  # greek small letter kappa
        "\u03bd": "v",  # greek small letter nu
        "\u03bf": "o",  # greek small letter omicron
        "\u03c1": "p",  # greek small letter rho
        "\u03c4": "t",  # greek small letter tau
        "\u03c5": "u",  # greek small letter upsilon
        "\u03c7": "x",  # greek small letter chi
        "\u03b3": "y",  # greek small letter gamma
        "\u03f2": "c",  # greek lunate sigma symbol
        "\u03f3": "j",  # greek letter yot
        # Latin look-alikes of Latin letters and digits (digits count only beside
        # a character outside ASCII: see look_alike)
        "\u0131": "i",  # latin small letter dotless i
        "\u2113": "l",  # script small l
        "0": "o",
        "1": "l",
    }
)


@functools.lru_cache(maxsize=1 << 16)
def fold(text: str) -> str:
    """The comparison key of an actor id, alias or name: NFKC, then case folding."""
    # memoised: the same few thousand ids and aliases are folded on every lookup rebuild
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())


@functools.lru_cache(maxsize=1 << 16)
def skeleton(text: str) -> str:
    """``fold(text)`` with look-alike letters mapped to the Latin letter they imitate."""
    return fold(text).translate(_CONFUSABLES)


def look_alike(one: str, other: str) -> bool:
    """Whether two different keys look the same: equal skeletons, different folds,
    and at least one of them holds a character outside ASCII (two ASCII spellings
    are what was typed: ``g1`` and ``gl`` are two keys)."""
    if one.isascii() and other.isascii():
        return False
    return skeleton(one) == skeleton(other) and fold(one) != fold(other)


def invisible_character(text: str) -> str | None:
    """The first invisible or bidirectional formatting character (category Cf), if any."""
    for char in text:
        if unicodedata.category(char) == "Cf":
            return char
    return None


def _describe(char: str) -> str:
    name = unicodedata.name(char, "")
    return f"U+{ord(char):04X}" + (f" {name}" if name else "")


class IdentityIndex:
    """The known actors' ids, aliases and display names, folded and skeletonised once.

    :func:`identity_problem` compares each new key with it in constant time. A store
    keeps one between appends and adds the actors it inserts (:meth:`add`), so that
    registering one more actor does not fold every stored key again. It answers
    exactly as the ``existing`` and ``names`` mappings it stands for: the first key
    (in order) with a fold or a skeleton is the one compared, and its owner is the
    last one given for that key.
    """

    def __init__(self) -> None:
        self._owner: dict[str, str] = {}  # id or alias -> its actor
        self._by_fold: dict[str, str] = {}  # fold -> the first id or alias with it
        self._by_shape: dict[str, str] = {}  # skeleton -> the first id or alias with it
        self._name_owner: dict[str, str] = {}  # display name -> its actor
        self._by_name_shape: dict[str, str] = {}  # skeleton -> the first name with it
        self.stale = False  # set by a caller that changed what it stands for otherwise

    @classmethod
    def of(
        cls, existing: Mapping[str, str] | None = None, names: Mapping[str, str] | None = None
    ) -> IdentityIndex:
        """The index of ``existing`` (id or alias -> actor) and ``names`` (display
        name -> actor), as :func:`identity_problem` takes them."""
        index = cls()
        for key, owner in (existing or {}).items():
            index.add_key(key, owner)
        for name, owner in (names or {}).items():
            index.add_name(name, owner)
        return index

    def add_key(self, key: str, owner: str) -> None:
        """An id or alias of ``owner``, after those already in."""
        self._owner[key] = owner
        self._by_fold.setdefault(fold(key), key)
        self._by_shape.setdefault(skeleton(key), key)

    def add_name(self, name: str, owner: str) -> None:
        """A display name of ``owner``, after those already in."""
        self._name_owner[name] = owner
        self._by_name_shape.setdefault(skeleton(name), name)

    def add(self, actor_id: str, name: str, aliases: Iterable[str]) -> None:
        """A stored actor's row, after those already in."""
        self.add_key(actor_id, actor_id)
        self.add_name(name, actor_id)
        for alias in aliases:
            self.add_key(alias, actor_id)

    def owner_of_fold(self, folded: str) -> str | None:
        """The actor whose id or alias folds to ``folded``."""
        key = self._by_fold.get(folded)
        return None if key is None else self._owner[key]

    def shape(self, shape: str) -> tuple[str, str] | None:
        """``(actor, spelling)`` of the id, alias (first) or name with this skeleton."""
        key = self._by_shape.get(shape)
        if key is not None:
            return self._owner[key], key
        name = self._by_name_shape.get(shape)
        if name is not None:
            return self._name_owner[name], name
        return None


def identity_problem(
    actors: Iterable[NamedActor],
    existing: Mapping[str, str] | None = None,
    names: Mapping[str, str] | None = None,
    *,
    index: IdentityIndex | None = None,
) -> tuple[str, str, str] | None:
    """Why these actors may not be registered beside ``existing``, or ``None``.

    Args:
        actors: the actors being declared, in order.
        existing: every id and alias already known -> its actor id (any spelling).
        names: display names already known -> their actor id (only their look
            counts: an id may equal another actor's display name).
        index: the same as ``existing`` and ``names``, already indexed
            (:class:`IdentityIndex`); then those two are not read.

    Returns:
        ``(actor id, field, message)`` for the first refused id or alias.
    """
    base = index if index is not None else IdentityIndex.of(existing, names)
    owners: dict[str, str] = {}  # fold -> owner, for the actors being declared
    shapes: dict[str, tuple[str, str]] = {}  # skeleton -> (owner, spelling), the same
    actors = list(actors)

    def shape_of(shape: str) -> tuple[str, str] | None:
        known = base.shape(shape)
        return known if known is not None else shapes.get(shape)

    for actor in actors:
        shape = skeleton(actor.name)
        if base.shape(shape) is None:
            shapes.setdefault(shape, (actor.id, actor.name))
    for actor in actors:
        keys = [("id", actor.id)] + [(f"aliases[{i}]", a) for i, a in enumerate(actor.aliases)]
        for field, key in keys:
            what = f"{'id' if field == 'id' else 'alias'} {key!r} of actor {actor.id!r}"
            char = invisible_character(key)
            if char is not None:
                return (
                    actor.id,
                    field,
                    f"{what} contains the invisible or bidirectional control character "
                    f"{_describe(char)} ({field})",
                )
            folded = fold(key)
            taken = owners[folded] if folded in owners else base.owner_of_fold(folded)
            if taken is not None and taken != actor.id:
                return (
                    actor.id,
                    field,
                    f"{what} already names actor {taken!r}",
                )
            shape = skeleton(key)
            other = shape_of(shape)
            if other is not None and other[0] != actor.id and look_alike(other[1], key):
                return (
                    actor.id,
                    field,
                    f"{what} looks like {other[1]!r} of actor {other[0]!r} "
                    f"(confusable characters, {field})",
                )
            owners[folded] = actor.id
            if other is None:
                shapes[shape] = (actor.id, key)
    return None


def existing_problems(actors: Iterable[NamedActor]) -> list[str]:
    """What the identity rules would refuse among actors already stored (a store
    written before them): invisible characters, one key for two actors after NFKC
    and case folding, and look-alike ids or aliases of two actors."""
    problems: list[str] = []
    owners: dict[str, list[tuple[str, str]]] = {}  # fold -> [(actor, spelling)]
    shapes: dict[str, list[tuple[str, str]]] = {}  # skeleton -> [(actor, spelling)]
    for actor in actors:
        for key in (actor.id, *actor.aliases):
            char = invisible_character(key)
            if char is not None:
                problems.append(
                    f"actor {actor.id!r}: {key!r} contains the invisible or bidirectional "
                    f"control character {_describe(char)}"
                )
            owners.setdefault(fold(key), []).append((actor.id, key))
            shapes.setdefault(skeleton(key), []).append((actor.id, key))
    for spellings in owners.values():
        if len({a for a, _ in spellings}) > 1:
            shown = ", ".join(f"{k!r} (actor {a!r})" for a, k in spellings)
            problems.append(f"{shown} are one key after NFKC and case folding")
    for spellings in shapes.values():
        pairs = [
            (one, other)
            for i, one in enumerate(spellings)
            for other in spellings[i + 1 :]
            if one[0] != other[0] and look_alike(one[1], other[1])
        ]
        if pairs:
            (a, k), (b, j) = pairs[0]
            problems.append(f"{k!r} (actor {a!r}) looks like {j!r} (actor {b!r})")
    return problems
