"""Server-rendered pages through Flask's test client: what a visitor without JavaScript gets."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.exceptions import NotFound

from events import importer
from events.clock import FrozenClock
from events.models import Event, Series
from feeds import display
from server import sample_data_path
from tests.conftest import BASE_URL
from web.pages import TZ_COOKIE

SEMINAR = "ml-joint-seminar"
TALK = "2021-11-27-wang"
BEIJING = "Sat 27 Nov 2021, 09:30–11:30 Beijing time (UTC+08:00)"


class _Collector(HTMLParser):
    """Collect tags with attributes, and the text of <span class="zt"> time spans."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.spans: list[str] = []
        self._depth = 0
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.tags.append((tag, found))
        if self._depth:
            self._depth += 1 if tag == "span" else 0
        elif tag == "span" and "zt" in (found.get("class") or "").split():
            self._depth, self._text = 1, []

    def handle_endtag(self, tag: str) -> None:
        if self._depth and tag == "span":
            self._depth -= 1
            if not self._depth:
                self.spans.append("".join(self._text))

    def handle_data(self, data: str) -> None:
        if self._depth:
            self._text.append(data)


def parse(html: str) -> _Collector:
    """Parse a page."""
    collector = _Collector()
    collector.feed(html)
    return collector


@pytest.fixture
def sample(sessions: sessionmaker[Session]) -> None:
    """Load the shipped sample data."""
    importer.import_files(sessions, [sample_data_path()], progress=False)


def future(days: int) -> str:
    """Return a Lisbon wall time `days` from now, at 12:00."""
    return (datetime.now(UTC) + timedelta(days=days)).strftime("%Y-%m-%d 12:00")


def talk_spans(html: str, event_id: str) -> list[str]:
    """Return the time spans of one talk's list item on a series page."""
    start = html.index(f'href="/events/{event_id}"')
    item_start = html.rindex("<li", 0, start)
    return parse(html[item_start : html.index("</li>", start)]).spans


def test_without_javascript_times_show_in_series_zone_and_utc(
    client: FlaskClient, sample: None
) -> None:
    """No cookie, no ?tz=: the series' zone, then UTC, each with its offset."""
    html = client.get(f"/series/{SEMINAR}").get_data(as_text=True)
    assert talk_spans(html, TALK) == [BEIJING, "Sat 27 Nov 2021, 01:30–03:30 UTC (UTC+00:00)"]
    assert '<time datetime="2021-11-27T01:30:00Z">' in html
    assert '<time datetime="2021-11-27T03:30:00Z">' in html


def test_every_time_element_is_machine_readable(client: FlaskClient, sample: None) -> None:
    """Every <time> carries a UTC datetime attribute."""
    for path in ("/", f"/series/{SEMINAR}", f"/events/{TALK}"):
        html = client.get(path).get_data(as_text=True)
        count = html.count("<time")
        assert count > 0
        assert len(re.findall(r'<time datetime="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ">', html)) == count


def test_tz_parameter_sets_the_viewer_zone_and_the_cookie(
    client: FlaskClient, sample: None
) -> None:
    """?tz= shows the viewer's zone and is remembered for the next page."""
    response = client.get(f"/series/{SEMINAR}?tz=America/New_York")
    html = response.get_data(as_text=True)
    assert talk_spans(html, TALK) == [
        BEIJING,
        "Fri 26 Nov 2021, 20:30–22:30 New York time (UTC-05:00)",
    ]
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith(f"{TZ_COOKIE}=America/New_York;")
    assert "SameSite=Lax" in cookie
    assert "Cookie" in response.headers["Vary"]
    talk = client.get(f"/events/{TALK}").get_data(as_text=True)
    assert parse(talk).spans == [BEIJING, "Fri 26 Nov 2021, 20:30–22:30 New York time (UTC-05:00)"]


def test_cookie_zone_and_labels_are_resolved(client: FlaskClient, sample: None) -> None:
    """A zone in the cookie (as the browser script sets it) is used; labels resolve too."""
    client.set_cookie(TZ_COOKIE, "Europe/Lisbon")
    html = client.get(f"/events/{TALK}").get_data(as_text=True)
    assert parse(html).spans == [BEIJING, "Sat 27 Nov 2021, 01:30–03:30 Lisbon time (UTC+00:00)"]
    assert 'data-viewer-zone="Europe/Lisbon"' in html
    html = client.get(f"/events/{TALK}?tz=Tokyo%20time").get_data(as_text=True)
    assert parse(html).spans[1] == "Sat 27 Nov 2021, 10:30–12:30 Tokyo time (UTC+09:00)"


def test_invalid_zone_is_ignored_with_a_notice(client: FlaskClient, sample: None) -> None:
    """A bad ?tz= is ignored (the cookie still counts), said so, and never stored."""
    client.set_cookie(TZ_COOKIE, "Europe/Lisbon")
    response = client.get(f"/events/{TALK}?tz=Mars/Olympus_Mons")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Unknown timezone “Mars/Olympus_Mons”: ignored." in html
    assert "Set-Cookie" not in response.headers
    assert parse(html).spans[1].endswith("Lisbon time (UTC+00:00)")
    client.delete_cookie(TZ_COOKIE)
    html = client.get(f"/events/{TALK}?tz=<script>x</script>").get_data(as_text=True)
    assert "<script>x</script>" not in html
    assert "&lt;script&gt;x&lt;/script&gt;" in html
    assert parse(html).spans[1].endswith("UTC (UTC+00:00)")


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        # The day before and the day after Lisbon leaves summer time (2026-10-25).
        ("2026-10-24 12:00", "Sat 24 Oct 2026, 07:00–08:00 New York time (UTC-04:00)"),
        ("2026-10-26 12:00", "Mon 26 Oct 2026, 08:00–09:00 New York time (UTC-04:00)"),
        # New York leaves summer time a week later (2026-11-01).
        ("2026-11-02 12:00", "Mon 02 Nov 2026, 07:00–08:00 New York time (UTC-05:00)"),
    ],
)
def test_times_are_right_across_dst(
    client: FlaskClient, make_event: Callable[..., Event], start: str, expected: str
) -> None:
    """Each zone's own offset on that day is used, on both sides of each DST change."""
    end = start.replace("12:00", "13:00")
    make_event(id="dst", start=start, end=end)
    html = client.get("/events/dst?tz=America/New_York").get_data(as_text=True)
    assert parse(html).spans[1] == expected
    offset = "UTC+01:00" if start < "2026-10-25" else "UTC+00:00"
    assert parse(html).spans[0].endswith(f"Lisbon time ({offset})")


def test_span_text_matches_the_shared_helper(client: FlaskClient, sample: None) -> None:
    """The page shows exactly what feeds.when.span writes, plus the offset."""
    from datetime import datetime as dt

    start = dt(2021, 11, 27, 1, 30, tzinfo=UTC)
    end = dt(2021, 11, 27, 3, 30, tzinfo=UTC)
    html = client.get(f"/events/{TALK}?tz=Europe/Lisbon").get_data(as_text=True)
    expected = display.span(start, end, "Asia/Shanghai") + " (UTC+08:00)"
    assert parse(html).spans[0] == expected


@pytest.mark.parametrize(
    "path", ["/series/nope", "/events/nope", "/events/a.b", "/no-such-page", "/series/"]
)
def test_unknown_pages_are_404_pages(client: FlaskClient, path: str) -> None:
    """Unknown slugs and ids answer 404 with a page that leads back home."""
    response = client.get(path)
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert "Page not found" in html
    assert 'href="/"' in html


def test_event_ics_urls_are_left_to_the_feeds_route(
    app: Flask, make_event: Callable[..., Event]
) -> None:
    """Feed URLs (/events/<id>.ics, /series/<slug>.rss, ...) go to the feeds rules, not pages."""
    make_event(id="talk.v2")
    feeds_rule = [r for r in app.url_map.iter_rules() if r.rule == "/events/<event_id>.ics"]
    if not feeds_rule:  # the feeds blueprint is not in this branch: stand in for it
        app.add_url_rule("/events/<event_id>.ics", "dummy_ics", lambda event_id: event_id)
    if not any(r.rule.startswith("/series/<slug>.") for r in app.url_map.iter_rules()):
        app.add_url_rule("/series/<slug>.<ext>", "dummy_feed", lambda slug, ext: slug)
    adapter = app.url_map.bind("localhost")
    endpoint, args = adapter.match("/events/talk.v2.ics")
    assert endpoint != "pages.event_page"
    assert args == {"event_id": "talk.v2"}
    for ext in ("ics", "rss", "atom", "json"):
        assert adapter.match(f"/series/lisbon-ml.{ext}")[0] != "pages.series_page"
    assert adapter.match("/series/lisbon-ml")[0] == "pages.series_page"
    client = app.test_client()
    assert client.get("/events/talk.v2").status_code == 200
    assert client.get("/events/talk.v2.ics").status_code == 200
    with app.test_request_context():
        from web.pages import event_page

        with pytest.raises(NotFound):
            event_page("talk.v2.ics")


def test_autodiscovery_links_in_every_head(client: FlaskClient, sample: None) -> None:
    """Each page announces its feeds and calendar with <link rel="alternate">."""
    expected_types = {
        "application/rss+xml",
        "application/atom+xml",
        "application/feed+json",
        "text/calendar",
    }
    pages = {
        "/": f"{BASE_URL}/calendar.ics",
        f"/series/{SEMINAR}": f"{BASE_URL}/series/{SEMINAR}.ics",
        f"/events/{TALK}": f"{BASE_URL}/series/{SEMINAR}.ics",
        "/series/nope": f"{BASE_URL}/calendar.ics",
    }
    for path, calendar in pages.items():
        html = client.get(path).get_data(as_text=True)
        head = html[: html.index("</head>")]
        links = [a for tag, a in parse(head).tags if tag == "link" and a.get("rel") == "alternate"]
        assert {a["type"] for a in links} >= expected_types, path
        assert calendar in {a["href"] for a in links}, path
    series_html = client.get(f"/series/{SEMINAR}").get_data(as_text=True)
    assert f'href="{BASE_URL}/series/{SEMINAR}.rss"' in series_html
    assert f'href="{BASE_URL}/feed.atom"' in series_html


def test_subscribe_box_links(client: FlaskClient, sample: None) -> None:
    """webcal://, the https:// address, Google's add-by-URL link and the feed links."""
    html = client.get(f"/series/{SEMINAR}").get_data(as_text=True)
    ics = f"{BASE_URL}/series/{SEMINAR}.ics"
    assert f'href="webcal://events.example.org/series/{SEMINAR}.ics"' in html
    assert f'readonly value="{ics}"' in html
    google = "https://calendar.google.com/calendar/r?cid=webcal%3A%2F%2Fevents.example.org"
    assert google in html
    for ext in ("rss", "atom", "json"):
        assert f'href="{BASE_URL}/series/{SEMINAR}.{ext}"' in html
    home = client.get("/").get_data(as_text=True)
    assert 'href="webcal://events.example.org/calendar.ics"' in home


def test_talk_page_details(client: FlaskClient, sample: None) -> None:
    """Speakers, withheld meeting details, calendar buttons; Chinese text in UTF-8 with lang."""
    response = client.get(f"/events/{TALK}")
    assert response.content_type == "text/html; charset=utf-8"
    html = response.get_data(as_text=True)
    # An English reader gets the talk's English title (issue 20); the Chinese one in Chinese.
    assert '<span lang="en" dir="auto">Principles of cryo-electron microscopy' in html
    chinese = client.get(f"/events/{TALK}?lang=zh").get_data(as_text=True)
    assert '<span lang="zh" dir="auto">冷冻电镜原理及相关算法</span>' in chinese
    assert '<article class="col-main talk-page" lang="zh">' in html
    assert "北京深势科技有限公司" in html
    assert "Tencent Meeting" in html
    assert "sent to subscribers" in html
    for secret in ("329744341", "974114", "553 2421 7498", "p1q2HxwW3x4r"):
        assert secret not in html
    assert f'href="{BASE_URL}/events/{TALK}.ics"' in html
    assert "calendar/render?action=TEMPLATE" in html
    assert "dates=20211127T013000Z%2F20211127T033000Z" in html


def test_public_meeting_and_links_are_shown(
    client: FlaskClient, make_event: Callable[..., Event]
) -> None:
    """A public meeting shows its link and passcode; media links and homepages appear."""
    make_event(
        id="open",
        speakers=[{"name": "Ana", "affiliation": "IST", "homepage": "https://ana.example.org/"}],
        meeting={
            "platform": "Zoom",
            "url": "https://zoom.example/j/1",
            "passcode": "42",
            "access": "public",
        },
        livestream="https://live.example.org/1",
        recording="https://video.example.org/1",
        slides="https://example.org/slides.pdf",
        location="Room 2 — Online",
    )
    html = client.get("/events/open").get_data(as_text=True)
    for text in (
        'href="https://zoom.example/j/1"',
        'Passcode: <span class="mono">42</span>',
        'href="https://ana.example.org/"',
        'href="https://live.example.org/1"',
        'href="https://video.example.org/1"',
        'href="https://example.org/slides.pdf"',
        "Room 2 — Online",
    ):
        assert text in html
    make_event(id="hidden", meeting={"url": "https://zoom.example/j/2", "access": "hidden"})
    assert "zoom.example/j/2" not in client.get("/events/hidden").get_data(as_text=True)


def test_user_text_is_escaped_or_sanitised(
    client: FlaskClient, make_series: Callable[..., Series], make_event: Callable[..., Event]
) -> None:
    """Titles, names and organisers are escaped; Markdown is sanitised with MathML kept."""
    make_series(
        slug="evil",
        name="<b>Bold</b> series",
        organisers=["<script>alert(1)</script>"],
        description="Hi <img src=x onerror=alert(1)> $\\alpha$",
    )
    make_event(
        series="evil",
        id="evil-talk",
        title="<script>alert(2)</script>",
        abstract="<script>alert(3)</script> [x](javascript:alert(4)) $\\infty$-Laplacian",
    )
    for path in ("/series/evil", "/events/evil-talk", "/"):
        html = client.get(path).get_data(as_text=True)
        body = html[html.index("<body") :]
        assert "<script>" not in body, path
        assert "onerror" not in body.replace("onerror=alert(1)&gt;", ""), path
        assert 'href="javascript' not in body.lower(), path
    series_html = client.get("/series/evil").get_data(as_text=True)
    assert "&lt;b&gt;Bold&lt;/b&gt; series" in series_html
    assert "<math" in series_html
    talk_html = client.get("/events/evil-talk").get_data(as_text=True)
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in talk_html
    assert "<math" in talk_html


def test_home_lists_public_series_and_upcoming_talks(
    client: FlaskClient, make_series: Callable[..., Series], make_event: Callable[..., Event]
) -> None:
    """Unlisted series stay off the home page but their pages work by URL."""
    make_series(slug="open-series", name="Open Series")
    make_series(slug="secret-series", name="Secret Series", visibility="unlisted")
    make_event(
        series="open-series",
        id="soon",
        title="Soon talk",
        start=future(3),
        end=future(3).replace("12:00", "13:00"),
    )
    make_event(
        series="secret-series",
        id="hush",
        title="Hush talk",
        start=future(4),
        end=future(4).replace("12:00", "13:00"),
    )
    make_event(series="open-series", id="old", title="Old talk")
    html = client.get("/").get_data(as_text=True)
    assert "Open Series" in html and "Soon talk" in html
    assert "Secret Series" not in html and "Hush talk" not in html
    assert "Old talk" in html  # few upcoming talks: recent ones are listed too
    unlisted = client.get("/series/secret-series")
    assert unlisted.status_code == 200
    assert "Hush talk" in unlisted.get_data(as_text=True)
    assert client.get("/events/hush").status_code == 200
    series_html = client.get("/series/open-series").get_data(as_text=True)
    upcoming, past = series_html.split('id="past-title"')
    assert "Soon talk" in upcoming and "Old talk" in past


def test_pages_need_few_small_requests(client: FlaskClient, sample: None) -> None:
    """One stylesheet and one script, both small and served locally; no external requests."""
    html = client.get(f"/events/{TALK}").get_data(as_text=True)
    head = html[: html.index("</head>")]
    assert re.findall(r'<link rel="stylesheet" href="([^"]+)"', head) == ["/assets/site.css"]
    assert re.findall(r'<script src="([^"]+)"', html) == ["/assets/site.js"]
    assert "<script>" not in html and "style=" not in html
    for asset in ("/assets/site.css", "/assets/site.js"):
        response = client.get(asset)
        assert response.status_code == 200
        assert len(response.data) < 20_000  # one stylesheet: public pages, workspace, embed
        response.close()
    assert "cdn" not in html.lower()


def test_landmarks_labels_and_skip_link(client: FlaskClient, sample: None) -> None:
    """Each page has header, nav, main and footer landmarks, a skip link and labelled inputs."""
    for path in ("/", f"/series/{SEMINAR}", f"/events/{TALK}", "/series/nope"):
        tags = parse(client.get(path).get_data(as_text=True)).tags
        names = [tag for tag, _ in tags]
        for landmark in ("header", "nav", "main", "footer"):
            assert landmark in names, (path, landmark)
        assert ("a", {"class": "skip", "href": "#main"}) in tags
        assert any(tag == "main" and a.get("id") == "main" for tag, a in tags)
        labelled = {a.get("for") for tag, a in tags if tag == "label"}
        inputs = [a.get("id") for tag, a in tags if tag == "input"]
        assert inputs and all(i in labelled for i in inputs), path
        assert [a.get("lang") for tag, a in tags if tag == "html"] == ["en"]


def test_cancelled_and_tentative_talks_are_marked(
    client: FlaskClient, make_event: Callable[..., Event]
) -> None:
    """Cancelled talks stay listed, struck through and labelled; tentative ones are labelled."""
    make_event(id="gone", status="cancelled")
    make_event(id="maybe", status="tentative")
    series_html = client.get("/series/lisbon-ml").get_data(as_text=True)
    assert '<li class="talk is-cancelled"' in series_html
    assert "badge-cancelled" in series_html and "badge-tentative" in series_html
    assert "This talk has been cancelled." in client.get("/events/gone").get_data(as_text=True)


def test_radical_look_alikes_show_as_ideographs(
    client: FlaskClient, make_event: Callable[..., Event]
) -> None:
    """PDF-copy radicals (⽣ U+2F63, ⻉ U+2EC9) are shown as the ideographs 生 and 贝."""
    make_event(id="zh", title="结构⽣物学", abstract="诺⻉尔化学奖")
    html = client.get("/events/zh").get_data(as_text=True)
    assert "结构生物学" in html and "诺贝尔化学奖" in html
    assert "⽣" not in html and "⻉" not in html


def test_pages_read_the_time_from_the_apps_clock(
    make_app: Callable[..., Flask], make_event: Callable[..., Event]
) -> None:
    clock = FrozenClock(datetime(2026, 1, 15, 11, 0, tzinfo=UTC))
    client = make_app(clock=clock).test_client()
    make_event(id="noon", title="At noon", start="2026-01-15 12:00", end="13:00")
    assert "Upcoming" in _section(client.get("/series/lisbon-ml").get_data(as_text=True), "noon")
    clock.advance(timedelta(hours=3))
    assert "Past" in _section(client.get("/series/lisbon-ml").get_data(as_text=True), "noon")


def _section(page: str, event_id: str) -> str:
    """Return the heading of the section that lists the talk."""
    before = page[: page.index(f"/events/{event_id}")]
    return before[before.rindex("<h2") :]
