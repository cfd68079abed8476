"""`python -m controlroom.trainer` (what the agent and torchrun start): the same as
`controlroom train`, through the same entry (a missing or broken torch or envpool is one
line with the install hint and exit 2, which the agent reads as a refusal, not a crash)."""

import sys

from controlroom.cli import run_entry
from controlroom.trainer.runtime import in_job, leave

code = run_entry("controlroom.trainer.cli", "main", "train", sys.argv[1:])
if in_job():  # gloo's threads may abort the teardown of a rank that is done (runtime.leave)
    leave(code)
sys.exit(code)
