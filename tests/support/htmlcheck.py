"""What a browser would run in an HTML fragment: scripts, event handlers, script URLs."""

from __future__ import annotations

from html.parser import HTMLParser

ACTIVE_TAGS = ("script", "iframe", "object", "embed", "style")
SCRIPT_SCHEMES = ("javascript:", "data:", "vbscript:")


class _ActiveParts(HTMLParser):
    """Collects script elements, event-handler attributes and script URLs."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ACTIVE_TAGS:
            self.found.append(tag)
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"{tag}@{name}")
            if value and value.strip().lower().startswith(SCRIPT_SCHEMES):
                self.found.append(f"{tag}@{name}={value}")


def active_parts(html: str) -> list[str]:
    """Return every part of an HTML fragment that could run code."""
    parser = _ActiveParts()
    parser.feed(html)
    return parser.found
