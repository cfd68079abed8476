"""`python -m controlroom.trainer`."""

import sys

from controlroom.trainer.cli import main
from controlroom.trainer.runtime import in_job, leave

code = main()
if in_job():  # gloo's threads may abort the teardown of a rank that is done (runtime.leave)
    leave(code)
sys.exit(code)
