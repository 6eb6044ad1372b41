"""The organiser workspace through the HTTP interface: sign-in, series, talks, drafts,
stale edits, co-organisers, and who reaches what."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from events import accounts
from events.clock import FrozenClock
from events.models import Event, Organiser, Outbox, TalkDraft
from mail import subscribers

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LINK = re.compile(r"https://events\.example\.org(/login/[A-Za-z0-9_-]+)")


@pytest.fixture
def clock() -> FrozenClock:
    """The app's clock, frozen on 1 March 2026."""
    return FrozenClock(NOW)


@pytest.fixture
def web(make_app: Callable[..., Flask], clock: FrozenClock) -> Flask:
    """An app on the frozen clock."""
    return make_app(clock=clock)


def csrf(client: FlaskClient, url: str) -> str:
    """GET a page and return the CSRF token of its (first) form."""
    page = client.get(url)
    assert page.status_code == 200, (url, page.status_code)
    found = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.get_data(as_text=True))
    assert found, url
    return found.group(1)


def organiser(sessions: sessionmaker[Session], email: str, *, admin: bool = False) -> int:
    """Create an organiser and return their id."""
    with sessions() as session, session.begin():
        return accounts.add_organiser(session, email, NOW, admin=admin).id


def signed_in(app: Flask, organiser_id: int, epoch: int = 0) -> FlaskClient:
    """Return a client whose session is signed in as this organiser."""
    client = app.test_client()
    with client.session_transaction() as held:
        held["organiser"] = {"id": organiser_id, "epoch": epoch}
    return client


def ana_with_a_talk(web: Flask, sessions: sessionmaker[Session]) -> tuple[FlaskClient, str]:
    """Sign ana in, make the series through the form and publish a talk in it; return her
    client and the talk's organiser page."""
    client = signed_in(web, organiser(sessions, "ana@example.org"))
    make_series_via_form(client)
    made = post(
        client,
        "/organise/series/lisbon-number-theory/talks/new",
        {**talk_fields(), "action": "publish"},
    )
    return client, str(made.headers["Location"])


def sent_links(sessions: sessionmaker[Session], address: str) -> list[str]:
    """Return the sign-in paths of the sign-in emails queued for an address."""
    with sessions() as session:
        rows = session.scalars(
            select(Outbox).where(Outbox.kind == "signin", Outbox.recipient == address)
        ).all()
        found = []
        for row in rows:
            assert row.message is not None
            msg = message_from_bytes(row.message, policy=policy.default)
            body = msg.get_body(("plain",))
            assert body is not None
            match = LINK.search(body.get_content())
            assert match, body.get_content()
            found.append(match.group(1))
        return found


def post(client: FlaskClient, url: str, data: dict[str, Any], form_url: str | None = None) -> Any:
    """POST a form with the CSRF token of the page that shows it."""
    return client.post(url, data={"csrf_token": csrf(client, form_url or url), **data})


def make_series_via_form(client: FlaskClient, **overrides: str) -> Any:
    return post(client, "/organise/series/new", series_fields(**overrides))


def series_fields(**overrides: str) -> dict[str, str]:
    """The series form's fields: Lisbon Number Theory (slug from the name), in person."""
    return {
        "name": "Lisbon Number Theory",
        "slug": "",
        "timezone": "Europe/Lisbon",
        "language": "en",
        "visibility": "public",
        "description": "Talks on *numbers*.",
        "attendance": "in_person",
        "room": "Room 1",
        "meeting_access": "subscribers",
        **overrides,
    }


def talk_fields(**overrides: str) -> dict[str, str]:
    return {
        "title": "Modular forms in Beijing",
        "speakers-0-name": "Wang Yu",
        "speakers-0-affiliation": "Peking University",
        "speakers-0-homepage": "",
        "abstract": "On $q$-series.",
        "date": "2026-03-20",
        "start_time": "09:30",
        "end_time": "10:30",
        "duration": "",
        "timezone": "Beijing time",
        "attendance": "online",
        "room": "",
        "meeting_url": "https://meet.example/abc",
        "meeting_id": "",
        "meeting_passcode": "",
        "meeting_access": "subscribers",
        "slides": "",
        "recording": "",
        "livestream": "",
        "tags": "number-theory",
        **overrides,
    }


# -- sign-in ----------------------------------------------------------------------------------


def test_sign_in_by_emailed_link_once_in_the_asking_browser(
    web: Flask, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    client = web.test_client()
    assert client.get("/organise").status_code == 302
    page = client.get("/login")
    assert 'for="email">Email</label>' in page.get_data(as_text=True)
    answer = post(client, "/login", {"email": "Ana@Example.org"})
    assert answer.status_code == 200
    assert "Check your inbox" in answer.get_data(as_text=True)
    (link,) = sent_links(sessions, "Ana@example.org")
    signed = client.get(link)
    assert signed.status_code == 302 and signed.headers["Location"].endswith("/organise")
    assert "Your series" in client.get("/organise").get_data(as_text=True)
    # Single use: the link is spent, in any browser.
    other = web.test_client()
    assert other.get(link).status_code == 400
    # A second link followed elsewhere shows a button; a GET alone spends nothing.
    post(other, "/login", {"email": "ana@example.org"})
    second = sent_links(sessions, "ana@example.org")[-1]
    third_browser = web.test_client()
    shown = third_browser.get(second)
    assert shown.status_code == 200 and "Sign in as ana@example.org?" in shown.get_data(
        as_text=True
    )
    assert post(third_browser, second, {}).status_code == 302
    assert third_browser.get("/organise").status_code == 200
    # Expired after 15 minutes.
    post(other, "/login", {"email": "ana@example.org"})
    late = sent_links(sessions, "ana@example.org")[-1]
    clock.advance(timedelta(minutes=15, seconds=1))
    assert "expired" in other.get(late).get_data(as_text=True)


def test_sign_in_answers_the_same_for_unknown_addresses_and_limits_per_address(
    make_app: Callable[..., Flask], sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    invite_only = make_app(clock=clock, organiser_signup="invite")
    organiser(sessions, "known@example.org")
    client = invite_only.test_client()
    known = post(client, "/login", {"email": "known@example.org"}).get_data(as_text=True)
    unknown = post(client, "/login", {"email": "nobody@example.org"}).get_data(as_text=True)
    assert known.replace("known", "X") == unknown.replace("nobody", "X")
    assert len(sent_links(sessions, "known@example.org")) == 1
    assert sent_links(sessions, "nobody@example.org") == []
    for _ in range(6):
        assert post(client, "/login", {"email": "known@example.org"}).status_code == 200
    assert len(sent_links(sessions, "known@example.org")) == 5  # 5 an hour per address
    bad = post(client, "/login", {"email": "not an address"})
    assert bad.status_code == 422 and 'aria-invalid="true"' in bad.get_data(as_text=True)


def test_sign_in_is_limited_per_client_address(
    make_app: Callable[..., Flask], clock: FrozenClock
) -> None:
    app = make_app(clock=clock, signin_per_ip_per_hour=2)
    client = app.test_client()
    codes = [post(client, "/login", {"email": f"p{i}@example.org"}).status_code for i in range(3)]
    assert codes == [200, 200, 429]


def test_sign_out_everywhere_ends_other_sessions(
    web: Flask, sessions: sessionmaker[Session]
) -> None:
    ana = organiser(sessions, "ana@example.org")
    laptop, phone = signed_in(web, ana), signed_in(web, ana)
    assert phone.get("/organise").status_code == 200
    post(laptop, "/logout/everywhere", {}, "/organise")
    assert laptop.get("/organise").status_code == 302
    assert phone.get("/organise").status_code == 302


# -- series and talks -------------------------------------------------------------------------


def test_create_series_then_a_beijing_talk_draft_stays_private_until_published(
    web: Flask, sessions: sessionmaker[Session]
) -> None:
    client = signed_in(web, organiser(sessions, "ana@example.org"))
    made = make_series_via_form(client)
    assert made.status_code == 302, made.get_data(as_text=True)
    assert made.headers["Location"].endswith("/organise/series/lisbon-number-theory")
    saved = post(
        client,
        "/organise/series/lisbon-number-theory/talks/new",
        {**talk_fields(), "action": "save"},
    )
    assert saved.status_code == 302, saved.get_data(as_text=True)
    talk_url = saved.headers["Location"]
    talk_id = talk_url.rsplit("/", 1)[1]
    public = web.test_client()
    for url, code in (
        ("/series/lisbon-number-theory", 200),
        ("/series/lisbon-number-theory.ics", 200),
        ("/series/lisbon-number-theory.rss", 200),
        ("/", 200),
        ("/calendar.ics", 200),
        ("/feed.atom", 200),
        (f"/events/{talk_id}", 404),
        (f"/events/{talk_id}.ics", 404),
        (f"/api/v1/events/{talk_id}", 404),
        ("/api/v1/events", 200),
    ):
        answer = public.get(url)
        assert answer.status_code == code, url
        assert "Modular forms" not in answer.get_data(as_text=True), url
    home = client.get("/organise").get_data(as_text=True)
    assert "Lisbon Number Theory" in home and "<dt>Drafts</dt><dd>1</dd>" in home
    published = post(client, f"/organise/talks/{talk_id}/publish", {}, talk_url)
    assert published.status_code == 302
    with sessions() as session:
        event = session.get(Event, talk_id)
        assert event is not None and session.get(TalkDraft, talk_id) is None
        assert event.timezone == "Asia/Shanghai"
        assert event.start_utc == datetime(2026, 3, 20, 1, 30, tzinfo=UTC)
    ics = public.get("/series/lisbon-number-theory.ics").get_data(as_text=True)
    assert "Modular forms in Beijing" in ics and "DTSTART;TZID=Asia/Shanghai:20260320T093000" in ics


def test_saving_a_published_talk_changes_pages_and_feeds_on_the_next_request(
    web: Flask, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    client, talk_url = ana_with_a_talk(web, sessions)
    talk_id = talk_url.rsplit("/", 1)[1]
    public = web.test_client()
    with sessions() as session, session.begin():
        reader = subscribers.add_confirmed(
            session, "reader@example.org", ["lisbon-number-theory"], "UTC", NOW
        )
        personal = [f"/s/{reader.token}.ics", f"/s/{reader.token}.rss"]
    feeds = [
        *personal,
        "/series/lisbon-number-theory.ics",
        "/series/lisbon-number-theory.atom",
        "/series/lisbon-number-theory.json",
        "/series/lisbon-number-theory.rss",
        f"/events/{talk_id}",
        "/series/lisbon-number-theory",
    ]
    before = {url: public.get(url) for url in feeds}
    for url, answer in before.items():
        assert "Modular forms in Beijing" in answer.get_data(as_text=True), url
    # A minute later (the feed cache keys talks by their update instant, as real clocks move).
    clock.advance(timedelta(minutes=1))
    edited = post(
        client,
        talk_url,
        {
            **talk_fields(title="Mock theta functions"),
            "version": _version(client, talk_url),
            "action": "save",
        },
        talk_url,
    )
    assert edited.status_code == 302, edited.get_data(as_text=True)
    with sessions() as session:
        assert session.get(Event, talk_id).title == "Mock theta functions"  # type: ignore[union-attr]
    for url in feeds:
        etag = before[url].headers.get("ETag")
        again = public.get(url, headers={"If-None-Match": etag} if etag else {})
        assert again.status_code == 200, url
        assert "Mock theta functions" in again.get_data(as_text=True), url


def _version(client: FlaskClient, url: str) -> str:
    found = re.search(
        r'name="version" type="hidden" value="([^"]*)"', client.get(url).get_data(as_text=True)
    )
    assert found
    return found.group(1).replace("&#34;", '"')


def test_dst_gap_is_a_field_error_with_the_nearest_valid_times(
    web: Flask, sessions: sessionmaker[Session]
) -> None:
    client = signed_in(web, organiser(sessions, "ana@example.org"))
    make_series_via_form(client)
    answer = post(
        client,
        "/organise/series/lisbon-number-theory/talks/new",
        {
            **talk_fields(
                date="2026-03-29", start_time="01:30", end_time="02:30", timezone="Europe/Lisbon"
            ),
            "action": "save",
        },
    )
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert 'id="start_time-error"' in html and "Nearest valid times: 00:30, 02:00, 02:30" in html
    assert 'aria-describedby="start_time-error"' in html
    assert 'href="#start_time"' in html  # the summary links to the field


def test_a_time_that_happens_twice_asks_which_one(
    web: Flask, sessions: sessionmaker[Session]
) -> None:
    client = signed_in(web, organiser(sessions, "ana@example.org"))
    make_series_via_form(client)
    fields = talk_fields(
        date="2026-10-25", start_time="01:30", end_time="02:30", timezone="Europe/Lisbon"
    )
    asked = post(
        client, "/organise/series/lisbon-number-theory/talks/new", {**fields, "action": "save"}
    )
    html = asked.get_data(as_text=True)
    assert asked.status_code == 422 and "happens twice" in html and 'value="later"' in html
    answer = client.post(
        "/organise/series/lisbon-number-theory/talks/new",
        data={
            **fields,
            "occurrence": "later",
            "action": "save",
            "csrf_token": csrf(client, "/organise"),
        },
    )
    assert answer.status_code == 302, answer.get_data(as_text=True)
    with sessions() as session:
        (draft,) = session.scalars(select(TalkDraft)).all()
        assert draft.start_utc == datetime(2026, 10, 25, 1, 30, tzinfo=UTC)  # UTC+00:00


def test_a_save_over_a_newer_save_shows_both_versions_and_overwrites_nothing(
    web: Flask, sessions: sessionmaker[Session]
) -> None:
    ana, url = ana_with_a_talk(web, sessions)
    post(
        ana,
        "/organise/series/lisbon-number-theory/people",
        {"email": "bo@example.org", "role": "editor"},
    )
    with sessions() as session:
        bo_id = session.scalars(
            select(Organiser.id).where(Organiser.email == "bo@example.org")
        ).one()
    bo = signed_in(web, bo_id)
    stale = _version(ana, url)
    bos = post(
        bo,
        url,
        {**talk_fields(title="Bo's title"), "version": _version(bo, url), "action": "save"},
        url,
    )
    assert bos.status_code == 302
    mine = post(
        ana, url, {**talk_fields(title="Ana's title"), "version": stale, "action": "save"}, url
    )
    html = mine.get_data(as_text=True)
    assert mine.status_code == 409
    assert "bo@example.org saved it at" in html
    assert "Ana&#39;s title" in html and "Bo&#39;s title" in html
    with sessions() as session:
        assert session.get(Event, url.rsplit("/", 1)[1]).title == "Bo's title"  # type: ignore[union-attr]
    # Saving again from the conflict page (it carries the newer version) keeps Ana's.
    fresh = re.search(r'name="version" type="hidden" value="([^"]*)"', html)
    assert fresh
    again = post(
        ana,
        url,
        {
            **talk_fields(title="Ana's title"),
            "version": fresh.group(1).replace("&#34;", '"'),
            "action": "save",
        },
        url,
    )
    assert again.status_code == 302


def test_cancel_duplicate_and_delete(web: Flask, sessions: sessionmaker[Session]) -> None:
    client, url = ana_with_a_talk(web, sessions)
    talk_id = url.rsplit("/", 1)[1]
    copy = post(client, f"{url}/duplicate", {}, url)
    copy_id = copy.headers["Location"].rsplit("/", 1)[1]
    with sessions() as session:
        draft = session.get(TalkDraft, copy_id)
        assert draft is not None and draft.start_utc == datetime(2026, 3, 27, 1, 30, tzinfo=UTC)
    cancelled = post(
        client,
        f"{url}/cancel",
        {"reason": "Speaker ill", "version": _version(client, url)},
        f"{url}/cancel",
    )
    assert cancelled.status_code == 302
    ics = web.test_client().get("/series/lisbon-number-theory.ics").get_data(as_text=True)
    assert "STATUS:CANCELLED" in ics
    with sessions() as session:
        event = session.get(Event, talk_id)
        assert event is not None and event.abstract.startswith("**Cancelled:** Speaker ill")
    assert post(client, f"/organise/talks/{copy_id}/delete", {}, url).status_code == 302
    with sessions() as session:
        assert session.get(TalkDraft, copy_id) is None


# -- people and authorization -----------------------------------------------------------------


def test_the_last_owner_cannot_leave_or_be_demoted(
    web: Flask, sessions: sessionmaker[Session]
) -> None:
    ana_id = organiser(sessions, "ana@example.org")
    ana = signed_in(web, ana_id)
    make_series_via_form(ana)
    people = "/organise/series/lisbon-number-theory/people"
    post(ana, f"{people}/{ana_id}/remove", {}, people)
    assert "keeps at least one owner" in ana.get(people).get_data(as_text=True)
    post(ana, people, {"email": "bo@example.org", "role": "owner"})
    assert len(sent_links(sessions, "bo@example.org")) == 1  # the invitation is a sign-in link
    answer = post(ana, f"{people}/{ana_id}/remove", {}, people)
    assert answer.headers["Location"].endswith("/organise")
    assert ana.get(people).status_code == 404


ROUTES = [
    ("GET", "/organise/series/{slug}", "member"),
    ("GET", "/organise/series/{slug}/settings", "owner"),
    ("GET", "/organise/series/{slug}/people", "owner"),
    ("GET", "/organise/series/{slug}/talks/new", "member"),
    ("GET", "/organise/talks/{talk}", "member"),
    ("GET", "/organise/talks/{talk}/cancel", "member"),
    ("POST", "/organise/talks/{talk}/duplicate", "member"),
    ("POST", "/organise/series/{slug}/settings", "owner"),
    ("POST", "/organise/series/{slug}/people", "owner"),
    ("POST", "/organise/talks/{talk}", "member"),
    ("POST", "/organise/talks/{talk}/publish", "member"),
    ("POST", "/organise/series/{slug}/talks/new", "member"),
    ("GET", "/organise/series/{slug}/import", "member"),
    ("POST", "/organise/series/{slug}/import", "member"),
]


def test_authorization_matrix(
    web: Flask, sessions: sessionmaker[Session], make_event: Callable[..., Event]
) -> None:
    """Routes × roles (owner, editor, admin, outsider): each reaches only what it may."""
    owner_id = organiser(sessions, "owner@example.org")
    owner = signed_in(web, owner_id)
    make_series_via_form(owner)
    post(
        owner,
        "/organise/series/lisbon-number-theory/people",
        {"email": "editor@example.org", "role": "editor"},
    )
    talk = make_event(series="lisbon-number-theory", id="t1")
    with sessions() as session:
        editor_id = accounts.by_email(session, "editor@example.org").id  # type: ignore[union-attr]
    clients = {
        "owner": owner,
        "editor": signed_in(web, editor_id),
        "admin": signed_in(web, organiser(sessions, "admin@example.org", admin=True)),
        "outsider": signed_in(web, organiser(sessions, "other@example.org")),
    }
    allowed = {
        "owner": {"member", "owner"},
        "admin": {"member", "owner"},
        "editor": {"member"},
        "outsider": set(),
    }
    token = csrf(owner, "/organise")
    for who, client in clients.items():
        token = csrf(client, "/organise")
        for method, pattern, needs in ROUTES:
            url = pattern.format(slug="lisbon-number-theory", talk=talk.id)
            if method == "GET":
                code = client.get(url).status_code
            else:
                code = client.post(url, data={"csrf_token": token}).status_code
            if needs in allowed[who]:
                assert code in (200, 302, 400, 422), (who, method, url, code)
            else:
                expected = 404 if who == "outsider" else 403
                assert code == expected, (who, method, url, code)
        listed = client.get("/organise").get_data(as_text=True)
        assert ("Lisbon Number Theory" in listed) == (who != "outsider"), who
    anonymous = web.test_client()
    for _method, pattern, _ in ROUTES:
        url = pattern.format(slug="lisbon-number-theory", talk=talk.id)
        assert anonymous.get(url).status_code in (302, 405)


def test_pages_are_valid_html(
    web: Flask, sessions: sessionmaker[Session], html_checker: Any
) -> None:
    client = signed_in(web, organiser(sessions, "ana@example.org"))
    pages = {
        "/login": web.test_client().get("/login"),
        "/organise (empty)": client.get("/organise"),
    }
    pages["/organise/series/new"] = client.get("/organise/series/new")
    pages["series form error"] = make_series_via_form(client, timezone="Mars/Base")
    make_series_via_form(client)
    pages["/organise"] = client.get("/organise")
    new = "/organise/series/lisbon-number-theory/talks/new"
    pages[new] = client.get(new)
    pages["talk form error"] = post(
        client,
        new,
        {
            **talk_fields(
                date="2026-10-25",
                start_time="01:30",
                end_time="02:30",
                timezone="Europe/Lisbon",
                title="",
            ),
            "action": "save",
        },
    )
    made = post(client, new, {**talk_fields(), "action": "save"})
    url = made.headers["Location"]
    pages["draft"] = client.get(url)
    pages["series page"] = client.get("/organise/series/lisbon-number-theory")
    pages["people"] = client.get("/organise/series/lisbon-number-theory/people")
    pages["settings"] = client.get("/organise/series/lisbon-number-theory/settings")
    stale = post(client, url, {**talk_fields(), "version": '"d99"', "action": "save"}, url)
    assert stale.status_code == 409
    pages["conflict"] = stale
    for where, answer in pages.items():
        assert "<script>" not in answer.get_data(as_text=True)
        html_checker.assert_valid(answer.get_data(as_text=True), where)


# -- command line -----------------------------------------------------------------------------


def test_cli_adds_an_admin_and_refuses_a_bad_address(
    run: Callable[..., Any], cli_env: dict[str, str], sessions: sessionmaker[Session]
) -> None:
    from click.testing import CliRunner

    from server import cli

    done = run("organiser", "add", "Boss@Example.org", "--admin")
    assert done.exit_code == 0 and "admin Boss@example.org" in done.output
    with sessions() as session:
        found = accounts.by_email(session, "Boss@example.org")
        assert found is not None and found.admin
    bad = CliRunner().invoke(cli, ["organiser", "add", "nobody"], env=cli_env)
    assert bad.exit_code == 1 and bad.output.startswith("Error: ") and bad.output.count("\n") == 1


def test_demo_prints_a_one_click_sign_in_link_for_the_demo_organiser(
    run: Callable[..., Any], make_app: Callable[..., Flask]
) -> None:
    done = run("demo", "--no-serve")
    found = re.search(r"(/login/[A-Za-z0-9_-]+)", done.output)
    assert found, done.output
    client = make_app().test_client()
    shown = client.get(found.group(1))
    assert "Sign in as demo@example.org?" in shown.get_data(as_text=True)
    assert post(client, found.group(1), {}).status_code == 302
    home = client.get("/organise").get_data(as_text=True)
    assert "Lisbon" in home and "owner" in home


def test_abstract_preview_renders_as_the_public_page_without_saving(
    web: Flask, sessions: sessionmaker[Session]
) -> None:
    client = signed_in(web, organiser(sessions, "ana@example.org"))
    make_series_via_form(client)
    new = "/organise/series/lisbon-number-theory/talks/new"
    shown = post(client, new, {**talk_fields(abstract="**Bold** and $x^2$"), "action": "preview"})
    html = shown.get_data(as_text=True)
    assert shown.status_code == 200 and "<strong>Bold</strong>" in html and "<math" in html
    with sessions() as session:
        assert session.scalars(select(TalkDraft)).all() == []


def test_series_description_preview(web: Flask, sessions: sessionmaker[Session]) -> None:
    client = signed_in(web, organiser(sessions, "ana@example.org"))
    shown = make_series_via_form(client, description="*Numbers* and $\\zeta(s)$", action="preview")
    html = shown.get_data(as_text=True)
    assert shown.status_code == 200 and "<em>Numbers</em>" in html and "<math" in html
    assert client.get("/organise").get_data(as_text=True).count("Lisbon Number Theory") == 0


def test_the_live_preview_endpoint_renders_as_the_public_page(
    web: Flask, sessions: sessionmaker[Session]
) -> None:
    from web.pages import rich_text

    text = "**Bold**, $\\int_0^1 x\\,dx$ and <script>alert(1)</script>"
    client = signed_in(web, organiser(sessions, "ana@example.org"))
    token = csrf(client, "/organise/series/new")
    shown = client.post("/organise/preview", data={"text": text}, headers={"X-CSRFToken": token})
    with web.app_context():
        expected = rich_text(text)
    assert shown.status_code == 200 and shown.get_data(as_text=True) == expected
    assert "<math" in expected and "<script" not in expected
    assert shown.headers["Cache-Control"] == "no-store"
    assert client.post("/organise/preview", data={"text": text}).status_code == 400  # no CSRF
    assert web.test_client().post("/organise/preview", data={"text": text}).status_code in (
        302,
        400,
    )


def test_the_slug_changes_until_the_first_talk_is_published(
    web: Flask, sessions: sessionmaker[Session]
) -> None:
    client = signed_in(web, organiser(sessions, "ana@example.org"))
    make_series_via_form(client)
    settings = "/organise/series/lisbon-number-theory/settings"
    fields = {
        "name": "Lisbon Number Theory",
        "slug": "lisbon-nt",
        "timezone": "Europe/Lisbon",
        "language": "en",
        "visibility": "public",
        "attendance": "in_person",
        "meeting_access": "subscribers",
    }
    renamed = post(client, settings, fields)
    assert renamed.headers["Location"].endswith("/organise/series/lisbon-nt"), renamed.status_code
    post(client, "/organise/series/lisbon-nt/talks/new", {**talk_fields(), "action": "publish"})
    refused = post(client, "/organise/series/lisbon-nt/settings", {**fields, "slug": "other"})
    assert refused.status_code == 422
    assert "fixed once a talk is published" in refused.get_data(as_text=True)
    assert web.test_client().get("/series/lisbon-nt.ics").status_code == 200


def test_several_speakers(web: Flask, sessions: sessionmaker[Session]) -> None:
    client = signed_in(web, organiser(sessions, "ana@example.org"))
    make_series_via_form(client)
    new = "/organise/series/lisbon-number-theory/talks/new"
    more = post(client, new, {**talk_fields(), "action": "add_speaker"})
    html = more.get_data(as_text=True)
    assert more.status_code == 200 and 'for="speakers-1-name">Speaker 2 name</label>' in html
    saved = post(
        client,
        new,
        {
            **talk_fields(),
            "speakers-1-name": "Li Na",
            "speakers-1-affiliation": "",
            "action": "save",
        },
    )
    assert saved.status_code == 302
    with sessions() as session:
        (draft,) = session.scalars(select(TalkDraft)).all()
        assert [s["name"] for s in draft.data["speakers"]] == ["Wang Yu", "Li Na"]
