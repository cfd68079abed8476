"""Secrets out of what is shown: the one redaction of alert URLs (apprise URLs carry
tokens in their user, password, host, path or query) used by status, events, logs,
`--json`, `config check` and the TUI. Pure; imports nothing of either half.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import unquote, urlsplit

HIDDEN = "…"


def redact(url: str) -> str:
    """'scheme://host[:port]/…' where the host is a real host name (it has a dot, or is
    localhost or an IP address); 'scheme://…' otherwise (ntfy://TOPIC, tgram://TOKEN/...,
    whose "host" is the secret). User, password, path and query never show."""
    scheme, sep, _ = url.partition("://")
    if not sep:
        return HIDDEN
    scheme = scheme if re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]{0,31}", scheme) else "?"
    host, port = _host_port(url)
    if host is None or not _shown_host(host):
        return f"{scheme}://{HIDDEN}"
    where = f"[{host}]" if ":" in host else host
    where += f":{port}" if port is not None else ""
    return f"{scheme}://{where}/{HIDDEN}"


def scrub(text: str, urls: list[str]) -> str:
    """`text` (a library's error, a log line) with every secret part of `urls` replaced:
    each URL whole, then its pieces (user, password, host, path segments, query values)
    of four characters or more."""
    for url in sorted(urls, key=len, reverse=True):
        if url:
            text = text.replace(url, redact(url))
    for piece in sorted({p for u in urls for p in _pieces(u)}, key=len, reverse=True):
        text = text.replace(piece, HIDDEN)
    return text


def _host_port(url: str) -> tuple[str | None, int | None]:
    try:
        parts = urlsplit(url)
        return parts.hostname, parts.port
    except ValueError:  # a port that is not a number (a token with a colon)
        return None, None


def _shown_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return "." in host and re.fullmatch(r"[A-Za-z0-9.-]+", host) is not None


def _pieces(url: str) -> set[str]:
    """The parts of a URL that may be secret, as they appear in it and decoded."""
    _, _, rest = url.partition("://")
    host, port = _host_port(url)
    shown = host if host is not None and _shown_host(host) else None
    pieces = set(re.split(r"[/?&=@:#,]+", rest))
    pieces |= {unquote(p) for p in pieces}
    return {p for p in pieces if len(p) >= 4 and p not in (shown, str(port)) and p not in _COMMON}


# Words of apprise URLs that are not secrets; replacing them would garble messages.
_COMMON = frozenset({"http", "https", "localhost", "json", "form", "true", "false", "POST"})
