"""`python -m controlroom.agent ARGS...`: the same as `controlroom agent ARGS...`, through
the same entry (a missing host extra is one line with the hint, as there)."""

import sys

from controlroom.cli import run_entry

sys.exit(run_entry("controlroom.agent.hostcli.cli", "main", "agent", sys.argv[1:]))
