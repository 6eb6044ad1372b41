"""Property test: random zones and local wall times (weighted toward DST gaps and overlaps)
go in through the editor API and come out of the series' iCalendar feed, as read by the
strict `ical` package and by icalendar, at the instant zoneinfo gives.

Derandomised and bounded (a fixed set of examples on every run), like tests/test_api_fuzz.py,
whose app fixture (rate limits off), DST helpers and seeding this module reuses.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import pytz
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.apiutil import bearer
from tests.support.parsers import Parsed, icalendar_events, strict_ical
from tests.web.test_api_fuzz import API, _gap, _transition_near, app, dst_client  # noqa: F401

EXAMPLES = 100
# Past years (zones that have since dropped or changed DST), this year's and future rules.
YEAR_LIST = [2005, 2011, 2016, 2024, 2026, 2031]
YEARS = st.sampled_from(YEAR_LIST)
# Minutes from the last quarter hour before an offset change: covers 1 h and 30 min gaps and
# overlaps on both sides, plus ordinary times around them.
SHIFTS = st.integers(-8, 9).map(lambda quarters: 15 * quarters)
DURATIONS = st.sampled_from([15, 30, 45, 60, 90, 120, 180])


@cache
def transitions(zone_name: str, year: int) -> tuple[tuple[datetime, int], ...]:
    """Return (wall time a quarter hour before, offset change in minutes) per change in year."""
    zone = ZoneInfo(zone_name)
    found: list[tuple[datetime, int]] = []
    moment = datetime(year, 1, 1, tzinfo=UTC)
    while moment.year == year:
        before = _transition_near(moment, zone)
        if before is None:
            moment += timedelta(days=60)
            continue
        instant = before.astimezone(UTC)
        after = (instant + timedelta(hours=1)).astimezone(zone)
        change = after.utcoffset() - before.utcoffset()  # type: ignore[operator]
        if instant.year == year:
            found.append((before.replace(tzinfo=None), int(change.total_seconds()) // 60))
        moment = instant + timedelta(hours=12)
    return tuple(found)


def _zone_strategy() -> st.SearchStrategy[str]:
    """Zones with an offset change in one of the years five times out of six, else any zone."""
    names = sorted(pytz.common_timezones)
    random.Random(7).shuffle(names)  # so the simplest draws are not all Africa/...
    changing = [z for z in names if any(transitions(z, year) for year in YEAR_LIST)]
    return st.one_of(*[st.sampled_from(changing)] * 5, st.sampled_from(names))


ZONES = _zone_strategy()


@st.composite
def wall_times(draw: st.DrawFn, zone_name: str) -> tuple[datetime, int]:
    """Draw a local start and a duration in minutes, most of them at a DST change."""
    year = draw(YEARS)
    changes = transitions(zone_name, year)
    kind = draw(st.sampled_from(["inside", "around", "anywhere"]))
    if changes and kind != "anywhere":
        before, change = draw(st.sampled_from(changes))
        quarters = max(1, abs(change) // 15)
        if kind == "around":
            shift = draw(SHIFTS)
        elif change > 0:  # clocks jump forward: the wall times just after `before` are skipped
            shift = 15 * draw(st.integers(1, quarters))
        else:  # clocks go back: the wall times up to `before` happen twice
            shift = -15 * draw(st.integers(0, quarters - 1))
        local = before + timedelta(minutes=shift)
    else:
        day = draw(st.integers(0, 364))
        local = datetime(year, 1, 1) + timedelta(days=day, minutes=15 * draw(st.integers(0, 95)))  # noqa: DTZ001
    return local, draw(DURATIONS)


def _by_id(events: list[Parsed]) -> dict[str, tuple[datetime, datetime]]:
    return {e.uid.split("@")[0]: (e.start, e.end) for e in events}


def test_random_local_times_reach_the_ical_feed_at_zoneinfos_instant(
    dst_client: tuple[FlaskClient, str],  # noqa: F811
) -> None:
    client, token = dst_client
    counter = iter(range(10**9))
    outcomes = {"created": 0, "gap": 0, "ambiguous": 0}
    zones: set[str] = set()

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(data=st.data(), zone_name=ZONES, count=st.integers(1, 3))
    def run(data: st.DataObject, zone_name: str, count: int) -> None:
        zone = ZoneInfo(zone_name)
        slug = f"p{next(counter)}"
        series = {"slug": slug, "name": f"Zone {zone_name}", "timezone": zone_name}
        made = client.post(f"{API}/series", json=series, headers=bearer(token))
        assert made.status_code == 201, made.get_json()
        expected: dict[str, tuple[datetime, datetime]] = {}
        refused: set[str] = set()
        for n in range(count):
            local, minutes = data.draw(wall_times(zone_name), label=f"talk {n}")
            end = local + timedelta(minutes=minutes)
            talk = {
                "id": f"{slug}-{n}",
                "title": "DST property",
                "timezone": zone_name,
                "start": local.strftime("%Y-%m-%d %H:%M"),
                "end": end.strftime("%Y-%m-%d %H:%M"),
            }
            answer = client.post(f"{API}/series/{slug}/events", json=talk, headers=bearer(token))
            if _gap(local, zone) or _gap(end, zone):
                assert answer.status_code == 422, (talk, answer.get_json())
                assert "does not exist" in json.dumps(answer.get_json()), answer.get_json()
                refused.add(talk["id"])
                outcomes["gap"] += 1
                continue
            assert answer.status_code == 201, (talk, answer.get_json())
            # fold=0: an ambiguous wall time is its first occurrence (RFC 5545 §3.3.5).
            aware = local.replace(tzinfo=zone)
            start_utc, end_utc = aware.astimezone(UTC), end.replace(tzinfo=zone).astimezone(UTC)
            if local.replace(tzinfo=zone, fold=1).utcoffset() != aware.utcoffset():
                outcomes["ambiguous"] += 1
            expected[talk["id"]] = (start_utc, end_utc)
            outcomes["created"] += 1
        feed = client.get(f"/series/{slug}.ics")
        assert feed.status_code == 200
        assert feed.mimetype == "text/calendar"
        body = feed.get_data()
        for parser, parse in (("ical", strict_ical), ("icalendar", icalendar_events)):
            seen = _by_id(parse(body))
            assert seen == expected, (parser, zone_name, body.decode())
            assert not refused & seen.keys(), (parser, refused)
        zones.add(zone_name)

    run()
    print(outcomes, "zones:", len(zones))
    assert outcomes["created"] > 100
    assert outcomes["gap"] > 10
    assert outcomes["ambiguous"] > 10
