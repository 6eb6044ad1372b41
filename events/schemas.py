"""Validation of series and event input: one path shared by the importer, the CLI and the API.

Input is validated by pydantic models (per-field errors), then the time rules turn local
wall times into instants. `validate_series` and `validate_event` return plain records ready
to store, or raise InvalidRecord naming each bad field.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal, cast
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from events import times
from events.access import DEFAULT_REVEAL_MINUTES, MAX_REVEAL_MINUTES
from events.errors import InvalidRecord, TimeError
from events.languages import MAX_TRANSLATIONS, canonical_tag
from events.models import (
    EVENT_KINDS,
    Location,
    Meeting,
    SeriesTranslation,
    Speaker,
    TalkTranslation,
)
from events.origins import MAX_ORIGINS, parse_origin, parse_origins

SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{0,99}$"
EVENT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._~-]{0,99}$"
# The longest default duration of a series' talks, in minutes (a day).
MAX_DURATION_MINUTES = 1440

# Every kind an import or the API may give (`tba` rows come from schedules only).
INPUT_KINDS = tuple(k for k in EVENT_KINDS if k != "tba")
LOCATION_SEPARATORS = re.compile(r"\s+(?:—|–|-|/|\+|&|and)\s+online$", re.IGNORECASE)


def _one_line(value: Any) -> Any:
    """Collapse runs of white space (CR/LF included) so no value can break a header line."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str):
        return " ".join(value.split())
    return value


def _check_url(value: str) -> str:
    parts = urlsplit(value)
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or any(c.isspace() for c in value)
    ):
        raise ValueError("must be an http:// or https:// URL")
    return value


def _multiline(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\r\n", "\n").replace("\r", "\n").strip()
    return value


# Text policy (README "Limits and hardening"). Every text field refuses C0 control
# characters but tab, newline and carriage return (CR and CRLF read as a newline; one-line
# fields fold all three into a space) and DEL, and lone surrogates. One-line fields (names,
# titles, speakers, places, tags, URLs) also refuse the bidirectional embeddings, overrides
# and isolates (U+202A-U+202E, U+2066-U+2069) and the invisible U+200B, U+2060 and U+FEFF,
# which can disguise text on pages and in emails; the joiners U+200C/U+200D are kept between
# two visible characters (Persian and Indic spelling, emoji sequences) and refused elsewhere.
# Abstracts and descriptions keep bidi controls (mixed right-to-left prose needs them).
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
DISGUISING_CHARACTERS = re.compile(r"[\u202a-\u202e\u2066-\u2069\u200b\u2060\ufeff]")
JOINERS = re.compile(r"[\u200c\u200d]")
_HIDDEN = re.compile(r"[\s\u200b-\u200d\u202a-\u202e\u2060-\u2069\ufeff]")


def _describe(value: str, index: int) -> str:
    char = value[index]
    try:
        name = " " + unicodedata.name(char)
    except ValueError:
        name = ""
    return f"U+{ord(char):04X}{name} at character {index + 1}"


# One pass finds any character either policy may refuse (most text has none).
_SUSPECT = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\u200b-\u200d\u202a-\u202e\u2060-\u2069\ufeff]"
)


def _no_controls(value: Any) -> Any:
    if isinstance(value, str) and _SUSPECT.search(value):
        found = CONTROL_CHARACTERS.search(value)
        if found:
            if "\ud800" <= found.group() <= "\udfff":
                raise ValueError("must be valid Unicode text (a lone surrogate)")
            raise ValueError(
                f"must not contain control characters ({_describe(value, found.start())})"
            )
    return value


def _no_disguise(value: Any) -> Any:
    if not isinstance(value, str) or not _SUSPECT.search(value):
        return value
    value = _no_controls(value)
    found = DISGUISING_CHARACTERS.search(value)
    if found is None:
        for joiner in JOINERS.finditer(value):
            i = joiner.start()
            if not 0 < i < len(value) - 1 or any(
                _HIDDEN.fullmatch(value[j]) for j in (i - 1, i + 1)
            ):
                found = joiner
                break
    if found is not None:
        raise ValueError(
            "must not contain invisible or direction-changing characters, which can disguise "
            f"text ({_describe(value, found.start())})"
        )
    return value


def _line(value: Any) -> Any:
    """A one-line field: refused characters are found in the text as given, then it is folded."""
    if type(value) is str:  # the common case, without two calls (same result)
        if _SUSPECT.search(value):
            _no_disguise(value)
        return " ".join(value.split())
    return _one_line(_no_disguise(value))


def _text(value: Any) -> Any:
    return _multiline(_no_controls(value))


# Length limits come before the validators in each Annotated type, so pydantic checks them
# in its own str schema rather than in a Python function after it.
Line = Annotated[str, Field(max_length=500), BeforeValidator(_line)]
ShortLine = Annotated[str, Field(max_length=200), BeforeValidator(_line)]
Url = Annotated[str, Field(max_length=2000), BeforeValidator(_line), AfterValidator(_check_url)]
Text = Annotated[str, Field(max_length=100_000), BeforeValidator(_text)]
Origin = Annotated[
    str, Field(max_length=300), BeforeValidator(_no_controls), AfterValidator(parse_origin)
]
Tag = Annotated[str, Field(min_length=1, max_length=64), BeforeValidator(_line)]
# A series name (its column holds 300 characters).
Name = Annotated[str, Field(min_length=1, max_length=300), BeforeValidator(_line)]


class Strict(BaseModel):
    """Base for input models: unknown fields are errors."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class SpeakerIn(Strict):
    """A speaker with an optional affiliation and homepage."""

    name: Line = Field(min_length=1)
    affiliation: Line | None = None
    homepage: Url | None = None


class MeetingIn(Strict):
    """An online meeting; every part optional so an event can override some of them."""

    platform: ShortLine | None = None
    url: Url | None = None
    id: ShortLine | None = None
    passcode: ShortLine | None = None
    alternate_id: ShortLine | None = None
    access: Literal["public", "subscribers", "revealed", "hidden"] | None = None
    # `revealed`: how long before the start subscribers get the details (default 15).
    reveal_minutes: int | None = Field(default=None, ge=1, le=MAX_REVEAL_MINUTES)


class LocationIn(Strict):
    """Where a talk happens: a room or address, online, or both."""

    room: Line | None = None
    address: Line | None = None
    online: bool = False


def parse_location(value: object) -> object:
    """Read 'Online', 'Room 1' or 'Room 1 — Online' as a location mapping."""
    if not isinstance(value, str):
        return value
    text = " ".join(value.split())
    if text.lower() == "online":
        return {"online": True}
    hybrid = LOCATION_SEPARATORS.search(text)
    if hybrid:
        return {"room": text[: hybrid.start()], "online": True}
    return {"room": text} if text else {}


LocationField = Annotated[LocationIn, BeforeValidator(parse_location)]

# A BCP 47 language tag, in canonical case ('zh-hans' → 'zh-Hans').
LanguageTag = Annotated[str, Field(max_length=35), AfterValidator(canonical_tag)]


class TalkTranslationIn(Strict):
    """A talk's title and abstract in another language (either may be left out)."""

    title: Line | None = None
    abstract: Text | None = None

    @model_validator(mode="after")
    def _something(self) -> TalkTranslationIn:
        if not self.title and not self.abstract:
            raise ValueError("give a title or an abstract in this language")
        return self


class SeriesTranslationIn(Strict):
    """A series' name and description in another language (either may be left out)."""

    name: Line | None = None
    description: Text | None = None

    @model_validator(mode="after")
    def _something(self) -> SeriesTranslationIn:
        if not self.name and not self.description:
            raise ValueError("give a name or a description in this language")
        return self


def _translations(value: Any) -> Any:
    """Read translations as a mapping by tag, or as a list of mappings with a `language`."""
    if isinstance(value, list):
        out: dict[str, Any] = {}
        for item in value:
            if not isinstance(item, dict) or not isinstance(item.get("language"), str):
                return value  # pydantic names the error
            out[item["language"]] = {k: v for k, v in item.items() if k != "language"}
        return out
    return {} if value is None else value


def _dump_translations(value: dict[str, Any], own: str, where: str) -> dict[str, Any]:
    """Return translations as stored (empty parts dropped); refuse the original language."""
    for tag in value:
        if tag.lower() == own.lower():
            message = "is the series' own language; edit the text itself"
            raise InvalidRecord(where, [(f"translations.{tag}", message)])
    return {tag: t.model_dump(exclude_none=True) for tag, t in value.items()}


def split_topics(value: Any) -> Any:
    """Read topics given as one string: 'Mathematics › Analysis of PDEs; deep learning'.

    Semicolons separate topics (a topic name may hold a comma); repeats are dropped.
    """
    if isinstance(value, str):
        value = [t.strip() for t in value.split(";")]
    if isinstance(value, list):
        return list(dict.fromkeys(t.strip() if isinstance(t, str) else t for t in value if t))
    return value


class SeriesIn(Strict):
    """A series as written in an import file or sent to the API (events apart)."""

    slug: str = Field(pattern=SLUG_PATTERN)
    name: Name
    description: Text = ""
    timezone: ShortLine
    homepage: Url | None = None
    organisers: list[Line] = Field(default_factory=list, max_length=100)
    language: str = Field(
        default="en", max_length=35, pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$"
    )
    visibility: Literal["public", "unlisted"] = "public"
    location: LocationField | None = None
    meeting: MeetingIn | None = None
    auto_announce: bool = False
    topics: list[Line] = Field(default_factory=list, max_length=30)
    # Sites that may frame /embed/series/<slug> (events.origins); empty: any site.
    embed_origins: list[Origin] = Field(default_factory=list, max_length=MAX_ORIGINS)
    duration: int | None = Field(default=None, ge=1, le=MAX_DURATION_MINUTES)
    # Schedule each new talk's announcement this many days before its start (mail.blocks).
    announce_lead: Literal[1, 7] | None = None
    # Name and description in other languages, by BCP 47 tag (events.languages).
    translations: Annotated[
        dict[LanguageTag, SeriesTranslationIn], BeforeValidator(_translations)
    ] = Field(default_factory=dict, max_length=MAX_TRANSLATIONS)

    @field_validator("topics", mode="before")
    @classmethod
    def _topics(cls, value: Any) -> Any:
        return split_topics(value)

    @field_validator("embed_origins", mode="before")
    @classmethod
    def _origins(cls, value: Any) -> Any:
        return parse_origins(value)

    @field_validator("embed_origins")
    @classmethod
    def _distinct_origins(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return times.resolve_zone(value)

    @field_validator("organisers", mode="before")
    @classmethod
    def _organisers(cls, value: Any) -> Any:
        return [p.strip() for p in value.split(",")] if isinstance(value, str) else value


class EventIn(Strict):
    """An event as written in an import file or sent to the API."""

    id: str = Field(pattern=EVENT_ID_PATTERN)
    title: Line = Field(min_length=1)
    speakers: list[SpeakerIn] = Field(default_factory=list, max_length=50)
    abstract: Text = ""
    timezone: ShortLine | None = None
    start: ShortLine
    end: ShortLine | None = None  # None: the series' default duration
    location: LocationField | None = None
    meeting: MeetingIn | None = None
    livestream: Url | None = None
    recording: Url | None = None
    slides: Url | None = None
    homepage: Url | None = None
    status: Literal["confirmed", "tentative", "cancelled"] = "confirmed"
    tags: list[Tag] = Field(default_factory=list, max_length=50)
    # Schedules: what the entry is, the session or workshop holding it, spotlight posters.
    kind: Literal[INPUT_KINDS] = "talk"  # type: ignore[valid-type]  # a tuple of literals
    parent: str | None = Field(default=None, pattern=EVENT_ID_PATTERN)
    posters: list[Line] = Field(default_factory=list, max_length=200)
    # Title and abstract in languages other than the series', by BCP 47 tag.
    translations: Annotated[
        dict[LanguageTag, TalkTranslationIn], BeforeValidator(_translations)
    ] = Field(default_factory=dict, max_length=MAX_TRANSLATIONS)

    @field_validator("kind", mode="before")
    @classmethod
    def _kind(cls, value: Any) -> Any:
        if isinstance(value, str):
            return "-".join(value.strip().lower().replace("_", " ").split())
        return value

    topics: list[Line] = Field(default_factory=list, max_length=30)

    @field_validator("topics", mode="before")
    @classmethod
    def _topics(cls, value: Any) -> Any:
        return split_topics(value)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return None if value is None else times.resolve_zone(value)

    @field_validator("speakers", mode="before")
    @classmethod
    def _speakers(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [{"name": value}]
        if isinstance(value, list):
            return [{"name": s} if isinstance(s, str) else s for s in value]
        return value

    @field_validator("tags", mode="before")
    @classmethod
    def _tags(cls, value: Any) -> Any:
        return (
            [t.strip() for t in value.split(",") if t.strip()] if isinstance(value, str) else value
        )


@dataclass(frozen=True)
class SeriesRecord:
    """Validated column values of a series."""

    slug: str
    name: str
    description: str
    timezone: str
    homepage: str | None
    organisers: list[str]
    language: str
    visibility: str
    location: Location | None
    meeting: Meeting | None
    auto_announce: bool = False
    topics: list[str] = field(default_factory=list)
    embed_origins: list[str] = field(default_factory=list)
    duration: int | None = None  # minutes a talk lasts when it names no end
    announce_lead: int | None = None  # days before the start a new talk is announced
    translations: dict[str, SeriesTranslation] = field(default_factory=dict)


# The column names a series record holds, in order: the one list every copy derives from.
SERIES_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(SeriesRecord))


@dataclass(frozen=True)
class EventRecord:
    """Validated column values of an event, with instants derived from its wall times."""

    id: str
    title: str
    timezone: str
    start_local: str
    end_local: str
    start_utc: datetime
    end_utc: datetime
    speakers: list[Speaker] = field(default_factory=list)
    abstract: str = ""
    location: Location = field(default_factory=lambda: Location())
    meeting: Meeting | None = None
    livestream: str | None = None
    recording: str | None = None
    slides: str | None = None
    homepage: str | None = None
    status: str = "confirmed"
    tags: list[str] = field(default_factory=list)
    kind: str = "talk"
    parent_id: str | None = None
    posters: list[str] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)
    translations: dict[str, TalkTranslation] = field(default_factory=dict)


def _errors(exc: ValidationError) -> list[tuple[str, str]]:
    found = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"]) or "record"
        message = error["msg"].removeprefix("Value error, ")
        found.append((where, message))
    return found


def _record_name(data: Any, key: str) -> str:
    if isinstance(data, dict) and isinstance(data.get(key), str | int):
        return f"{data[key]!r}"
    return "(no id)"


def _location(value: LocationIn | None) -> Location | None:
    if value is None:
        return None
    return cast(Location, value.model_dump(exclude_none=True, exclude_defaults=True))


def _meeting(value: MeetingIn | None) -> Meeting | None:
    return None if value is None else cast(Meeting, value.model_dump(exclude_none=True))


def _reveal_default(meeting: Meeting) -> None:
    """Give a `revealed` meeting its reveal time; other policies have none."""
    if meeting.get("access") == "revealed":
        meeting.setdefault("reveal_minutes", DEFAULT_REVEAL_MINUTES)
    else:
        meeting.pop("reveal_minutes", None)


def validate_series(data: object, *, where: str = "") -> SeriesRecord:
    """Validate one series mapping (without its events)."""
    label = f"{where}series {_record_name(data, 'slug')}".strip()
    if not isinstance(data, dict):
        raise InvalidRecord(label, [("record", "must be a mapping of fields")])
    fields_only = {k: v for k, v in data.items() if k != "events"}
    try:
        parsed = SeriesIn.model_validate(fields_only)
    except ValidationError as exc:
        raise InvalidRecord(label, _errors(exc)) from None
    except TimeError as exc:  # pragma: no cover - pydantic wraps validator errors
        raise InvalidRecord(label, [("timezone", str(exc))]) from None
    meeting = _meeting(parsed.meeting)
    if meeting is not None:
        meeting.setdefault("access", "subscribers")
        _reveal_default(meeting)
    values = {name: getattr(parsed, name) for name in SERIES_FIELDS}
    values["translations"] = _dump_translations(parsed.translations, parsed.language, label)
    return SeriesRecord(**{**values, "location": _location(parsed.location), "meeting": meeting})


def _event_label(data: object, where: str) -> str:
    """Name an event record in an error (only built when there is one: imports are large)."""
    return f"{where}event {_record_name(data, 'id')}".strip()


def validate_event(data: object, series: SeriesRecord, *, where: str = "") -> EventRecord:
    """Validate one event mapping against its series' defaults (zone, location, meeting)."""
    if not isinstance(data, dict):
        raise InvalidRecord(_event_label(data, where), [("record", "must be a mapping of fields")])
    try:
        parsed = EventIn.model_validate(data)
    except ValidationError as exc:
        raise InvalidRecord(_event_label(data, where), _errors(exc)) from None
    zone_name = parsed.timezone or series.timezone
    errors: list[tuple[str, str]] = []
    start_utc = end_utc = None
    start_local = end_local = None
    start_text = end_text = ""
    try:
        start_local = times.parse_local_time(parsed.start)
        start_utc, start_text = times.read_wall_time(start_local, zone_name)
    except TimeError as exc:
        errors.append(("start", str(exc)))
    if parsed.end is None and series.duration is None:
        errors.append(("end", "Field required (or give the series a default duration)"))
    elif parsed.end is None:
        if start_utc is not None and start_local is not None:
            end_utc = start_utc + timedelta(minutes=series.duration or 0)
            end_text = times.wall_time_text(end_utc, zone_name)
            end_local = times.parse_local_time(end_text)
    else:
        try:
            day = start_local or times.parse_local_time(parsed.end)
            end_local = times.parse_clock_time(parsed.end, day)
            end_utc, end_text = times.read_wall_time(end_local, zone_name)
        except TimeError as exc:
            errors.append(("end", str(exc)))
    if start_utc and end_utc and end_utc <= start_utc:
        errors.append(("end", f"must be after the start ({parsed.start} → {parsed.end})"))
    if errors or not (start_utc and end_utc and start_local and end_local):
        raise InvalidRecord(_event_label(data, where), errors)
    meeting = Meeting(**(series.meeting or {}))
    meeting.update(_meeting(parsed.meeting) or {})
    if meeting:
        meeting.setdefault("access", "subscribers")
        _reveal_default(meeting)
    location = _location(parsed.location)
    if location is None:
        location = Location(**(series.location or {}))
    return EventRecord(
        id=parsed.id,
        title=parsed.title,
        timezone=zone_name,
        start_local=start_text,
        end_local=end_text,
        start_utc=start_utc,
        end_utc=end_utc,
        speakers=[cast(Speaker, s.model_dump(exclude_none=True)) for s in parsed.speakers],
        abstract=parsed.abstract,
        location=location,
        meeting=meeting or None,
        livestream=parsed.livestream,
        recording=parsed.recording,
        slides=parsed.slides,
        homepage=parsed.homepage,
        status=parsed.status,
        tags=parsed.tags,
        kind=parsed.kind,
        parent_id=parsed.parent,
        posters=parsed.posters,
        topics=parsed.topics,
        translations=cast(
            dict[str, TalkTranslation],
            _dump_translations(parsed.translations, series.language, _event_label(data, where))
            if parsed.translations
            else {},
        ),
    )
