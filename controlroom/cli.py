"""`controlroom`: the one command. Dispatches to the laptop TUI, the host agent or the trainer.

Each half is imported only when asked for, so `controlroom --help` is instant and a laptop
without torch or envpool never touches them.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from controlroom import __version__, extras
from controlroom.config import (
    Config,
    ConfigError,
    default_config_path,
    dump,
    find_config,
    load,
    loads,
)
from controlroom.config import starter_text as _starter_text
from controlroom.redact import redact

EXIT_USAGE = 2

HELP = f"""\
usage: controlroom HOST [HOST ...] [--readonly] [--install] [--config FILE]
       controlroom local [--game GAME ...] [--readonly] [--state-dir DIR]
       controlroom agent {{run,status,add,remove,scale,stop-all,reboots,events,...}} ...
       controlroom train --game GAME [--num-envs N ...]
       controlroom init [--config FILE] [--force]
       controlroom config check [--config FILE]

A control room for RL training on a rented GPU box (controlroom {__version__}).

commands:
  HOST ...        open the TUI on one or more hosts named in ~/.ssh/config (e.g. tnr-0);
                  several hosts give a fleet overview with a tab per host
  local           the same TUI against an agent on this machine, no SSH: trains CartPole
                  (learns within a minute) beside Pong on the CPU out of the box
  agent           the headless host daemon and its CLI (`controlroom agent --help`)
  train           run one trainer by hand (`controlroom train --help`)
  init            write a documented starter config.toml
  config check    validate a config file and print the resolved settings (like nginx -t)

config lookup: --config, $CONTROLROOM_CONFIG, $XDG_CONFIG_HOME/controlroom/config.toml,
./config.toml, else built-in defaults.

options:
  -h, --help      show this help and exit
  --version       print the version and exit
"""

# subcommand -> (module, function); the function takes the remaining argv.
_DELEGATES: dict[str, tuple[str, str]] = {
    "local": ("controlroom.tui.cli", "main_local"),
    "agent": ("controlroom.agent.hostcli.cli", "main"),
    "train": ("controlroom.trainer.cli", "main"),
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `controlroom` console script."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        return _dispatch(args)
    except ConfigError as exc:
        print(f"controlroom: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


def _dispatch(args: list[str]) -> int:
    if not args or args[0] in ("-h", "--help", "help"):
        print(HELP, end="")
        return 0 if args else EXIT_USAGE
    if args[0] == "--version":
        print(f"controlroom {__version__}")
        return 0
    command, rest = args[0], args[1:]
    if command in _DELEGATES:
        return _delegate(command, rest)
    if command == "init":
        return _init(rest)
    if command == "config":
        return _config(rest)
    if command.startswith("-"):
        print(f"controlroom: unknown option {command!r}; see `controlroom --help`", file=sys.stderr)
        return EXIT_USAGE
    return _delegate_hosts(args)


def _delegate(command: str, rest: list[str]) -> int:
    module, function = _DELEGATES[command]
    return run_entry(module, function, command, rest)


def _delegate_hosts(args: list[str]) -> int:
    return run_entry("controlroom.tui.cli", "main_hosts", "HOST", args)


def run_entry(module: str, function: str, what: str, argv: list[str]) -> int:
    """Import a half lazily and run it; a missing or broken module of the host extra (at
    import or deeper, when a subcommand loads it) is one line with the install hint, not
    a traceback. The one place that says so: `controlroom ...` and `python -m
    controlroom.agent|trainer` (what `ensure` and the agent start) all come through here."""
    try:
        entry: Callable[[list[str]], int] = getattr(importlib.import_module(module), function)
        return entry(argv)
    except ImportError as exc:
        line = extras.import_problem(exc, what) or _unbuilt(exc, what)
        if line is None:  # any other ImportError is a bug: its traceback is wanted
            raise
        print(f"controlroom: {line}", file=sys.stderr)
        return EXIT_USAGE


def _unbuilt(exc: ImportError, what: str) -> str | None:
    missing = exc.name or ""
    if not isinstance(exc, ModuleNotFoundError) or not missing.startswith("controlroom"):
        return None
    return f"{what}: missing module {missing!r}; `controlroom {what}` is not built yet"


def _init(rest: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="controlroom init", description="Write a documented starter config.toml."
    )
    parser.add_argument(
        "--config",
        help="where to write (default: $CONTROLROOM_CONFIG or "
        "$XDG_CONFIG_HOME/controlroom/config.toml)",
    )
    parser.add_argument("--force", action="store_true", help="overwrite an existing file")
    opts = parser.parse_args(rest)
    path = Path(opts.config).expanduser() if opts.config else default_config_path()
    if path.exists() and not opts.force:
        print(f"controlroom init: {path} exists; pass --force to overwrite it", file=sys.stderr)
        return EXIT_USAGE
    text = _starter_text()
    loads(text, "<starter>")  # never write a starter that would not load
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    print(f"wrote {path}")
    return 0


def _config(rest: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="controlroom config", description="Config tools.")
    sub = parser.add_subparsers(dest="action", required=True)
    check = sub.add_parser("check", help="validate a config and print the resolved settings")
    check.add_argument("--config", help="the file to check (default: the lookup order)")
    check.add_argument("--quiet", action="store_true", help="print only errors")
    opts = parser.parse_args(rest)
    path = find_config(opts.config)
    if path is None:
        print("controlroom config check: no config file found; using built-in defaults")
        cfg = loads(_starter_text(), "<built-in defaults>")
    else:
        cfg = load(path)
    if not opts.quiet:
        print(f"# {cfg.source}: OK\n")
        print(dump(_shown(cfg)), end="")
    return 0


def _shown(cfg: Config) -> Config:
    """The config as printed: alert URLs redacted (they hold tokens)."""
    a = cfg.alerts
    hidden = dataclasses.replace(
        a,
        urls=[redact(u) for u in a.urls],
        heartbeat_url=redact(a.heartbeat_url) if a.heartbeat_url else "",
    )
    return dataclasses.replace(cfg, alerts=hidden)


if __name__ == "__main__":
    raise SystemExit(main())
