"""The control-room App, built by one factory for the CLI, the tests and the screenshots."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from textual import events, on, work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingsMap
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from controlroom import protocol
from controlroom.config import Config, Settings
from controlroom.gpus import Gpus, parse_gpus, show_gpus
from controlroom.link.errors import LinkError
from controlroom.tui import key_requests
from controlroom.tui.format import about
from controlroom.tui.messages import AgentMissing
from controlroom.tui.plan_view import render_plan
from controlroom.tui.screens.detail import DetailScreen
from controlroom.tui.screens.main import MainScreen
from controlroom.tui.screens.modals import (
    ConfirmScreen,
    LogScreen,
    PickScreen,
    PlanScreen,
    ProgressScreen,
    TextScreen,
)
from controlroom.tui.screens.tune import TuneScreen
from controlroom.tui.target import HostTarget
from controlroom.tui.tune_view import minute_choices
from controlroom.tui.widgets.host_view import HostView

# Key actions that change what the host runs: hidden in read-only mode (the agent's own
# set of changing ops is agent/core_ops.MUTATING_CORE_OPS; these are keys, not ops).
HOST_CHANGING_ACTIONS = {
    "add_game",
    "remove_game",
    "scale_up",
    "scale_down",
    "change_gpus",
    "span_hosts",
    "toggle_game",
    "apply_profile",
    "toggle_ramp",
    "tune",
    "install",
}
SPAN_HOSTS = "Span hosts"
SPAN_HOSTS_TIP = "Run the selected game as one job over this tab's host and another linked host"
"""The fleet's command (palette only: the help and footer list keys, and it has none)."""
NEED_AGENT = HOST_CHANGING_ACTIONS - {"install"} | {
    "show_log",
    "show_plan",
    "show_detail",
    "toggle_compare",
}
LOG_LINES = 300
"""Lines of trainer output (and of metrics) the log screen asks for each time."""
NAVIGATION = "←/h →  ↑/k ↓/j"
"""The main screen's keys that move the selection (MainScreen.BINDINGS), as typed."""


ENVS = Binding.Group("Envs", compact=True)
"""+ and - share one footer label ("+- Envs"), so that every key fits at 120 columns
(the help keeps a line each)."""


def _b(key: str, action: str, text: str, tip: str, **kw: Any) -> Binding:
    return Binding(key, action, text, id=action, tooltip=tip, **kw)


class ControlRoomApp(App[int]):
    """Supervise training on one or more hosts."""

    CSS_PATH = str(Path(__file__).parent.parent / "assets" / "controlroom.tcss")
    TITLE = "controlroom"
    BINDINGS = [
        _b("a", "add_game", "Add", "Pick a game the host can run and start training it"),
        _b("d", "remove_game", "Remove", "Stop the selected game and forget it (asks first)"),
        _b("plus", "scale_up", "+Envs", "Double the selected game's parallel envs", group=ENVS),
        _b("minus", "scale_down", "-Envs", "Halve the selected game's parallel envs", group=ENVS),
        _b("g", "change_gpus", "GPUs", "Move the selected game to other or more GPUs"),
        _b("s", "toggle_game", "Stop/Start", "Stop the selected game, or start it again"),
        _b("p", "apply_profile", "Profile", "Apply a load profile (light, medium, heavy...)"),
        _b("r", "toggle_ramp", "Ramp", "Turn the gradual ramp on or off"),
        _b("enter", "show_detail", "Detail", "The selected game's learning curves and marks"),
        _b("m", "toggle_compare", "Compare", "Mark/unmark the game to compare in Enter's plots"),
        _b("l", "show_log", "Log", "The selected game's trainer output and metrics, following"),
        _b("t", "show_plan", "Plan", "Time and cost to target per game"),
        _b("u", "tune", "Tune", "Find the selected game's fastest stable shape"),
        _b("i", "install", "Install", "Install and start the agent on a host that has none"),
        _b("c", "retry_now", "Retry", "The link is down: try again now, not after the wait"),
        _b("question_mark", "help", "Help", "Every key and what it does"),
        _b("q", "quit", "Quit", "Leave; training goes on", priority=True),
    ]

    def __init__(
        self,
        targets: list[HostTarget],
        *,
        config: Config,
        readonly: bool = False,
        clock: Callable[[], float] = time.time,
        live: bool = True,
    ) -> None:
        super().__init__()
        self.targets, self.config, self.readonly = targets, config, readonly
        self.clock, self.live = clock, live
        self.sub_title = ", ".join(t.name for t in targets)
        keymap = self._normalize_keymap(dict(config.keymap))
        own = {b.id for b in self.BINDINGS if isinstance(b, Binding)}
        # The app's own keys are remapped in place, so the footer keeps its order
        # (Textual's keymap would move a remapped binding to the end).
        self._bindings = remapped(self._bindings, {k: v for k, v in keymap.items() if k in own})
        self._other_keymap = {k: v for k, v in keymap.items() if k not in own}

    def get_default_screen(self) -> Screen[Any]:
        return MainScreen(
            self.targets,
            readonly=self.readonly,
            clock=self.clock,
            live=self.live,
            install_key=self.key_for("install"),
        )

    def key_for(self, binding_id: str) -> str:
        """The key that runs one of the app's bindings, as the footer shows it (remaps too)."""
        for key_bindings in self._bindings.key_to_bindings.values():
            for b in key_bindings:
                if b.id == binding_id:
                    return self.get_key_display(b)
        return "?"

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """On a host with no agent the footer offers the install key instead of the keys
        that need an agent; elsewhere the install key is hidden (the palette still runs
        it: an upgrade)."""
        if self.readonly and action in HOST_CHANGING_ACTIONS:
            return False  # hidden: a read-only session offers only what it will do
        view = self.current_view()
        no_agent = view is not None and view.no_agent
        if action == "install":  # no agent there, or one of another version: an upgrade
            return view is not None and view.can_install
        if action == "retry_now":  # a host with no agent offers the install key instead
            return view is not None and view.link_down and not no_agent
        return not (no_agent and action in NEED_AGENT)

    def on_key(self, event: events.Key) -> None:
        """A read-only session hides its refused keys; pressed anyway, they say why."""
        if not self.readonly or not isinstance(self.screen, MainScreen):
            return
        for b in self._bindings.key_to_bindings.get(event.key, []):
            if b.action in HOST_CHANGING_ACTIONS:
                self._target(b.action)  # says "read-only session: ... refused"
                event.stop()
                return

    def on_mount(self) -> None:
        if self._other_keymap:  # ids of the modals' bindings (confirm_yes, ...)
            self.set_keymap(self._other_keymap)

    # --- where actions apply ---------------------------------------------------------

    def current_view(self) -> HostView | None:
        screen = self.screen
        return screen.current_view() if isinstance(screen, MainScreen) else None

    def _target(self, action: str, need_game: bool = True) -> tuple[HostView, str] | None:
        """The view and selected game an action applies to, or None (said why)."""
        if self.readonly and action in HOST_CHANGING_ACTIONS:
            self.notify(
                f"read-only session: {action.replace('_', ' ')} refused", severity="warning"
            )
            return None
        view = self.current_view()
        if view is None:
            self.notify("pick a host tab first", severity="warning")
            return None
        game = view.selected_game() or ""
        if need_game and not game:
            self.notify("no game selected: press a to add one", severity="warning")
            return None
        return view, game

    def _game_state(self, view: HostView, game: str) -> protocol.GameState | None:
        return None if view.state is None else view.state.games.get(game)

    # --- actions -----------------------------------------------------------------------

    def action_add_game(self) -> None:
        if (t := self._target("add_game", need_game=False)) is None:
            return
        view = t[0]
        choices = key_requests.game_choices(self.config, view.state)
        if not choices:
            self.notify("every configured game is already running", severity="warning")
            return

        def chosen(game: str | None) -> None:
            if game:
                self.send(view, f"{game} added", "add_game", game=game)

        self.push_screen(PickScreen(f"Add a game on {view.target.name}", choices), chosen)

    def action_remove_game(self) -> None:
        if (t := self._target("remove_game")) is None:
            return
        view, game = t

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.send(view, f"{game} removed", "remove_game", game=game)

        question = f"Stop {game} on {view.target.name} and remove it? (its checkpoints stay)"
        self.push_screen(ConfirmScreen(question), confirmed)

    def action_scale_up(self) -> None:
        self._scale("scale_up", up=True)

    def action_scale_down(self) -> None:
        self._scale("scale_down", up=False)

    def _scale(self, action: str, *, up: bool) -> None:
        if (t := self._target(action)) is None:
            return
        view, game = t
        envs = key_requests.scaled_envs(self._game_state(view, game), up)
        if (parts := self._job_parts(view, game)) is None:
            return
        changes = [(part, "scale_game", {"game": name, "num_envs": envs}) for part, name in parts]
        self.send_parts(changes, f"{game}: {envs} envs")

    def action_change_gpus(self) -> None:
        if (t := self._target("change_gpus")) is None:
            return
        view, game = t
        if (parts := self._job_parts(view, game)) is None:
            return  # before the picker: a change that cannot reach every part is none

        def chosen(value: str | None) -> None:
            if not value:
                return
            gpus = parse_gpus(value)
            changes = [
                (v, "migrate", {"game": n, "settings": {"gpus": part_gpus(gpus, v)}})
                for v, n in parts
            ]
            self.send_parts(changes, f"{game}: {show_gpus(gpus)}, from its checkpoint")

        def part_gpus(gpus: Gpus, part: HostView) -> Gpus:
            return key_requests.gpus_for_part(gpus, part is view)

        choices = key_requests.gpu_choices(view.state, self._game_state(view, game))
        self.push_screen(PickScreen(f"GPUs for {game} on {view.target.name}", choices), chosen)

    def _job_parts(self, view: HostView, game: str) -> list[tuple[HostView, str]] | None:
        """Where a change to `game` on `view`'s host goes, as (host's view, game): to it
        alone, or to every part of its job over several hosts (key_requests.job_parts);
        None, said why, when a part is on no linked host."""
        state = self._game_state(view, game)
        if state is None:
            return [(view, game)]
        views = {v.target.name: v for v in self.screen.query(HostView)}
        fleet = {n: None if v.link_down else v.state for n, v in views.items() if v is not view}
        try:
            parts = key_requests.job_parts(view.target.name, state, fleet)
        except key_requests.PartMissing as exc:
            self.notify(str(exc), severity="warning", timeout=10)
            return None
        return [(views[host], name) for host, name in parts]

    @work(group="actions", exit_on_error=False, description="change a job's parts")
    async def send_parts(
        self, changes: list[tuple[HostView, str, dict[str, Any]]], done: str
    ) -> None:
        """Send each (host's view, op, args) in turn (a job's node 1.. first, node 0
        last), stopping at the first refusal."""
        for view, op, args in changes:
            try:
                await view.link.request(op, **args)
            except LinkError as exc:
                self.notify(about(view.target.name, exc.message), severity="error", timeout=8)
                return
        self.notify(about(" and ".join(v.target.name for v, _, _ in changes), done))

    def action_span_hosts(self) -> None:
        """The fleet's action: the selected game of this tab's host (node 0) and a part on
        another linked host (node 1) become one job, meeting at this host's configured
        rendezvous address (docs/multi-gpu.md)."""
        if (t := self._target("span_hosts")) is None:
            return
        view, game = t
        state, name = self._game_state(view, game), view.target.name
        host = self.config.hosts.get(name)
        others = {v.target.name: v for v in self.screen.query(HostView) if v is not view}
        linked = [n for n, v in others.items() if v.state is not None and not v.link_down]
        if state is None or host is None or not host.rendezvous:
            self.notify(
                f'set [hosts.{name}] rendezvous = "ADDR:PORT" in config.toml (the address '
                f"the other hosts reach {name} at) to start a job over several hosts there",
                severity="warning",
                timeout=10,
            )
            return
        if not linked:
            self.notify(
                "no other linked host: open several, e.g. controlroom A B", severity="warning"
            )
            return

        def chosen(other: str | None) -> None:
            if other:
                requests = key_requests.span_requests(state, name, other, host.rendezvous)
                self.span_job({**others, name: view}, game, requests)

        choices = key_requests.span_host_choices(linked)
        self.push_screen(PickScreen(f"{game} on {name} and which host?", choices), chosen)

    @work(group="actions", exit_on_error=False, description="start a job over several hosts")
    async def span_job(
        self, views: dict[str, HostView], game: str, requests: list[tuple[str, Settings]]
    ) -> None:
        """Send each host its part (node 1's first), stopping at the first refusal."""
        for host, settings in requests:
            try:
                await views[host].link.request("add_game", game=game, settings=settings)
            except LinkError as exc:
                self.notify(about(host, exc.message), severity="error", timeout=8)
                return
        hosts = " and ".join(host for host, _ in reversed(requests))
        self.notify(f"{game}: one job over {hosts}")

    def action_toggle_game(self) -> None:
        if (t := self._target("toggle_game")) is None:
            return
        view, game = t
        op = key_requests.toggle_op(self._game_state(view, game))
        self.send(view, f"{game}: {op.split('_')[0]}", op, game=game)

    def action_apply_profile(self) -> None:
        if (t := self._target("apply_profile", need_game=False)) is None:
            return
        view = t[0]

        def chosen(name: str | None) -> None:
            if name:
                self.send(view, f"profile {name} applied", "apply_profile", name=name)

        choices = key_requests.profile_choices(self.config)
        self.push_screen(PickScreen(f"Apply a profile on {view.target.name}", choices), chosen)

    def action_toggle_ramp(self) -> None:
        if (t := self._target("toggle_ramp", need_game=False)) is None:
            return
        enabled = not key_requests.ramp_enabled(t[0].state)
        self.send(t[0], f"ramp {'on' if enabled else 'off'}", "set_ramp", enabled=enabled)

    def action_toggle_compare(self) -> None:
        if (t := self._target("toggle_compare")) is None:
            return
        view, game = t
        marked = view.toggle_compare(game)
        others = len(view.compared_games())
        said = f"{game} marked to compare ({others} marked; Enter overlays them)"
        self.notify(said if marked else f"{game} unmarked ({others} marked)")

    def action_show_detail(self) -> None:
        if (t := self._target("show_detail")) is None:
            return
        view, game = t
        overlays = [g for g in view.compared_games() if g != game]
        screen = DetailScreen(
            game,
            view.target.name,
            view.request,
            lambda: view.state,
            clock=view.agent_now,
            overlays=overlays,
        )
        self.push_screen(screen)

    def action_tune(self) -> None:
        """The selected game's tune: its screen when it has one running or done, else
        the minutes it may take (a modal, the config's default first), then the tune
        starts and its screen opens."""
        if (t := self._target("tune")) is None:
            return
        view, game = t
        state = view.state
        if state is not None and game in state.policy.tunes:
            self._show_tune(view, game)
            return

        def chosen(minutes: str | None) -> None:
            if minutes:
                self.start_tune(view, game, float(minutes))

        choices = minute_choices(self.config.tune.minutes)
        self.push_screen(
            PickScreen(f"Tune {game} on {view.target.name}: how long?", choices), chosen
        )

    @work(group="actions", exit_on_error=False, description="start a tune")
    async def start_tune(self, view: HostView, game: str, minutes: float) -> None:
        """Send the tune op; on its acceptance open the tune screen."""
        try:
            await view.link.request("tune", games=[game], minutes=minutes)
        except LinkError as exc:
            self.notify(about(view.target.name, exc.message), severity="error", timeout=8)
            return
        self.notify(about(view.target.name, f"{game}: tune started ({minutes:g} min)"))
        self._show_tune(view, game)

    def _show_tune(self, view: HostView, game: str) -> None:
        screen = TuneScreen(
            game, view.target.name, view.request, lambda: view.state, clock=view.agent_now
        )
        self.push_screen(screen)

    def action_show_log(self) -> None:
        if (t := self._target("show_log")) is not None:
            self.fetch_log(*t)

    def action_show_plan(self) -> None:
        if (t := self._target("show_plan", need_game=False)) is not None:
            self.fetch_plan(t[0])

    def action_install(self) -> None:
        if (t := self._target("install", need_game=False)) is None:
            return
        if t[0].target.install is None:
            self.notify("installing is not possible for this host", severity="warning")
            return
        self.install(t[0])

    def action_retry_now(self) -> None:
        view = self.current_view()
        if view is None or not view.link_down:
            self.notify("the link is up: nothing to retry", severity="warning")
            return
        view.retry_now()
        self.notify(f"{view.target.name}: trying again now")

    def action_help(self) -> None:
        self.push_screen(TextScreen("Keys", list(self.help_lines())))

    def help_lines(self) -> Iterable[str]:
        """One line per key, spelled as typed (`+`, `?`, remaps included); a read-only
        session leaves out the keys it refuses."""
        for b in self.BINDINGS:
            assert isinstance(b, Binding)
            if self.readonly and b.action in HOST_CHANGING_ACTIONS:
                continue
            yield f"{self.key_for(b.id or ''):<14} {b.description:<12} {b.tooltip}"
        yield f"{NAVIGATION:<14} {'Select':<12} move between game panes (the keys act on it)"
        yield f"{'ctrl+p':<14} {'Commands':<12} the command palette: every action by name"
        if self.readonly:
            yield "read-only session: the keys that change a host are hidden and refused"

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for b in self.BINDINGS:
            assert isinstance(b, Binding)
            if b.action != "quit" and not (self.readonly and b.action in HOST_CHANGING_ACTIONS):
                yield SystemCommand(b.description, b.tooltip, getattr(self, f"action_{b.action}"))
        if not self.readonly and len(self.targets) > 1:  # a fleet's action: no key of its own
            yield SystemCommand(SPAN_HOSTS, SPAN_HOSTS_TIP, self.action_span_hosts)

    # --- workers: talk to the agent, then say what happened ----------------------------

    @work(group="actions", exit_on_error=False, description="send an op to the agent")
    async def send(self, view: HostView, done: str, op: str, **args: Any) -> None:
        try:
            await view.link.request(op, **args)  # straight to the link: a key's path is short
        except LinkError as exc:
            self.notify(about(view.target.name, exc.message), severity="error", timeout=8)
            return
        self.notify(about(view.target.name, done))

    def fetch_log(self, view: HostView, game: str) -> None:
        """The game's trainer output and metrics, followed while the screen is open."""

        async def fetch() -> Any:
            return await view.request("game_log", game=game, lines=LOG_LINES)

        title = f"{game} on {view.target.name}: trainer output and metrics (following)"
        self.push_screen(LogScreen(title, fetch))

    @work(group="actions", exit_on_error=False, description="fetch the plan")
    async def fetch_plan(self, view: HostView) -> None:
        try:
            plan = protocol.as_result(await view.request("plan"), protocol.Plan)
        except (LinkError, protocol.ProtocolError) as exc:
            self.notify(about(view.target.name, exc.message), severity="error")
            return
        await self.push_screen(PlanScreen(f"Plan on {view.target.name}", render_plan(plan)))

    @work(group="install", exclusive=True, exit_on_error=False, description="install the agent")
    async def install(self, view: HostView) -> None:
        screen = ProgressScreen(f"Installing the agent on {view.target.name}")
        await self.push_screen(screen)
        assert view.target.install is not None
        try:
            await view.target.install(screen.step)
            screen.step("done: the agent is running; reconnecting (escape closes this)")
            view.link.retry_now()
        except LinkError as exc:
            screen.step(f"FAILED: {exc.message}")
        screen.finished = True

    @on(AgentMissing)
    def offer_install(self, message: AgentMissing) -> None:
        view = next((v for v in self.query(HostView) if v.target.name == message.host), None)
        if view is None or self.readonly or view.target.install is None:
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.install(view)

        question = (
            f"{message.reason}\n\nInstall the agent on {message.host} now? (a venv, "
            "this controlroom as a wheel over SFTP, pip with [agent], autostart)\n\n"
            "torch: the CPU-only build from PyTorch's CPU index if the host has no "
            "NVIDIA driver (no nvidia-smi), else the CUDA build; system_site_packages "
            "= true for this host in config.toml reuses a torch already there; "
            "pip_args (a mirror, offline wheels) override both. The progress says "
            "which was chosen."
        )
        self.push_screen(ConfirmScreen(question), answered)

    @on(Worker.StateChanged)
    def report_worker_failure(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            err = event.worker.error
            self.notify(f"{event.worker.description}: {err}", severity="error", timeout=10)


def remapped(bindings: BindingsMap, keymap: dict[str, str]) -> BindingsMap:
    """The same bindings in the same order, those named in `keymap` on their new keys."""
    out: list[Binding] = []
    for key_bindings in bindings.key_to_bindings.values():
        for b in key_bindings:
            keys = keymap.get(b.id or "")
            out += [b.with_key(k.strip()) for k in keys.split(",")] if keys else [b]
    return BindingsMap(out)


def build_app(
    targets: list[HostTarget],
    *,
    config: Config | None = None,
    readonly: bool = False,
    clock: Callable[[], float] = time.time,
    live: bool = True,
) -> ControlRoomApp:
    """The one way to make the app: CLI, tests and screenshots all come here."""
    return ControlRoomApp(
        targets, config=config or Config(), readonly=readonly, clock=clock, live=live
    )
