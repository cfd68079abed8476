"""Errors an op handler raises to give the client a clean error reply."""

from __future__ import annotations


class OpError(Exception):
    """A refused or invalid operation; `code` is one of protocol.ERROR_CODES."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
