"""``python -m privtrak`` is the ``privtrak`` command."""

from privtrak.cli import main

raise SystemExit(main())
