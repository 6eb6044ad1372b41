"""The workspace's forms (Flask-WTF: fields, labels, CSRF) and their mapping to records.

Forms only collect text. Validation is `events.schemas` — the same path as the API and the
importer: a form becomes an input mapping (`talk_data`, `series_data`), the schema checks
it, and each (field, message) error it names is put back on the form field it came from
(`apply_errors`). The form adds only what a form needs: a DST gap answered with the
nearest valid times, and a time that happens twice asking which occurrence is meant.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    Field,
    FieldList,
    FileField,
    Form,
    FormField,
    HiddenField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]  # wtforms 3.3, newer than its stubs
from wtforms.widgets import DateInput, EmailInput, NumberInput, TimeInput, URLInput

from events import languages, times
from events.errors import NonexistentLocalTime, TimeError
from events.models import Event, Series, TalkDraft
from feeds import display
from web.i18n import current_locale
from web.messages import known

if TYPE_CHECKING:  # flask_wtf has no type hints: its FlaskForm is a wtforms.Form with these

    class FlaskForm(Form):
        """Flask-WTF's form: CSRF token field, validated on POST."""

        csrf_token: Field

        def validate_on_submit(self, extra_validators: Any = None) -> bool:
            """Return whether the request is a submission whose fields validate."""
            ...

else:
    from flask_wtf import FlaskForm

ACCESS_CHOICES = [
    SelectChoice("subscribers", _l("Subscribers only (in their emails and personal feeds)")),
    SelectChoice(
        "revealed", _l("Subscribers only, shortly before the start (reminder, personal feeds)")
    ),
    SelectChoice("public", _l("Everyone (shown on public pages and feeds)")),
    SelectChoice("hidden", _l("Nobody (kept here only)")),
]
ATTENDANCE_CHOICES = [
    SelectChoice("in_person", _l("In person")),
    SelectChoice("online", _l("Online")),
    SelectChoice("hybrid", _l("Hybrid")),
]


class SignInForm(FlaskForm):
    """Ask for a sign-in link."""

    email = StringField(_l("Email"), widget=EmailInput(), render_kw={"autocomplete": "email"})


class ConfirmForm(FlaskForm):
    """A button: confirm, publish, delete, duplicate, sign out (CSRF only)."""


class CancelForm(FlaskForm):
    """Cancel a talk, with an optional reason."""

    reason = StringField(_l("Reason (optional, shown with the talk)"))
    version = HiddenField()


class InviteForm(FlaskForm):
    """Give someone a role in a series (an invitation is a sign-in link)."""

    email = StringField(_l("Email address of the organiser"), widget=EmailInput())
    role = SelectField(
        _l("Role"),
        choices=[
            SelectChoice("editor", _l("Editor (talks)")),
            SelectChoice("owner", _l("Owner (talks, settings, people)")),
        ],
    )


class _Place:
    """Attendance, room and meeting fields shared by the series defaults and the talk form."""

    attendance = SelectField(_l("Attendance"), choices=ATTENDANCE_CHOICES, default="in_person")
    room = StringField(_l("Location"), description=_l("Room and building, or an address"))
    meeting_url = StringField(_l("Meeting link"), widget=URLInput())
    meeting_id = StringField(_l("Meeting ID"))
    meeting_passcode = StringField(_l("Passcode"))
    meeting_access = SelectField(
        _l("Who sees the meeting details"), choices=ACCESS_CHOICES, default="subscribers"
    )
    meeting_reveal = StringField(
        _l("Reveal the details this many minutes before the start"),
        widget=NumberInput(min=1, max=10080),
        description=_l("Only for “shortly before the start”; 15 when left empty."),
    )


class SeriesForm(FlaskForm, _Place):
    """A series' settings and the defaults of its new talks."""

    name = StringField(_l("Series name"))
    slug = StringField(
        _l("Slug"),
        description=_l(
            "The series' address: lower-case letters, digits and dashes. "
            "Left empty, it is made from the name."
        ),
    )
    timezone = StringField(
        _l("Timezone"),
        description=_l("An IANA zone such as Europe/Lisbon, or a label such as “Beijing time”."),
        render_kw={"list": "zone-list", "autocomplete": "off"},
    )
    language = StringField(
        _l("Language"), default="en", description=_l("A language tag: en, pt, zh…")
    )
    visibility = SelectField(
        _l("Visibility"),
        choices=[
            SelectChoice("public", _l("Public (listed on the home page and site-wide feeds)")),
            SelectChoice("unlisted", _l("Unlisted (reachable by its address only)")),
        ],
    )
    homepage = StringField(_l("Series homepage"), widget=URLInput())
    description = TextAreaField(_l("Description"), description=_l("Markdown, with $LaTeX$ maths."))
    auto_announce = BooleanField(_l("Email subscribers when a talk is published"))
    embed_origins = TextAreaField(
        _l("Sites allowed to embed this schedule"),
        description=_l(
            "One site a line, as scheme and host (and port): https://math.example.edu "
            "or https://*.example.edu for its subdomains. Left empty, any site may embed it."
        ),
        render_kw={"rows": 3, "autocomplete": "off", "spellcheck": "false"},
    )
    duration = StringField(
        _l("Default duration in minutes"),
        widget=NumberInput(min=1, max=1440),
        description=_l("A new talk lasts this long unless it gives an end time."),
    )
    announce_lead = SelectField(
        _l("Schedule each new talk's announcement"),
        choices=[
            SelectChoice("", _l("No: I announce talks myself")),
            SelectChoice("7", _l("7 days before the start")),
            SelectChoice("1", _l("1 day before the start")),
        ],
        default="",
        description=_l("Subscribers get the email then; the talk's Announce page can change it."),
    )


class SpeakerForm(Form):
    """One speaker."""

    name = StringField(_l("Speaker name"))
    affiliation = StringField(_l("Affiliation"))
    homepage = StringField(_l("Homepage"), widget=URLInput())


class TranslationForm(Form):
    """The talk's title and abstract in another language (events.languages)."""

    language = StringField(
        _l("Language"),
        description=_l("A language tag: en, pt-PT, zh-Hans…"),
        render_kw={"size": 10},
    )
    title = StringField(_l("Title in that language"))
    abstract = TextAreaField(_l("Abstract in that language"), render_kw={"rows": 4})


class TalkForm(FlaskForm, _Place):
    """A talk: who, what, when (wall time in a zone), where, links."""

    version = HiddenField()
    title = StringField(_l("Title"))
    speakers = FieldList(FormField(SpeakerForm), min_entries=1, max_entries=20)
    abstract = TextAreaField(_l("Abstract"), description=_l("Markdown, with $LaTeX$ maths."))
    # The title and abstract in other languages: the filled rows and one blank row.
    translations = FieldList(
        FormField(TranslationForm), min_entries=1, max_entries=languages.MAX_TRANSLATIONS + 1
    )
    date = StringField(_l("Date"), widget=DateInput())
    start_time = StringField(_l("Start time"), widget=TimeInput())
    end_time = StringField(_l("End time"), widget=TimeInput())
    duration = StringField(
        _l("Or duration in minutes"),
        widget=NumberInput(min=1, max=1440),
        description=_l("Used when no end time is given."),
    )
    timezone = StringField(
        _l("Timezone"),
        description=_l("The zone the speaker's wall time is in (defaults to the series' zone)."),
        render_kw={"list": "zone-list", "autocomplete": "off"},
    )
    occurrence = RadioField(
        _l("Which one?"),
        choices=[
            SelectChoice("earlier", _l("The first (earlier) one")),
            SelectChoice("later", _l("The second (later) one")),
        ],
        validate_choice=False,
    )
    tentative = BooleanField(_l("Tentative (not confirmed yet)"))
    slides = StringField(_l("Slides"), widget=URLInput())
    recording = StringField(_l("Recording (video or replay)"), widget=URLInput())
    livestream = StringField(_l("Livestream"), widget=URLInput())
    tags = StringField(_l("Tags"), description=_l("Comma-separated."))
    # Set when the chosen time happens twice: the form then asks which occurrence.
    show_occurrence = False

    def number_speakers(self) -> None:
        """Label the speakers after the first: 'Speaker 2 name', ..."""
        for index, entry in enumerate(self.speakers.entries):
            if index:
                entry.form.name.label.text = _("Speaker %(number)d name", number=index + 1)
                entry.form.affiliation.label.text = _(
                    "Speaker %(number)d affiliation", number=index + 1
                )
                entry.form.homepage.label.text = _("Speaker %(number)d homepage", number=index + 1)
        for index, row in enumerate(self.translations.entries):
            if index:
                row.form.language.label.text = _("Language %(number)d", number=index + 1)
                row.form.title.label.text = _("Title in language %(number)d", number=index + 1)
                row.form.abstract.label.text = _(
                    "Abstract in language %(number)d", number=index + 1
                )


def _text(field: Field) -> str:
    return str(field.data or "").strip()


def _optional(field: Field) -> str | None:
    return _text(field) or None


def place_data(form: SeriesForm | TalkForm) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Return the location and meeting mappings of the attendance and meeting fields."""
    location: dict[str, Any] = {}
    if _text(form.room):
        location["room"] = _text(form.room)
    if form.attendance.data in ("online", "hybrid"):
        location["online"] = True
    meeting = {
        key: _text(field)
        for key, field in (
            ("url", form.meeting_url),
            ("id", form.meeting_id),
            ("passcode", form.meeting_passcode),
        )
        if _text(field)
    }
    if meeting:
        meeting["access"] = form.meeting_access.data or "subscribers"
        if meeting["access"] == "revealed" and _text(form.meeting_reveal):
            meeting["reveal_minutes"] = _text(form.meeting_reveal)
    return location, meeting or None


def fill_place(
    form: SeriesForm | TalkForm, location: dict[str, Any] | None, meeting: dict[str, Any] | None
) -> None:
    """Show stored location and meeting values in the form."""
    location = location or {}
    online = bool(location.get("online"))
    room = location.get("room") or location.get("address") or ""
    form.attendance.data = ("hybrid" if room else "online") if online else "in_person"
    form.room.data = room
    meeting = meeting or {}
    form.meeting_url.data = meeting.get("url", "")
    form.meeting_id.data = meeting.get("id", "")
    form.meeting_passcode.data = meeting.get("passcode", "")
    form.meeting_access.data = meeting.get("access", "subscribers")
    reveal = meeting.get("reveal_minutes")
    form.meeting_reveal.data = str(reveal) if reveal else ""


def slugify(name: str) -> str:
    """Return a slug suggested by a series name."""
    out = "".join(c.lower() if c.isascii() and c.isalnum() else "-" for c in name)
    return "-".join(part for part in out.split("-") if part)[:100]


def series_data(form: SeriesForm, *, slug: str | None = None) -> dict[str, Any]:
    """Return the series form as a series input mapping (for `validate_series`)."""
    location, meeting = place_data(form)
    return {
        "slug": slug or _text(form.slug) or slugify(_text(form.name)),
        "name": _text(form.name),
        "description": form.description.data or "",
        "timezone": _text(form.timezone),
        "homepage": _optional(form.homepage),
        "language": _text(form.language) or "en",
        "visibility": form.visibility.data or "public",
        "location": location or None,
        "meeting": meeting,
        "auto_announce": bool(form.auto_announce.data),
        "embed_origins": form.embed_origins.data or "",
        "duration": _text(form.duration) or None,
        "announce_lead": _number(_text(form.announce_lead)),
    }


def _number(text: str) -> int | str | None:
    """Return a chosen number as the schema takes it (other text: for its error)."""
    return int(text) if text.isdigit() else text or None


def fill_series(form: SeriesForm, series: Series) -> None:
    """Show a stored series in the form."""
    form.name.data = series.name
    form.slug.data = series.slug
    form.timezone.data = series.timezone
    form.language.data = series.language
    form.visibility.data = series.visibility
    form.homepage.data = series.homepage or ""
    form.description.data = series.description
    form.auto_announce.data = series.auto_announce
    form.embed_origins.data = "\n".join(series.embed_origins)
    form.duration.data = str(series.duration) if series.duration else ""
    form.announce_lead.data = str(series.announce_lead or "")
    fill_place(form, dict(series.location or {}), dict(series.meeting or {}))


SERIES_FIELDS = {
    "slug": "slug",
    "name": "name",
    "description": "description",
    "timezone": "timezone",
    "homepage": "homepage",
    "language": "language",
    "visibility": "visibility",
    "embed_origins": "embed_origins",
    "location": "room",
    "meeting.url": "meeting_url",
    "meeting.id": "meeting_id",
    "meeting.passcode": "meeting_passcode",
    "meeting.reveal_minutes": "meeting_reveal",
    "meeting.access": "meeting_access",
    "meeting": "meeting_url",
    "duration": "duration",
    "announce_lead": "announce_lead",
}
TALK_FIELDS = {
    "title": "title",
    "abstract": "abstract",
    "timezone": "timezone",
    "start": "start_time",
    "end": "end_time",
    "location": "room",
    "meeting.url": "meeting_url",
    "meeting.id": "meeting_id",
    "meeting.passcode": "meeting_passcode",
    "meeting.reveal_minutes": "meeting_reveal",
    "meeting.access": "meeting_access",
    "meeting": "meeting_url",
    "slides": "slides",
    "recording": "recording",
    "livestream": "livestream",
    "tags": "tags",
    "speakers": "speakers-0-name",
}


def _field_named(form: FlaskForm, name: str) -> Field | None:
    if name.startswith(("speakers-", "translations-")):
        listed, index, part = name.split("-", 2)
        if not isinstance(form, TalkForm):
            return None
        entries = getattr(form, listed).entries
        if index.isdigit() and int(index) < len(entries):
            found: Field | None = getattr(entries[int(index)].form, part, None)
            return found
        return None
    return getattr(form, name, None)


def apply_errors(
    form: FlaskForm, errors: list[tuple[str, str]], mapping: dict[str, str]
) -> list[str]:
    """Put schema errors on their form fields; return the ones no field takes."""
    unplaced: list[str] = []
    for where, message in errors:
        parts = where.split(".")
        name: str | None = None
        if parts[0] == "speakers" and len(parts) >= 3 and parts[1].isdigit():
            name = f"speakers-{parts[1]}-{parts[2]}"
        elif parts[0] == "translations" and len(parts) >= 2 and isinstance(form, TalkForm):
            name = _translation_field(form, parts[1], parts[2] if len(parts) > 2 else "")
        else:
            for depth in (2, 1):
                name = mapping.get(".".join(parts[:depth]))
                if name:
                    break
        field = _field_named(form, name) if name else None
        if field is None:
            unplaced.append(f"{where}: {known(message)}")
        elif known(message) not in field.errors:
            field.errors = [*field.errors, known(message)]
    return unplaced


def _translation_field(form: TalkForm, tag: str, part: str) -> str | None:
    """Return the form field an error about translation `tag` (its `part`) belongs to."""
    for index, entry in enumerate(form.translations.entries):
        given = _text(entry.form.language)
        try:
            same = languages.canonical_tag(given) == tag
        except ValueError:
            same = given == tag
        if same:
            field = part if part in ("title", "abstract") else "language"
            return f"translations-{index}-{field}"
    return None


def _translations(form: TalkForm) -> dict[str, dict[str, str]]:
    """Return the filled translation rows by the language they give (blank rows left out)."""
    found: dict[str, dict[str, str]] = {}
    for entry in form.translations.entries:
        sub = entry.form
        texts = {"title": _text(sub.title), "abstract": (sub.abstract.data or "").strip()}
        if _text(sub.language) or any(texts.values()):
            found[_text(sub.language)] = {k: v for k, v in texts.items() if v}
    return found


def _when(form: TalkForm, zone: str, default: int | None = None) -> tuple[str | None, str | None]:
    """Return the start and end texts for the schema, with an offset when one was chosen.

    Puts a field error (and returns None) for a missing date or time, a time skipped by a
    DST change (with the nearest valid times) or a time that happens twice and no choice.
    """
    day, start, end = _text(form.date), _text(form.start_time), _text(form.end_time)
    if not end and not _text(form.duration) and default:
        form.duration.data = str(default)  # the series' default duration
    if not day:
        form.date.errors = [_("Enter the date of the talk.")]
    if not start:
        form.start_time.errors = [_("Enter the start time.")]
    if not end and not _text(form.duration):
        form.end_time.errors = [_("Enter the end time, or a duration in minutes.")]
    if not (day and start and (end or _text(form.duration))):
        return None, None
    try:
        zone = times.resolve_zone(zone)
    except TimeError:
        return f"{day} {start}", f"{day} {end}" if end else None  # the schema names the zone
    start_text = _wall(form, form.start_time, f"{day} {start}", zone)
    if start_text is None:
        return None, None
    if not end:
        try:
            minutes = int(_text(form.duration))
            if not 1 <= minutes <= 1440:
                raise ValueError
        except ValueError:
            form.duration.errors = [_("Enter a whole number of minutes, from 1 to 1440.")]
            return start_text, None
        instant = times.to_instant(times.parse_local_time(start_text), zone)
        return start_text, times.wall_time_text(instant + timedelta(minutes=minutes), zone)
    return start_text, _wall(form, form.end_time, f"{day} {end}", zone)


def _clock(local: times.LocalTime) -> str:
    return f"{local.hour:02d}:{local.minute:02d}"


def _wall(form: TalkForm, field: Field, text: str, zone: str) -> str | None:
    try:
        local = times.parse_local_time(text)
        times.to_instant(local, zone)
    except NonexistentLocalTime:
        nearest = ", ".join(times.wall_suggestions(local, zone))
        field.errors = [
            _(
                "%(time)s does not exist on %(date)s in %(zone)s: the clocks jump forward "
                "over it (daylight saving time starts). Nearest valid times: %(nearest)s.",
                time=_clock(local),
                date=text[:10],
                zone=zone,
                nearest=nearest,
            )
        ]
        return None
    except TimeError:
        return text  # the schema reports it
    offsets = times.ambiguous_offsets(local, zone)
    if offsets is None:
        return text
    choice = form.occurrence.data
    if choice not in ("earlier", "later"):
        earlier, later = (times.format_offset(o) for o in offsets)
        field.errors = [
            _(
                "%(time)s happens twice on %(date)s in %(zone)s (the clocks go back): choose "
                "below whether you mean the first (UTC%(earlier)s) or the second "
                "(UTC%(later)s).",
                time=_clock(local),
                date=text[:10],
                zone=zone,
                earlier=earlier,
                later=later,
            )
        ]
        form.occurrence.flags.required = True
        form.show_occurrence = True  # a template flag
        return None
    form.show_occurrence = True  # a template flag
    offset = offsets[0] if choice == "earlier" else offsets[1]
    return text + times.format_offset(offset)


def talk_data(form: TalkForm, talk_id: str, series: Series) -> dict[str, Any] | None:
    """Return the talk form as an event input mapping, or None after a date/time error."""
    zone = _text(form.timezone) or series.timezone
    start, end = _when(form, zone, series.duration)
    location, meeting = place_data(form)
    speakers = []
    for entry in form.speakers.entries:
        sub = entry.form
        if _text(sub.name) or _text(sub.affiliation) or _text(sub.homepage):
            speakers.append(
                {
                    key: value
                    for key, value in (
                        ("name", _text(sub.name)),
                        ("affiliation", _optional(sub.affiliation)),
                        ("homepage", _optional(sub.homepage)),
                    )
                    if value is not None
                }
            )
    data: dict[str, Any] = {
        "id": talk_id,
        "title": _text(form.title),
        "speakers": speakers,
        "abstract": form.abstract.data or "",
        "timezone": zone,
        "start": start or "",
        "end": end or "",
        "location": location,
        "meeting": meeting,
        "slides": _optional(form.slides),
        "recording": _optional(form.recording),
        "livestream": _optional(form.livestream),
        "status": "tentative" if form.tentative.data else "confirmed",
        "tags": _text(form.tags),
        "translations": _translations(form),
    }
    return data if start and end else None


def split_wall(text: str) -> tuple[str, str, str | None]:
    """Return (date, HH:MM, offset or None) of a stored wall time text."""
    local = times.parse_local_time(text)
    offset = times.format_offset(local.offset) if local.offset is not None else None
    return (
        f"{local.year:04d}-{local.month:02d}-{local.day:02d}",
        f"{local.hour:02d}:{local.minute:02d}",
        offset,
    )


def fill_talk(form: TalkForm, data: dict[str, Any], series: Series) -> None:
    """Show a talk input mapping (stored draft or published talk) in the form."""
    form.title.data = data.get("title", "")
    speakers = data.get("speakers") or [{}]
    while len(form.speakers.entries) < len(speakers):
        form.speakers.append_entry()
    for entry, speaker in zip(form.speakers.entries, speakers, strict=False):
        entry.form.name.data = speaker.get("name", "")
        entry.form.affiliation.data = speaker.get("affiliation", "")
        entry.form.homepage.data = speaker.get("homepage", "")
    form.abstract.data = data.get("abstract", "")
    translations = data.get("translations") or {}
    if isinstance(translations, dict):
        rows = list(translations.items())
        while len(form.translations.entries) < len(rows) + 1:
            form.translations.append_entry()
        for row, (tag, text) in zip(form.translations.entries, rows, strict=False):
            row.form.language.data = tag
            row.form.title.data = text.get("title", "")
            row.form.abstract.data = text.get("abstract", "")
    zone = data.get("timezone") or series.timezone
    form.timezone.data = zone
    if data.get("start"):
        day, start, offset = split_wall(str(data["start"]))
        form.date.data, form.start_time.data = day, start
        local = times.parse_local_time(str(data["start"]))
        offsets = times.ambiguous_offsets(local, zone)
        if offsets is not None:
            chosen = local.offset if local.offset is not None else offsets[0]
            form.occurrence.data = "earlier" if chosen == offsets[0] else "later"
            form.show_occurrence = True  # a template flag
        del offset
    if data.get("end"):
        form.end_time.data = split_wall(str(data["end"]))[1]
    fill_place(form, data.get("location"), data.get("meeting"))
    for key in ("slides", "recording", "livestream"):
        getattr(form, key).data = data.get(key) or ""
    form.tentative.data = data.get("status") == "tentative"
    tags = data.get("tags") or []
    form.tags.data = ", ".join(tags) if isinstance(tags, list) else str(tags)


def defaults_for(form: TalkForm, series: Series) -> None:
    """Fill a new talk's form with the series' defaults."""
    form.timezone.data = series.timezone
    form.duration.data = str(series.duration) if series.duration else ""
    fill_place(form, dict(series.location or {}), dict(series.meeting or {}))


def compare(mine: dict[str, Any], theirs: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Return (field, mine, theirs) for each field two talk versions disagree on."""
    labels = {
        "title": _("Title"),
        "speakers": _("Speakers"),
        "abstract": _("Abstract"),
        "timezone": _("Timezone"),
        "start": _("Start"),
        "end": _("End"),
        "location": _("Location"),
        "meeting": _("Meeting"),
        "slides": _("Slides"),
        "recording": _("Recording"),
        "livestream": _("Livestream"),
        "status": _("Status"),
        "tags": _("Tags"),
        "translations": _("Other languages"),
    }

    def shown(key: str, value: Any) -> str:
        if key == "speakers":
            return "; ".join(", ".join(str(v) for v in s.values() if v) for s in (value or []))
        if key == "tags" and isinstance(value, list):
            return ", ".join(value)
        if isinstance(value, dict):
            return ", ".join(f"{k}: {v}" for k, v in value.items() if v not in (None, ""))
        return "" if value is None else str(value)

    rows = []
    for key, label in labels.items():
        a, b = shown(key, mine.get(key)), shown(key, theirs.get(key))
        if key in ("start", "end"):
            a, b = a.replace("T", " "), b.replace("T", " ")
        if a != b:
            rows.append((label, a, b))
    return rows


def talk_title(talk: Event | TalkDraft) -> str:
    """Return a talk's title (a draft keeps it in its input)."""
    return str(talk.data.get("title", "")) if isinstance(talk, TalkDraft) else talk.title


def when_text(talk: Event | TalkDraft, zone: str) -> str:
    """Return the talk's start in a zone, for lists."""
    return instant_text(talk.start_utc, zone)


def instant_text(start: datetime, zone: str) -> str:
    """Return an instant in a zone, in the page's language: 'Sat 04 Dec 2027, 09:30 UTC+00:00'."""
    locale = current_locale()
    shown = display.day_time(display.day(start, zone, locale), display.clock(start, zone), locale)
    return f"{shown} {times.utc_offset_label(start, zone)}"


def utc_text(instant: datetime, *, with_time: bool = True) -> str:
    """Return a UTC instant in the page's language: 'Sat 13 Mar 2027, 01:30 UTC'."""
    locale = current_locale()
    shown = display.day(instant, "UTC", locale)
    if with_time:
        shown = display.day_time(shown, display.clock(instant, "UTC"), locale)
    return f"{shown} UTC"


class ImportUploadForm(FlaskForm):
    """Upload a YAML, JSON, CSV or .ics file into a series, for a preview."""

    file = FileField(
        _l("File"),
        description=_l(
            "YAML, JSON, CSV or iCalendar (.ics). Talks that name no series go into this one. "
            "Nothing is saved until you apply the preview."
        ),
    )


class ImportApplyForm(FlaskForm):
    """Apply a previewed import; cancelling missing talks is an explicit choice."""

    cancel_missing = BooleanField(_l("Cancel the upcoming talks that the file does not list"))


class TokenForm(FlaskForm):
    """Create an API token for one series you own, or for all of them."""

    label = StringField(_l("Label (what the token is for)"))
    series = SelectField(_l("Series"), choices=[])
    access = SelectField(
        _l("Access"),
        choices=[
            SelectChoice("read-write", _l("Read and write")),
            SelectChoice("read", _l("Read only")),
        ],
        default="read-write",
    )
