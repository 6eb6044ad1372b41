"""Benchmark of search at scale (issue 19): p50 of a search with 100,000 talks vs 1,000.

    .venv/bin/python benchmarks/search.py [--quick] [--repeats N] [--out DIR]

Builds two throwaway SQLite databases through the migrations, one with 1,000 talks and one
with 100,000 (10 and 1,000 series of 100 talks, two years of history, a few weeks ahead),
inserted in bulk with their index rows (`events.search.texts`, what the store writes). With
EVENTFEED_BENCH_DATABASE_URL set (PostgreSQL), the same two data sets go into its schemas
`search_small` and `search_big` (dropped first) and are measured too.

Talk texts mix English, accented French and Chinese words; each speaker gives about 20
talks whatever the size. Two kinds of query, each run the two databases taking turns (so
both see the same background load), upcoming talks then past ones:

s. selective queries: a speaker's surname, a speaker's full name, a rare Chinese phrase, an
   accented rare word: they match about the same number of talks at both sizes. Target: p50
   at 100k within 3× of 1k (the trigram index finds the candidates; nothing scans).
b. broad queries: a word in 1 % of the talks (so 100× more matches at 100k): every match is
   ranked, so this grows with the number of matches. Reported, no target.

Results go to benchmarks/results/search-<time>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, create_engine, insert, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from events import search  # noqa: E402
from events.db import Base, make_engine, migrate  # noqa: E402
from events.models import Event, SearchDoc, Series  # noqa: E402
from events.times import wall_time_text  # noqa: E402

NOW = datetime(2026, 6, 1, tzinfo=UTC)
TALKS_PER_SERIES = 100
TALKS_PER_SPEAKER = 20
WORDS = [
    "learning",
    "operators",
    "equations",
    "manifolds",
    "stochastic",
    "geometry",
    "spectral",
    "graphs",
    "optimisation",
    "inference",
    "topology",
    "dynamics",
    "quantum",
    "algebra",
    "networks",
    "sampling",
]
ACCENTED = [
    "équations",
    "dérivées",
    "élasticité",
    "théorème",
    "mécanique",
    "fluides",
    "probabilités",
]
CHINESE = ["机器学习", "偏微分方程", "冷冻电镜", "蛋白质结构", "数值分析", "随机过程", "图神经网络"]
FIRST = [
    "Ana",
    "José",
    "Maria",
    "João",
    "Wei",
    "Li",
    "Chen",
    "Sofia",
    "Pedro",
    "Inês",
    "Zoë",
    "Lars",
]


def talk_rows(count: int) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """Yield (event row, index row) pairs: two years of history and a few weeks ahead."""
    rng = random.Random(count)
    start0 = NOW - timedelta(days=730)
    span = 760 * 24
    for k in range(count):
        series_id = k // TALKS_PER_SERIES + 1
        start = start0 + timedelta(hours=rng.randrange(span))
        end = start + timedelta(hours=1)
        speaker_no = k // TALKS_PER_SPEAKER
        speaker = {
            "name": f"{FIRST[speaker_no % len(FIRST)]} Surname{speaker_no}x",
            "affiliation": f"Université {speaker_no % 97}",
        }
        words = rng.sample(WORDS, 3)
        title = f"{words[0].title()} {rng.choice(ACCENTED)} and {words[1]} {rng.choice(CHINESE)}"
        if k % 100 == 7:
            title += " omnibus"  # the broad word: 1 % of the talks
        if k % 500 == 3:
            title += f" 罕见短语{k % 2000}"  # a rare phrase: the same few talks at both sizes
        abstract = f"We study {words[2]} with {' '.join(rng.sample(WORDS, 6))}. " * 4
        event = {
            "id": f"talk-{k}",
            "series_id": series_id,
            "title": title,
            "speakers": [speaker],
            "abstract": abstract,
            "timezone": "UTC",
            "start_local": wall_time_text(start, "UTC"),
            "end_local": wall_time_text(end, "UTC"),
            "start_utc": start,
            "end_utc": end,
            "location": {},
            "meeting": None,
            "livestream": None,
            "recording": None,
            "slides": None,
            "homepage": None,
            "status": "confirmed",
            "tags": [words[0]],
            "sequence": 0,
            "created_at": NOW,
            "updated_at": NOW,
        }
        doc = {
            "event_id": event["id"],
            "series_id": series_id,
            "start_utc": start,
            "end_utc": end,
            **search.texts(
                title=title,
                speakers=[speaker],  # type: ignore[list-item]  # a Speaker-shaped dict
                abstract=abstract,
                tags=[words[0]],
                series_name=f"Seminar {series_id}",
                series_description="Talks on mathematics.",
            ),
        }
        yield event, doc


def fill(engine: Engine, talks: int) -> None:
    """Insert the series, their talks and the talks' index rows in bulk."""
    series = [
        {
            "id": n,
            "slug": f"seminar-{n}",
            "name": f"Seminar {n}",
            "description": "Talks on mathematics.",
            "timezone": "UTC",
            "homepage": None,
            "organisers": [],
            "language": "en",
            "visibility": "public",
            "location": None,
            "meeting": None,
            "auto_announce": False,
            "created_at": NOW,
            "updated_at": NOW,
        }
        for n in range(1, talks // TALKS_PER_SERIES + 1)
    ]
    with engine.begin() as conn:
        conn.execute(insert(Series), series)
        batch: list[tuple[dict[str, Any], dict[str, Any]]] = []
        for pair in talk_rows(talks):
            batch.append(pair)
            if len(batch) == 5000:
                conn.execute(insert(Event), [e for e, _ in batch])
                conn.execute(insert(SearchDoc), [d for _, d in batch])
                batch = []
        if batch:
            conn.execute(insert(Event), [e for e, _ in batch])
            conn.execute(insert(SearchDoc), [d for _, d in batch])
        if engine.dialect.name == "postgresql":
            conn.execute(text("ANALYZE"))


SELECTIVE = ["surname3x", "ana surname12x", "罕见短语3", "université 5 surname40x"]
BROAD = ["omnibus"]


def measure(engines: dict[str, Engine], queries: list[str], repeats: int) -> dict[str, float]:
    """Return each database's p50 (ms) over every query, upcoming and past, taking turns."""
    samples: dict[str, list[float]] = {name: [] for name in engines}
    for _ in range(repeats):
        for query in queries:
            for past in (False, True):
                for name, engine in engines.items():
                    with Session(engine) as session:
                        began = time.perf_counter()
                        search.search(session, query, NOW, past=past, size=20)
                        samples[name].append(time.perf_counter() - began)
    return {name: 1000 * statistics.median(values) for name, values in samples.items()}


PG_TRIGRAM_INDEX = (
    "CREATE INDEX ix_search_doc_body_trgm ON search_doc USING gin (body public.gin_trgm_ops)"
)


def pg_engine(url: str, schema: str) -> Engine:
    """Return an engine on `schema` of the PostgreSQL database (dropped and recreated)."""
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public"))
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    admin.dispose()
    return create_engine(url, connect_args={"options": f"-csearch_path={schema}"})


def run(backend: str, make: Callable[[str], Engine], sizes: tuple[int, int], repeats: int) -> Any:
    """Build both databases on a backend, measure, and return its figures."""
    engines: dict[str, Engine] = {}
    for label, talks in zip(("small", "big"), sizes, strict=True):
        engine = make(label)
        if engine.dialect.name == "postgresql":
            # A schema of its own (the extension stays in public): the tables come from the
            # models, the trigram index as the migration makes it.
            Base.metadata.create_all(engine)
            with engine.begin() as conn:
                conn.execute(text(PG_TRIGRAM_INDEX))
        else:
            migrate(engine)
        began = time.perf_counter()
        fill(engine, talks)
        print(f"{backend}: {talks:,} talks inserted in {time.perf_counter() - began:.1f} s")
        engines[label] = engine
    measure(engines, SELECTIVE[:1], 1)  # warm caches
    selective = measure(engines, SELECTIVE, repeats)
    broad = measure(engines, BROAD, repeats)
    for engine in engines.values():
        engine.dispose()
    ratio = selective["big"] / selective["small"]
    return {
        "selective_ms": selective,
        "broad_ms": broad,
        "selective_ratio": ratio,
        "broad_ratio": broad["big"] / broad["small"],
        "ok": ratio <= 3,
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exit 1 when the selective ratio misses its target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 vs 2,000 talks (smoke run)")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args(argv)
    sizes = (200, 2_000) if args.quick else (1_000, 100_000)
    results: dict[str, Any] = {"sizes": sizes, "backends": {}}
    with tempfile.TemporaryDirectory() as workdir:
        results["backends"]["sqlite"] = run(
            "sqlite",
            lambda label: make_engine(f"sqlite:///{workdir}/{label}.sqlite3"),
            sizes,
            args.repeats,
        )
    url = os.environ.get("EVENTFEED_BENCH_DATABASE_URL")
    if url:
        results["backends"]["postgresql"] = run(
            "postgresql", lambda label: pg_engine(url, f"search_{label}"), sizes, args.repeats
        )
    print(f"\n| backend | query | {sizes[0]:,} talks p50 | {sizes[1]:,} talks p50 | ratio |")
    print("|---|---|---|---|---|")
    for backend, figures in results["backends"].items():
        for kind in ("selective", "broad"):
            ms = figures[f"{kind}_ms"]
            print(
                f"| {backend} | {kind} | {ms['small']:.2f} ms | {ms['big']:.2f} ms "
                f"| {figures[f'{kind}_ratio']:.2f}× |"
            )
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    name = f"search-{'quick-' if args.quick else ''}{stamp}.json"
    (args.out / name).write_text(json.dumps(results, indent=2))
    return 0 if all(f["ok"] for f in results["backends"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
