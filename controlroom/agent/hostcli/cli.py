"""`controlroom agent ...`: run the daemon, or talk to it through its socket.

Exit codes: 0 done, 1 the agent is unreachable or failed, 2 a usage error or a request
the agent refused as invalid (unknown game, bad numbers; nothing changed), 3 refused by
the load guard.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from controlroom import __version__, protocol
from controlroom.agent.alerts import cli as alerts_cli
from controlroom.agent.hostcli import eval_cli, history_cli, policycli, tune_cli
from controlroom.agent.hostcli.client import AgentUnavailable, Client, OpFailed
from controlroom.agent.storage import paths
from controlroom.agent.storage.configfile import state_dir_for
from controlroom.agent.supervision import job_parts
from controlroom.config import ConfigError, find_config
from controlroom.protocol import ProtocolError

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_REFUSED = 0, 1, 2, 3
USAGE_CODES = {"bad_request", "invalid", "unknown_game", "not_found", "unknown_op", "bad_json"}
SETTING_FLAGS = (
    ("num_envs", int),
    ("num_steps", int),
    ("minibatch_size", int),
    ("target_episodes", int),
    ("seed", int),
    ("device", str),
    ("checkpoint_interval_s", float),
    # A job over several hosts (docs/multi-gpu.md): the same --rendezvous and --job-id
    # on every host, each its own --node-rank.
    ("nodes", int),
    ("node_rank", int),
    ("rendezvous", str),
    ("job_id", str),
)


def build_parser() -> argparse.ArgumentParser:
    """The whole `agent` command line."""
    top = argparse.ArgumentParser(
        prog="controlroom agent", description="The GPU host's training supervisor."
    )
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = _sub(sub, "run", "run the agent in the foreground (what systemd starts)")
    run.add_argument("--config", help="config file to seed the agent's own copy from")
    ensure = _sub(sub, "ensure", "start the agent in the background unless it runs")
    ensure.add_argument("--config", help="as for run")
    _sub(sub, "where", "print the socket, state dir and version as JSON")
    _sub(sub, "status", "games, GPUs and host").add_argument("--json", action="store_true")
    add = _sub(sub, "add", "want a game trained (started at once)")
    add.add_argument("game")
    for name, kind in SETTING_FLAGS:
        add.add_argument("--" + name.replace("_", "-"), type=kind, dest=name)
    add.add_argument("--gpus", type=policycli.gpus_flag, metavar="N|I,J", help=policycli.GPUS_HELP)
    add.add_argument("--json", action="store_true", help="print the game's state as JSON")
    for name, text in (
        ("remove", "stop a game and forget it"),
        ("start", "start a stopped, finished or crash-looping game"),
        ("stop", "stop a game's trainer, keep the game"),
    ):
        _sub(sub, name, text).add_argument("game")
    scale = _sub(sub, "scale", "change a game's env count (restarts from its checkpoint)")
    scale.add_argument("game")
    scale.add_argument("--num-envs", type=int, required=True)
    scale.add_argument(
        "--this-node",
        action="store_true",
        help="a part of a job over several hosts: change this node alone (scale the others "
        "alike, node 1.. first, node 0 last; the job refuses to start until they match)",
    )
    _sub(sub, "stop-all", "stop every trainer")
    down = _sub(sub, "shutdown", "stop the agent (trainers keep running unless told)")
    down.add_argument("--stop-trainers", action="store_true", help="stop every trainer first")
    _sub(sub, "reboots", "the boots and reboots seen").add_argument("--json", action="store_true")
    events = _sub(sub, "events", "the event log")
    events.add_argument("--follow", "-f", action="store_true", help="keep printing new events")
    events.add_argument("--limit", type=int, default=50)
    events.add_argument("--json", action="store_true")
    history_cli.add_parser(sub, _sub)
    log = _sub(sub, "log", "the tail of a game's trainer.log")
    log.add_argument("game")
    log.add_argument("--lines", "-n", type=int, default=50)
    _sub(sub, "bridge", "copy stdin/stdout to the agent's socket (SSH fallback)")
    install = _sub(sub, "install", "start the agent at boot (systemd user unit or cron)")
    install.add_argument("--mode", choices=("auto", "systemd", "cron"), default="auto")
    install.add_argument("--config", help="config file the agent starts from")
    _sub(sub, "uninstall", "remove what install added")
    policycli.add_parsers(sub, _sub)
    alerts_cli.add_parser(sub, STATE_DIR_HELP)
    eval_cli.add_parsers(sub, _sub)  # agent/evaluation/
    tune_cli.add_parsers(sub, _sub)  # agent/policy/tune.py
    return top


def _sub(sub: Any, name: str, text: str, epilog: str | None = None) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(
        name, help=text, description=text, epilog=epilog
    )
    parser.add_argument("--state-dir", help=STATE_DIR_HELP)
    return parser


STATE_DIR_HELP = f"agent state dir (${paths.STATE_DIR_ENV}, else the config's [agent].state_dir)"


def main(argv: list[str]) -> int:
    """Entry point for `controlroom agent ARGS...` (argv without "agent")."""
    args = build_parser().parse_args(argv)
    try:
        return _dispatch(args)
    except ConfigError as exc:
        print(f"controlroom agent: config error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except AgentUnavailable as exc:
        print(
            f"controlroom agent: {exc} (is it running? `controlroom agent ensure`)", file=sys.stderr
        )
        return EXIT_FAIL
    except OpFailed as exc:
        print(f"controlroom agent: {_one_line(exc.message)}", file=sys.stderr)
        return (
            EXIT_REFUSED
            if exc.code == "refused"
            else (EXIT_USAGE if exc.code in USAGE_CODES else EXIT_FAIL)
        )
    except ProtocolError as exc:  # the agent's side of the wire, not the user's input
        print(
            f"controlroom agent: the agent's answer broke the protocol ({exc.code}): "
            f"{_one_line(exc.message)}",
            file=sys.stderr,
        )
        return EXIT_FAIL
    except OSError as exc:  # the socket timed out or was reset mid-conversation
        print(
            f"controlroom agent: lost the agent: {_one_line(str(exc) or type(exc).__name__)}",
            file=sys.stderr,
        )
        return EXIT_FAIL
    except KeyboardInterrupt:
        return EXIT_FAIL


def _one_line(text: str) -> str:
    return " ".join(text.split())[:500]


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "run":
        from controlroom.agent.run import run_agent

        return run_agent(args.state_dir, args.config)
    if args.command in ("ensure", "install", "uninstall"):
        from controlroom.agent.hostcli.autostart import command

        return command(args)
    state_dir = state_dir_for(args.state_dir)
    if args.command == "where":
        print(
            json.dumps(
                {
                    "socket": str(paths.socket_path(state_dir)),
                    "state_dir": str(state_dir),
                    "version": __version__,
                }
            )
        )
        return EXIT_OK
    if args.command == "alerts":  # sent from here: it needs no running agent
        copy = paths.config_copy_path(state_dir)
        return alerts_cli.run(args, copy if copy.exists() else find_config(args.config))
    if args.command == "bridge":
        from controlroom.agent.hostcli.bridge import bridge

        return bridge(paths.socket_path(state_dir))
    with Client(paths.socket_path(state_dir)) as client:
        return _request(args, client)


def _request(args: argparse.Namespace, client: Client) -> int:
    from controlroom.agent.hostcli import show

    cmd = args.command
    if cmd == "status":
        state = client.call("status")
        print(
            json.dumps(state, indent=1) if args.json else show.status_text(protocol.as_state(state))
        )
    elif cmd == "reboots":
        found = client.call("reboots")
        boots = protocol.as_result(found, protocol.Boots).boots
        print(json.dumps(found["boots"], indent=1) if args.json else show.boots_text(boots))
    elif cmd == "events":
        return _events(args, client)
    elif cmd == "history":
        print(history_cli.run(args, client))
    elif cmd == "log":
        print("\n".join(client.call("game_log", game=args.game, lines=args.lines)["lines"]))
    elif cmd in policycli.COMMANDS:
        return policycli.run(args, client)
    elif cmd in tune_cli.COMMANDS:
        return tune_cli.run(args, client)
    elif cmd in eval_cli.COMMANDS:  # agent/evaluation/
        print(eval_cli.run(args, client))
    elif cmd == "scale" and not args.this_node and (part := _part_of_job(args, client)):
        print(f"controlroom agent: {_scale_refusal(part, args.num_envs)}", file=sys.stderr)
        return EXIT_USAGE
    else:
        print(_mutate(args, client))
    return EXIT_OK


def _mutate(args: argparse.Namespace, client: Client) -> str:
    from controlroom.agent.hostcli import show

    cmd = args.command
    if cmd == "add":
        flags = [*(n for n, _ in SETTING_FLAGS), "gpus"]
        settings = {n: getattr(args, n) for n in flags if getattr(args, n) is not None}
        result = client.call("add_game", game=args.game, settings=settings)
        if args.json:
            return json.dumps(result, indent=1)
        added = protocol.as_result(result, protocol.GameChange)
        g = added.game
        verb = "added" if added.changed else "already wanted, unchanged"
        return f"{g.game}: {verb} ({g.state}, {g.settings['num_envs']} envs{show.placed_text(g)})"
    if cmd == "scale":
        g = client.call_as(
            protocol.GameChange, "scale_game", game=args.game, num_envs=args.num_envs
        ).game
        done = f"{g.game}: {g.settings['num_envs']} envs ({g.state})"
        if (span := job_parts.part_of_job(g)) is not None:
            done += f"\n  node {span.node_rank} of job {span.job_id}: scale every other node alike"
        return done
    if cmd == "stop-all":
        stopped = client.call_as(protocol.Stopped, "stop_all").stopped
        return f"stopped: {', '.join(stopped) or 'nothing running'}"
    if cmd == "shutdown":
        down = client.call_as(protocol.Stopped, "shutdown", stop_trainers=args.stop_trainers)
        stopped = down.stopped
        return "agent stopping" + (f"; stopped: {', '.join(stopped)}" if stopped else "")
    if cmd == "remove":
        return f"{client.call_as(protocol.Removed, 'remove_game', game=args.game).removed}: removed"
    op = {"start": "start_game", "stop": "stop_game"}[cmd]
    return f"{args.game}: {client.call_as(protocol.GameChange, op, game=args.game).game.state}"


def _part_of_job(args: argparse.Namespace, client: Client) -> protocol.GameState | None:
    """The game to scale when it is a part of a job over several hosts, else None."""
    g = protocol.as_state(client.call("status")).games.get(args.game)
    return g if g is not None and job_parts.part_of_job(g) is not None else None


def _scale_refusal(g: protocol.GameState, num_envs: int) -> str:
    """Why `scale` leaves a part of a job over several hosts alone: one node changed
    alone makes the whole job refuse to start (its ranks would be out of step)."""
    span = job_parts.part_of_job(g)
    assert span is not None
    return job_parts.scale_refusal(g.game, span, num_envs)


def _events(args: argparse.Namespace, client: Client) -> int:
    from controlroom.agent.hostcli import show

    for e in fetch_events(client, args.limit):
        print(json.dumps(e) if args.json else show.event_text(as_event(e)), flush=True)
    if not args.follow:
        return EXIT_OK
    client.sock.settimeout(None)
    for msg in client.messages():
        if msg.get("type") == "event":
            e = msg["event"]
            print(json.dumps(e) if args.json else show.event_text(as_event(e)), flush=True)
    return EXIT_OK


def as_event(plain: protocol.JSONObject) -> protocol.Event:
    """One event (as --json prints it) as the typed Event."""
    return protocol.as_result(plain, protocol.Event)


def fetch_events(client: Client, limit: int) -> list[protocol.JSONObject]:
    """The newest `limit` events, oldest first, as sent (`--json` prints them so),
    following the agent's pages (each reply fits one line, so a big log comes in
    several)."""
    pages: list[list[protocol.JSONObject]] = []
    cursor: dict[str, int] = {}  # `before`, from the second page on
    while True:
        result = client.call("events", limit=limit, **cursor)
        pages.append(result["events"])
        limit -= len(result["events"])
        if not result.get("more") or not result["events"] or limit <= 0:
            break
        cursor = {"before": result["next_before"]}
    return [e for page in reversed(pages) for e in page]
