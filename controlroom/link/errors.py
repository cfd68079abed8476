"""The one error the link raises: a failure to reach a host or its agent, in one line."""

from __future__ import annotations

from typing import Final

# What went wrong, so callers can choose: fatal on first connect, retried after a drop.
UNKNOWN_HOST: Final = "unknown_host"
REFUSED: Final = "refused"
AUTH: Final = "auth"
HOST_KEY: Final = "host_key"
NO_AGENT: Final = "no_agent"
VERSION: Final = "version"
LOST: Final = "lost"
TIMEOUT: Final = "timeout"
REQUEST: Final = "request"


class LinkError(Exception):
    """Reaching a host or its agent failed; `str(err)` is one line a person can act on."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


class RequestFailed(LinkError):
    """The agent answered a request with an error reply (`code` from protocol.ERROR_CODES)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(REQUEST, message)
        self.code = code
