"""`python -m populace ...` is the `populace` command (for launchers that take a module, e.g. `torchrun -m`)."""

from populace.cli import main

raise SystemExit(main())
