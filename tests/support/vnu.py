"""The Nu HTML Checker (W3C's validator, npm `vnu-jar`) as a local HTTP service for the tests.

One Java process per test session, on a free loopback port (`java -Xss4m ...
nu.validator.servlet.Main`; a smaller stack dies while loading the schemas). It starts when
the session's collection is done and a collected test uses the `html_checker` fixture
(tests/conftest.py), so its start-up overlaps the tests that run first; each page then costs
one POST (tens of milliseconds).

    def test_my_page(client, html_checker):
        html_checker.assert_valid(client.get("/my/page").get_data(as_text=True), "/my/page")

`scripts/test` installs Java (`default-jre-headless`) when `java` is missing and the jar with
`npm ci --prefix tests/js`.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

JAR = Path(__file__).parents[1] / "js" / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"
# -Xss4m: the schemas need a deep stack. C1 only and the serial collector: it starts in
# about half the time and uses less memory, and a test session sends it few pages.
JAVA_OPTIONS = ["-Xss4m", "-Xmx512m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"]
START_TIMEOUT = 180.0


def missing() -> str | None:
    """Return why the checker cannot run here (no Java, no jar), or None."""
    if shutil.which("java") is None:
        return "the Nu HTML checker needs Java (scripts/test installs default-jre-headless)"
    if not JAR.is_file():
        return f"the Nu HTML checker is not installed: npm ci --prefix tests/js ({JAR})"
    return None


@dataclass(frozen=True)
class Message:
    """One validator message about a page."""

    kind: str
    line: int | None
    column: int | None
    text: str
    extract: str

    def __str__(self) -> str:
        where = f"{self.line}:{self.column}" if self.line else "-"
        return f"{where} {self.kind}: {self.text} [{self.extract.strip()[:120]}]"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class NuChecker:
    """A running Nu HTML Checker service: `errors(html)` and `assert_valid(html, where)`."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        # A file, not a pipe (a full pipe would block the JVM); open until close().
        self._log = tempfile.TemporaryFile()  # noqa: SIM115
        self.proc = subprocess.Popen(
            [
                "java",
                *JAVA_OPTIONS,
                "-Dnu.validator.servlet.bind-address=127.0.0.1",
                "-cp",
                str(JAR),
                "nu.validator.servlet.Main",
                str(self.port),
            ],
            stdout=subprocess.DEVNULL,
            stderr=self._log,
        )
        self._ready = False

    def wait_ready(self) -> None:
        """Block until the service answers (it takes seconds to load its schemas)."""
        deadline = time.monotonic() + START_TIMEOUT
        while not self._ready:
            if self.proc.poll() is not None:
                self._log.seek(0)
                log = self._log.read().decode(errors="replace")
                raise RuntimeError(f"the Nu HTML checker stopped: {log[-2000:]}")
            try:
                with urllib.request.urlopen(self.url, timeout=2):
                    self._ready = True
            except (OSError, urllib.error.URLError):
                if time.monotonic() > deadline:
                    raise RuntimeError("the Nu HTML checker did not start") from None
                time.sleep(0.25)

    def messages(self, html: str) -> list[Message]:
        """Return every message about a document (errors, warnings, info)."""
        self.wait_ready()
        request = urllib.request.Request(
            self.url + "?out=json",
            data=html.encode("utf-8"),
            headers={"Content-Type": "text/html; charset=utf-8"},
        )
        with urllib.request.urlopen(request, timeout=60) as answer:
            found: list[dict[str, Any]] = json.load(answer)["messages"]
        return [
            Message(
                kind=m.get("subType") or m["type"],
                line=m.get("lastLine"),
                column=m.get("firstColumn"),
                text=m.get("message", ""),
                extract=m.get("extract", ""),
            )
            for m in found
        ]

    def errors(self, html: str) -> list[Message]:
        """Return the errors (and fatal errors) in a document; warnings do not count."""
        return [
            m for m in self.messages(html) if m.kind in ("error", "fatal", "non-document-error")
        ]

    def assert_valid(self, html: str, where: str) -> None:
        """Fail with every error, one per line, when the document is not valid HTML."""
        errors = self.errors(html)
        assert not errors, f"{where}: {len(errors)} HTML error(s)\n" + "\n".join(
            f"  {e}" for e in errors
        )

    def close(self) -> None:
        """Stop the service."""
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()
