"""Where the agent hands a trainer its share of the host's cores: environment variables
named here once, read by the trainer (trainer/settings.py) for a thread setting left at 0
and set by the agent (agent/supervision/threads.py) when it starts a trainer."""

from __future__ import annotations

AUTO_THREADS_ENV = {
    "torch_threads": "CONTROLROOM_TORCH_THREADS",
    "envpool_threads": "CONTROLROOM_ENVPOOL_THREADS",
}
