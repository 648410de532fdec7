"""A self-contained HTML page of a timeline: stance lanes, event markers, order intents.

One lane per actor the story names: a track per topic with coloured segments
for its position over time (from a replay of the stance changes) and markers at
the events that set or restated it, or, for an actor with no stance, a row of
markers at the events naming it. Then the order intents, the restrictions in
force, the corrections log and every event with its details. The chart scales
to the page's width; every marker is a link reachable with the keyboard.
Inline CSS, SVG and a few lines of JavaScript; no network requests: source URLs
are shown as text, never as ``src`` or ``href``.

The time axis is proportional to time, except that consecutive event times are
at least a marker apart (see ``_Axis``): nineteen months still look far longer
than two days, and a busy week is spread out enough for its markers to be told
apart. An event known only to a period (``occurred_at``..``occurred_until``) is
drawn as a range; a stance that is only *possibly* the case at the page's bounds is
drawn hatched and labelled "possibly".
"""

from __future__ import annotations

import bisect
import itertools
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from html import escape
from typing import TextIO
from urllib.parse import quote

from timeline.bitemporal import Bounds
from timeline.events import Event
from timeline.output.corrections import CorrectionNote, amendments, corrections_log
from timeline.output.labels import (
    actor_ids,
    actor_names,
    change_text,
    claim_labels,
    claims_note,
    date_groups,
    describe_bounds,
    event_when,
    fact_label,
    headline,
    iso,
    provenance,
    source_line,
    story_title,
    type_label,
    visible,
    when,
    with_amending_ids,
)
from timeline.output.reader import TimelineReader
from timeline.projections.orders import OrderIntent, Restriction
from timeline.projections.stance import Stance
from timeline.replay import ReplayStep

__all__ = ["write_html"]

_LABEL_W = 240
_PLOT_W = 1100
_RIGHT_PAD = 24
_AXIS_H = 34
_EVENTS_H = 30
_TRACK_H = 22
_LANE_PAD = 8

ABOUT_TRACK = "(events about it)"
"""The track of an actor's lane holding events about it (``about``), not by it."""

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#222}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px}
h3{font-size:15px;margin:16px 0 4px}
.meta{color:#555;margin:0 0 16px}
.chart{border:1px solid #ddd;border-radius:6px;padding:8px;background:#fcfcfc}
.chart svg{display:block;width:100%;height:auto}
svg text{font-size:12px;fill:#222}svg .axis{fill:#555;font-size:11px}
svg .topic{fill:#666;font-size:11px}
svg .grid{stroke:#e4e4e4}svg .laneband{fill:#f3f3f3}
.supports{fill:#2e7d32;background:#2e7d32}.opposes{fill:#c62828;background:#c62828}
.undecided{fill:#f9a825;background:#f9a825}.neutral{fill:#9e9e9e;background:#9e9e9e}
svg .marker{fill:#fff;stroke:#222;stroke-width:1.5}svg a:hover .marker{fill:#222}
svg .count{fill:#fff;font-size:10px;text-anchor:middle;pointer-events:none}
svg .dot{fill:#455a64}svg .range{fill:#455a64;opacity:.35}
svg .possibly{fill:url(#possibly)}.legend .swatch.possibly{background:
  repeating-linear-gradient(45deg,#777 0 3px,#fff 3px 6px)}
svg .evmark{fill:#455a64;stroke:#fff;stroke-width:1}
svg a:focus{outline:none}svg a:focus .marker,svg a:focus .dot,svg a:focus .evmark{stroke:#f9a825;
  stroke-width:4}
.corrections li{margin:2px 0}.corrections .kind{font-weight:bold}
.legend .swatch{display:inline-block;width:12px;height:12px;border-radius:2px;
  margin:0 4px 0 12px;vertical-align:-1px}
table{border-collapse:collapse;margin:8px 0;display:block;max-width:100%;overflow-x:auto}
th,td{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f3f3f3}
details.event{border-left:3px solid #ccc;margin:4px 0;padding:2px 8px}
details.event[open]{border-color:#455a64;background:#f7f9fa}
details.event summary{cursor:pointer}.when{font-family:ui-monospace,monospace;color:#555}
details.event:target{border-color:#f9a825}
blockquote{margin:6px 0 6px 12px;color:#444;font-style:italic}
code{font-size:12px}
"""

_JS = """
function openTarget(){
  var id=decodeURIComponent(location.hash.slice(1));
  var el=id&&document.getElementById(id);
  if(el&&el.tagName==='DETAILS'){el.open=true;}
}
window.addEventListener('hashchange',openTarget);openTarget();
"""


def _anchor(event_id: str) -> str:
    return f"ev-{event_id}"


def _href(event_id: str) -> str:
    return "#" + quote(_anchor(event_id), safe="")


def write_html(
    timeline: TimelineReader,
    out: TextIO,
    bounds: Bounds,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write the page; return the number of events on it.

    ``progress`` is called with the number of events replayed since its last call.
    """
    replay = timeline.replay(
        "occurred",
        at=bounds.at,
        known_at=bounds.known_at,
        recorded_by=bounds.recorded_by,
        story=bounds.story,
    )
    steps: list[ReplayStep] = []
    for step in replay:
        steps.append(step)
        if progress is not None:
            progress(1)
    state = replay.state
    names = actor_names(timeline)
    title = story_title(timeline, bounds.story)
    out.write(
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f"<h1>{escape(title)}</h1>\n"
        f'<p class="meta">{len(steps)} events: {escape(describe_bounds(bounds))}.</p>\n'
    )
    out.write("<h2>Stances over time</h2>\n")
    out.write(_legend())
    out.write('<div class="chart">')
    for part in _chart(timeline, steps, names):
        out.write(part)
    out.write("</div>\n")
    intents, restrictions = state.order_intents(), state.restrictions()
    claims = claim_labels(timeline, [*state.stances(), *intents, *restrictions])
    # an intent folded from a corrected event names the correction in its evidence
    amended = amendments(timeline, known_until=bounds.known_at, story=bounds.story)
    out.write(_intents([with_amending_ids(i, amended) for i in intents], names, claims))
    folded = {s.event.id: s.event for s in steps}
    out.write(_restrictions(restrictions, names, claims, folded))
    out.write(_corrections(corrections_log(timeline, bounds), {s.event.id for s in steps}))
    _event_list(timeline, steps, names, out)
    out.write(f"<script>{_JS}</script>\n</body>\n</html>\n")
    return len(steps)


def _legend() -> str:
    items = "".join(
        f'<span class="swatch {p}"></span>{p}'
        for p in ("supports", "opposes", "undecided", "neutral")
    )
    return (
        f'<p class="legend">Position:{items}'
        '<span class="swatch possibly"></span>possibly (not certain at these bounds)</p>\n'
    )


class _Axis:
    """Maps times to x positions: in proportion to time, except that consecutive
    event times (the *knots*, where markers sit) are at least ``min_step`` apart.

    Each gap between two knots is drawn as that minimum plus its share of the rest
    of the plot in proportion to its length, so a long quiet stretch stays long and
    a busy week is spread out enough for its markers not to cover one another.
    Between two knots the mapping is linear; after the last one, proportional.
    """

    def __init__(self, steps: list[ReplayStep], min_step: float = 0.0) -> None:
        knots = sorted({s.event.occurred_at for s in steps})
        ends = [min(s.event.occurred_until, _LAST) for s in steps]
        self.start = knots[0] if knots else datetime(2000, 1, 1, tzinfo=UTC)
        self.end = max([*ends, self.start])
        self.span = max((self.end - self.start).total_seconds(), 86400.0)
        self.left = _LABEL_W + 12
        self.right = self.left + _PLOT_W
        gaps = max(len(knots) - 1, 0)
        # many knots: the minimum shrinks so that it never takes more than half the plot
        step = min(min_step, _PLOT_W / 2 / gaps) if gaps else 0.0
        self.scale = (_PLOT_W - step * gaps) / self.span  # width per second, beyond minima
        self.knots = knots or [self.start]
        self.offsets = [0.0]
        for before, after in itertools.pairwise(self.knots):
            self.offsets.append(
                self.offsets[-1] + step + (after - before).total_seconds() * self.scale
            )

    def x(self, t: datetime) -> float:
        """The x position of ``t`` (clamped to the plot)."""
        t = min(t, _LAST)
        i = bisect.bisect_right(self.knots, t) - 1
        if i < 0:
            offset = 0.0
        elif i + 1 < len(self.knots):
            into = (t - self.knots[i]) / (self.knots[i + 1] - self.knots[i])
            offset = self.offsets[i] + into * (self.offsets[i + 1] - self.offsets[i])
        else:
            offset = self.offsets[i] + (t - self.knots[i]).total_seconds() * self.scale
        return round(self.left + max(0.0, min(float(_PLOT_W), offset)), 1)

    def ticks(self) -> list[tuple[datetime, str]]:
        """Year, month or day ticks, as many as fit."""
        days = self.span / 86400
        first = self.start.astimezone(UTC)
        out: list[tuple[datetime, str]] = []
        if days > 3 * 365:
            for year in range(first.year + 1, self.end.astimezone(UTC).year + 1):
                out.append((datetime(year, 1, 1, tzinfo=UTC), str(year)))
        elif days > 60:
            y, m = first.year, first.month
            step = 1 if days < 400 else 3
            while True:
                m += step
                y, m = y + (m - 1) // 12, (m - 1) % 12 + 1
                t = datetime(y, m, 1, tzinfo=UTC)
                if t > self.end:
                    break
                out.append((t, when(t, "month")))
        else:
            step = max(1, round(days / 10))
            t = datetime(first.year, first.month, first.day, tzinfo=UTC)
            while t <= self.end:
                if t >= self.start:
                    out.append((t, when(t, "day")))
                t = t + timedelta(days=step)
        return out


_LAST = datetime(9000, 1, 1, tzinfo=UTC)
_MIN_STEP = 28.0  # between consecutive event times: wider than a dot (r=9) and its border
_SPREAD = 15.0  # between markers of one track at one time: a rotated 10-unit square and a gap


def _crowding(steps: list[ReplayStep]) -> int:
    """The most markers one track of a lane holds at one time (drawn side by side)."""
    count: Counter[tuple[str, str, datetime]] = Counter()
    in_tracks: set[str] = set()
    for step in steps:
        t = step.event.occurred_at
        for change in step.changes:
            if isinstance(change.fact, Stance):
                count[(change.fact.actor, change.fact.topic, t)] += 1
                in_tracks.add(change.fact.actor)
        for actor in dict.fromkeys(step.event.about):
            count[(actor, ABOUT_TRACK, t)] += 1
            in_tracks.add(actor)
    for step in steps:
        for actor in dict.fromkeys(actor_ids(step.event)):
            if actor not in in_tracks:
                count[(actor, "", step.event.occurred_at)] += 1
    return max(count.values(), default=1)


def _spread(slots: list[float]) -> list[float]:
    """The x of each marker of a track: those sharing a slot side by side, centred on it."""
    out: list[float] = []
    for slot, same in itertools.groupby(slots):
        k = len(list(same))
        out.extend(round(slot + (n - (k - 1) / 2) * _SPREAD, 1) for n in range(k))
    return out


def _chart(
    timeline: TimelineReader, steps: list[ReplayStep], names: dict[str, str]
) -> Iterator[str]:
    """The chart's SVG, a piece at a time (written as it comes: at 100,000 events the
    chart is tens of megabytes of text, and the page held it twice when joined)."""
    # consecutive times far enough apart for the busiest track's markers, side by side
    axis = _Axis(steps, max(_MIN_STEP, (_crowding(steps) - 1) * _SPREAD + 16))
    slot_of: dict[int, float] = {s.index: axis.x(s.event.occurred_at) for s in steps}
    # (actor, topic) -> [(x, stance after, step)] in fold order
    tracks: dict[str, dict[str, list[tuple[float, Stance | None, ReplayStep]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for step in steps:
        for change in step.changes:
            fact = change.fact
            if isinstance(fact, Stance):
                after = change.after if isinstance(change.after, Stance) else None
                tracks[fact.actor][fact.topic].append((slot_of[step.index], after, step))
        for actor in dict.fromkeys(step.event.about):
            # whom an event concerns without acting: a marker in the actor's lane
            tracks[actor][ABOUT_TRACK].append((slot_of[step.index], None, step))
    # actors with no stance get a lane of event markers: every actor the story names
    only_events: dict[str, list[tuple[float, ReplayStep]]] = defaultdict(list)
    for step in steps:
        for actor in actor_ids(step.event):
            if actor not in tracks:
                only_events[actor].append((slot_of[step.index], step))
    actors = sorted([*tracks, *only_events], key=lambda a: ((names.get(a) or a).casefold(), a))
    width = int(axis.right) + _RIGHT_PAD
    groups = _event_groups(steps, axis)
    events_h = _EVENTS_H + _ROW_STEP * max((level for level, _, _ in groups), default=0)
    lane_heights = [max(len(tracks.get(a, ())), 1) * _TRACK_H + 2 * _LANE_PAD + 14 for a in actors]
    height = _AXIS_H + events_h + sum(lane_heights) + 8
    # scales to the page's width (viewBox): the whole range is always in view
    yield (
        f'<svg role="group" aria-label="stance lanes, one per actor" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" style="max-width:{width}px">'
        '<defs><pattern id="possibly" width="6" height="6" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect width="3" height="6" fill="#777"/></pattern></defs>'
    )
    taken: list[tuple[float, float]] = []  # x ranges of the labels drawn so far
    for tick, label in axis.ticks():
        x = axis.x(tick)
        anchor = "end" if x > axis.right - 60 else "start"
        tx = x - 4 if anchor == "end" else x + 4
        yield (
            f'<line class="grid" x1="{x}" y1="{_AXIS_H - 6}" x2="{x}" y2="{height}"/>'
            f'<text class="axis" x="{tx}" y="{_AXIS_H - 12}" text-anchor="{anchor}" '
            f'data-time="{escape(iso(tick))}">{escape(label)}</text>'
        )
    yield from _knot_labels(steps, axis, taken)
    yield from _events_row(timeline, groups, axis)
    y = _AXIS_H + events_h
    end = axis.right
    for actor, lane_h in zip(actors, lane_heights, strict=True):
        if actor in tracks:
            yield from _lane(actor, names.get(actor, actor), tracks[actor], y, lane_h, end)
        else:
            yield from _event_lane(actor, names.get(actor, actor), only_events[actor], y, lane_h)
        y += lane_h
    yield "</svg>"


def _knot_labels(
    steps: list[ReplayStep], axis: _Axis, taken: list[tuple[float, float]]
) -> list[str]:
    """Short dates under the ticks at the event times ("10 Dec", "Nov"), newest first,
    each where it covers no other: a busy stretch the ticks pass over is dated too."""
    first: dict[datetime, ReplayStep] = {}
    for step in steps:
        first.setdefault(step.event.occurred_at, step)
    out: list[str] = []
    for t in sorted(first, reverse=True):
        utc = t.astimezone(UTC)
        precision = first[t].event.precision.value
        label = {
            "year": f"{utc.year}",
            "month": f"{utc:%b}",
        }.get(precision, f"{utc.day} {utc:%b}")
        x = axis.x(t)
        width = 6.5 * len(label)
        start = min(x - width / 2, axis.right - width)
        span = (start - 3, start + width + 3)
        if any(span[0] < b and a < span[1] for a, b in taken):
            continue
        taken.append(span)
        out.append(
            f'<text class="axis knot" x="{round(start, 1)}" y="{_AXIS_H - 1}" '
            f'data-time="{escape(iso(t))}">{escape(label)}</text>'
        )
    return out


_ROW_STEP = 22
_DOT_GAP = 20


def _event_groups(steps: list[ReplayStep], axis: _Axis) -> list[tuple[int, str, list[ReplayStep]]]:
    """The events grouped by when they happened, each on the first row where its dot
    does not cover another's (close dates stack instead of hiding one another)."""
    by_when: dict[str, list[ReplayStep]] = defaultdict(list)
    for step in steps:
        by_when[event_when(step.event)].append(step)
    ends: list[float] = []  # per row: the x of its last dot
    out: list[tuple[int, str, list[ReplayStep]]] = []
    for label, group in by_when.items():
        cx = axis.x(group[0].event.occurred_at)
        level = next((i for i, end in enumerate(ends) if cx - end >= _DOT_GAP), len(ends))
        if level == len(ends):
            ends.append(cx)
        ends[level] = cx
        out.append((level, label, group))
    return out


def _events_row(
    timeline: TimelineReader, groups: list[tuple[int, str, list[ReplayStep]]], axis: _Axis
) -> Iterator[str]:
    top = _AXIS_H + _EVENTS_H // 2 - 2
    yield f'<g class="events"><text x="8" y="{top + 4}">All events</text>'
    for level, label, group in groups:
        cy = top + level * _ROW_STEP
        first = group[0].event
        cx = axis.x(first.occurred_at)
        stop = axis.x(first.occurred_until)
        if stop - cx >= 1:
            # a period: a range from its earliest to its latest time
            yield (
                f'<rect class="range" x="{cx}" y="{cy - 5}" width="{round(stop - cx, 1)}" '
                f'height="10" rx="3"><title>{escape(label)}</title></rect>'
            )
        tip = "\n".join(
            f"{s.event.id} ({timeline.type_name(s.event)}): {headline(s.event.summary, 80)}"
            for s in group
        )
        yield (
            f'<a href="{_href(first.id)}" aria-label="{escape(tip)}" '
            f'data-when="{escape(label)}"><circle class="dot" cx="{cx}" cy="{cy}" '
            f'r="9"><title>{escape(tip)}</title></circle>'
            f'<text class="count" x="{cx}" y="{cy + 3}">{len(group)}</text></a>'
        )
    yield "</g>"


def _lane(
    actor: str,
    name: str,
    topics: dict[str, list[tuple[float, Stance | None, ReplayStep]]],
    top: int,
    height: int,
    end: float,
) -> Iterator[str]:
    yield (
        f'<g class="lane" data-actor="{escape(actor)}">'
        f'<rect class="laneband" x="0" y="{top + 2}" width="{_LABEL_W - 6}" '
        f'height="{height - 4}" rx="4"/>'
        f'<text x="8" y="{top + _LANE_PAD + 10}"><tspan font-weight="bold">'
        f"{escape(name)}</tspan></text>"
    )
    y = top + _LANE_PAD + 14
    for topic in sorted(topics):
        changes = topics[topic]
        yield (
            f'<g class="track" data-topic="{escape(topic)}">'
            f'<text class="topic" x="16" y="{y + 15}">{escape(topic)}</text>'
        )
        for i, (slot, stance, _step) in enumerate(changes):
            stop = changes[i + 1][0] if i + 1 < len(changes) else end
            if stance is None or stop == slot:
                continue  # removed, or changed again in the same column: the last one shows
            x = slot
            possibly = "" if stance.certain else "possibly "
            tip = (
                f"{name} on {topic}: {possibly}{fact_label(stance)} since "
                f"{when(stance.since, stance.since_precision)}; evidence "
                f"{', '.join(stance.evidence)}; {provenance(stance)}"
            )
            yield (
                f'<rect class="seg {stance.position.value}" x="{x}" y="{y + 3}" '
                f'width="{round(stop - slot, 1)}" height="{_TRACK_H - 6}" rx="3">'
                f"<title>{escape(tip)}</title></rect>"
            )
            if possibly:
                yield (
                    f'<rect class="seg possibly" x="{x}" y="{y + 3}" '
                    f'width="{round(stop - slot, 1)}" height="{_TRACK_H - 6}" rx="3">'
                    f"<title>{escape(tip)}</title></rect>"
                    f'<text class="topic" x="{x + 2}" y="{y + 1}">possibly</text>'
                )
        for cx, (_slot, stance, step) in zip(
            _spread([c[0] for c in changes]), changes, strict=True
        ):
            tip = f"{step.event.id}: {headline(step.event.summary, 90)}"
            if stance is not None:
                tip += f" ({stance.position.value})"
            yield (
                f'<a href="{_href(step.event.id)}" aria-label="{escape(tip)}">'
                f'<circle class="marker" cx="{cx}" '
                f'cy="{y + _TRACK_H // 2}" r="4"><title>{escape(tip)}</title></circle></a>'
            )
        yield "</g>"
        y += _TRACK_H
    yield "</g>"


def _event_lane(
    actor: str, name: str, events: list[tuple[float, ReplayStep]], top: int, height: int
) -> Iterator[str]:
    """A lane for an actor with no stance: a marker at each event naming it."""
    y = top + _LANE_PAD + 14
    yield (
        f'<g class="lane events-only" data-actor="{escape(actor)}">'
        f'<rect class="laneband" x="0" y="{top + 2}" width="{_LABEL_W - 6}" '
        f'height="{height - 4}" rx="4"/>'
        f'<text x="8" y="{top + _LANE_PAD + 10}"><tspan font-weight="bold">'
        f"{escape(name)}</tspan></text>"
        f'<text class="topic" x="16" y="{y + 15}">events (no stance)</text>'
    )
    for cx, (_slot, step) in zip(_spread([e[0] for e in events]), events, strict=True):
        tip = f"{step.event.id}: {headline(step.event.summary, 90)}"
        yield (
            f'<a href="{_href(step.event.id)}" aria-label="{escape(tip)}">'
            f'<rect class="evmark" x="{cx - 5}" y="{y + _TRACK_H // 2 - 5}" width="10" '
            f'height="10" transform="rotate(45 {cx} {y + _TRACK_H // 2})">'
            f"<title>{escape(tip)}</title></rect></a>"
        )
    yield "</g>"


def _corrections(notes: list[CorrectionNote], on_page: set[str]) -> str:
    out = "<h2>Corrections and retractions</h2>\n"
    if not notes:
        return out + "<p>None known.</p>\n"
    items = []
    for note in notes:
        ref = (
            f' (<a href="{_href(note.id)}"><code>{escape(note.id)}</code></a>)'
            if note.id in on_page
            else f" (<code>{escape(note.id)}</code>)"
        )
        items.append(f'<li class="{note.kind}">{escape(note.text)}{ref}</li>')
    return out + f'<ul class="corrections">{"".join(items)}</ul>\n'


def _table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>\n"


def _ids(ids: tuple[str, ...]) -> str:
    return ", ".join(f'<a href="{_href(i)}"><code>{escape(i)}</code></a>' for i in ids)


def _claimed(text: str, fact: object, claims: dict[str, str]) -> str:
    note = claims_note(fact, claims)
    shown = f"<b>{escape(text)}</b>"
    return f'{shown} <span class="claims">— {escape(note)}</span>' if note else shown


def _intents(intents: list[OrderIntent], names: dict[str, str], claims: dict[str, str]) -> str:
    out = "<h2>Order intents</h2>\n"
    if not intents:
        return out + "<p>None known.</p>\n"
    rows = [
        [
            escape(names.get(i.buyer, i.buyer)),
            escape(names.get(i.supplier, i.supplier)),
            escape(i.product),
            _claimed(i.status.value, i, claims),
            escape(i.quantity or ""),
            escape(", ".join(i.conditions)),
            escape(", ".join(i.concerns)),
            _ids(i.blocked_by),
            escape(when(i.since, i.since_precision)),
            _ids(i.evidence),
            escape(provenance(i)),
        ]
        for i in intents
    ]
    headers = ["buyer", "supplier", "product", "status", "quantity", "conditions"]
    headers += ["concerns", "blocked by", "since", "evidence", "sources"]
    return out + _table(headers, rows)


def _restrictions(
    restrictions: list[Restriction],
    names: dict[str, str],
    claims: dict[str, str],
    folded: dict[str, Event],
) -> str:
    out = "<h2>Bans and restrictions in force</h2>\n"
    if not restrictions:
        return out + "<p>None known.</p>\n"
    rows = [
        [
            _ids((r.id,)),
            escape(names.get(r.authority, r.authority)),
            _claimed(r.measure.value, r, claims),
            escape(r.product),
            escape(", ".join(names.get(a, a) for a in r.applies_to)),
            # since when, as precisely as the event that imposed it says ("Sep-Nov 2025")
            escape(event_when(folded[r.id]) if r.id in folded else iso(r.since)[:10]),
            escape(provenance(r)),
        ]
        for r in restrictions
    ]
    headers = ["id", "authority", "measure", "product", "applies to", "since", "sources"]
    return out + _table(headers, rows)


def _event_list(
    timeline: TimelineReader, steps: list[ReplayStep], names: dict[str, str], out: TextIO
) -> None:
    """Every event with its details, each written as it is made."""
    out.write("<h2>Events</h2>\n")
    for label, group in date_groups(steps):
        out.write(f"<h3>{escape(label)}</h3>\n")
        for step in group:
            out.write(_event(timeline, step, names))


def _event(timeline: TimelineReader, step: ReplayStep, names: dict[str, str]) -> str:
    event, record = step.event, step.record
    type_name = timeline.type_name(event)
    actors = ", ".join(names.get(a, a) for a in actor_ids(event))
    summary_line = (
        f'<span class="when">{escape(event_when(event))}</span> '
        f"<b>{escape(type_label(type_name))}</b>"
        + (f" · {escape(actors)}" if actors else "")
        + f" — {escape(headline(event.summary) or event.id)}"
    )
    body = [f"<p>{escape(event.summary)}</p>"]
    if event.quote:
        body.append(f"<blockquote>{escape(event.quote)}</blockquote>")
    source = source_line(event, url_as_link=False)
    if source:
        body.append(f"<p>Source: {escape(source)}</p>")
    reported = event.reported_at or record.reported_at
    body.append(
        f"<p><small>id <code>{escape(event.id)}</code> · story {escape(record.story)} · "
        f"position {record.position} · reported {escape(iso(reported))} · "
        f"recorded {escape(iso(record.recorded_at))}</small></p>"
    )
    changes = visible(step.changes)
    if changes:
        items = "".join(f"<li>{escape(change_text(c))}</li>" for c in changes)
        body.append(f"<ul>{items}</ul>")
    return (
        f'<details class="event" id="{escape(_anchor(event.id))}" '
        f'data-type="{escape(type_name)}"><summary>{summary_line}</summary>'
        f"{''.join(body)}</details>\n"
    )
