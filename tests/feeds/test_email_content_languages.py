"""Emails about a talk show its title and abstract in the reader's language (issue 20),
else the original; the fast path keeps one template per language shown."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from events.models import Event, Series
from feeds import email as mail
from tests.feeds.test_email_fast import MAIL_FROM, both, parse, reader
from tests.support.mailtools import html_part, text_part

ZH = "冷冻电镜原理及相关算法"
EN = "Principles of cryo-electron microscopy"


@pytest.fixture
def talk(make_series: Callable[..., Series], make_event: Callable[..., Event]) -> Event:
    """A talk of a Chinese series with an English title and abstract."""
    make_series(slug="bj-ml", language="zh", timezone="Asia/Shanghai")
    return make_event(
        id="cryo",
        series="bj-ml",
        title=ZH,
        abstract="冷冻电镜显微学。",
        start="2026-12-05 09:30",
        end="2026-12-05 11:30",
        translations={"en": {"title": EN, "abstract": "Cryo-EM, in English."}},
    )


def test_talk_text_picks_the_language_with_fallback(talk: Event) -> None:
    assert mail.talk_text(talk, "en", None) == (ZH, "冷冻电镜显微学。")
    assert mail.talk_text(talk, "zh", "en-GB") == (EN, "Cryo-EM, in English.")
    assert mail.talk_text(talk, "zh", "zh-Hans") == (ZH, "冷冻电镜显微学。")
    assert mail.talk_text(talk, "zh", "pt-PT") == (ZH, "冷冻电镜显微学。")


@pytest.mark.parametrize(
    ("language", "title", "abstract"),
    [
        ("en", EN, "Cryo-EM, in English."),
        ("zh-Hans", ZH, "冷冻电镜显微学。"),
        (None, EN, "in English"),
    ],
)
def test_announcements_speak_the_readers_language(
    talk: Event, language: str | None, title: str, abstract: str
) -> None:
    emails = mail.EventEmails()
    envelope = mail.Envelope.new(MAIL_FROM, "events.example.org")
    fast, slow, subject = both(
        emails, "announcement", talk, reader(1, "UTC", True), envelope, language=language
    )
    assert fast == slow
    assert title in subject
    message = parse(fast)
    assert abstract in text_part(message) and abstract in html_part(message)
    other = EN if title == ZH else ZH
    assert other not in subject and other not in text_part(message)


def test_recording_note_title_in_the_readers_language(talk: Event) -> None:
    note = mail.recording_email(
        talk,
        talk.series,
        reader(2, "UTC", False),
        mail.Envelope.new(MAIL_FROM, "events.example.org"),
        link="recording",
        url="https://video.example.org/1",
        event_url="https://events.example.org/events/cryo",
        language="en",
    )
    assert EN in str(note["Subject"])


def test_digest_and_session_emails_take_the_language(
    talk: Event, make_event: Callable[..., Event]
) -> None:
    envelope = mail.Envelope.new(MAIL_FROM, "events.example.org")
    who = reader(3, "UTC", False)
    item = mail.DigestItem(talk, talk.series, "https://e.example.org/events/cryo", "x.ics")
    day = talk.start_utc.date()
    english = mail.digest_email([item], who, envelope, frequency="daily", day=day, language="en")
    chinese_reader = dataclasses.replace(who, language="zh_Hans")
    readers = mail.digest_email([item], chinese_reader, envelope, frequency="daily", day=day)
    assert EN in text_part(parse(mail.to_bytes(english)))
    # without a language the reader's own is taken (the subscriber's setting)
    assert ZH in text_part(parse(mail.to_bytes(readers)))
    urls = {"cryo": "https://e.example.org/events/cryo"}
    block = make_event(
        "bj-ml",
        id="session",
        kind="session",
        title="讨论班",
        start="2026-12-05 09:30",
        end="2026-12-05 11:30",
        translations={"en": {"title": "Seminar session"}},
    )
    urls["session"] = "https://e.example.org/events/session"
    session = mail.session_email(
        block, [talk], talk.series, who, envelope, urls=urls, ics=None, language="en"
    )
    text = text_part(parse(mail.to_bytes(session)))
    assert "Seminar session" in text and EN in text and "Cryo-EM, in English." in text
    assert ZH not in text
