"""`python -m controlroom.trainer`."""

import sys

from controlroom.trainer.cli import main

sys.exit(main())
