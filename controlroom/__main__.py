"""`python -m controlroom` is the `controlroom` command."""

from controlroom.cli import main

raise SystemExit(main())
