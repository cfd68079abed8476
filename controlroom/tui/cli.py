"""`controlroom HOST [HOST...]` and `controlroom local`: parse, check, open the app.

Bad input (unknown alias, refused connection, failed authentication, host key mismatch,
no agent, agent version mismatch, bad config) is one line on stderr and exit 2. One
exception: a host with no agent, asked for in a terminal, opens the app, which says so
and offers the install (a script still gets the one line and exit 2).
"""

from __future__ import annotations

import argparse
import asyncio
import shlex
import sys
from functools import partial
from pathlib import Path

from controlroom.config import (
    Config,
    ConfigError,
    HostConfig,
    find_config,
    load,
    loads,
    starter_text,
)
from controlroom.link import bootstrap, local
from controlroom.link.agent_channel import open_session
from controlroom.link.errors import NO_AGENT, TIMEOUT, UNKNOWN_HOST, LinkError
from controlroom.link.reconnect import Opener
from controlroom.link.ssh import SshTarget
from controlroom.tui.key_requests import BUILT_IN_SOURCE
from controlroom.tui.target import HostTarget, Progress

EXIT_BAD_INPUT = 2
PREFLIGHT_TIMEOUT_S = 30.0
LOCAL_GAMES = ("CartPole", "Pong")  # what `make run` trains: see _local_games


def main_hosts(argv: list[str]) -> int:
    """`controlroom HOST [HOST...]`: the TUI over SSH; several hosts make a fleet."""
    args = _hosts_parser().parse_args(argv)
    try:
        config, config_path = _config(args.config)
    except ConfigError as exc:
        return _fail(f"config: {exc}")
    if args.insecure_accept_host_key:
        print(
            "WARNING: --insecure-accept-host-key: host keys are NOT checked; anyone on the "
            "path can impersonate these hosts",
            file=sys.stderr,
        )
    targets = [_ssh_target(name, config, config_path, args) for name in args.hosts]
    try:
        if args.install:
            asyncio.run(_install_all(targets))
    except LinkError as exc:
        return _fail(exc.message)
    except KeyboardInterrupt:
        return 130
    try:
        asyncio.run(_preflight(targets, strict=len(targets) == 1))
    except LinkError as exc:
        if not (exc.kind == NO_AGENT and not args.readonly and _interactive()):
            return _fail(exc.message)
    except KeyboardInterrupt:
        return 130
    from controlroom.tui.app import build_app  # Textual loads only once there is an app to show

    app = build_app(targets, config=config, readonly=args.readonly)
    app.run()
    return app.return_code or 0


def main_local(argv: list[str]) -> int:
    """`controlroom local`: the same app against an agent on this machine (started if needed)."""
    args = _local_parser().parse_args(argv)
    try:
        config, config_path = _config(args.config)
    except ConfigError as exc:
        return _fail(f"config: {exc}")
    state_dir = Path(args.state_dir or config.agent.state_dir).expanduser()
    games = () if args.readonly else _local_games(args.games)
    try:
        socket_path = local.ensure_agent(state_dir, config_path)
        asyncio.run(_probe(partial(local.open_local, socket_path)))
    except LinkError as exc:
        return _fail(exc.message)
    target = HostTarget("local", partial(local.open_local, socket_path), ensure_games=games)
    from controlroom.tui.app import build_app  # Textual loads only once there is an app to show

    app = build_app([target], config=config, readonly=args.readonly)
    app.run()
    print(_still_training_note(args.state_dir), file=sys.stderr)
    return app.return_code or 0


def _interactive() -> bool:
    """A person at a terminal (the app can offer the install), not a script."""
    return sys.stdin.isatty() and sys.stdout.isatty()


def _still_training_note(state_dir: str | None) -> str:
    """The agent outlives the TUI by design; a first-time user should not find out by fan noise."""
    flag = f" --state-dir {shlex.quote(state_dir)}" if state_dir else ""
    # This interpreter's own path: the note works with the venv off PATH (`make run`).
    me = f"{shlex.quote(sys.executable)} -m controlroom"
    return (
        "controlroom: the local agent keeps training in the background. "
        f"Reopen: {me} local{flag} | pause every game: {me} agent stop-all{flag}"
        f" | stop it all: {me} agent shutdown --stop-trainers{flag}"
    )


def _hosts_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="controlroom", description="The control room over SSH.")
    p.add_argument("hosts", nargs="+", metavar="HOST", help="ssh-config aliases (or [hosts.X])")
    _common(p)
    p.add_argument("--ssh-config", type=Path, help="read this ssh config, not ~/.ssh/config")
    p.add_argument(
        "--insecure-accept-host-key",
        action="store_true",
        help="do NOT check host keys (unsafe; prefer `ssh HOST` once to accept)",
    )
    p.add_argument(
        "--install",
        action="store_true",
        help="install (or upgrade) the agent on each host, then open the TUI",
    )
    return p


def _local_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="controlroom local", description="The control room on this machine, no SSH."
    )
    _common(p)
    p.add_argument("--state-dir", help="the local agent's state dir (default: [agent].state_dir)")
    p.add_argument(
        "--game",
        action="append",
        dest="games",
        metavar="GAME",
        help="a game to train unless already wanted, repeatable (default: "
        f"{' and '.join(LOCAL_GAMES)}; 'none' for none)",
    )
    return p


def _local_games(asked: list[str] | None) -> tuple[str, ...]:
    """The games `controlroom local` makes sure of: CartPole learns visibly within a minute
    on a CPU (a rising curve on the detail screen), Pong is the real job beside it."""
    if asked is None:
        return LOCAL_GAMES
    return tuple(g for g in asked if g.lower() != "none")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="config.toml (default: $CONTROLROOM_CONFIG, XDG, ./)")
    p.add_argument("--readonly", action="store_true", help="watch only: every action refused")


def _config(explicit: str | None) -> tuple[Config, Path | None]:
    """The laptop's config; with no file, the built-in defaults `config check` prints."""
    path = find_config(explicit)
    if path is None:
        return loads(starter_text(), BUILT_IN_SOURCE), None
    return load(path), path


def _ssh_target(
    name: str, config: Config, config_path: Path | None, args: argparse.Namespace
) -> HostTarget:
    host = config.hosts.get(name) or HostConfig(ssh_alias=name)
    ssh = SshTarget(
        host.ssh_alias or name,
        ssh_config=args.ssh_config,
        insecure_accept_host_key=args.insecure_accept_host_key,
    )

    async def install(progress: Progress) -> None:
        await bootstrap.install(ssh, host, config_path, progress)

    return HostTarget(name, partial(open_session, ssh, host), install=install)


async def _install_all(targets: list[HostTarget]) -> None:
    for target in targets:
        assert target.install is not None
        await target.install(_printer(target.name))


def _printer(name: str) -> Progress:
    def say(line: str) -> None:
        print(f"{name}: {line}", flush=True)

    return say


async def _preflight(targets: list[HostTarget], *, strict: bool) -> None:
    """Reach every host once; one host: any failure is fatal; a fleet: only bad names are."""
    results = await asyncio.gather(*(_probe(t.open) for t in targets), return_exceptions=True)
    for target, result in zip(targets, results, strict=True):
        if isinstance(result, LinkError) and (strict or result.kind == UNKNOWN_HOST):
            raise LinkError(result.kind, f"{target.name}: {result.message}")
        if isinstance(result, BaseException) and not isinstance(result, LinkError):
            raise result


async def _probe(opener: Opener) -> None:
    try:
        async with asyncio.timeout(PREFLIGHT_TIMEOUT_S):
            session = await opener()
    except TimeoutError:
        raise LinkError(TIMEOUT, f"no answer within {PREFLIGHT_TIMEOUT_S:.0f}s") from None
    await session.close()


def _fail(message: str) -> int:
    print(f"controlroom: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT
