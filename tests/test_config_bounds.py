"""Every config value bounded, every bad value one line (issue 11.2).

`controlroom config check` (the real entry, in-process through controlroom.cli.main)
on the shipped config.toml with one field mutated to a boundary, wrong-type or absurd
value: exit 2, one line naming file:line and the key, no traceback, nothing written.
"""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
import types
import typing
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controlroom import cli, config, keys
from controlroom.config_schema import Bounds
from controlroom.gpus import Gpus

SHIPPED = (Path(config.__file__).parent / "assets" / "config.toml").read_text()

# One table per section of the shipped file: (TOML header, dataclass).
SECTIONS: list[tuple[str, type[Any]]] = [
    ("trainer", config.TrainerDefaults),
    ("hosts.tnr-0", config.HostConfig),
    ("games.CartPole", config.GameConfig),
    ("profiles.light", config.ProfileConfig),
    ("ramp", config.RampConfig),
    ("guard", config.GuardConfig),
    ("agent", config.AgentConfig),
    ("diagnostics", config.DiagnosticsConfig),
    ("alerts", config.AlertsConfig),
    ("evaluation", config.EvaluationConfig),
]
FIELDS = [(h, cls, f) for h, cls in SECTIONS for f in dataclasses.fields(cls)]


def with_value(header: str, key: str, toml_value: str) -> str:
    """The shipped text with `key` of table `header` set to `toml_value`."""
    lines, out, inside, done = SHIPPED.splitlines(), [], False, False
    for line in lines:
        if line.startswith("["):
            if inside and not done:
                out.append(f"{key} = {toml_value}")
                done = True
            inside = line.split("#")[0].strip() == f"[{header}]"
        replace = inside and re.match(rf"{re.escape(key)}\s*=", line) is not None
        done |= replace
        out.append(f"{key} = {toml_value}" if replace else line)
    if inside and not done:
        out.append(f"{key} = {toml_value}")
    return "\n".join(out) + "\n"


def check(tmp: Path, text: str | bytes) -> tuple[int, str, str]:
    """Run `controlroom config check --config FILE` in-process; (exit, out, err)."""
    path = tmp / "config.toml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    before = path.read_bytes()
    out, err = tmp / "out", tmp / "err"
    with out.open("w") as o, err.open("w") as e:
        saved = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = o, e
        try:
            code = cli.main(["config", "check", "--quiet", "--config", str(path)])
        finally:
            sys.stdout, sys.stderr = saved
    assert path.read_bytes() == before and sorted(p.name for p in tmp.iterdir()) == [
        "config.toml",
        "err",
        "out",
    ]
    return code, out.read_text(), err.read_text()


def assert_refused(tmp: Path, text: str | bytes, key: str) -> str:
    code, out, err = check(tmp, text)
    assert code == 2, (key, out, err)
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert re.match(rf"controlroom: {re.escape(str(tmp))}/config.toml:\d+: ", err), err
    assert key in err, (key, err)
    return err


def bad_values(hint: Any, f: dataclasses.Field[Any]) -> st.SearchStrategy[str]:
    """TOML literals a field must refuse."""
    wrong_type = st.sampled_from(['"x"', "[1, 2]", "{a = 1}", "true", "1979-05-27"])
    bounds: Bounds | None = f.metadata.get("bounds")
    if hint in (int, float) and bounds is not None:
        beyond = [bounds.hi * 10 + 1, bounds.hi + 1, bounds.lo - 1, -1e300, 1e300]
        if bounds.lo_open:
            beyond.append(bounds.lo)
        nums = [
            repr(int(b)) if hint is int else repr(float(b))
            for b in beyond
            if b < bounds.lo or b > bounds.hi or (b == bounds.lo and bounds.lo_open)
        ]
        absurd = (
            ["nan", "inf", "-inf", "1" + "0" * 40] if hint is float else ["1.5", "1" + "0" * 40]
        )
        return st.sampled_from(nums + absurd) | wrong_type
    if hint == Gpus:  # a count or a list of device indices
        return st.sampled_from(['"2"', "true", "{a = 1}", "[]", "[1, 1]", "-1", "1000", "[-1]"])
    if hint is bool:
        return st.sampled_from(['"yes"', "1", "[]", "0.5"])
    if hint is str:
        return st.sampled_from(["1", "[]", "true"])
    return st.sampled_from(['"x"', "1", "true", "{a = 1}"])  # lists


CHECKED_STRINGS = {  # string fields with a check, and values they must refuse
    ("trainer", "device"): ['"tpu"', '""', '"cuda:"', '"cuda:x"', '"CPU"'],
    ("trainer", "command"): ['["{gmae}"]', '["python", "{game"]', '[""]', '["{seed!r}"]'],
    ("hosts.tnr-0", "ssh_alias"): ['""', '"  "', '"tnr 0"', '"-oProxyCommand=x"', '"a\\tb"'],
    ("hosts.tnr-0", "python"): ['""'],
    ("agent", "state_dir"): ['"  "'],
    ("profiles.light", "description"): ['"two\\nlines"'],
    ("trainer", "seed"): ["-1"],
    ("games.CartPole", "command"): ['["{nope}"]'],
    ("alerts", "urls"): ['["ntfy.sh/topic"]', '["://x"]', '["json://a b"]', '["json://"]'],
    ("alerts", "kinds"): ['["crash_lop"]', '["alert_sent"]', '["hung", "hung"]'],
    ("alerts", "heartbeat_url"): ['"ftp://x/y"', '"hc-ping.com/x"', '"http://a b"'],
    ("alerts", "command"): ['[""]'],
}


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_every_field_refuses_absurd_values(
    tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    header, cls, f = data.draw(st.sampled_from(FIELDS))
    hint = typing.get_type_hints(cls)[f.name]
    if typing.get_origin(hint) is types.UnionType and type(None) in typing.get_args(hint):
        (hint,) = (m for m in typing.get_args(hint) if m is not type(None))  # unset = None
    value = data.draw(bad_values(hint, f))
    assert_refused(tmp_path_factory.mktemp("c"), with_value(header, f.name, value), f.name)


@pytest.mark.parametrize(("where", "values"), list(CHECKED_STRINGS.items()))
def test_names_are_checked(
    tmp_path_factory: pytest.TempPathFactory, where: tuple[str, str], values: list[str]
) -> None:
    for value in values:
        assert_refused(tmp_path_factory.mktemp("c"), with_value(*where, value), where[1])


PAIRS = [
    ("agent", "backoff_initial_s = 120.0", "backoff_max_s"),
    ("ramp", "start_games = 7", "max_games"),
    ("trainer", "num_envs = 1000000000000", "num_envs"),
    ("profiles.heavy", "num_envs = 1000000000000", "num_envs"),
    ("agent", "telemetry_s = -2.0", "telemetry_s"),
    ("guard", "max_gpu_temp_c = -40.0", "max_gpu_temp_c"),
    ("keymap", 'show_log = "a"', "show_log"),  # a is add_game's
    ("keymap", 'add_gme = "x"', "add_gme"),
    ("keymap", 'quit = ""', "quit"),
    ("keymap", 'help = "?"\nshow_plan = "question_mark"', "help"),
]


@pytest.mark.parametrize(("header", "line", "key"), PAIRS)
def test_pairs_and_keymap(tmp_path: Path, header: str, line: str, key: str) -> None:
    text = SHIPPED.replace(f"[{header}]\n", f"[{header}]\n{line}\n", 1)
    assert f"[{header}]\n{line}" in text
    # The line added goes first: drop a later duplicate of the same key.
    first = line.split(" = ", maxsplit=1)[0].split("\n", maxsplit=1)[0]
    lines, seen = [], False
    for ln in text.splitlines():
        if re.match(rf"{re.escape(first)}\s*=", ln) and seen and ln != line:
            continue
        seen |= re.match(rf"{re.escape(first)}\s*=", ln) is not None
        lines.append(ln)
    assert_refused(tmp_path, "\n".join(lines) + "\n", key)


@pytest.mark.parametrize(
    "blob",
    [
        b"[trainer]\nseed = 1\n# caf\xe9\n",
        b"\xff\xfe[\x00",
        b"a = " + b"[" * 5000,
        b"a = " + b"9" * 5000,
    ],
)
def test_unreadable_files_are_one_line(tmp_path: Path, blob: bytes) -> None:
    code, _, err = check(tmp_path, blob)
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err


def test_shipped_and_top_level_config_pass_and_agree(repo_root: Path) -> None:
    assert (repo_root / "config.toml").read_text() == SHIPPED
    config.loads(SHIPPED, "shipped")


def test_keymap_ids_match_the_tui_bindings() -> None:
    """keys.BINDINGS is what config.py checks [keymap] against: it must list every
    binding id the TUI declares, with its default keys."""
    from textual.binding import Binding

    from controlroom.tui import app
    from controlroom.tui.screens import detail, main, modals, tune, watch

    owners = [
        c
        for m in (app, main, modals, detail, watch, tune)
        for c in vars(m).values()
        if isinstance(c, type) and c.__module__ == m.__name__
    ]
    declared = {
        b.id: b.key
        for o in owners
        for b in getattr(o, "BINDINGS", [])
        if isinstance(b, Binding) and b.id
    }
    assert declared == {k: v for k, (v, _) in keys.BINDINGS.items()}


def test_config_check_subprocess_never_tracebacks(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(with_value("guard", "max_gpu_temp_c", "nan"))
    proc = subprocess.run(
        [sys.executable, "-m", "controlroom", "config", "check", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2 and "guard.max_gpu_temp_c" in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1
