"""Emails in the subscriber's language (pt-PT, zh-Hans): snapshots, CLDR dates, plural rules,
SpamAssassin scores.

Snapshots live in tests/snapshots/email-<locale>-<kind>.txt|.html (regenerate as in
test_email_snapshots.py, with EVENTFEED_UPDATE_SNAPSHOTS=1, and review the diff).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from email.message import EmailMessage

import pytest

from events.models import Event
from feeds import email as mail
from tests.feeds.test_email_snapshots import (  # noqa: F401
    ENVELOPE,
    MONDAY,
    READER,
    build,
    check_snapshot,
    digest_items,
    parse,
    talk,
)
from tests.support.mailtools import calendar_part, html_part, text_part
from tests.support.spamscore import SPAMASSASSIN, assert_clean

LOCALES = ("pt_PT", "zh_Hans")
CONFIRM_URL = "https://events.example.org/subscriptions/confirm/abc.def"


def reader(locale: str, zone: str = "Europe/Lisbon") -> mail.Reader:
    """The snapshot tests' reader, speaking `locale` from `zone`."""
    return replace(READER, language=locale, timezone=zone)


def messages(
    event: Event, make_event: Callable[..., Event], locale: str
) -> dict[str, EmailMessage]:
    """One message of every kind a subscriber receives, in `locale`."""
    person = reader(locale)
    found = {kind: build(kind, event, person) for kind in mail.EVENT_KINDS}
    other = make_event(id="2026-12-07-costa", start="2026-12-07 12:00", end="2026-12-07 13:00")
    for frequency in ("daily", "weekly"):
        found[f"digest-{frequency}"] = mail.digest_email(
            digest_items(event, other), person, ENVELOPE, frequency=frequency, day=MONDAY
        )
    found["confirmation"] = mail.confirmation_email(
        [event.series.name], person, ENVELOPE, confirm_url=CONFIRM_URL
    )
    found["recording"] = mail.recording_email(
        event,
        event.series,
        person,
        ENVELOPE,
        link="recording",
        url="https://video.example.org/wang",
        event_url=f"https://events.example.org/events/{event.id}",
    )
    found["signin"] = mail.signin_email(
        "organiser@example.org",
        ENVELOPE,
        signin_url="https://events.example.org/organise/signin/abc",
        minutes=15,
        language=locale,
    )
    return found


@pytest.mark.parametrize("locale", LOCALES)
def test_every_kind_matches_its_snapshot(
    talk: Event,  # noqa: F811
    make_event: Callable[..., Event],
    locale: str,
) -> None:
    """Text parts of every kind and the HTML of the announcement, digest and confirmation."""
    talk.meeting = {**talk.meeting, "access": "revealed", "reveal_minutes": 30}  # type: ignore[misc]
    for kind, msg in messages(talk, make_event, locale).items():
        parsed = parse(msg)
        check_snapshot(
            f"email-{locale}-{kind}.txt", f"Subject: {parsed['Subject']}\n\n{text_part(parsed)}"
        )
        if kind in ("announcement", "digest-weekly", "confirmation"):
            check_snapshot(f"email-{locale}-{kind}.html", html_part(parsed))


def test_portuguese_dates_zones_and_plurals(
    talk: Event,  # noqa: F811
    make_event: Callable[..., Event],
) -> None:
    found = {k: parse(m) for k, m in messages(talk, make_event, "pt_PT").items()}
    announcement = found["announcement"]
    assert announcement["Subject"] == (
        "[Lisbon Machine Learning Seminar] 冷冻电镜原理及相关算法 — "
        "sábado, 5 de dezembro de 2026, 09:30 (hora de Pequim); 01:30 (hora de Lisboa)"
    )
    text = text_part(announcement)
    assert "Quando: sábado, 5 de dezembro de 2026, 09:30–11:30 (hora de Pequim); " in text
    assert "01:30–03:30 (hora de Lisboa)" in text
    assert '<html lang="pt-PT">' in html_part(announcement)
    assert found["cancellation"]["Subject"].startswith("Cancelada: [")
    assert found["digest-weekly"]["Subject"] == (
        "Resumo semanal, segunda-feira, 30 de novembro de 2026: 2 palestras novas ou alteradas"
    )
    one = parse(
        mail.digest_email(
            digest_items(talk), reader("pt_PT"), ENVELOPE, frequency="daily", day=MONDAY
        )
    )
    assert one["Subject"].endswith(": 1 palestra nova ou alterada")
    assert "15 minutos" in text_part(found["signin"])


def test_chinese_dates_zones_and_plurals(
    talk: Event,  # noqa: F811
    make_event: Callable[..., Event],
) -> None:
    beijing = reader("zh_Hans", "Asia/Shanghai")
    msg = parse(build("reminder", talk, beijing))
    assert msg["Subject"] == (
        "提醒：[Lisbon Machine Learning Seminar] 冷冻电镜原理及相关算法 — "
        "2026年12月5日 星期六 09:30（北京时间）"
    )
    text = text_part(msg)
    assert "时间：2026年12月5日 星期六 09:30–11:30（北京时间）" in text
    assert "本报告即将开始。" in text
    # The calendar attachment is the feed's (the series' language), unchanged by the reader's.
    assert "BEGIN:VEVENT" in calendar_part(msg).get_content()
    digest = parse(
        mail.digest_email(digest_items(talk), beijing, ENVELOPE, frequency="weekly", day=MONDAY)
    )
    assert digest["Subject"] == "每周摘要，2026年11月30日 星期一：1 场新增或变更的报告"
    lisbon = parse(build("announcement", talk, reader("zh_Hans")))
    assert "；01:30–03:30（里斯本时间）" in text_part(lisbon)


@pytest.mark.skipif(SPAMASSASSIN is None, reason="spamassassin is not installed")
@pytest.mark.parametrize("locale", LOCALES)
def test_every_kind_scores_below_two(
    talk: Event,  # noqa: F811
    make_event: Callable[..., Event],
    locale: str,
) -> None:
    found = messages(talk, make_event, locale)
    assert_clean(found, locale)
