"""The exports as readers see them, in a real Chromium: the HTML page and TimelineJS."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import timeline as tl
from tests.browser.conftest import TIMELINEJS, unavailable
from tests.integration.test_export import _add_rumour_and_retraction

ACTORS = [
    "Alibaba",
    "ByteDance",
    "Cambricon",
    "China's foreign ministry",
    "Chinese government",
    "Huawei",
    "Nvidia",
    "SuperCloud",
    "Tencent Holdings",
    "U.S. government",
]


class Watched:
    """A page with every request, console error and script error it caused."""

    def __init__(self, context: Any) -> None:
        self.page = context.new_page()
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("pageerror", lambda e: self.errors.append(f"script error: {e}"))
        self.page.on(
            "console",
            lambda m: self.errors.append(f"console: {m.text}") if m.type == "error" else None,
        )


@pytest.fixture
def h200_page(h200: tl.Timeline, tmp_path: Path) -> Path:
    _add_rumour_and_retraction(h200)
    page = tmp_path / "h200.html"
    h200.export("html", page)
    return page


# stance markers, markers of actors with no stance, and the dots of the "All events" row
_MARKERS = "svg circle.marker, svg rect.evmark, svg g.events circle.dot"

_OVERLAPS = """selector => {
  const boxes = [...document.querySelectorAll(selector)].map(e => {
    const b = e.getBoundingClientRect();
    return {l: b.left, t: b.top, r: b.right, b: b.bottom,
            what: (e.closest('a') ? e.closest('a').getAttribute('href') : e.textContent)
                  + ' ' + e.getAttribute('class')};
  });
  const found = [];
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const a = boxes[i], c = boxes[j];
      if (a.l < c.r && c.l < a.r && a.t < c.b && c.t < a.b) found.push([a.what, c.what]);
    }
  }
  return found;
}"""


def test_the_html_page_shows_every_actor_the_whole_range_and_opens_events(
    browser_context: Any, h200_page: Path, logs: Path
) -> None:
    w = Watched(browser_context)
    page = w.page
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto(h200_page.as_uri())
    lanes = page.locator("svg g.lane > text:first-of-type")
    assert lanes.all_text_contents() == ACTORS
    subtitle = page.locator("p.meta").inner_text()
    assert subtitle == "21 events: everything recorded."
    log = page.locator("ul.corrections li").all_inner_texts()
    assert log == [
        "12 Dec 2025: report of an order by ByteDance, Nvidia (rumour-1) retracted"
        " — the blog withdrew the report (rumour-1-retracted)"
    ]
    page.screenshot(path=str(logs / "h200-page-1400.png"), full_page=True)

    details = page.locator("details#ev-h200-0010")
    assert details.evaluate("d => d.open") is False
    page.locator('svg a[href="#ev-h200-0010"]').first.click()
    assert details.evaluate("d => d.open") is True
    assert details.is_visible()

    for width in (1400, 800):
        page.set_viewport_size({"width": width, "height": 900})
        # no marker covers another, not even in the last, busiest week (8-10 Dec)
        assert page.locator(_MARKERS).count() >= 20
        assert page.evaluate(_OVERLAPS, _MARKERS) == [], width
        chart = page.locator(".chart svg").bounding_box()
        assert chart is not None
        assert chart["x"] >= 0
        assert chart["x"] + chart["width"] <= width  # no year clipped off the right
        last = page.locator("svg text.axis:not(.knot)").last.bounding_box()
        assert last is not None
        assert last["x"] + last["width"] <= width
        assert page.locator("svg text.axis:not(.knot)").last.text_content() == "2025"
        # the busy last week is dated under the ticks, and no date covers another
        newest = page.locator('svg text.knot[data-time^="2025-12-10"]')
        assert newest.text_content() == "10 Dec"
        box = newest.bounding_box()
        assert box is not None
        assert box["x"] + box["width"] <= width
        assert page.evaluate(_OVERLAPS, "svg text.knot") == [], width
        assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.screenshot(path=str(logs / "h200-page-800.png"), full_page=True)

    # the axis is proportional to time: two days are far shorter than two years
    page.set_viewport_size({"width": 1400, "height": 900})

    def x(selector: str) -> float:
        box = page.locator(selector).first.bounding_box()
        assert box is not None, selector
        return float(box["x"])

    days = x('svg a[data-when="10 Dec 2025"] circle') - x('svg a[data-when="8 Dec 2025"] circle')
    years = x('svg text.axis[data-time^="2025-01-01"]') - x(
        'svg text.axis[data-time^="2023-01-01"]'
    )
    # busy days are spread at least a marker apart, quiet years still drawn far longer
    assert 0 < days * 10 < years
    # a period is drawn as a range: 8-10 Dec spans three days, not a year
    inquiry = page.locator('svg g.events rect.range:has(title:text-is("8\u201310 Dec 2025"))')
    box = inquiry.bounding_box()
    assert box is not None
    assert 0 < box["width"] <= days * 2  # to the end of the 10th

    # a restriction in force since a period is dated as the period, not its first midnight
    since = page.locator("table tr:has(a[href='#ev-h200-0003']) td").nth(5).inner_text()
    assert since == "Sep\u2013Nov 2025"

    assert w.errors == []
    assert w.requests == [h200_page.as_uri()]  # the file itself, nothing else


def test_the_page_is_usable_from_the_keyboard(browser_context: Any, h200_page: Path) -> None:
    w = Watched(browser_context)
    page = w.page
    page.goto(h200_page.as_uri())
    marker = page.locator('svg a[href="#ev-h200-0005"]').first
    # tab through the page until the marker has the focus
    for _ in range(80):
        page.keyboard.press("Tab")
        if marker.evaluate("a => a === document.activeElement"):
            break
    else:
        raise AssertionError("the h200-0005 marker never receives the keyboard focus")
    page.keyboard.press("Enter")
    # following the link and the page's hashchange handler run after the key press
    page.wait_for_function("document.querySelector('details#ev-h200-0005').open", timeout=5_000)
    assert page.locator("details#ev-h200-0005").evaluate("d => d.open") is True
    assert w.errors == []


_TIMELINEJS_PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8">
<link rel="stylesheet" href="/tl/css/timeline.css"><script src="/tl/js/timeline.js"></script>
</head><body><div id="timeline" style="width:1200px;height:650px"></div><script>
window.timeline = new TL.Timeline("timeline", %s, {
  script_path: "http://timelinejs.test/tl/js/", font: null  /* its default font is remote */
});
window.timeline.on("loaded", function () { window.timelineLoaded = true; });
</script></body></html>"""


def test_the_timelinejs_export_renders_in_timelinejs(
    browser_context: Any, h200: tl.Timeline, tmp_path: Path, logs: Path
) -> None:
    if not (TIMELINEJS / "js" / "timeline.js").is_file():
        unavailable(f"TimelineJS is not installed at {TIMELINEJS} (see .ci/run)")
    exported = tmp_path / "h200-timeline.json"
    count = h200.export("timelinejs", exported)
    document = json.loads(exported.read_text(encoding="utf-8"))
    origin = "http://timelinejs.test"
    refused: list[str] = []

    def serve(route: Any) -> None:
        url: str = route.request.url
        if url == f"{origin}/":
            route.fulfill(body=_TIMELINEJS_PAGE % json.dumps(document), content_type="text/html")
            return
        local = TIMELINEJS / url.removeprefix(f"{origin}/tl/").split("?")[0]
        if url.startswith(f"{origin}/tl/") and local.is_file():
            route.fulfill(path=str(local))
            return
        refused.append(url)
        route.abort()

    w = Watched(browser_context)
    page = w.page
    page.route("**/*", serve)
    page.goto(f"{origin}/")
    page.wait_for_function("window.timelineLoaded === true", timeout=15_000)
    slides = page.locator(".tl-slide:not(.tl-slide-titleslide)")
    assert slides.count() == count == 21
    assert (
        page.locator(".tl-slide-titleslide .tl-headline")
        .first.inner_text()
        .startswith("ByteDance and Alibaba ask Nvidia")
    )
    page.screenshot(path=str(logs / "h200-timelinejs.png"))
    assert w.errors == []
    assert refused == []
    assert all(u.startswith(origin) for u in w.requests)
    page.unroute("**/*")
