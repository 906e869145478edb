"""``python -m samcryo_core`` runs the ``samcryo`` command."""

from samcryo_core.cli import main

raise SystemExit(main())
