"""The TUI's key bindings by id, declared without Textual.

config.py checks a `[keymap]` table against this on a machine that never imports the
TUI (a GPU host, `config check`); tests/test_config_bounds.py keeps it equal to the
Bindings the TUI really declares.
"""

from __future__ import annotations

import re

# Binding id -> (default keys, scope). A scope is a set of bindings live at the same
# time (the main screen, or one modal); two actions in one scope may not share a key.
BINDINGS: dict[str, tuple[str, str]] = {
    "add_game": ("a", "app"),
    "remove_game": ("d", "app"),
    "scale_up": ("plus", "app"),
    "scale_down": ("minus", "app"),
    "change_gpus": ("g", "app"),
    "toggle_game": ("s", "app"),
    "apply_profile": ("p", "app"),
    "toggle_ramp": ("r", "app"),
    "show_detail": ("enter", "app"),
    "toggle_compare": ("m", "app"),
    "show_log": ("l", "app"),
    "show_plan": ("t", "app"),
    "tune": ("u", "app"),
    "install": ("i", "app"),
    "retry_now": ("c", "app"),
    "help": ("question_mark", "app"),
    "select_left": ("left,h", "app"),
    "select_right": ("right", "app"),
    "select_up": ("up,k", "app"),
    "select_down": ("down,j", "app"),
    "quit": ("q", "app"),
    "confirm_yes": ("y", "confirm"),
    "confirm_no": ("n,escape", "confirm"),
    "pick_cancel": ("escape", "pick"),
    "text_close": ("escape,q", "text"),
    "progress_close": ("escape", "progress"),
    "plan_close": ("escape,q", "plan"),
    "detail_close": ("escape", "detail"),
    "detail_axis": ("w", "detail"),
    "detail_smoothing": ("s", "detail"),
    "detail_log_y": ("y", "detail"),
    "detail_page": ("p", "detail"),
    "detail_overlay": ("o", "detail"),
    "detail_trial": ("v", "detail"),
    "detail_watch": ("f", "detail"),
    "watch_close": ("escape,q", "watch"),
    "tune_close": ("escape,q", "tune"),
    "tune_apply": ("a", "tune"),
}

# Keys as typed -> Textual's names for them.
ALIASES = {"+": "plus", "-": "minus", "?": "question_mark", " ": "space"}
_KEY = re.compile(r"((ctrl|shift|alt|meta|super|hyper)\+)*([a-z0-9_]+|[^\sA-Za-z0-9_,])")


def keys_of(spec: str) -> list[str]:
    """A binding's comma-separated keys, each in Textual's spelling."""
    return [ALIASES.get(k, k.strip()) for k in spec.split(",")] if spec else [""]


def key_problem(spec: str) -> str | None:
    """Why `spec` is not a key list Textual can bind, or None."""
    for key in keys_of(spec):
        if not _KEY.fullmatch(key):
            return (
                f'{key!r} is not a key; use a key name like "a", "plus", "f2" or '
                '"ctrl+x", several separated by commas'
            )
    return None


def conflicts(keymap: dict[str, str]) -> list[tuple[str, str, str]]:
    """(action, other action, key) for each key two actions of one scope would share
    once `keymap` is applied over the defaults."""
    seen: dict[tuple[str, str], str] = {}
    out = []
    # The remapped actions last, so the conflict is reported on the line the user wrote.
    order = sorted(BINDINGS, key=lambda a: a in keymap)
    for action in order:
        default, scope = BINDINGS[action]
        for key in keys_of(keymap.get(action, default)):
            other = seen.setdefault((scope, key), action)
            if other != action:
                out.append((action, other, key))
    return out
