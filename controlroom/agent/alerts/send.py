"""One send to one apprise URL, and one heartbeat GET: blocking calls, run in a worker
thread (dispatch.py), each bounded by a timeout. What a receiver answered comes back
scrubbed of the URL's secrets; apprise's own log lines never reach the agent's log (they
name hosts that may be tokens), only the scrubbed line each outcome carries.
"""

from __future__ import annotations

import logging
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from controlroom.redact import redact, scrub

APPRISE_MISSING = "apprise is not installed: pip install 'controlroom[agent]'"


@dataclass(frozen=True)
class Outcome:
    """What one URL answered: ok, or the reason (scrubbed), and the URL redacted."""

    url: str
    ok: bool
    detail: str = ""


class _ThreadCapture(logging.Handler):
    """Keeps apprise's log lines per thread, so that concurrent sends do not mix them."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.local = threading.local()

    def emit(self, record: logging.LogRecord) -> None:
        lines = getattr(self.local, "lines", None)
        if lines is not None:
            lines.append(record.getMessage())

    def start(self) -> None:
        self.local.lines = []

    def take(self) -> list[str]:
        lines: list[str] = getattr(self.local, "lines", None) or []
        self.local.lines = None
        return lines


_capture = _ThreadCapture()
_apprise_log = logging.getLogger("apprise")
_apprise_log.propagate = False  # its lines may hold a token: only scrubbed ones are logged
_apprise_log.addHandler(_capture)


def send(url: str, title: str, body: str, timeout: float) -> Outcome:
    """Notify one apprise URL; never raises."""
    shown = redact(url)
    try:
        import apprise
    except ImportError:
        return Outcome(shown, False, APPRISE_MISSING)
    notifier: Any = apprise.Apprise()
    if not notifier.add(url):
        return Outcome(shown, False, "apprise does not know this URL (its scheme or form)")
    for service in notifier:  # the receiver's own limits: a hung one frees the thread
        service.socket_connect_timeout = timeout
        service.socket_read_timeout = timeout
    _capture.start()
    try:
        ok = bool(notifier.notify(body=body, title=title))
    except Exception as exc:  # a plugin's bug must not kill the sending thread
        ok, lines = False, [f"{type(exc).__name__}: {exc}"]
    else:
        lines = []
    lines = _capture.take() + lines
    return Outcome(shown, ok, "" if ok else scrub(_reason(lines), [url]))


def _reason(lines: list[str]) -> str:
    return " ".join(lines[-1].split())[:300] if lines else "the receiver did not accept it"


def ping(url: str, timeout: float) -> Outcome:
    """One dead man's switch GET; ok on a 2xx answer. Never raises."""
    shown = redact(url)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:  # noqa: S310  # http(s) only, checked
            answer.read(1024)
            return Outcome(shown, True, f"HTTP {answer.status}")
    except urllib.error.HTTPError as exc:
        return Outcome(shown, False, f"HTTP {exc.code}")
    except (OSError, ValueError) as exc:
        return Outcome(shown, False, scrub(f"{type(exc).__name__}: {exc}", [url]))
