"""`python -m controlroom.agent ARGS...`: the same as `controlroom agent ARGS...`."""

import sys

from controlroom.agent.hostcli.cli import main

sys.exit(main(sys.argv[1:]))
