"""The alerts service the daemon runs: events in through `observe` (a bounded queue,
never blocking the loop), a worker that gathers them into one message (throttle,
message), sends it to every URL in a worker thread with a timeout and retries with
backoff, runs the hook, and records `alert_sent` / `alert_failed`; beside it the dead
man's switch pings its URL. Supervision never waits on any of it: a receiver that hangs
holds a worker thread, not the event loop.
"""

from __future__ import annotations

import asyncio
import functools
import importlib.util
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from controlroom import protocol
from controlroom.agent.alerts.disk import DiskWatch
from controlroom.agent.alerts.hook import run_hook
from controlroom.agent.alerts.message import Alert, compose
from controlroom.agent.alerts.send import APPRISE_MISSING, Outcome, ping, send
from controlroom.agent.alerts.settings import mode_problem
from controlroom.agent.alerts.throttle import Throttle
from controlroom.config import AlertsConfig
from controlroom.redact import redact

log = logging.getLogger(__name__)

Record = Callable[[str, str | None, str, protocol.JSONObject], None]
QUEUE_MAX = 1000  # events waiting to be sent; past it they are counted as dropped
THREADS = 8  # sends and pings at once; a hung receiver holds one until its timeout
SLACK_S = 2.0  # past the send timeout, the thread is given up on (it ends on its own)


class Alerts:
    """One agent's alerts: settings, queue, worker, heartbeat and what happened."""

    def __init__(
        self,
        cfg: AlertsConfig,
        config_path: Path,
        host: str,
        record: Record,
        changed: Callable[[], None],
    ) -> None:
        self.cfg, self.host, self.record, self.changed = cfg, host, record, changed
        self.refused = mode_problem(config_path, cfg)
        missing = cfg.urls and importlib.util.find_spec("apprise") is None
        self.note = APPRISE_MISSING if missing else None
        self.queue: asyncio.Queue[protocol.Event] = asyncio.Queue(QUEUE_MAX)
        self.throttle = Throttle(lambda: self.cfg.min_interval_s)
        self.disk = DiskWatch()
        self.state = protocol.AlertsState()
        self.tasks: list[asyncio.Task[None]] = []
        self.pool = ThreadPoolExecutor(THREADS, thread_name_prefix="alerts")

    @property
    def sending(self) -> bool:
        """Whether events are sent (URLs or a hook, from a file only its owner reads)."""
        return self.refused is None and bool(self.cfg.urls or self.cfg.command)

    # ---- fed by the daemon --------------------------------------------------------
    def observe(self, event: protocol.Event) -> None:
        """An event was recorded: queue it when its kind alerts (never blocks)."""
        if not self.sending or event.kind not in self.cfg.kinds:
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.state.dropped += 1

    def check_disk(self, free_bytes: int | None) -> None:
        """Record a disk_low event when the state dir's free space just fell low."""
        message = self.disk.update(free_bytes, self.cfg.disk_low_gib)
        if message is not None:
            log.warning("%s", message)
            data: protocol.JSONObject = {"free_bytes": free_bytes}
            data["line_gib"] = self.cfg.disk_low_gib
            self.record("disk_low", None, message, data)

    def start(self) -> None:
        """Start the worker and the heartbeat (on the running loop)."""
        if self.refused is not None:
            log.error("%s", self.refused)
            self.record("error", None, self.refused, {"alerts": "off"})
            return
        if self.sending:
            self.tasks.append(asyncio.create_task(self._work(), name="alerts"))
        if self.cfg.heartbeat_url:
            self.tasks.append(asyncio.create_task(self._beat(), name="alerts-heartbeat"))

    async def close(self) -> None:
        """Stop sending; a send in a thread is left to end by its own timeout."""
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.pool.shutdown(wait=False, cancel_futures=True)

    def status(self) -> protocol.AlertsState:
        """The "alerts" key of the State: settings redacted, and what happened."""
        c, s = self.cfg, self.state
        s.enabled = self.sending
        s.urls = [redact(u) for u in c.urls]
        s.kinds = list(c.kinds)
        s.heartbeat_url = redact(c.heartbeat_url) if c.heartbeat_url else ""
        s.heartbeat_every_s = c.heartbeat_every_s if c.heartbeat_url else 0.0
        s.command = Path(c.command[0]).name if c.command else ""  # its arguments may be secrets
        s.problem = self.refused or self.note
        return protocol.AlertsState(**{f: getattr(s, f) for f in s.__struct_fields__})

    # ---- sending ------------------------------------------------------------------
    async def _work(self) -> None:
        while True:
            first = await self._next(self.throttle.next_due(time.time()))
            if first is not None and self.cfg.digest_window_s > 0:
                await asyncio.sleep(self.cfg.digest_window_s)  # gather what fires with it
            batch = ([first] if first is not None else []) + self._drain()
            now = time.time()
            fresh = [e for e in batch if self.throttle.admit(e, now)]
            alert = compose(self.host, fresh, self.throttle.due(now))
            if alert is not None:
                try:
                    await self.deliver(alert)
                except Exception:  # the worker must outlive any one alert
                    log.exception("alert delivery failed")

    async def _next(self, timeout: float | None) -> protocol.Event | None:
        if timeout is None:
            return await self.queue.get()
        try:
            return await asyncio.wait_for(self.queue.get(), timeout)
        except TimeoutError:
            return None

    def _drain(self) -> list[protocol.Event]:
        out = []
        while not self.queue.empty():
            out.append(self.queue.get_nowait())
        return out

    async def deliver(self, alert: Alert) -> list[Outcome]:
        """Send one alert to every URL and the hook at once; record how each went."""
        jobs = [self._to_url(url, alert) for url in self.cfg.urls]
        if self.cfg.command:
            jobs.append(self._to_hook(alert))
        results = await asyncio.gather(*jobs)
        self._account(alert, results)
        return [outcome for outcome, _ in results]

    async def _to_url(self, url: str, alert: Alert) -> tuple[Outcome, int]:
        tries, wait = 1 + self.cfg.retries, self.cfg.retry_backoff_s
        for attempt in range(1, tries + 1):
            outcome = await self.in_thread(url, send, url, alert.title, alert.body)
            if outcome.ok or attempt == tries:
                return outcome, attempt
            log.warning(
                "alert to %s failed (try %d of %d): %s; again in %gs",
                outcome.url,
                attempt,
                tries,
                outcome.detail,
                wait,
            )
            await asyncio.sleep(wait)
            wait *= 2
        raise AssertionError("unreachable")

    async def _to_hook(self, alert: Alert) -> tuple[Outcome, int]:
        payload = alert.payload(self.host)
        return await run_hook(self.cfg.command, payload, self.cfg.command_timeout_s), 1

    async def in_thread(self, url: str, fn: Callable[..., Outcome], *args: Any) -> Outcome:
        """Run a blocking send or ping in the alerts' threads, given up on after the send
        timeout (and a little slack): the loop never waits longer than that."""
        timeout = self.cfg.send_timeout_s
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self.pool, functools.partial(fn, *args, timeout))
        try:
            return await asyncio.wait_for(future, timeout + SLACK_S)
        except TimeoutError:
            return Outcome(redact(url), False, f"no answer in {timeout:g}s")

    def _account(self, alert: Alert, results: list[tuple[Outcome, int]]) -> None:
        reached = [o.url for o, _ in results if o.ok]
        if reached:
            self._sent(alert, reached)
        for outcome, tries in results:
            if not outcome.ok:
                self._failed(alert, outcome, tries)
        self.changed()

    def _sent(self, alert: Alert, reached: list[str]) -> None:
        s, to = self.state, ", ".join(reached)
        s.sent += 1
        s.last_sent = protocol.AlertOutcome(time=time.time(), title=alert.title, detail=to)
        data: protocol.JSONObject = {"title": alert.title, "to": reached}
        data["events"] = len(alert.events)
        self.record("alert_sent", None, f"alert sent to {to}: {alert.title}", data)

    def _failed(self, alert: Alert, o: Outcome, tries: int) -> None:
        s, why = self.state, f"{o.url}: {o.detail}"
        s.failed += 1
        s.last_failed = protocol.AlertOutcome(time=time.time(), title=alert.title, detail=why)
        text = f"alert to {o.url} failed after {tries} {'try' if tries == 1 else 'tries'}"
        text += f": {o.detail}"
        log.error("%s", text)
        data: protocol.JSONObject = {"title": alert.title, "to": o.url, "error": o.detail}
        data["tries"] = tries
        self.record("alert_failed", None, text, data)

    # ---- the dead man's switch ----------------------------------------------------
    async def _beat(self) -> None:
        url, s = self.cfg.heartbeat_url, self.state
        while True:
            started = time.monotonic()
            outcome = await self.in_thread(url, ping, url)
            was = s.ping_error
            if outcome.ok:
                s.last_ping, s.ping_error = time.time(), None
            else:
                s.ping_error = outcome.detail
            if (was is None) != (s.ping_error is None):
                _log_ping(outcome)
            self.changed()
            every = self.cfg.heartbeat_every_s
            await asyncio.sleep(max(0.0, every - (time.monotonic() - started)))


def _log_ping(outcome: Outcome) -> None:
    if outcome.ok:
        log.info("heartbeat to %s answers again", outcome.url)
    else:
        log.warning("heartbeat to %s failed: %s", outcome.url, outcome.detail)
