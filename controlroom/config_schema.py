"""The machinery under config.py: build frozen dataclasses from TOML tables, strictly.

Kept apart from the model so the model reads as documentation.
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from collections.abc import Callable
from dataclasses import MISSING, Field, dataclass
from typing import Any, TypeVar

from controlroom.games import suggest

T = TypeVar("T")


class ConfigError(Exception):
    """A config problem, already phrased for the user as one line; `path` is the key it
    is about, when it is about one (the agent quarantines that key of its own copy)."""

    def __init__(self, message: str, path: tuple[str, ...] | None = None) -> None:
        super().__init__(message)
        self.path = path


# A check of a value that type and range cannot express (a device name, a template):
# the problem in words, or None when the value is fine.
Check = Callable[[Any], "str | None"]


@dataclass(frozen=True)
class Bounds:
    """The range a number may take: lo..hi, lo itself excluded when `lo_open`."""

    lo: float
    hi: float
    lo_open: bool = False

    def problem(self, value: float) -> str | None:
        """Why `value` is out of range, or None. NaN fails every comparison, so each
        test is written as "inside" and negated."""
        if not math.isfinite(value):
            return f"must be a finite number in {self.text()}, not {value}"
        if not (self.lo < value if self.lo_open else self.lo <= value):
            op = ">" if self.lo_open else ">="
            return f"must be {op} {_show(self.lo)}, not {_show(value)} (range {self.text()})"
        if not value <= self.hi:
            return f"must be <= {_show(self.hi)}, not {_show(value)} (range {self.text()})"
        return None

    def text(self) -> str:
        """The range in interval notation, for documentation."""
        return f"{'(' if self.lo_open else '['}{_show(self.lo)}, {_show(self.hi)}]"


def _show(x: float) -> str:
    return f"{x:g}" if isinstance(x, float) else _brief(x)


def doc(
    text: str,
    *,
    lo: float | None = None,
    hi: float | None = None,
    lo_open: bool = False,
    check: Check | None = None,
) -> dict[str, Any]:
    """Field metadata: the field's one-line documentation and, declared once next to
    it, what values it accepts (a number's range, or a `check` of the value). Config
    validation, the agent's client overrides and set_guard all read them here."""
    meta: dict[str, Any] = {"doc": text}
    if lo is not None and hi is not None:
        meta["bounds"] = Bounds(lo, hi, lo_open)
    if check is not None:
        meta["check"] = check
    return meta


class Located:
    """Finds the line of a key in the source text, for messages that point at it."""

    def __init__(self, source: str, text: str) -> None:
        self.source = source
        self.lines = text.splitlines()

    def line_of(self, path: tuple[str, ...]) -> int | None:
        """Best-effort line number (1-based) of a dotted key path, or None."""
        if not path:
            return None
        found = self._table_header(path)
        if found is not None:
            return found
        table_line = self._table_header(path[:-1]) if len(path) > 1 else 0
        if table_line is None:
            return None
        key = re.compile(rf"^\s*[\"']?{re.escape(path[-1])}[\"']?\s*=")
        for number in range(table_line, len(self.lines)):
            text = self.lines[number]
            if number > table_line and text.lstrip().startswith("["):
                break
            if key.match(text):
                return number + 1
        return None

    def _table_header(self, path: tuple[str, ...]) -> int | None:
        dotted = r"\s*\.\s*".join(rf"[\"']?{re.escape(p)}[\"']?" for p in path)
        header = re.compile(rf"^\s*\[\s*{dotted}\s*\]")
        for number, text in enumerate(self.lines):
            if header.match(text):
                return number + 1
        return None

    def error(self, path: tuple[str, ...], message: str) -> ConfigError:
        """A ConfigError naming file, key and line (a value not from a file: the key)."""
        line = self.line_of(path)
        where = f"{self.source}:{line}" if line else self.source
        key = ".".join(path) or "(top level)"
        text = f"{where}: {key}: {message}" if where else f"{key}: {message}"
        return ConfigError(text, path or None)


def build_section(cls: type[T], raw: Any, path: tuple[str, ...], at: Located) -> T:
    """Build dataclass `cls` from a TOML table, refusing unknown keys and wrong types."""
    if not isinstance(raw, dict):
        raise at.error(path, f"must be a table, not {_kind(raw)}")
    fields = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}  # type: ignore[arg-type]
    hints = typing.get_type_hints(cls)
    for key in raw:
        if key not in fields:
            hint = suggest(key, list(fields))
            raise at.error((*path, key), f"unknown key{hint}; valid keys: {', '.join(fields)}")
    values = {
        name: check_field(fields[name], hints[name], raw[name], (*path, name), at)
        for name in fields
        if name in raw
    }
    return cls(**values)


def check_field(f: Field[Any], hint: Any, value: Any, path: tuple[str, ...], at: Located) -> Any:
    """One field's value: type-checked, converted (an int for a float), and held to the
    range or check its metadata declares; ConfigError otherwise."""
    value = _convert(hint, value, path, at)
    if value is None:  # an optional field left unset (TOML has no null to write)
        return None
    bounds: Bounds | None = f.metadata.get("bounds")
    problem = bounds.problem(value) if bounds is not None else None
    check: Check | None = f.metadata.get("check")
    if problem is None and check is not None:
        problem = check(value)
    if problem is not None:
        raise at.error(path, problem)
    return value


def field_hint(cls: type[Any], name: str) -> tuple[Field[Any], Any]:
    """A dataclass field and its resolved type hint."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    return fields[name], typing.get_type_hints(cls)[name]


def _convert(hint: Any, value: Any, path: tuple[str, ...], at: Located) -> Any:
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        return build_section(hint, value, path, at)  # type: ignore[arg-type]
    if origin is dict:
        _, value_type = typing.get_args(hint)
        if not isinstance(value, dict):
            raise at.error(path, f"must be a table, not {_kind(value)}")
        return {k: _convert(value_type, v, (*path, k), at) for k, v in value.items()}
    if origin is list:
        (item_type,) = typing.get_args(hint)
        if not isinstance(value, list):
            raise at.error(path, f"must be a list, not {_kind(value)}")
        return [_convert(item_type, v, path, at) for v in value]
    if origin in (types.UnionType, typing.Union):
        members = typing.get_args(hint)
        if type(None) in members:  # `float | None`: None only as the unset default
            if value is None:
                return None
            (hint,) = (m for m in members if m is not type(None))
            return _convert(hint, value, path, at)
        return _convert(_union_member(hint, value, path, at), value, path, at)
    return _scalar(hint, value, path, at)


def _union_member(hint: Any, value: Any, path: tuple[str, ...], at: Located) -> Any:
    """The member of a union (`int | list[int]`) whose kind the value has: a TOML list
    goes to the list member, a table to the dict one, a scalar to its own type."""
    for member in typing.get_args(hint):
        kind = typing.get_origin(member) or member
        if kind is int and isinstance(value, bool):
            continue
        if isinstance(kind, type) and isinstance(value, kind):
            return member
    names = " or ".join(_kind_name(typing.get_origin(m) or m) for m in typing.get_args(hint))
    raise at.error(path, f"must be {names}, not {_kind(value)}{_shown(value)}")


def _scalar(hint: Any, value: Any, path: tuple[str, ...], at: Located) -> Any:
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        try:
            return float(value)
        except OverflowError:  # an integer beyond any float
            raise at.error(path, f"must be a finite number, not {_brief(value)}") from None
    if hint is int and isinstance(value, bool):
        raise at.error(path, "must be an integer, not a boolean")
    if not isinstance(value, hint):
        raise at.error(path, f"must be {_kind_name(hint)}, not {_kind(value)}{_shown(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise at.error(path, f"must be a finite number, not {value}")
    if isinstance(value, str) and "\x00" in value:
        raise at.error(path, "must not contain a NUL character")
    return value


def _shown(value: Any) -> str:
    """' (value)' for a scalar; nothing for a container, whose repr may be huge or
    nested past the recursion limit."""
    if isinstance(value, (list, dict)):
        return ""
    return f" ({_brief(value)})"


def _brief(value: Any) -> str:
    text = repr(value) if not isinstance(value, int) or abs(value) < 10**30 else "a huge integer"
    return text if len(text) <= 60 else text[:57] + "..."


def _kind_name(hint: Any) -> str:
    names = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}
    return {**names, list: "a list", dict: "a table"}.get(hint, str(hint))


def _kind(value: Any) -> str:
    names = {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a table",
    }
    return names.get(type(value), type(value).__name__)


def to_plain(obj: Any) -> Any:
    """A dataclass model as plain TOML-ready data, leaving out internal fields."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        # An unset optional field (None) is left out: TOML has no null, and absent
        # reads back as unset.
        return {
            f.name: to_plain(getattr(obj, f.name))
            for f in dataclasses.fields(obj)
            if not f.metadata.get("internal") and getattr(obj, f.name) is not None
        }
    if isinstance(obj, dict):
        return {k: to_plain(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [to_plain(v) for v in obj]
    return obj


def field_docs(cls: type[Any]) -> list[tuple[str, Any, str]]:
    """(name, default, doc) of each documented field, for `config check` and help."""
    out: list[tuple[str, Any, str]] = []
    for f in dataclasses.fields(cls):
        if f.metadata.get("internal"):
            continue
        out.append((f.name, _default(f), str(f.metadata.get("doc", ""))))
    return out


def _default(f: Field[Any]) -> Any:
    if f.default is not MISSING:
        return f.default
    if f.default_factory is not MISSING:
        return f.default_factory()
    return None
