"""Interface languages: English, European Portuguese and Simplified Chinese (Flask-Babel).

**Which language a page speaks.** `?lang=` (remembered in the `lang` cookie for a year),
else the `lang` cookie, else the browser's `Accept-Language`, else English. Every page carries
a switcher (plain links with `?lang=`, so it works without JavaScript) and `<html lang>`.
Pages vary with the cookie and with `Accept-Language`.

**Catalogs.** `web/translations/messages.pot` is extracted with pybabel (babel.cfg); the
`pt_PT` and `zh_Hans` catalogs are `.po` files in git. The binary `.mo` files are not in git:
`compile_catalogs` (called by create_app) compiles a catalog when its `.mo` is missing or
older than its `.po`, writing atomically, so the README's two commands still suffice.

Talks' own texts (titles, abstracts) stay in the language they were written in (`lang` of
the series); only the interface around them is translated.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from flask import Flask, Response, g, has_request_context, request
from flask_babel import Babel, get_locale

from feeds import i18n as feeds_i18n

TRANSLATIONS = Path(__file__).resolve().parent / "translations"
LANG_COOKIE = "lang"
LANG_COOKIE_MAX_AGE = 365 * 24 * 3600


@dataclass(frozen=True)
class Language:
    """One interface language: Babel's locale, the BCP 47 tag and its own name."""

    locale: str
    tag: str
    name: str


LANGUAGES = (
    Language("en", "en", "English"),
    Language("pt_PT", "pt-PT", "Português"),
    Language("zh_Hans", "zh-Hans", "中文"),
)
DEFAULT = LANGUAGES[0]

# What people and browsers write, lowercased with '-' → the interface language.
ALIASES = {
    "en": "en",
    "pt": "pt_PT",
    "pt-pt": "pt_PT",
    "pt-br": "pt_PT",
    "zh": "zh_Hans",
    "zh-hans": "zh_Hans",
    "zh-cn": "zh_Hans",
    "zh-sg": "zh_Hans",
    "zh-hans-cn": "zh_Hans",
    # Traditional Chinese is not offered: its readers get Simplified Chinese, not English.
    "zh-hant": "zh_Hans",
    "zh-tw": "zh_Hans",
    "zh-hk": "zh_Hans",
    "zh-mo": "zh_Hans",
    "zh-hant-tw": "zh_Hans",
    "zh-hant-hk": "zh_Hans",
}
_BY_LOCALE = {lang.locale: lang for lang in LANGUAGES}


def parse_language(value: str | None) -> Language | None:
    """Return the interface language a `?lang=` value, cookie or tag names, else None.

    'pt', 'pt-PT', 'pt_PT' → Portuguese; 'zh', 'zh-Hans', 'zh-CN', 'zh_Hans' → Chinese, and
    so do 'zh-TW', 'zh-Hant', 'zh-HK' (any other 'zh-…': the fallback is Simplified Chinese);
    'en', 'en-GB' → English.
    """
    if not value:
        return None
    key = value.strip().replace("_", "-").lower()[:20]
    if key in ALIASES:
        return _BY_LOCALE[ALIASES[key]]
    primary = key.split("-", 1)[0]
    if primary == "en":
        return DEFAULT
    if primary == "zh":
        return _BY_LOCALE["zh_Hans"]
    return None


def select_language() -> Language:
    """Return this request's interface language: ?lang=, then the cookie, then Accept-Language."""
    if "language" in g:
        found: Language = g.language
        return found
    asked = parse_language(request.args.get("lang"))
    g.lang_from_param = asked is not None
    chosen = asked or parse_language(request.cookies.get(LANG_COOKIE))
    if chosen is None:
        for tag, _quality in request.accept_languages:
            chosen = parse_language(tag)
            if chosen is not None:
                break
    language = chosen or DEFAULT
    g.language = language
    return language


def select_locale() -> str:
    """Flask-Babel's locale selector."""
    return select_language().locale


def current_locale() -> str:
    """Return the page's Babel locale ('en', 'pt_PT', 'zh_Hans'); 'en' outside requests."""
    locale = get_locale()
    return str(locale) if locale is not None else DEFAULT.locale


def language_url(language: Language) -> str:
    """Return this page's URL in another language (other query arguments kept)."""
    args = [(k, v) for k, v in request.args.items(multi=True) if k != "lang"]
    args.append(("lang", language.tag))
    return f"{request.path}?{urlencode(args)}"


def _remember_language(response: Response) -> Response:
    if g.get("lang_from_param") and "language" in g:
        response.set_cookie(
            LANG_COOKIE,
            g.language.tag,
            max_age=LANG_COOKIE_MAX_AGE,
            samesite="Lax",
            httponly=True,
        )
    if "language" in g:
        response.vary.add("Cookie")
        response.vary.add("Accept-Language")
    return response


def compile_catalogs(directory: Path = TRANSLATIONS) -> list[Path]:
    """Compile each `<locale>/LC_MESSAGES/messages.po` whose `.mo` is missing or older.

    As the feeds domain does (feeds.i18n.compile_catalogs: a temporary file renamed, a
    read-only install keeps what it has). Returns the catalogs compiled.
    """
    return feeds_i18n.compile_catalogs(directory, "messages")


def init_app(app: Flask) -> None:
    """Compile the catalogs when needed, install Flask-Babel and the language switcher."""
    compile_catalogs()
    Babel(
        app,
        locale_selector=select_locale,
        default_translation_directories=str(TRANSLATIONS),
        default_timezone="UTC",
    )
    app.after_request(_remember_language)

    @app.context_processor
    def _languages() -> dict[str, object]:
        if not has_request_context():
            return {}
        return {
            "ui_language": select_language(),
            "ui_languages": LANGUAGES,
            "language_url": language_url,
        }
