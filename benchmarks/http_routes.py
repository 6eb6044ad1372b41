"""HTTP benchmark of every public GET (issue 21), and the worker soak test (issue 14 item 3a).

(Not `benchmarks/http.py`: run as a script, a module of that name in this folder would
shadow the standard library's `http` package for every benchmark script here.)

    .venv/bin/pip install -e '.[bench]' && apt-get install wrk nginx
    .venv/bin/python benchmarks/http_routes.py [--pg URL] [--quick] [--seconds 3]
    .venv/bin/python benchmarks/http_routes.py --soak [--pg URL] [--seconds 60]
    .venv/bin/python benchmarks/http_routes.py --nginx-only [--quick] [--rounds 3]

Builds a throwaway SQLite database (and PostgreSQL with `--pg`; that database's `public`
schema is dropped) with 1,000 talks (one series of 1,000 among 200 series), measures, then
adds talks in bulk up to 100,000 and measures again. Each time it starts gunicorn as the
README documents it (`--workers 4 --preload`, the repository's gunicorn.conf.py) and runs
wrk (keep-alive as far as the server allows; a Lua script prints p50/p99 as JSON) on each
route for `--seconds`. Two floors are measured in the same run with the same 1,000-talk
series .ics bytes: a trivial Flask app answering them under the same gunicorn settings,
and nginx serving them as a static file. It prints, per route, req/s, p50, p99, the ratio
to both floors (at 1k talks) and p50(100k)/p50(1k), and the largest worker's PSS.

Repeats through nginx's cache (deploy/nginx-eventfeed.conf in front of the app's gunicorn)
are compared with nginx serving the same bytes as static files in the same nginx process
(same workers, same http-level settings: Debian's `sendfile on; tcp_nopush on;`, those of
the /etc/nginx/nginx.conf that includes the deploy file), and with a second static server
with `sendfile off` (nginx's default). The runs alternate (static, static sendfile off,
cache) for `--rounds` rounds at each `--connections` count, every cache run checked to
have been answered from a fresh entry (a HIT before and after, within the app's max-age);
it prints each one's median req/s (min-max), p50, p99, the median of the per-round
ratios to both static servers, and nginx's CPU per answer (its workers' user + system time
over the answers: steadier than req/s when other jobs share the cores). `--nginx-only`
measures only that, on a 1,000-talk series (838 KB .ics; 100 talks, 83 KB, with
`--quick`).

`--soak`: gunicorn `--workers 4 --preload` at 100,000 talks (SQLite, and PostgreSQL with
`--pg`), four wrk clients at once on `/`, `/calendar.ics`, `/feed.rss` and a personal
feed; it counts worker deaths in gunicorn's log (SIGSEGV, exited, timeouts) and 5xx
answers, and exits 1 unless both are zero.

Progress goes to stderr on a terminal only; results go to stdout and benchmarks/results/.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402
from sqlalchemy import insert, text  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402

from benchmarks.feeds import (  # noqa: E402
    BASE_URL,
    BIG,
    Sizes,
    free_port,
    insert_rest,
    insert_series,
)
from events.db import make_engine, migrate  # noqa: E402
from events.models import Subscriber, Subscription  # noqa: E402

TOKEN = "bench-personal-token-0000000000000000"
FOLLOWED = 20  # series the personal feed follows
WORKERS = 4

# wrk calls done() once at the end: one JSON line on stdout.
LUA = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, '
    .. '"socket_errors": %d, "bad_status": %d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status))
end
"""

FLOOR_APP = """
from pathlib import Path
from flask import Flask, Response

BODY = Path(__file__).with_name("static").joinpath("floor.ics").read_bytes()
app = Flask(__name__)


@app.get("/floor.ics")
def floor():
    return Response(BODY, content_type="text/calendar; charset=utf-8")
"""

# The start of both nginx configurations: a foreground nginx writing only below {d}.
NGINX_HEAD = """
user root;
daemon off;
worker_processes auto;
pid {d}/nginx.pid;
error_log {d}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {d}/nginx-body;
    proxy_temp_path {d}/nginx-proxy;
    fastcgi_temp_path {d}/nginx-fastcgi;
    uwsgi_temp_path {d}/nginx-uwsgi;
    scgi_temp_path {d}/nginx-scgi;
    keepalive_requests 100000;
    # Debian's /etc/nginx/nginx.conf sets these (its http block includes the deploy file).
    sendfile on;
    tcp_nopush on;
"""

NGINX_CONF = (
    NGINX_HEAD
    + """    types {{ text/calendar ics; }}
    server {{
        listen 127.0.0.1:{port};
        root {d}/static;
    }}
}}
"""
)


@dataclass(frozen=True)
class Route:
    """One GET to measure."""

    name: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    quick: bool = False


def routes(talk: str, etags: dict[str, str]) -> list[Route]:
    """Return every public GET (with the ETags for the conditional ones)."""
    return [
        Route("series .ics", f"/series/{BIG}.ics", quick=True),
        Route("series .rss", f"/series/{BIG}.rss"),
        Route("series .atom", f"/series/{BIG}.atom"),
        Route("series .json", f"/series/{BIG}.json"),
        Route("talk .ics", f"/events/{talk}.ics"),
        Route("site calendar.ics", "/calendar.ics"),
        Route("site feed.rss", "/feed.rss"),
        Route("site feed.atom", "/feed.atom"),
        Route("site feed.json", "/feed.json"),
        Route(f"personal .ics ({FOLLOWED} series)", f"/s/{TOKEN}.ics", quick=True),
        Route(f"personal .rss ({FOLLOWED} series)", f"/s/{TOKEN}.rss"),
        Route("home page /", "/"),
        Route("series page", f"/series/{BIG}"),
        Route("talk page", f"/events/{talk}"),
        Route("API list /api/v1/events", "/api/v1/events"),
        Route(
            "304 series .ics",
            f"/series/{BIG}.ics",
            {"If-None-Match": etags[f"/series/{BIG}.ics"]},
            quick=True,
        ),
        Route("304 calendar.ics", "/calendar.ics", {"If-None-Match": etags["/calendar.ics"]}),
        Route("304 personal .ics", f"/s/{TOKEN}.ics", {"If-None-Match": etags[f"/s/{TOKEN}.ics"]}),
        Route("/healthz", "/healthz", quick=True),
    ]


class Progress:
    """One status line on stderr when it is a terminal; nothing otherwise."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()

    def say(self, message: str) -> None:
        """Show what runs now."""
        if self.tty:
            sys.stderr.write(f"\r\033[K{message}")
            sys.stderr.flush()

    def clear(self) -> None:
        """Erase the status line."""
        self.say("")


PROGRESS = Progress()


# -- servers ---------------------------------------------------------------------------------


def _wait_http(port: int, path: str, deadline_s: float = 90) -> None:
    deadline = time.time() + deadline_s
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"nothing answers {path} on port {port}")


class Gunicorn:
    """gunicorn as the README documents it (`--workers 4 --preload`, gunicorn.conf.py)."""

    def __init__(
        self, app: str, env: dict[str, str], cwd: Path, log: Path, workers: int = WORKERS
    ) -> None:
        self.port = free_port()
        self.log = log
        gunicorn = Path(sys.executable).with_name("gunicorn")
        full_env = {**os.environ, **env}
        full_env["PYTHONPATH"] = os.pathsep.join([str(cwd), str(ROOT)])
        self._log_file = log.open("ab")
        self.proc = subprocess.Popen(
            [
                str(gunicorn),
                "--config",
                str(ROOT / "gunicorn.conf.py"),
                "--workers",
                str(workers),
                "--preload",
                "--bind",
                f"127.0.0.1:{self.port}",
                app,
            ],
            cwd=cwd,
            env=full_env,
            stdout=self._log_file,
            stderr=self._log_file,
        )
        self.peak_worker_pss = 0
        self._stop = threading.Event()
        _wait_http(self.port, "/healthz" if "server:" in app else "/floor.ics")
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()

    def _sample(self) -> None:
        while not self._stop.is_set():
            try:
                for worker in psutil.Process(self.proc.pid).children():
                    self.peak_worker_pss = max(self.peak_worker_pss, worker.memory_full_info().pss)
            except psutil.Error:
                pass
            time.sleep(0.25)

    def stop(self) -> None:
        """Stop sampling and gunicorn (graceful, then its log is complete)."""
        self._stop.set()
        self._sampler.join()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log_file.close()


# nginx running deploy/nginx-eventfeed.conf (proxy_cache) in front of the app's gunicorn,
# and, in the same process, the same bytes as static files (the floors of a cached copy).
NGINX_PROXY_MAIN = (
    NGINX_HEAD
    + """    types {{ text/calendar ics; }}
    server {{
        listen 127.0.0.1:{static_port};
        root {static};
    }}
    server {{
        listen 127.0.0.1:{nosendfile_port};
        root {static};
        sendfile off;
    }}
    include {d}/eventfeed.conf;
}}
"""
)


class _NginxProcess:
    """Debian's nginx on loopback, started with a configuration file and stopped gracefully."""

    port: int
    proc: subprocess.Popen[bytes]

    def _start(self, conf: Path, prefix: Path, probe: str) -> None:
        """Start nginx with `conf` (paths under `prefix`); return once `probe` answers."""
        self.proc = subprocess.Popen(
            ["nginx", "-c", str(conf), "-p", str(prefix), "-e", str(prefix / "nginx-error.log")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_http(self.port, probe)

    def stop(self) -> None:
        """Stop nginx (QUIT: graceful)."""
        self.proc.send_signal(signal.SIGQUIT)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class NginxCache(_NginxProcess):
    """Debian's nginx running deploy/nginx-eventfeed.conf (its proxy_cache for public feeds)
    in front of the app on `app_port`, as the deploy test does (tests/web/test_deploy_nginx.py),
    and serving `workdir`/static on two more ports (as is, and with `sendfile off`)."""

    def __init__(self, workdir: Path, app_port: int) -> None:
        self.port = free_port()
        self.static_port = free_port()
        self.nosendfile_port = free_port()
        home = workdir / "nginx-cache"
        shutil.rmtree(home, ignore_errors=True)  # a cold cache for each run
        home.mkdir()
        config = (ROOT / "deploy" / "nginx-eventfeed.conf").read_text()
        config = config.replace("/var/cache/nginx/eventfeed", str(home / "cache"))
        config = config.replace("server 127.0.0.1:8000;", f"server 127.0.0.1:{app_port};")
        config = config.replace("listen 80;", f"listen 127.0.0.1:{self.port};")
        (home / "eventfeed.conf").write_text(config)
        conf = home / "nginx.conf"
        conf.write_text(
            NGINX_PROXY_MAIN.format(
                d=home,
                static=workdir / "static",
                static_port=self.static_port,
                nosendfile_port=self.nosendfile_port,
            )
        )
        self._start(conf, home, "/healthz")


# Repeats of a public feed through nginx's cache (the issue: >= 80 % of nginx static). A
# feed reader asks for gzip; a client without gzip gets the plain copy cached beside it.
# Each is compared with the same bytes as a static file (STATIC_FILES).
CACHED_ROUTES = [
    Route("nginx cache: series .ics, gzip", f"/series/{BIG}.ics", {"Accept-Encoding": "gzip"}),
    Route("nginx cache: series .ics, plain", f"/series/{BIG}.ics", quick=True),
]
STATIC_FILES = {CACHED_ROUTES[0].name: "/floor.ics.gz", CACHED_ROUTES[1].name: "/floor.ics"}


class Nginx(_NginxProcess):
    """Debian's nginx serving a directory of static files on loopback."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        conf = workdir / "nginx.conf"
        conf.write_text(NGINX_CONF.format(d=workdir, port=self.port))
        self._start(conf, workdir, "/floor.ics")


# -- load ------------------------------------------------------------------------------------


@dataclass
class Result:
    """What wrk measured on one route."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    bad_status: int

    @property
    def rate(self) -> float:
        """Answers per second."""
        return self.requests / max(self.seconds, 1e-9)


def wrk(
    port: int,
    path: str,
    headers: dict[str, str],
    seconds: int,
    workdir: Path,
    connections: int = 8,
) -> Result:
    """Run wrk (2 threads, `connections` keep-alive connections) and return its figures."""
    script = workdir / "report.lua"
    if not script.exists():
        script.write_text(LUA)
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "60s"]
    command += ["-s", str(script)]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    command.append(f"http://127.0.0.1:{port}{path}")
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    line = next(x for x in out.splitlines() if x.startswith("WRKJSON "))
    data = json.loads(line.removeprefix("WRKJSON "))
    return Result(
        data["requests"],
        data["duration_us"] / 1e6,
        data["p50_us"] / 1000,
        data["p99_us"] / 1000,
        data["socket_errors"],
        data["bad_status"],
    )


def fetch(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, Any, bytes]:
    """GET once: (status, headers, body); an HTTP error status is returned, not raised."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


# -- data ------------------------------------------------------------------------------------


def fresh_database(url: str) -> Engine:
    """Return an engine on an empty, migrated database (PostgreSQL: `public` dropped)."""
    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    migrate(engine)
    return engine


def insert_subscriber(engine: Engine, now: datetime) -> None:
    """A confirmed subscriber following the big series and 19 others (personal feeds)."""
    with engine.begin() as conn:
        conn.execute(
            insert(Subscriber),
            [
                {
                    "id": 1,
                    "email": "reader@example.org",
                    "timezone": "Europe/Lisbon",
                    "token": TOKEN,
                    "announcements": True,
                    "digest": False,
                    "reminder_hours": 0,
                    "confirmed_at": now,
                    "unsubscribed_at": None,
                    "created_at": now,
                    "updated_at": now,
                }
            ],
        )
        conn.execute(
            insert(Subscription),
            [
                {"subscriber_id": 1, "series_id": n, "confirmed_at": now, "created_at": now}
                for n in range(1, FOLLOWED + 1)
            ],
        )


def analyze(engine: Engine) -> None:
    """Refresh the planner's statistics after a bulk insert; PostgreSQL: vacuum too.

    A bulk load leaves dead versions of the series rows (the feed triggers write one per
    statement); autovacuum, on by default, would clear them within its next round, but a
    benchmark server may run with it off, and a measured database should look like one
    that has been running."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
        return
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))


def app_env(url: str, workdir: Path) -> dict[str, str]:
    """The environment of the app's gunicorn."""
    return {
        "EVENTFEED_DATABASE_URL": url,
        "EVENTFEED_BASE_URL": BASE_URL,
        "EVENTFEED_INSTANCE_PATH": str(workdir),
        "EVENTFEED_SECRET_KEY": "benchmark",
    }


# -- runs ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NginxPlan:
    """How the nginx cache is compared with static files: wrk rounds and connection counts."""

    seconds: int
    rounds: int
    connections: tuple[int, ...]


def write_static(workdir: Path, port: int) -> bytes:
    """Write the app's plain and gzip series .ics to `workdir`/static; return the plain."""
    static = workdir / "static"
    static.mkdir(exist_ok=True)
    status, _, plain = fetch(port, f"/series/{BIG}.ics")
    assert status == 200, status
    status, headers, zipped = fetch(port, f"/series/{BIG}.ics", {"Accept-Encoding": "gzip"})
    assert status == 200 and headers["Content-Encoding"] == "gzip", headers
    (static / "floor.ics").write_bytes(plain)
    (static / "floor.ics.gz").write_bytes(zipped)  # the app's gzip copy, as nginx caches it
    return plain


def _nginx_cpu_seconds(nginx: _NginxProcess) -> float:
    """CPU seconds (user + system) its worker processes have used so far."""
    total = 0.0
    for worker in psutil.Process(nginx.proc.pid).children():
        times = worker.cpu_times()
        total += times.user + times.system
    return total


def _wrk_cpu(
    nginx: _NginxProcess, port: int, route: Route, plan: NginxPlan, workdir: Path, conns: int
) -> dict[str, float]:
    """wrk's figures plus nginx's CPU per answer (microseconds; steadier than req/s when
    other jobs share the cores)."""
    before = _nginx_cpu_seconds(nginx)
    result = wrk(port, route.path, route.headers, plan.seconds, workdir, conns)
    spent = _nginx_cpu_seconds(nginx) - before
    return {**result.__dict__, "nginx_cpu_us": 1e6 * spent / max(result.requests, 1)}


def _cache_status(port: int, route: Route) -> str:
    return str(fetch(port, route.path, route.headers)[1].get("X-Cache-Status", ""))


def measure_cache(
    workdir: Path, app_port: int, plan: NginxPlan, quick: bool, label: str
) -> dict[str, Any]:
    """Repeats through the nginx cache vs the same bytes as static files, interleaved."""
    cache = NginxCache(workdir, app_port)
    measured: dict[str, Any] = {}
    try:
        for route in CACHED_ROUTES:
            if quick and not route.quick:
                continue
            static = STATIC_FILES[route.name]
            fetch(cache.port, route.path, route.headers)  # a MISS: now stored
            body = fetch(cache.port, route.path, route.headers)[2]
            assert body == fetch(cache.static_port, static)[2], route  # the same bytes
            for connections in plan.connections:
                runs: dict[str, list[dict[str, float]]] = {
                    "static": [],
                    "static, sendfile off": [],
                    "cache": [],
                }
                statuses = []
                for n in range(plan.rounds):
                    PROGRESS.say(f"{label}: {route.name}, {connections} connections, {n + 1}")
                    for name, port in (
                        ("static", cache.static_port),
                        ("static, sendfile off", cache.nosendfile_port),
                    ):
                        file = Route(name, static)
                        runs[name].append(_wrk_cpu(cache, port, file, plan, workdir, connections))
                    before = _cache_status(cache.port, route)
                    runs["cache"].append(
                        _wrk_cpu(cache, cache.port, route, plan, workdir, connections)
                    )
                    after = _cache_status(cache.port, route)
                    statuses.append(f"{before}/{after}")
                measured[f"{route.name} | {connections}"] = {
                    "route": route.name,
                    "connections": connections,
                    "bytes": len(body),
                    "statuses": statuses,  # every cache run between two HITs: a fresh entry
                    "all_hits": all(x == "HIT/HIT" for x in statuses),
                    **runs,
                }
    finally:
        cache.stop()
    return measured


def _median_run(runs: list[dict[str, float]]) -> Result:
    """The run of median req/s (the middle one of 3)."""
    ordered = sorted(runs, key=_rate)
    fields = {k: v for k, v in ordered[len(ordered) // 2].items() if k != "nginx_cpu_us"}
    return Result(**fields)  # type: ignore[arg-type]


def measure_app(
    url: str, workdir: Path, seconds: int, quick: bool, label: str, plan: NginxPlan
) -> tuple[dict[str, Result], float, bytes, dict[str, Any]]:
    """Measure every route on the app, then through nginx's cache; return results, largest
    worker PSS (MB), floor body and the cache's comparison with static files."""
    server = Gunicorn("server:create_app()", app_env(url, workdir), ROOT, workdir / "app.log")
    try:
        talk = "talk-500"
        etags: dict[str, str] = {}
        for path in (f"/series/{BIG}.ics", "/calendar.ics", f"/s/{TOKEN}.ics"):
            status, headers, body = fetch(server.port, path)
            assert status == 200, (path, status)
            etags[path] = headers["ETag"]
        floor_body = write_static(workdir, server.port)
        results = {}
        for route in routes(talk, etags):
            if quick and not route.quick:
                continue
            PROGRESS.say(f"{label}: {route.name}")
            for _ in range(WORKERS):  # every worker warm
                fetch(server.port, route.path, route.headers)
            results[route.name] = wrk(server.port, route.path, route.headers, seconds, workdir)
        PROGRESS.say(f"{label}: nginx cache in front")
        cached = measure_cache(workdir, server.port, plan, quick, label)
        for entry in cached.values():  # the main table: the median run at the first count
            if entry["connections"] == plan.connections[0]:
                results[entry["route"]] = _median_run(entry["cache"])
        pss = server.peak_worker_pss / 2**20
    finally:
        server.stop()
    return results, pss, floor_body, cached


def write_floor(workdir: Path, body: bytes) -> None:
    """Write the floors' files: `body` as static files (plain, and gzip unless the app's own
    gzip copy is there) and the trivial Flask app answering it."""
    static = workdir / "static"
    static.mkdir(exist_ok=True)
    (static / "floor.ics").write_bytes(body)
    if not (static / "floor.ics.gz").exists():
        (static / "floor.ics.gz").write_bytes(gzip.compress(body, compresslevel=6, mtime=0))
    (workdir / "floor.py").write_text(FLOOR_APP)


def measure_floors(workdir: Path, body: bytes, seconds: int) -> dict[str, Result]:
    """The trivial Flask app and nginx static, both answering `body`."""
    write_floor(workdir, body)
    floors = {}
    PROGRESS.say("floor: trivial Flask app")
    flask = Gunicorn("floor:app", {}, workdir, workdir / "floor.log")
    try:
        for _ in range(WORKERS):
            fetch(flask.port, "/floor.ics")
        floors["flask"] = wrk(flask.port, "/floor.ics", {}, seconds, workdir)
    finally:
        flask.stop()
    PROGRESS.say("floor: nginx static")
    nginx = Nginx(workdir)
    try:
        floors["nginx"] = wrk(nginx.port, "/floor.ics", {}, seconds, workdir)
        # The same bytes gzip-compressed, as a static file: the floor of a cached gzip copy.
        floors["nginx_gzip"] = wrk(nginx.port, "/floor.ics.gz", {}, seconds, workdir)
    finally:
        nginx.stop()
    return floors


FLOOR_ROUNDS = 3


def alternate_floor(
    url: str, workdir: Path, body: bytes, seconds: int, rounds: int = FLOOR_ROUNDS
) -> list[dict[str, dict[str, float]]]:
    """The series .ics (the floor's very bytes) and the trivial Flask floor, both servers up,
    measured in turn for `rounds` rounds: the per-round ratio is free of the drift between
    the main table's floor run and its route run, minutes apart on a shared machine."""
    write_floor(workdir, body)
    app = Gunicorn("server:create_app()", app_env(url, workdir), ROOT, workdir / "app.log")
    try:
        flask = Gunicorn("floor:app", {}, workdir, workdir / "floor.log")
        try:
            path = f"/series/{BIG}.ics"
            for _ in range(WORKERS):
                fetch(app.port, path)
                fetch(flask.port, "/floor.ics")
            found = []
            for n in range(rounds):
                PROGRESS.say(f"series .ics alternated with the Flask floor, round {n + 1}")
                floor_run = wrk(flask.port, "/floor.ics", {}, seconds, workdir)
                route_run = wrk(app.port, path, {}, seconds, workdir)
                found.append({"floor": floor_run.__dict__, "route": route_run.__dict__})
        finally:
            flask.stop()
    finally:
        app.stop()
    return found


def run_backend(
    backend: str,
    url: str,
    workdir: Path,
    seconds: int,
    quick: bool,
    big_talks: int,
    plan: NginxPlan,
) -> dict[str, Any]:
    """Build the database at 1k talks, measure, grow it to `big_talks`, measure again."""
    small = 100 if quick else 1_000
    sizes = Sizes(big_talks, 20 if quick else 200, small, 0, 1, 0.0, 1, WORKERS)
    PROGRESS.say(f"{backend}: building the {small:,}-talk database")
    now = datetime.now(UTC) - timedelta(days=1)
    engine = fresh_database(url)
    insert_series(engine, sizes, now)
    insert_subscriber(engine, now)
    analyze(engine)
    small_results, small_pss, floor_body, small_cached = measure_app(
        url, workdir, seconds, quick, f"{backend} {small:,}", plan
    )
    floors = measure_floors(workdir, floor_body, seconds)
    rounds = 1 if quick else FLOOR_ROUNDS
    alternated = alternate_floor(url, workdir, floor_body, seconds, rounds)
    PROGRESS.say(f"{backend}: adding talks up to {big_talks:,}")
    insert_rest(engine, sizes, now)
    analyze(engine)
    engine.dispose()
    big_results, big_pss, _, big_cached = measure_app(
        url, workdir, seconds, quick, f"{backend} {big_talks:,}", plan
    )
    # The floors again: the machine's load may have moved between the two sizes.
    floors_big = measure_floors(workdir, floor_body, seconds)
    PROGRESS.clear()
    return {
        "small_talks": small,
        "big_talks": big_talks,
        "floor_bytes": len(floor_body),
        "floors": {k: v.__dict__ for k, v in floors.items()},
        "floors_big": {k: v.__dict__ for k, v in floors_big.items()},
        "floor_alternated": alternated,
        "small": {k: v.__dict__ for k, v in small_results.items()},
        "big": {k: v.__dict__ for k, v in big_results.items()},
        "worker_pss_mb": {"small": small_pss, "big": big_pss},
        "nginx_cache": {"small": small_cached, "big": big_cached},
    }


def run_nginx_only(
    backend: str, url: str, workdir: Path, quick: bool, plan: NginxPlan
) -> dict[str, Any]:
    """Only the nginx cache vs static files, on a 1,000-talk series (100 with `quick`)."""
    talks = 100 if quick else 1_000
    PROGRESS.say(f"{backend}: building the {talks:,}-talk database")
    sizes = Sizes(talks, 20 if quick else 200, talks, 0, 1, 0.0, 1, WORKERS)
    engine = fresh_database(url)
    insert_series(engine, sizes, datetime.now(UTC) - timedelta(days=1))
    analyze(engine)
    engine.dispose()
    server = Gunicorn("server:create_app()", app_env(url, workdir), ROOT, workdir / "app.log")
    try:
        write_static(workdir, server.port)
        cached = measure_cache(workdir, server.port, plan, False, f"{backend} {talks:,}")
    finally:
        server.stop()
    PROGRESS.clear()
    return {"talks": talks, "nginx_cache": cached}


def _spread(values: list[float], fmt: str = ",.0f") -> str:
    """Median (min-max) of `values`."""
    if len(values) == 1:
        return format(values[0], fmt)
    middle = format(statistics.median(values), fmt)
    return f"{middle} ({format(min(values), fmt)}–{format(max(values), fmt)})"


def cache_table(cached: dict[str, Any], title: str) -> str:
    """The nginx cache vs static files, one row per route, connection count and server."""
    lines = [
        title,
        "",
        "| served | conns | req/s median (min–max) | p50 ms | p99 ms | vs static "
        "| vs static, sendfile off | nginx CPU µs/answer |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for entry in cached.values():
        kind = entry["route"].removeprefix("nginx cache: ")
        for name in ("static", "static, sendfile off", "cache"):
            runs = entry[name]
            ratios = []
            for other in ("static", "static, sendfile off"):
                if other == name:
                    ratios.append("")
                    continue
                pairs = zip(runs, entry[other], strict=True)
                paired = [100 * _rate(a) / _rate(b) for a, b in pairs]
                ratios.append(f"{_spread(paired, '.0f')} %")
            label = f"nginx {name}" if name != "cache" else "**through the cache**"
            if name == "cache" and not entry["all_hits"]:
                label += f" (not all HITs: {', '.join(entry['statuses'])})"
            lines.append(
                f"| {kind} ({entry['bytes'] / 1000:,.0f} KB), {label} | {entry['connections']} | "
                f"{_spread([_rate(r) for r in runs])} | "
                f"{statistics.median([r['p50_ms'] for r in runs]):.2f} | "
                f"{statistics.median([r['p99_ms'] for r in runs]):.2f} | "
                f"{ratios[0]} | {ratios[1]} | "
                f"{_spread([r['nginx_cpu_us'] for r in runs], '.1f')} |"
            )
    return "\n".join(lines)


def _rate(figures: dict[str, Any]) -> float:
    return float(figures["requests"]) / max(float(figures["seconds"]), 1e-9)


def _size(talks: int) -> str:
    return f"{talks // 1000}k" if talks % 1000 == 0 else str(talks)


def table(backend: str, data: dict[str, Any]) -> str:
    """Return one backend's figures as a Markdown table."""
    small, big = data["small_talks"], data["big_talks"]
    s_, b_ = _size(small), _size(big)
    flask, nginx = data["floors"]["flask"], data["floors"]["nginx"]
    big_floors = data.get("floors_big") or data["floors"]
    flask_b = big_floors["flask"]
    # How much slower the machine answered the Flask floor at the big size than at the small
    # one (load moves): p50 ratios are also given divided by it.
    drift = flask_b["p50_ms"] / max(flask["p50_ms"], 1e-3)
    lines = [
        f"**{backend}** ({small:,} and {big:,} talks; floors answer the "
        f"{data['floor_bytes'] / 1000:,.0f} KB series .ics; worker PSS peak "
        f"{data['worker_pss_mb']['small']:.0f} MB at {small:,}, "
        f"{data['worker_pss_mb']['big']:.0f} MB at {big:,})",
        "",
        f"| route | req/s {s_} | p50 ms | p99 ms | vs Flask floor | vs nginx "
        f"| req/s {b_} | p50 ms | p99 ms | vs Flask floor {b_} | p50 {b_}/{s_} "
        "| same, floor-adjusted | errors |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for label, key in (("trivial Flask", "flask"), ("nginx static", "nginx")):
        s, b = data["floors"][key], big_floors[key]
        lines.append(
            f"| floor: {label} | {_rate(s):,.0f} | {s['p50_ms']:.1f} | {s['p99_ms']:.1f} | "
            f"{100 * _rate(s) / _rate(flask):.0f} % | {100 * _rate(s) / _rate(nginx):.0f} % | "
            f"{_rate(b):,.0f} | {b['p50_ms']:.1f} | {b['p99_ms']:.1f} | "
            f"{100 * _rate(b) / _rate(flask_b):.0f} % | "
            f"{b['p50_ms'] / max(s['p50_ms'], 1e-3):.2f} × | | |"
        )
    for name, s in data["small"].items():
        b = data["big"].get(name)
        if b is None:
            continue
        errors = s["errors"] + s["bad_status"] + b["errors"] + b["bad_status"]
        p50_ratio = b["p50_ms"] / max(s["p50_ms"], 1e-3)
        lines.append(
            f"| {name} | {_rate(s):,.0f} | {s['p50_ms']:.1f} | {s['p99_ms']:.1f} | "
            f"{100 * _rate(s) / _rate(flask):.0f} % | {100 * _rate(s) / _rate(nginx):.1f} % | "
            f"{_rate(b):,.0f} | {b['p50_ms']:.1f} | {b['p99_ms']:.1f} | "
            f"{100 * _rate(b) / _rate(flask_b):.0f} % | {p50_ratio:.2f} × | "
            f"{p50_ratio / drift:.2f} × | {errors} |"
        )
    alternated = data.get("floor_alternated") or []
    if alternated:
        shares = [100 * _rate(r["route"]) / _rate(r["floor"]) for r in alternated]
        rates = ", ".join(
            f"{_rate(run['route']):,.0f} / {_rate(run['floor']):,.0f}" for run in alternated
        )
        lines += [
            "",
            f"series .ics and the trivial Flask floor (the same bytes), measured in turn, "
            f"{len(shares)} rounds at {s_}: {rates} req/s; "
            f"{statistics.median(shares):.0f} % (median of the rounds).",
        ]
    for size, talks in (("small", small), ("big", big)):
        cached = data.get("nginx_cache", {}).get(size)
        if cached:
            lines += [
                "",
                cache_table(
                    cached,
                    f"Through nginx's cache at {talks:,} talks vs nginx serving the same bytes "
                    'as static files, same nginx, runs alternated ("nginx cache" rows above: '
                    f"the median run at {next(iter(cached.values()))['connections']} "
                    "connections; ratios: median of the per-round ratios):",
                ),
            ]
    return "\n".join(lines)


# -- soak (issue 14 item 3a) -------------------------------------------------------------------

SOAK_PATHS = ["/", "/calendar.ics", "/feed.rss", f"/s/{TOKEN}.ics"]
DEATHS = ("SIGSEGV", "exited with code", "WORKER TIMEOUT", "Fatal Python error", "SIGKILL")


def soak_backend(
    backend: str, url: str, workdir: Path, seconds: int, talks: int, quick: bool
) -> dict[str, Any]:
    """Load the four routes at once on 4 preloaded workers; count deaths and 5xx."""
    PROGRESS.say(f"soak {backend}: building the {talks:,}-talk database")
    sizes = Sizes(talks, 20 if quick else 200, 100 if quick else 1_000, 0, 1, 0.0, 1, WORKERS)
    now = datetime.now(UTC) - timedelta(days=1)
    engine = fresh_database(url)
    insert_series(engine, sizes, now)
    insert_subscriber(engine, now)
    insert_rest(engine, sizes, now)
    analyze(engine)
    engine.dispose()
    log = workdir / f"soak-{backend}.log"
    server = Gunicorn("server:create_app()", app_env(url, workdir), ROOT, log)
    results: dict[str, Result] = {}
    try:
        PROGRESS.say(f"soak {backend}: {len(SOAK_PATHS)} wrk clients for {seconds} s")
        threads = [
            threading.Thread(
                target=lambda p=path: results.__setitem__(
                    p, wrk(server.port, p, {}, seconds, workdir, connections=4)
                )
            )
            for path in SOAK_PATHS
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        pss = server.peak_worker_pss / 2**20
    finally:
        server.stop()
    PROGRESS.clear()
    text_log = log.read_text(errors="replace")
    deaths = sum(text_log.count(marker) for marker in DEATHS)
    return {
        "talks": talks,
        "seconds": seconds,
        "requests": sum(r.requests for r in results.values()),
        "bad_status": sum(r.bad_status for r in results.values()),
        "socket_errors": sum(r.errors for r in results.values()),
        "worker_deaths": deaths,
        "worker_pss_mb": pss,
        "routes": {p: r.__dict__ for p, r in results.items()},
    }


# -- main ------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (or the soak); print the tables; write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", metavar="URL", help="also run on this PostgreSQL database")
    parser.add_argument("--quick", action="store_true", help="small smoke run (few routes)")
    parser.add_argument("--seconds", type=int, help="wrk duration per route (default 3)")
    parser.add_argument("--talks", type=int, help="talks of the big database (default 100k)")
    parser.add_argument("--soak", action="store_true", help="the worker soak test (3a)")
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    parser.add_argument(
        "--nginx-only",
        action="store_true",
        help="only the nginx cache vs static files (1,000-talk series; 100 with --quick)",
    )
    parser.add_argument("--rounds", type=int, help="nginx cache/static rounds (default 3)")
    parser.add_argument(
        "--connections",
        help="wrk connection counts of the nginx cache/static runs (default 8,64)",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args(argv)
    for tool in ("wrk",) if args.soak else ("wrk", "nginx"):
        if shutil.which(tool) is None:
            print(f"Error: {tool} is not installed (apt-get install {tool})", file=sys.stderr)
            return 1
    talks = args.talks or (600 if args.quick else 100_000)
    seconds = args.seconds or (1 if args.quick else 3)
    quick_nginx = args.quick and not args.nginx_only
    plan = NginxPlan(
        seconds,
        args.rounds or (1 if quick_nginx else 3),
        tuple(int(c) for c in (args.connections or ("8" if quick_nginx else "8,64")).split(",")),
    )
    workdir = Path(tempfile.mkdtemp(prefix="eventfeed-http-"))
    targets = [] if args.no_sqlite else [("sqlite", f"sqlite:///{workdir / 'bench.sqlite3'}")]
    if args.pg:
        targets.append(("postgresql", args.pg))
    results: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "python": sys.version.split()[0],
        "backends": {},
    }
    failed = False
    try:
        for backend, url in targets:
            if args.soak:
                data = soak_backend(backend, url, workdir, seconds, talks, args.quick)
                ok = data["worker_deaths"] == 0 and data["bad_status"] == 0
                failed |= not ok
                print(
                    f"soak {backend}: {data['talks']:,} talks, {data['requests']:,} requests in "
                    f"{seconds} s over {', '.join(SOAK_PATHS)}: worker deaths "
                    f"{data['worker_deaths']}, non-2xx/3xx {data['bad_status']}, socket errors "
                    f"{data['socket_errors']}, worker PSS peak {data['worker_pss_mb']:.0f} MB "
                    f"-> {'PASS' if ok else 'FAIL'}"
                )
            elif args.nginx_only:
                data = run_nginx_only(backend, url, workdir, args.quick, plan)
                title = (
                    f"**{backend}**, {data['talks']:,}-talk series: through nginx's cache vs "
                    f"nginx serving the same bytes as static files (same nginx, {plan.rounds} "
                    f"rounds of {plan.seconds} s alternated; ratios: median (min–max) of the "
                    f"per-round ratios; load average {os.getloadavg()[0]:.1f} at the end)"
                )
                print(cache_table(data["nginx_cache"], title) + "\n")
            else:
                data = run_backend(backend, url, workdir, seconds, args.quick, talks, plan)
                print(table(backend, data) + "\n")
            results["backends"][backend] = data
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    results["load_average_after"] = os.getloadavg()
    args.out.mkdir(parents=True, exist_ok=True)
    kind = "soak" if args.soak else "nginx" if args.nginx_only else "http"
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    path = args.out / f"{kind}-{'quick-' if args.quick else ''}{stamp}.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"JSON: {path}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
