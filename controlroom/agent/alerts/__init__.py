"""Alerts that reach the user away from the screen, sent by the agent on the host.

Owns: the [alerts] settings as the agent uses them (settings: the mode check of a file
holding secret URLs), the words of an alert (message), which events go out and when
(throttle: a minimum interval per game and kind, digests), sending through apprise in a
worker thread with a timeout and retries (send, dispatch), the dead man's switch
(heartbeat), the command hook (hook), the disk-low check (disk) and
`controlroom agent alerts test` (cli).

May import: controlroom.config, controlroom.protocol, controlroom.redact, the standard
library and apprise (lazily, in the sending thread: an agent without it still supervises).
Never the daemon or any other agent module: the daemon feeds events to `Alerts.observe`
and gives it two callbacks (record an event, publish the alerts state).
"""

from controlroom.agent.alerts.disk import DiskWatch
from controlroom.agent.alerts.dispatch import Alerts
from controlroom.agent.alerts.settings import mode_problem

__all__ = ["Alerts", "DiskWatch", "mode_problem"]
