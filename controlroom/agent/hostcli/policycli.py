"""`controlroom agent apply|ramp|migrate|rollback|trial|queue|guard|plan`: the policies
from the host's shell, each one op of docs/policies.md through the agent's socket."""

from __future__ import annotations

import argparse
import json
import tomllib
from collections.abc import Callable
from typing import Any

import msgspec

from controlroom import protocol
from controlroom.agent.hostcli import show
from controlroom.agent.hostcli.client import Client
from controlroom.config import Settings
from controlroom.gpus import Gpus, parse_gpus

COMMANDS = (
    "apply",
    "ramp",
    "migrate",
    "rollback",
    "trial",
    "trial-decide",
    "queue",
    "guard",
    "plan",
)
SHAPE_FLAGS = (
    ("num_envs", "parallel environments"),
    ("num_steps", "steps per env per rollout"),
    ("minibatch_size", "PPO minibatch; must divide num_envs*num_steps"),
)
EXIT_OK, EXIT_USAGE, EXIT_REFUSED = 0, 2, 3

Maker = Callable[..., argparse.ArgumentParser]


def add_parsers(sub: Any, make: Maker) -> None:
    """Add the policy commands to the `agent` parser; `make(sub, name, text, epilog=)`
    builds one subcommand with the common options."""
    apply = make(
        sub,
        "apply",
        "converge the host to a profile of config.toml",
        epilog="Prints each action (stop, migrate, start, keep; skip for a part of a "
        "job over several hosts, which changes from the laptop) and the load "
        "guard's verdict on the profile as a whole. Applying turns the ramp off "
        "and queues the configured games the profile does not run. Exit 3 when "
        "the guard refuses (with --dry-run: would refuse), 2 for an unknown "
        "profile.",
    )
    apply.add_argument("name", metavar="PROFILE", help="a [profiles.NAME] of the agent's config")
    apply.add_argument(
        "--dry-run", action="store_true", help="only show the plan and the verdict; change nothing"
    )
    apply.add_argument(
        "--tuned",
        action="store_true",
        help="each game with its last finished tune's chosen shape (`agent tune`)",
    )
    ramp = make(
        sub,
        "ramp",
        "turn the gradual ramp on or off, or forget its ceiling",
        epilog="on: add the next game of [ramp].games after stable_minutes; off: "
        "keep the current step's games running; reset-ceiling: forget the step "
        "a reboot recorded as this host's ceiling.",
    )
    ramp.add_argument("switch", choices=("on", "off", "reset-ceiling"))
    migrate = make(
        sub,
        "migrate",
        "change a game's settings, keeping its progress",
        epilog="Stops the trainer (final checkpoint), snapshots its checkpoints "
        "and settings, restarts it from the checkpoint with the new settings. "
        "`rollback GAME` undoes it.",
    )
    migrate.add_argument("game", help="a game on this host")
    _shape_flags(migrate)
    migrate.add_argument("--gpus", type=gpus_flag, metavar="N|I,J", help=GPUS_HELP)
    make(
        sub,
        "rollback",
        "restore a game's newest snapshot (settings and progress)",
        epilog="The snapshot a migrate or a trial took.",
    ).add_argument("game", help="a game on this host")
    _trial_parser(sub, make)
    queue = make(
        sub,
        "queue",
        "show or set the games waiting for a free slot",
        epilog="A waiting game starts in the slot of a game that reaches its "
        "target, with that game's settings. Without GAME: show the queue.",
    )
    queue.add_argument("games", nargs="*", metavar="GAME", help="configured games, in order")
    queue.add_argument("--clear", action="store_true", help="empty the queue")
    guard = make(
        sub,
        "guard",
        "show or change the load guard's budgets",
        epilog="KEY=VALUE sets a [guard] budget (a TOML value: max_total_envs=128, "
        "max_host_ram_fraction=0.8); it is checked as config.toml is, written to "
        "the agent's config and used from the next check. Without KEY=VALUE: show "
        "the budgets.",
    )
    guard.add_argument("budgets", nargs="*", metavar="KEY=VALUE")
    plan = make(
        sub,
        "plan",
        "time to target, days and cost: per game, host and profiles",
        epilog="Rates are measured (episodes/hour); cost is [agent].price_per_hour; "
        "the effective figures add the downtime share from the boot history.",
    )
    plan.add_argument("--json", action="store_true")


def _trial_parser(sub: Any, make: Maker) -> None:
    trial = make(
        sub,
        "trial",
        "run a game with candidate settings for a while, then compare",
        epilog="Without --beside: snapshots the game, runs it with the candidate "
        "settings for --minutes, returns it to its settings and reports both side "
        "by side (`status` shows the comparison); the learning is kept unless "
        "--discard. With --beside: the game keeps running and a second trainer "
        "starts from a copy of its newest checkpoint with the candidate settings "
        "(if the guard allows); both are compared, then `trial-decide GAME "
        "--keep|--discard` (or --keep/--discard given now) adopts or drops the "
        "trial's learning.",
    )
    trial.add_argument("game", help="a game on this host")
    trial.add_argument("--minutes", type=float, required=True, help="how long the trial runs")
    _shape_flags(trial)
    trial.add_argument(
        "--beside",
        action="store_true",
        help="run the candidate in a second trainer next to the current one",
    )
    _keep_flags(trial, required=False)
    decide = make(
        sub,
        "trial-decide",
        "keep or discard a beside trial's learning",
        epilog="--keep: the game moves to the candidate settings and resumes from "
        "the trial's checkpoint (snapshot first: `rollback GAME` undoes it). "
        "--discard: the trial's run dir is deleted, the game is untouched. A "
        "trial still running ends now.",
    )
    decide.add_argument("game", help="a game with a beside trial")
    _keep_flags(decide, required=True)


def _keep_flags(parser: argparse.ArgumentParser, required: bool) -> None:
    group = parser.add_mutually_exclusive_group(required=required)
    group.add_argument(
        "--keep",
        dest="keep",
        action="store_const",
        const=True,
        default=None,
        help="adopt the trial's learning and settings",
    )
    group.add_argument(
        "--discard",
        dest="keep",
        action="store_const",
        const=False,
        help="drop the trial's learning (instead: restore the snapshot from before the trial)",
    )


GPUS_HELP = (
    "GPUs for the game: a count the agent places by free memory (2+ = one job of that "
    "many ranks), or GPU indices to pin it, e.g. 0,3 (one GPU: 3,)"
)


def gpus_flag(text: str) -> Gpus:
    """`--gpus`: a count or pinned indices (gpus.parse_gpus), as an argparse type."""
    try:
        return parse_gpus(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--gpus ")) from None


def _shape_flags(parser: argparse.ArgumentParser) -> None:
    for name, text in SHAPE_FLAGS:
        parser.add_argument(
            "--" + name.replace("_", "-"), type=int, dest=name, metavar="N", help=text
        )


def _changes(args: argparse.Namespace) -> Settings:
    """Only the settings given on the command line (`--gpus` where the command has it)."""
    names = [n for n, _ in SHAPE_FLAGS] + (["gpus"] if hasattr(args, "gpus") else [])
    return {n: getattr(args, n) for n in names if getattr(args, n) is not None}


def run(args: argparse.Namespace, client: Client) -> int:
    """One policy command; its exit code (OpFailed propagates to cli.main)."""
    handler = {
        "apply": _apply,
        "ramp": _ramp,
        "migrate": _migrate,
        "rollback": _rollback,
        "trial": _trial,
        "trial-decide": _trial_decide,
        "queue": _queue,
        "guard": _guard,
        "plan": _plan,
    }[args.command]
    return handler(args, client)


def _apply(args: argparse.Namespace, client: Client) -> int:
    plan = client.call_as(
        protocol.ProfilePlan,
        "apply_profile",
        name=args.name,
        dry_run=args.dry_run,
        **({"tuned": True} if args.tuned else {}),
    )
    print(show.profile_text(plan))
    return EXIT_REFUSED if plan.verdict else EXIT_OK


def _ramp(args: argparse.Namespace, client: Client) -> int:
    if args.switch == "reset-ceiling":
        change = client.call_as(protocol.RampChange, "reset_ceiling")
    else:
        change = client.call_as(protocol.RampChange, "set_ramp", enabled=args.switch == "on")
    print(show.ramp_text(change.ramp))
    return EXIT_OK


def _migrate(args: argparse.Namespace, client: Client) -> int:
    changes = _changes(args)
    if not changes:
        return _usage(
            "migrate: name at least one of --num-envs, --num-steps, --minibatch-size, --gpus"
        )
    result = client.call_as(protocol.Migration, "migrate", game=args.game, settings=changes)
    g = result.game
    if not result.changed:
        print(f"{args.game}: already at {show.shape_text(g.settings)}, unchanged")
    else:
        print(
            f"{args.game}: migrated to {show.shape_text(g.settings)}{show.placed_text(g)} "
            f"({g.state}); snapshot {result.snapshot} (`rollback {args.game}` restores it)"
        )
    return EXIT_OK


def _rollback(args: argparse.Namespace, client: Client) -> int:
    result = client.call_as(protocol.Rollback, "rollback", game=args.game)
    g, checkpoint = result.game, result.restored.checkpoint
    episodes = "?" if checkpoint is None else checkpoint.episodes
    print(
        f"{args.game}: rolled back to snapshot {result.snapshot} (episode {episodes}), "
        f"{show.shape_text(g.settings)} ({g.state})"
    )
    return EXIT_OK


def _trial(args: argparse.Namespace, client: Client) -> int:
    changes = _changes(args)
    if not changes:
        return _usage("trial: name at least one of --num-envs, --num-steps, --minibatch-size")
    extra = {} if args.keep is None else {"keep": args.keep}
    trial = client.call_as(
        protocol.TrialChange,
        "trial",
        game=args.game,
        settings=changes,
        minutes=args.minutes,
        mode="beside" if args.beside else "instead",
        **extra,
    ).trial
    shapes = (
        f"{show.shape_text(trial.restore_settings)} -> "
        f"{show.shape_text({**trial.restore_settings, **changes})}"
    )
    if isinstance(trial, protocol.BesideTrial):
        then = {
            None: f"then `trial-decide {args.game} --keep|--discard`",
            True: "then its learning is kept",
            False: "then its learning is discarded",
        }
        print(
            f"beside trial of {args.game}: {shapes} in a second trainer (pid "
            f"{trial.pid}) until {show.when(trial.ends_at)}; {then[args.keep]}"
        )
        return EXIT_OK
    print(
        f"trial of {args.game}: {shapes} until {show.when(trial.ends_at)}; then back, "
        f"learning {'discarded' if args.keep is False else 'kept'}"
    )
    return EXIT_OK


def _trial_decide(args: argparse.Namespace, client: Client) -> int:
    decided = client.call_as(protocol.TrialChange, "trial_decide", game=args.game, keep=args.keep)
    print(show.trial_text(decided.trial))
    return EXIT_OK


def _queue(args: argparse.Namespace, client: Client) -> int:
    if args.clear and args.games:
        return _usage("queue: name games or --clear, not both")
    if args.clear or args.games:
        queue = client.call_as(protocol.QueueChange, "set_queue", games=list(args.games)).queue
    else:
        queue = client.call_as(protocol.State, "status").policy.queue or protocol.QueueView()
    print(show.queue_text(queue))
    return EXIT_OK


def _guard(args: argparse.Namespace, client: Client) -> int:
    try:
        budgets = dict(_budget(item) for item in args.budgets)
    except ValueError as exc:
        return _usage(f"guard: {exc}")
    if budgets:
        now = client.call_as(protocol.GuardChange, "set_guard", budgets=budgets).budgets
    else:
        guard = client.call_as(protocol.State, "status").policy.guard
        now = guard.budgets if guard is not None else protocol.GuardBudgets()
    for key, value in sorted(msgspec.structs.asdict(now).items()):
        print(f"{key} = {value}")
    return EXIT_OK


def _budget(item: str) -> tuple[str, Any]:
    """KEY=VALUE with a TOML value; the agent checks the key and the range."""
    key, sep, text = item.partition("=")
    if not (sep and key.strip() and text.strip()):
        raise ValueError(f"expected KEY=VALUE, got {item!r}")
    try:
        return key.strip(), tomllib.loads(f"v = {text.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        raise ValueError(f"{key.strip()}: {text.strip()!r} is not a TOML value") from None


def _plan(args: argparse.Namespace, client: Client) -> int:
    result = client.call("plan")
    shown = show.plan_text(protocol.as_result(result, protocol.Plan))
    print(json.dumps(result, indent=1) if args.json else shown)
    return EXIT_OK


def _usage(message: str) -> int:
    import sys

    print(f"controlroom agent {message}", file=sys.stderr)
    return EXIT_USAGE
