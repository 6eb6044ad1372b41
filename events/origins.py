"""Web origins a series lets frame its embed (`embed_origins`): checked and normalised.

An origin is `scheme://host[:port]`: `https` or `http`, a host name or IP address (an
internationalised name is kept in its ASCII form), an optional port, nothing else (a lone
trailing `/` is dropped). One wildcard is accepted, as CSP understands it: `*.` before a
domain (`https://*.example.edu`) allows its subdomains (not the domain itself). Paths,
queries, fragments, user names, other wildcards and other schemes are refused, with a
message naming the entry.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

MAX_ORIGINS = 20
LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
EXAMPLE = "give the scheme and host only, e.g. https://math.example.edu"


def _host(host: str, entry: str) -> str:
    """Return the host in its CSP form (lower case, ASCII; IPv6 in brackets)."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    else:
        return f"[{address}]" if address.version == 6 else str(address)
    wildcard = host.startswith("*.")
    name = host[2:] if wildcard else host
    try:
        ascii_name = name.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise ValueError(f"{entry!r}: {host!r} is not a valid host name") from None
    labels = ascii_name.split(".")
    if not all(LABEL.fullmatch(label) for label in labels) or (wildcard and len(labels) < 2):
        raise ValueError(
            f"{entry!r}: {host!r} is not a valid host name (a wildcard only as '*.' "
            "before a domain, e.g. https://*.example.edu)"
        )
    return ("*." if wildcard else "") + ascii_name


def parse_origin(entry: str) -> str:
    """Return `entry` as a normalised origin (`https://example.org:8443`) or raise ValueError."""
    text = entry.strip()
    if not text:
        raise ValueError("an origin must not be empty")
    if any(c.isspace() for c in text) or any(c in text for c in "'\";,"):
        raise ValueError(f"{entry!r}: one origin per entry, {EXAMPLE}")
    if "://" not in text:
        raise ValueError(f"{entry!r}: start with https:// or http://, {EXAMPLE}")
    scheme, rest = text.split("://", 1)
    scheme = scheme.lower()
    if scheme not in ("https", "http"):
        raise ValueError(f"{entry!r}: only https:// and http:// sites can frame a page")
    rest = rest.removesuffix("/")
    if any(c in rest for c in "/?#@\\"):
        raise ValueError(f"{entry!r}: an origin has no path, query or user name: {EXAMPLE}")
    try:
        parts = urlsplit(f"{scheme}://{rest}")
        port = parts.port
    except ValueError:
        raise ValueError(f"{entry!r}: the port must be a number from 1 to 65535") from None
    host = parts.hostname or ""
    if not host:
        raise ValueError(f"{entry!r}: no host name: {EXAMPLE}")
    if "*" in host.removeprefix("*."):
        raise ValueError(
            f"{entry!r}: a wildcard only as '*.' before a domain, e.g. https://*.example.edu"
        )
    if port == 0 or rest.endswith(":"):
        raise ValueError(f"{entry!r}: the port must be a number from 1 to 65535")
    suffix = f":{port}" if port is not None else ""
    return f"{scheme}://{_host(host, entry)}{suffix}"


def parse_origins(value: object) -> object:
    """Read a list, or text with one origin a line (commas and spaces also separate)."""
    if isinstance(value, str):
        return [part for part in re.split(r"[\s,]+", value) if part]
    return value


def frame_ancestors(origins: list[str]) -> str:
    """Return the CSP `frame-ancestors` sources: the origins, or `*` when there are none."""
    return " ".join(origins) if origins else "*"
