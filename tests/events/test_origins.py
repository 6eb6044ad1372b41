"""The per-series embed allow-list: origins are checked, normalised and named in errors."""

from __future__ import annotations

import pytest

from events.errors import InvalidRecord
from events.origins import frame_ancestors, parse_origin
from events.schemas import validate_series

BASE = {"slug": "pde", "name": "PDE seminar", "timezone": "Europe/Lisbon"}


@pytest.mark.parametrize(
    ("entry", "origin"),
    [
        ("https://math.example.edu", "https://math.example.edu"),
        ("HTTPS://Math.Example.EDU/", "https://math.example.edu"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("https://[::1]:8443", "https://[::1]:8443"),
        ("https://*.example.edu", "https://*.example.edu"),
        ("https://matemática.ulisboa.pt", "https://xn--matemtica-41a.ulisboa.pt"),
        ("  https://dept.example.org  ", "https://dept.example.org"),
    ],
)
def test_good_origins_are_normalised(entry: str, origin: str) -> None:
    assert parse_origin(entry) == origin


@pytest.mark.parametrize(
    ("entry", "says"),
    [
        ("math.example.edu", "start with https:// or http://"),
        ("ftp://math.example.edu", "only https:// and http://"),
        ("javascript://x", "only https:// and http://"),
        ("https://math.example.edu/seminar", "no path"),
        ("https://math.example.edu?x=1", "no path"),
        ("https://user@math.example.edu", "no path, query or user name"),
        ("https://*", "a wildcard only as"),
        ("*", "start with https://"),
        ("https://math.*.edu", "a wildcard only as '*.' before a domain"),
        ("https://*.edu", "not a valid host name"),
        ("https://exa mple.org", "one origin per entry"),
        ("https://example.org 'unsafe-inline'", "one origin per entry"),
        ("https://example.org;script-src *", "one origin per entry"),
        ("https://example.org:99999", "port must be a number"),
        ("https://example.org:", "port must be a number"),
        ("https://-bad-.org", "not a valid host name"),
        ("https://", "no host name"),
    ],
)
def test_bad_origins_are_refused_with_a_reason(entry: str, says: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_origin(entry)
    assert says in str(caught.value), str(caught.value)


def test_series_field_reads_a_list_or_lines_and_names_the_bad_entry() -> None:
    record = validate_series(
        {**BASE, "embed_origins": "https://a.example.org\nhttps://A.example.org/, http://b.org"}
    )
    assert record.embed_origins == ["https://a.example.org", "http://b.org"]
    assert validate_series(BASE).embed_origins == []
    with pytest.raises(InvalidRecord) as caught:
        validate_series({**BASE, "embed_origins": ["https://ok.org", "https://ok.org/path"]})
    [(where, message)] = caught.value.errors
    assert where == "embed_origins.1" and "'https://ok.org/path'" in message
    with pytest.raises(InvalidRecord) as caught:
        validate_series({**BASE, "embed_origins": [f"https://s{n}.org" for n in range(21)]})
    assert caught.value.errors[0][0] == "embed_origins"


def test_frame_ancestors_default_is_any_site() -> None:
    assert frame_ancestors([]) == "*"
    assert frame_ancestors(["https://a.org", "http://b.org:81"]) == "https://a.org http://b.org:81"
